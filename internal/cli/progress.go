package cli

import (
	"fmt"
	"io"
)

// progress is the CLI's one progress line: drawn on stderr only when it is
// a terminal and --quiet is not given, redrawn only when the figure
// changes, and erased when the work is done (or by clear, on any exit).
type progress struct {
	w     io.Writer
	what  string
	last  int64
	shown bool
}

// newProgress returns the progress line "WHAT ..." or, when none is to be
// shown, nil: the callers then leave the library's Progress callback nil.
func newProgress(env *Env, c *Common, what string) *progress {
	if !env.IsTTY || c.Quiet {
		return nil
	}
	return &progress{w: env.Stderr, what: what, last: -1}
}

// percent is a byte-count callback (archive.Options, locate.Options):
// "WHAT  42%"; a total <= 0 (unknown) draws nothing.
func (p *progress) percent(done, total int64) {
	if total <= 0 {
		return
	}
	p.draw(done*100/total, fmt.Sprintf("%3d%%", done*100/total), done >= total)
}

// count is a file-count callback (pack.Options): "WHAT 512/6680 files",
// every 256 files and at the end.
func (p *progress) count(done, total int) {
	if done%256 == 0 || done == total {
		p.draw(int64(done), fmt.Sprintf("%d/%d files", done, total), done == total)
	}
}

func (p *progress) draw(v int64, s string, end bool) {
	if v != p.last {
		p.last = v
		fmt.Fprintf(p.w, "\r%s %s", p.what, s)
		p.shown = true
	}
	if end {
		p.clear()
	}
}

// clear erases the line if it is drawn; nil-safe.
func (p *progress) clear() {
	if p != nil && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
