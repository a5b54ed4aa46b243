package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The guest's /init prints every result as console lines starting with
// marker, so they can be told apart from kernel messages:
//
//	@@E2E INIT uptime=0.91
//	@@E2E BEGIN locate
//	@@E2E OUT locate|{"schema": ...
//	@@E2E ERR locate|warning ...
//	@@E2E END locate rc=0 t0=0.95 t1=1.52
//	@@E2E DONE uptime=9.10
//
// t0/t1 and uptime are /proc/uptime readings (10 ms resolution).
const marker = "@@E2E "

// Step is one guest command as reported on the console.
type Step struct {
	Name   string
	Stdout string // the command's stdout, lines joined with "\n"
	Stderr string
	RC     int
	Dur    time.Duration // from the guest's /proc/uptime, 10 ms resolution
	Ended  bool          // END line seen
}

// Console is what one boot printed.
type Console struct {
	InitUptime time.Duration // kernel uptime when /init started
	DoneUptime time.Duration // kernel uptime when /init finished
	Init, Done bool
	Steps      []*Step
	Kernel     []string // every non-marker line (kernel log, stray output)
}

// Step returns the step called name, or nil.
func (c *Console) Step(name string) *Step {
	for _, s := range c.Steps {
		if s.Name == name {
			return s
		}
	}
	return nil
}

var errConsole = errors.New("console")

// ParseConsole reads a guest console log. Malformed marker lines are an
// error; anything else that is not a marker line goes to Kernel. Serial
// consoles end lines with "\r\n"; both endings are accepted.
func ParseConsole(r io.Reader) (*Console, error) {
	c := &Console{}
	open := map[string]*Step{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	ln := 0
	for sc.Scan() {
		ln++
		line := strings.TrimRight(sc.Text(), "\r")
		i := strings.Index(line, marker)
		if i < 0 {
			c.Kernel = append(c.Kernel, line)
			continue
		}
		// A kernel message may have been printed just before the marker on
		// the same console line; keep that part as kernel output.
		if i > 0 {
			c.Kernel = append(c.Kernel, line[:i])
		}
		rest := line[i+len(marker):]
		kind, arg, _ := strings.Cut(rest, " ")
		bad := func(why string) error {
			return fmt.Errorf("%w: line %d %q: %s", errConsole, ln, line, why)
		}
		switch kind {
		case "INIT", "DONE":
			d, err := parseKV(arg, "uptime")
			if err != nil {
				return nil, bad(err.Error())
			}
			if kind == "INIT" {
				c.Init, c.InitUptime = true, d
			} else {
				c.Done, c.DoneUptime = true, d
			}
		case "BEGIN":
			if arg == "" || strings.ContainsAny(arg, " |") {
				return nil, bad("bad step name")
			}
			if open[arg] != nil || c.Step(arg) != nil {
				return nil, bad("step begun twice")
			}
			s := &Step{Name: arg}
			open[arg] = s
			c.Steps = append(c.Steps, s)
		case "OUT", "ERR":
			name, text, ok := strings.Cut(arg, "|")
			s := open[name]
			if !ok || s == nil {
				return nil, bad("output outside a step")
			}
			if kind == "OUT" {
				s.Stdout += text + "\n"
			} else {
				s.Stderr += text + "\n"
			}
		case "END":
			f := strings.Fields(arg)
			if len(f) != 4 {
				return nil, bad("want END NAME rc= t0= t1=")
			}
			s := open[f[0]]
			if s == nil {
				return nil, bad("END of a step not begun")
			}
			rc, err := strconv.Atoi(strings.TrimPrefix(f[1], "rc="))
			if err != nil || !strings.HasPrefix(f[1], "rc=") {
				return nil, bad("bad rc")
			}
			t0, err0 := parseKV(f[2], "t0")
			t1, err1 := parseKV(f[3], "t1")
			if err0 != nil || err1 != nil || t1 < t0 {
				return nil, bad("bad times")
			}
			s.RC, s.Dur, s.Ended = rc, t1-t0, true
			delete(open, f[0])
		default:
			return nil, bad("unknown marker")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: read: %w", errConsole, err)
	}
	for _, s := range c.Steps {
		s.Stdout = strings.TrimSuffix(s.Stdout, "\n")
		s.Stderr = strings.TrimSuffix(s.Stderr, "\n")
	}
	return c, nil
}

// parseKV parses "key=SECONDS" (SECONDS as printed by /proc/uptime).
func parseKV(s, key string) (time.Duration, error) {
	v, ok := strings.CutPrefix(s, key+"=")
	if !ok {
		return 0, fmt.Errorf("want %s=SECONDS", key)
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || !(f >= 0 && f <= 1e7) {
		return 0, fmt.Errorf("bad %s %q", key, v)
	}
	return time.Duration(f * float64(time.Second)).Round(time.Millisecond), nil
}
