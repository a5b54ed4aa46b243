// Package kconfig parses kernel configurations (.config, /proc/config.gz
// after decompression) and the generated include/generated/autoconf.h, and
// compares the two: the check that a header tree was built with the running
// kernel's configuration.
package kconfig

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
)

var (
	// ErrSyntax is returned for a line that is neither a symbol, a comment
	// nor blank.
	ErrSyntax = errors.New("syntax error")
)

// Symbol is one CONFIG_ symbol with its value as written in .config: y, m,
// a decimal or hex number, or a double-quoted string (quotes and escapes
// kept). A "# CONFIG_X is not set" line gives the value "n".
type Symbol struct {
	Name  string // with the CONFIG_ prefix
	Value string
}

// Config is a parsed .config: symbols in file order, and by name.
type Config struct {
	Symbols []Symbol
	byName  map[string]string
}

// Get returns the value of name ("CONFIG_X") and whether it is set.
func (c *Config) Get(name string) (string, bool) {
	v, ok := c.byName[name]
	return v, ok
}

// Len returns the number of symbols (including "n" ones).
func (c *Config) Len() int { return len(c.Symbols) }

// Parse parses a .config. Unknown lines are errors (ErrSyntax with the line
// number), so a file that is not a kernel config is not silently accepted.
func Parse(data []byte) (*Config, error) {
	n := bytes.Count(data, []byte("\n")) + 1
	c := &Config{byName: make(map[string]string, n), Symbols: make([]Symbol, 0, n)}
	text := string(data) // one copy; every name and value is a substring of it
	for n := 1; text != ""; n++ {
		var line string
		var err error
		if line, text, err = nextLine(text); err != nil {
			return nil, fmt.Errorf("kconfig: %w", err)
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			rest := strings.TrimSpace(line[1:])
			if name, ok := strings.CutSuffix(rest, " is not set"); ok && strings.HasPrefix(name, "CONFIG_") && validName(name) {
				c.add(name, "n")
			}
			continue
		}
		name, val, ok := strings.Cut(line, "=")
		if !ok || !strings.HasPrefix(name, "CONFIG_") || !validName(name) {
			return nil, fmt.Errorf("kconfig: line %d: %q: %w", n, trunc(line), ErrSyntax)
		}
		c.add(name, strings.TrimSpace(val))
	}
	return c, nil
}

// maxLine is the longest line Parse and ParseAutoconf accept.
const maxLine = 1 << 20

// nextLine splits the first line off s as bufio.ScanLines does (the
// newline and a carriage return before it dropped), refusing lines
// longer than maxLine with bufio.ErrTooLong, as the scanner did.
func nextLine(s string) (line, rest string, err error) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		line, rest = s, ""
	} else {
		line, rest = s[:i], s[i+1:]
	}
	if len(line) > maxLine {
		return "", "", bufio.ErrTooLong
	}
	return strings.TrimSuffix(line, "\r"), rest, nil
}

func (c *Config) add(name, val string) {
	if _, dup := c.byName[name]; !dup {
		c.Symbols = append(c.Symbols, Symbol{name, val})
	} else {
		for i := range c.Symbols {
			if c.Symbols[i].Name == name {
				c.Symbols[i].Value = val
			}
		}
	}
	c.byName[name] = val
}

func validName(s string) bool {
	if len(s) <= len("CONFIG_") {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b == '_' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9') {
			return false
		}
	}
	return true
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// Autoconf is a parsed autoconf.h: macro name -> replacement text.
type Autoconf struct {
	Defines map[string]string
	order   []string
}

// Enabled reports whether CONFIG_sym is defined to 1 (a "y" symbol); sym
// is given without the CONFIG_ prefix.
func (a *Autoconf) Enabled(sym string) bool { return a.Defines["CONFIG_"+sym] == "1" }

// ParseAutoconf parses include/generated/autoconf.h: every
// `#define CONFIG_X value` line (comments may have been stripped, as in the
// kheaders archive). Other lines are ignored.
func ParseAutoconf(data []byte) (*Autoconf, error) {
	a := &Autoconf{Defines: make(map[string]string, bytes.Count(data, []byte("\n"))+1)}
	text := string(data)
	for text != "" {
		var line string
		var err error
		if line, text, err = nextLine(text); err != nil {
			return nil, fmt.Errorf("autoconf: %w", err)
		}
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "#define ")
		if !ok {
			continue
		}
		rest = strings.TrimSpace(rest)
		name, val, _ := strings.Cut(rest, " ")
		if !strings.HasPrefix(name, "CONFIG_") || !validName(name) {
			continue
		}
		if _, dup := a.Defines[name]; !dup {
			a.order = append(a.order, name)
		}
		a.Defines[name] = strings.TrimSpace(val)
	}
	if len(a.Defines) == 0 {
		return nil, fmt.Errorf("autoconf: no CONFIG_ defines: %w", ErrSyntax)
	}
	return a, nil
}

// Expected returns the autoconf.h defines Kconfig writes for c: y ->
// CONFIG_X 1, m -> CONFIG_X_MODULE 1, strings, decimals and hex as written
// (hex gains a 0x prefix when it lacks one), n -> nothing.
func (c *Config) Expected() map[string]string {
	out := make(map[string]string, len(c.Symbols))
	for _, s := range c.Symbols {
		switch v := s.Value; {
		case v == "y":
			out[s.Name] = "1"
		case v == "m":
			out[s.Name+"_MODULE"] = "1"
		case v == "n" || v == "":
		default:
			out[s.Name] = v
		}
	}
	return out
}

// Diff is one symbol on which a config and an autoconf.h disagree.
type Diff struct {
	Symbol string // CONFIG_X as in the .config
	Config string // value in .config ("n" or "" when absent)
	Header string // what autoconf.h says, in .config terms ("" when absent)
}

func (d Diff) String() string {
	show := func(v string) string {
		if v == "" || v == "n" {
			return "not set"
		}
		return v
	}
	return fmt.Sprintf("%s: config %s, autoconf.h %s", d.Symbol, show(d.Config), show(d.Header))
}

// Compare checks every CONFIG_ symbol of c against a, in .config order, then
// the defines of a that c does not explain (sorted). An empty result means
// they agree.
func Compare(c *Config, a *Autoconf) []Diff {
	var diffs []Diff
	explained := map[string]bool{}
	header := func(name string) string {
		if _, ok := a.Defines[name+"_MODULE"]; ok && a.Defines[name+"_MODULE"] == "1" {
			if _, both := a.Defines[name]; !both {
				return "m"
			}
		}
		v, ok := a.Defines[name]
		if !ok {
			return ""
		}
		return v
	}
	for _, s := range c.Symbols {
		explained[s.Name] = true
		if s.Value == "m" {
			explained[s.Name+"_MODULE"] = true
		}
		got := header(s.Name)
		want := s.Value
		switch want {
		case "y":
			if got == "1" {
				continue
			}
		case "m":
			if got == "m" {
				continue
			}
		case "n", "":
			if got == "" {
				continue
			}
		default:
			if got == want || isHex(got) && !strings.HasPrefix(strings.ToLower(want), "0x") && strings.EqualFold(got, "0x"+want) {
				continue
			}
		}
		if got == "1" && (want == "m" || want == "n" || want == "") {
			got = "y"
		}
		diffs = append(diffs, Diff{Symbol: s.Name, Config: want, Header: got})
	}
	reported := map[string]bool{}
	for _, d := range diffs {
		reported[d.Symbol] = true
	}
	var extra []string
	for _, name := range a.order {
		if !explained[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		v := a.Defines[name]
		if base, isMod := strings.CutSuffix(name, "_MODULE"); isMod && v == "1" {
			if reported[base] {
				continue
			}
			cv, _ := c.Get(base)
			diffs = append(diffs, Diff{Symbol: base, Config: cv, Header: "m"})
			reported[base] = true
			continue
		}
		if v == "1" {
			v = "y"
		}
		diffs = append(diffs, Diff{Symbol: name, Header: v})
	}
	return diffs
}

func isHex(s string) bool { return strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") }
