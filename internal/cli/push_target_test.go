package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/internal/target/targettest"
)

// TestLocatePushCLI: locate --json -v --target --push: the JSON says the
// headers came from a pushed kheaders and its source there, -v shows the
// remote commands; warm: one command, nothing pushed. extract --push hands
// out the same archive. --push without --target, and --push-binary
// without --push, are usage errors.
func TestLocatePushCLI(t *testing.T) {
	r := hosttest.Kernel612(t)
	dir := targettest.Make(t, r)
	if err := os.Symlink("/", filepath.Join(dir, "host")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KHEADERS_HOST_ROOT", "/host") // read by the pushed kheaders in the chroot
	bin := targettest.StaticKheaders(t, "")
	cache := t.TempDir()
	spec := targettest.Spec(dir)
	out, stderr, code := runCLI(t, nil, "locate", "--json", "-v", "--target", spec, "--push", "--push-binary", bin, "--cache-dir", cache)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Source string `json:"source"`
		Target struct {
			Via          string `json:"via"`
			RemoteSource string `json:"remote_source"`
			Commands     int    `json:"commands"`
		} `json:"target"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Source != "on-target" || res.Target.Via != "pushed" || res.Target.RemoteSource != "sysfs" || res.Target.Commands != 3 {
		t.Errorf("cold: %+v", res)
	}
	for _, want := range []string{"# kheaders push: copy", "# kheaders push: run serve-target"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("-v does not show %q:\n%s", want, stderr)
		}
	}
	out, stderr, code = runCLI(t, nil, "locate", "--json", "-v", "--target", spec, "--push", "--push-binary", bin, "--cache-dir", cache)
	if code != 0 || strings.Contains(stderr, "kheaders push") {
		t.Fatalf("warm: exit %d, pushed: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Source != "cache" || res.Target.Commands != 1 {
		t.Errorf("warm: %+v %v", res, err)
	}
	o := filepath.Join(t.TempDir(), "a.tar.xz")
	if _, stderr, code := runCLI(t, nil, "extract", "--target", spec, "--push", "--push-binary", bin, "--cache-dir", t.TempDir(), "-o", o); code != 0 {
		t.Fatalf("extract --push: exit %d: %s", code, stderr)
	}
	if b, err := os.ReadFile(o); err != nil || string(b) != string(r.Files["/sys/kernel/kheaders.tar.xz"]) {
		t.Errorf("extract --push: not the target's archive (%d bytes, %v)", len(b), err)
	}
	for _, args := range [][]string{{"locate", "--push"}, {"locate", "--target", spec, "--push-binary", bin}, {"extract", "--push", "x"}} {
		if _, stderr, code := runCLI(t, nil, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2: %s", args, code, stderr)
		}
	}
}

// TestBadTargetSpec: a --target that does not parse is a usage error
// (exit 2) on every command that takes it.
func TestBadTargetSpec(t *testing.T) {
	for _, cmd := range []string{"locate", "cflags", "extract", "inspect", "config", "btf"} {
		args := []string{cmd, "--target", "bogus://x"}
		if cmd == "extract" {
			args = append(args, "-o", filepath.Join(t.TempDir(), "x"))
		}
		_, stderr, code := runCLI(t, nil, args...)
		if code != 2 || !strings.Contains(stderr, "bad target spec") {
			t.Errorf("%s --target bogus://x: exit %d, want 2: %s", cmd, code, stderr)
		}
	}
}

// TestTargetTimeoutEnv: a malformed KHEADERS_TARGET_TIMEOUT is a usage
// error naming the variable (it used to fall back to 1m silently); an
// explicit --target-timeout wins over it.
func TestTargetTimeoutEnv(t *testing.T) {
	env := map[string]string{"KHEADERS_TARGET_TIMEOUT": "ten"}
	for _, cmd := range []string{"locate", "config", "inspect"} {
		_, stderr, code := runCLI(t, env, cmd, "--target", "cmd:false")
		if code != 2 || !strings.Contains(stderr, "KHEADERS_TARGET_TIMEOUT") {
			t.Errorf("%s: exit %d, want 2 naming the variable: %s", cmd, code, stderr)
		}
	}
	if _, stderr, code := runCLI(t, env, "config", "--target", "cmd:false", "--target-timeout", "5s"); code == 2 {
		t.Errorf("--target-timeout given: exit 2: %s", stderr)
	}
}
