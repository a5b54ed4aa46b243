package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestVerboseLog: -v lines read "kheaders: debug: message key=value", no
// slog text-format noise, and no line is printed twice; -q prints nothing
// but errors.
func TestVerboseLog(t *testing.T) {
	root := fixtureRoot(t)
	_, stderr, code := runCLI(t, nil, "locate", "-v", "--host-root", root, "--cache-dir", filepath.Join(t.TempDir(), "c"))
	if code != 0 {
		t.Fatalf("locate -v: exit %d\n%s", code, stderr)
	}
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if strings.Contains(l, "level=") || strings.Contains(l, "msg=") {
			t.Errorf("raw slog line: %q", l)
		}
		if !strings.HasPrefix(l, "kheaders: ") {
			t.Errorf("line without the kheaders: prefix: %q", l)
		}
		if seen[l] {
			t.Errorf("line printed twice: %q", l)
		}
		seen[l] = true
	}
	if !strings.Contains(stderr, "kheaders: debug: ") {
		t.Errorf("locate -v printed no debug line:\n%s", stderr)
	}
	_, stderr, code = runCLI(t, nil, "locate", "-q", "--host-root", root, "--cache-dir", filepath.Join(t.TempDir(), "c"))
	if code != 0 || stderr != "" {
		t.Errorf("locate -q: exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
}
