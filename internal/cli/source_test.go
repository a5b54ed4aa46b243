package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// TestExplicitSource: --source and KHEADERS_SOURCE name the only headers
// locate, cflags, env and exec may use. On a host where the chain finds the
// running kernel's own headers (the fixture's sysfs archive), each failing
// explicit source exits with its code, prints nothing on stdout (or the
// failure report with --json) and names the path and the reason on stderr.
func TestExplicitSource(t *testing.T) {
	root := fixtureRoot(t)
	cache := sharedCacheDir(t)
	if _, stderr, code := runCLI(t, nil, "locate", "--host-root", root, "--cache-dir", cache); code != ExitOK {
		t.Fatalf("locate without --source exit %d: %s", code, stderr)
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not a kernel\n"), 0o644)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	mismatched := filepath.Join(hosttest.Fixtures(t), "ikheaders-m", "kheaders_data.tar.xz") // the fixture root runs the =y build
	base := []string{"--host-root", root, "--cache-dir", cache}
	tests := []struct {
		name    string
		environ map[string]string
		args    []string
		code    int
		stderr  string
	}{
		{"locate --source /nonexistent", nil, []string{"locate", "--source", "/nonexistent"}, ExitNotFound, "/nonexistent: file does not exist"},
		{"locate --source <empty dir>", nil, []string{"locate", "--source", empty}, ExitNotFound, empty + ": holds no kernel headers (an empty directory)"},
		{"KHEADERS_SOURCE=/typo cflags", map[string]string{"KHEADERS_SOURCE": "/typo"}, []string{"cflags"}, ExitNotFound, "/typo: file does not exist"},
		{"KHEADERS_SOURCE=/typo env", map[string]string{"KHEADERS_SOURCE": "/typo"}, []string{"env"}, ExitNotFound, "/typo: file does not exist"},
		{"KHEADERS_SOURCE=/typo exec", map[string]string{"KHEADERS_SOURCE": "/typo"}, []string{"exec", "--", "true"}, ExitNotFound, "/typo: file does not exist"},
		{"--source with --sources", nil, []string{"locate", "--source", "/typo", "--sources", "sysfs,cache"}, ExitNotFound, "/typo: file does not exist"},
		{"mismatched archive", nil, []string{"locate", "--source", mismatched}, ExitVerify, "config: running kernel CONFIG_IKHEADERS=y, headers CONFIG_IKHEADERS=m"},
		{"not a kernel artifact", nil, []string{"cflags", "--source", text}, ExitError, text + ": unrecognised or corrupt artifact"},
		{"FIFO", nil, []string{"locate", "--source", fifo}, ExitError, fifo + ": a FIFO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{tt.args[0]}, base...), tt.args[1:]...)
			out, stderr, code := runCLI(t, tt.environ, args...)
			if code != tt.code || out != "" {
				t.Errorf("exit %d, stdout %q; want exit %d and nothing on stdout\nstderr:\n%s", code, out, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.stderr) || !strings.Contains(stderr, "fix:") {
				t.Errorf("stderr does not name %q with a fix:\n%s", tt.stderr, stderr)
			}
			// One attempt: nothing but the named headers was tried.
			for _, src := range []string{"sysfs", "cache", "modules-dir"} {
				if strings.Contains(stderr, "\n  "+src+" ") {
					t.Errorf("stderr reports the %s source: the chain was tried\n%s", src, stderr)
				}
			}
		})
	}
	// --json: the failure report holds the one attempt and the exit code.
	out, _, code := runCLI(t, nil, append([]string{"locate", "--json", "--source", empty}, base...)...)
	var r struct {
		Exit     int
		Error    string
		Attempts []struct{ Source, Outcome, Reason, Fix string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("locate --json: %v\n%s", err, out)
	}
	if code != ExitNotFound || r.Exit != ExitNotFound || len(r.Attempts) != 1 || r.Attempts[0].Source != "override" || r.Attempts[0].Outcome != "failed" || r.Attempts[0].Fix == "" {
		t.Errorf("locate --json --source <empty dir> exit %d: %+v", code, r)
	}
	// --sources override names no source of its own.
	if _, stderr, code := runCLI(t, nil, append([]string{"locate", "--sources", "override"}, base...)...); code != ExitUsage || !strings.Contains(stderr, "--source PATH") {
		t.Errorf("--sources override without --source: exit %d, want usage\n%s", code, stderr)
	}
}
