package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStepScriptRoundTrip runs the step part of /init under the host's
// busybox sh and parses what it prints: the marker protocol end to end,
// without a kernel.
func TestStepScriptRoundTrip(t *testing.T) {
	bb, why := staticBusybox("x86_64")
	if bb == "" {
		t.Skip("skipping: " + why)
	}
	steps := []GuestStep{
		{"plain", "echo hello; echo world"},
		{"stderr-rc", "echo oops >&2; exit 4"},
		{"quotes", `printf '%s\n' "it's" 'a|b' '$HOME'`},
		{"no-newline", "printf 'tail'"},
		{"empty", "true"},
		{"blank-line", "echo; echo x"},
	}
	script, err := stepScript(steps)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The script writes its scratch files in /tmp as in the guest; point
	// them at the test's directory instead.
	script = strings.ReplaceAll(script, "/tmp/.e2e.", dir+"/.e2e.")
	cmd := exec.Command(bb, "sh", "-c", script)
	cmd.Env = []string{"PATH=/nonexistent"} // busybox sh runs its own applets (timeout, awk)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("busybox sh: %v\n%s", err, out)
	}
	c, err := ParseConsole(strings.NewReader(string(out)))
	if err != nil {
		t.Fatalf("ParseConsole: %v\n%s", err, out)
	}
	if !c.Init || !c.Done || len(c.Kernel) != 0 {
		t.Errorf("init %v done %v stray lines %q; want markers only", c.Init, c.Done, c.Kernel)
	}
	want := map[string]struct {
		out, err string
		rc       int
	}{
		"plain":      {"hello\nworld", "", 0},
		"stderr-rc":  {"", "oops", 4},
		"quotes":     {"it's\na|b\n$HOME", "", 0},
		"no-newline": {"tail", "", 0},
		"empty":      {"", "", 0},
		"blank-line": {"\nx", "", 0},
	}
	for _, s := range steps {
		got := c.Step(s.Name)
		w := want[s.Name]
		if got == nil || !got.Ended || got.Stdout != w.out || got.Stderr != w.err || got.RC != w.rc {
			t.Errorf("step %s = %+v, want stdout %q stderr %q rc %d", s.Name, got, w.out, w.err, w.rc)
		}
	}
}

func TestInitScriptRejects(t *testing.T) {
	for _, steps := range [][]GuestStep{
		{{"", "true"}},
		{{"a b", "true"}},
		{{"a|b", "true"}},
		{{"a$", "true"}},
		{{"a", "true"}, {"a", "false"}},
		{{"a", "echo 1\necho 2"}},
	} {
		if _, err := InitScript(steps, "poweroff -f"); err == nil {
			t.Errorf("InitScript(%q) = nil error, want a rejection", steps)
		}
	}
	s, err := InitScript([]GuestStep{{"x", "kheaders locate --json"}}, "poweroff -f")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"#!/bin/busybox sh\n", "mount -t proc proc /proc", "mount -t devtmpfs", "mount -t tmpfs tmpfs /tmp",
		"run x 'kheaders locate --json'\n", "poweroff -f\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("InitScript lacks %q:\n%s", want, s)
		}
	}
}
