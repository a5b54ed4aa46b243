package pack

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/kheaders/kheaders/internal/cstrip"
)

// Finding is a header whose token stream a stripping mode changes.
//
// Its JSON is a `findings`/`differences` element of kheaders.pack-check/v1
// (docs/json.md): a stable schema, fields are only added within v1.
type Finding struct {
	Path   string `json:"path"`
	Mode   Strip  `json:"mode"`
	Reason string `json:"reason"`
}

// CheckResult is what Check found.
//
// Its JSON is the body of kheaders.pack-check/v1 (docs/json.md): a stable
// schema, fields are only added within v1.
type CheckResult struct {
	Files    int       `json:"files"`
	Findings []Finding `json:"findings"`
	// Differences lists every header whose default-stripped bytes differ
	// from the Kbuild-stripped ones (Mode "text"), with what differs.
	Differences []Finding `json:"differences"`
}

// Check strips every header the archive would hold with both the default
// lexer (with the KeepLines setting of o) and Kbuild's regex, and compares
// each result's preprocessing-token stream with the original's (see
// cstrip.SameTokens: tokens, white space before them, line starts; with
// KeepLines also the line numbers). Every difference is a Finding, with a
// one-line reason; the default mode is expected to have none.
func Check(ctx context.Context, o Options) (*CheckResult, error) {
	p, err := o.plan()
	if err != nil {
		return nil, err
	}
	res := &CheckResult{}
	var mu sync.Mutex
	idx := make(chan int)
	var wg sync.WaitGroup
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	var firstErr error
	def := cstrip.Options{KeepLines: o.KeepLines}
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				f := p.files[i]
				if f.mode&fs.ModeSymlink != 0 {
					continue
				}
				src, err := os.ReadFile(f.abs)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("%w: %v", ErrUnreadable, err)
				}
				res.Files++
				mu.Unlock()
				if err != nil {
					continue
				}
				var found []Finding
				ds := def.Strip(src)
				if d := cstrip.SameTokens(src, ds, o.KeepLines); d != "" {
					found = append(found, Finding{f.rel, StripDefault, d})
				}
				kb := cstrip.Kbuild(src)
				damage := kbuildDamage(src, kb)
				if damage != "" {
					found = append(found, Finding{f.rel, StripKbuild, damage})
				}
				var diff *Finding
				if !bytes.Equal(ds, kb) {
					diff = &Finding{f.rel, "text", textDiff(src, ds, kb, damage != "")}
				}
				if found != nil || diff != nil {
					mu.Lock()
					res.Findings = append(res.Findings, found...)
					if diff != nil {
						res.Differences = append(res.Differences, *diff)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := range p.files {
		if ctx.Err() != nil {
			break
		}
		idx <- i
	}
	close(idx)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if firstErr != nil {
		return nil, firstErr
	}
	sortFindings(res.Findings)
	sortFindings(res.Differences)
	return res, nil
}

// kbuildDamage explains how Kbuild's regex changes the token stream of src
// ("" when it does not).
func kbuildDamage(src, out []byte) string {
	a, b := cstrip.Tokens(src), cstrip.Tokens(out)
	i := 0
	for i < len(a) && i < len(b) && a[i].Text == b[i].Text && a[i].Space == b[i].Space && a[i].BOL == b[i].BOL {
		i++
	}
	if i == len(a) && i == len(b) {
		return ""
	}
	if i >= len(a) || i >= len(b) {
		return fmt.Sprintf("%d tokens became %d", len(a), len(b))
	}
	x, y := a[i], b[i]
	// Which kind of text did the regex start in? Look at the original
	// token where the streams part.
	switch {
	case x.Text == y.Text && x.Space != y.Space:
		return fmt.Sprintf("line %d: comment removed without leaving a space before %q (pastes tokens, or changes # stringification and macro-redefinition checks)", x.Line, x.Text)
	case len(x.Text) > 0 && (x.Text[0] == '"' || x.Text[0] == '\''):
		return fmt.Sprintf("line %d: a /* inside a literal opened a comment: %s became %s", x.Line, short(x.Text), short(y.Text))
	case len(y.Text) > 0 && (y.Text[0] == '"' || y.Text[0] == '\''):
		return fmt.Sprintf("line %d: a literal lost its text: %s became %s", x.Line, short(x.Text), short(y.Text))
	}
	return fmt.Sprintf("line %d: code removed (a /* inside a // comment or literal opened a comment): %s became %s", x.Line, short(x.Text), short(y.Text))
}

// textDiff says in one line why the default stripping of src (def) differs
// from Kbuild's (kb).
func textDiff(src, def, kb []byte, damaged bool) string {
	var why []string
	if damaged {
		why = append(why, "Kbuild's regex changes the code (see the kbuild line)")
	}
	if _, line := cstrip.Comments(src); line > 0 {
		why = append(why, fmt.Sprintf("%d // comments removed (Kbuild keeps them)", line))
	}
	if n := bytes.Count(kb, []byte{'\n'}) - bytes.Count(def, []byte{'\n'}); n > 0 {
		why = append(why, fmt.Sprintf("%d lines left empty by comments dropped", n))
	}
	if len(why) == 0 {
		switch extra := len(kb) - len(def); {
		case extra > 0:
			why = append(why, fmt.Sprintf("%d blanks before removed comments trimmed", extra))
		case extra < 0:
			why = append(why, fmt.Sprintf("%d spaces kept where a comment separated tokens", -extra))
		default:
			why = append(why, "white space around removed comments")
		}
	}
	return strings.Join(why, "; ")
}

func short(s string) string {
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return fmt.Sprintf("%q", s)
}

func sortFindings(f []Finding) {
	sort.Slice(f, func(i, j int) bool {
		if f[i].Path != f[j].Path {
			return f[i].Path < f[j].Path
		}
		return f[i].Mode < f[j].Mode
	})
}
