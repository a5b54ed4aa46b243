package cli

import (
	"bytes"
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseInterleavedAndDashDash(t *testing.T) {
	tests := []struct {
		args    []string
		wantPos []string
		wantO   string
	}{
		{[]string{"a", "-o", "x", "b"}, []string{"a", "b"}, "x"},
		{[]string{"-o", "x", "--", "cmd", "-o", "y"}, []string{"cmd", "-o", "y"}, "x"},
		{[]string{"a", "--", "-v"}, []string{"a", "-v"}, ""},
		{nil, nil, ""},
	}
	for _, tt := range tests {
		c := &Command{Name: "t"}
		env := &Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
		fs := newFlagSet(env, c)
		o := fs.String("o", "", "")
		pos, err := parse(env, c, fs, tt.args)
		if err != nil {
			t.Fatalf("parse(%q) error %v", tt.args, err)
		}
		if diff := cmp.Diff(tt.wantPos, pos); diff != "" || *o != tt.wantO {
			t.Errorf("parse(%q) = %q, -o %q; want %q, -o %q", tt.args, pos, *o, tt.wantPos, tt.wantO)
		}
	}
}

func TestMainExitCodes(t *testing.T) {
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb}
	if got := Main(context.Background(), env, nil); got != ExitUsage {
		t.Errorf("Main() = %d, want %d", got, ExitUsage)
	}
	if got := Main(context.Background(), env, []string{"no-such-command"}); got != ExitUsage {
		t.Errorf("Main(no-such-command) = %d, want %d", got, ExitUsage)
	}
	if got := Main(context.Background(), env, []string{"help"}); got != ExitOK {
		t.Errorf("Main(help) = %d, want %d", got, ExitOK)
	}
	for name := range commands {
		out.Reset()
		if got := Main(context.Background(), env, []string{name, "--help"}); got != ExitOK {
			t.Errorf("Main(%s --help) = %d, want 0 (stderr %q)", name, got, errb.String())
		}
		if out.Len() == 0 {
			t.Errorf("%s --help printed nothing on stdout", name)
		}
	}
}
