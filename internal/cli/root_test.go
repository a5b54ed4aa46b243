package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
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

// TestHelpCommandEqualsFlagHelp (issue 10 point 10): `kheaders help CMD`
// prints exactly what `kheaders CMD --help` prints, flags included, for
// every command of the help list.
func TestHelpCommandEqualsFlagHelp(t *testing.T) {
	names := make([]string, 0, len(commands))
	for _, c := range commandList {
		names = append(names, c.Name)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			help, herr, hcode := runCLI(t, nil, "help", name)
			flag, ferr, fcode := runCLI(t, nil, name, "--help")
			if hcode != ExitOK || fcode != ExitOK {
				t.Fatalf("help %s: exit %d (%q); %s --help: exit %d (%q); want 0 and 0", name, hcode, herr, name, fcode, ferr)
			}
			if diff := cmp.Diff(flag, help); diff != "" {
				t.Errorf("help %s differs from %s --help (-flag +help):\n%s", name, name, diff)
			}
			if want := "kheaders " + name + ": " + commands[name].Short + "\n"; !strings.HasPrefix(help, want) {
				t.Errorf("help %s does not start with %q:\n%s", name, want, help)
			}
		})
	}
}

// TestFailurePrintedOnce (issue 10 point 10): on a failure, with -v on,
// stderr holds the error line exactly once (no debug echo of it, no
// second "kheaders CMD:" line).
func TestFailurePrintedOnce(t *testing.T) {
	root := fixtureRoot(t)
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join(root, "sys/kernel/kheaders.tar.xz"))
	if err != nil {
		t.Fatal(err)
	}
	half := filepath.Join(dir, "half.tar.xz")
	if err := os.WriteFile(half, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"locate", "-v", "--host-root", root, "--cache-dir", filepath.Join(dir, "c"), "--source", filepath.Join(dir, "nonexistent")},
		{"locate", "-v", "--host-root", root, "--cache-dir", filepath.Join(dir, "c"), "--source", t.TempDir()},
		{"extract", "-v", half, "-C", filepath.Join(dir, "tree")},
		{"extract", "-v", half, "-o", filepath.Join(dir, "out")},
		{"inspect", "-v", half},
		{"config", "-v", half},
	} {
		_, stderr, code := runCLI(t, nil, args...)
		if code == ExitOK {
			t.Errorf("%q: exit 0, want a failure\n%s", args, stderr)
			continue
		}
		prefix := "kheaders " + args[0] + ": "
		var errLines []string
		for _, l := range strings.Split(stderr, "\n") {
			if strings.HasPrefix(l, prefix) {
				errLines = append(errLines, l)
			}
		}
		if len(errLines) != 1 {
			t.Errorf("%q: %d lines start with %q, want 1:\n%s", args, len(errLines), prefix, stderr)
			continue
		}
		msg := strings.TrimPrefix(errLines[0], prefix)
		if n := strings.Count(stderr, msg); n != 1 {
			t.Errorf("%q: the error %q is printed %d times, want once:\n%s", args, msg, n, stderr)
		}
	}
}
