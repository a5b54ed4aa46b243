package input_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtures = "../../../shared/fixtures/linux-6.12.117-x86_64"

// TestCLICorruptInput runs the built CLI on the real fixture artifacts cut
// to half their length or with one bit flipped: extract -o, extract -C and
// inspect exit 1 saying corrupt (or truncated), never 3 ("built without
// CONFIG_IKHEADERS"), and -o / -C leave nothing behind (issue 10 point 5).
func TestCLICorruptInput(t *testing.T) {
	dir := t.TempDir()
	mk := func(name, rel string, mangle func([]byte) []byte) string {
		b, err := os.ReadFile(filepath.Join(fixtures, rel))
		if err != nil {
			t.Skipf("shared fixture not available (%v); it lives in ../shared next to the repository", err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, mangle(b), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	half := func(b []byte) []byte { return b[:len(b)/2] }
	flip := func(b []byte) []byte { b = bytes.Clone(b); b[len(b)/2] ^= 0x10; return b }
	for _, src := range []string{
		mk("half.tar.xz", "ikheaders-m/kheaders_data.tar.xz", half),
		mk("half-bzImage", "ikheaders-y/bzImage", half),
		mk("flip.tar.xz", "ikheaders-m/kheaders_data.tar.xz", flip),
	} {
		for _, args := range [][]string{
			{"extract", src, "-o", filepath.Join(dir, "out")},
			{"extract", src, "-o", "-"},
			{"extract", src, "-C", filepath.Join(dir, "tree")},
			{"inspect", src},
		} {
			code, stderr := runLimited(t, nil, args...)
			what := strings.Join(append([]string{filepath.Base(src)}, args[0], args[len(args)-2]), " ")
			wantFail(t, what, code, stderr, "corrupt")
			if strings.Contains(stderr, "CONFIG_IKHEADERS") {
				t.Errorf("%s: blames CONFIG_IKHEADERS for a damaged file:\n%s", what, tail(stderr))
			}
		}
		for _, p := range []string{"out", "tree"} {
			if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
				t.Errorf("%s: %s was written by a failed run", src, p)
			}
		}
	}
}
