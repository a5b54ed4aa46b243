package cli

import (
	"bytes"
	"testing"
)

// TestProgress draws the one progress line: only on a terminal and without
// --quiet, each figure once, erased at the end and by clear.
func TestProgress(t *testing.T) {
	var b bytes.Buffer
	env := &Env{Stderr: &b, IsTTY: true}
	if p := newProgress(&Env{Stderr: &b}, &Common{}, "x"); p != nil {
		t.Error("progress drawn when stderr is not a terminal")
	}
	if p := newProgress(env, &Common{Quiet: true}, "x"); p != nil {
		t.Error("progress drawn with --quiet")
	}
	p := newProgress(env, &Common{}, "kheaders: extracting")
	for _, d := range []int64{0, 1, 5, 50, 100} {
		p.percent(d, 100)
	}
	if want := "\rkheaders: extracting   0%\rkheaders: extracting   1%\rkheaders: extracting   5%\rkheaders: extracting  50%\rkheaders: extracting 100%\r\033[K"; b.String() != want {
		t.Errorf("percent drew %q, want %q", b.String(), want)
	}
	b.Reset()
	p.percent(3, -1) // unknown total
	p.clear()        // nothing drawn: nothing to erase
	if b.Len() != 0 {
		t.Errorf("unknown total drew %q, want nothing", b.String())
	}
	p = newProgress(env, &Common{}, "kheaders pack:")
	for d := 1; d <= 600; d++ {
		p.count(d, 600)
	}
	if want := "\rkheaders pack: 256/600 files\rkheaders pack: 512/600 files\rkheaders pack: 600/600 files\r\033[K"; b.String() != want {
		t.Errorf("count drew %q, want %q", b.String(), want)
	}
	b.Reset()
	p = newProgress(env, &Common{}, "x")
	p.percent(1, 2)
	p.clear()
	if want := "\rx  50%\r\033[K"; b.String() != want {
		t.Errorf("clear after a partial line: %q, want %q", b.String(), want)
	}
	var none *progress
	none.clear() // nil-safe: no progress shown
}
