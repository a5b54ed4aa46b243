package input_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/testbin"
)

// TestCapErrorsNameTheFlag (issue 10 point 2): an input past --max-input
// and an archive declaring more than the file data cap are refused with a
// message naming a flag that the command it runs in accepts (its --help
// lists it), and --max-input raises the input cap.
func TestCapErrorsNameTheFlag(t *testing.T) {
	bin := testbin.Kheaders(t)
	dir := t.TempDir()
	big := filepath.Join(dir, "big.tar.xz")
	if err := os.WriteFile(big, declaring20G(t), 0o644); err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(dir, "blob")
	if err := os.WriteFile(blob, make([]byte, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	flagRE := regexp.MustCompile(`--[a-z][a-z-]+`)
	for _, tc := range []struct {
		args []string
		word string
	}{
		{[]string{"extract", blob, "-o", filepath.Join(dir, "out"), "--max-input", "1000"}, "more than 1000 bytes"},
		{[]string{"inspect", blob, "--max-input", "1000"}, "more than 1000 bytes"},
		{[]string{"config", blob, "--max-input", "1000"}, "more than 1000 bytes"},
		{[]string{"extract", big, "-C", filepath.Join(dir, "tree")}, "declares"},
		{[]string{"inspect", big}, "declares"},
	} {
		code, stderr := runLimited(t, nil, tc.args...)
		wantFail(t, strings.Join(tc.args[:1], " "), code, stderr, tc.word)
		flags := flagRE.FindAllString(stderr, -1)
		if len(flags) == 0 {
			t.Errorf("%q: the error names no flag:\n%s", tc.args, tail(stderr))
			continue
		}
		help, err := exec.Command(bin, tc.args[0], "--help").Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range flags {
			if !strings.Contains(string(help), "\n  -"+strings.TrimPrefix(f, "--")+" ") {
				t.Errorf("%q: the error names %s, which %s --help does not list:\n%s", tc.args, f, tc.args[0], tail(stderr))
			}
		}
	}
	// Raised past the file, the cap lets it through to detection.
	code, stderr := runLimited(t, nil, "inspect", blob, "--max-input", "6000")
	if code != 1 || strings.Contains(stderr, "more than") || !strings.Contains(stderr, "no known kernel artifact format") {
		t.Errorf("inspect --max-input 6000 of 5000 zero bytes: exit %d, want 1 unrecognised (not the cap):\n%s", code, tail(stderr))
	}
}
