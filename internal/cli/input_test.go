package cli

import (
	"bytes"
	"strings"
	"testing"
)

// TestMaxInput: KHEADERS_MAX_INPUT sets the input cap that an oversized
// stdin is refused at, and the refusal names the variable; a malformed
// value is a usage error.
func TestMaxInput(t *testing.T) {
	run := func(max string, stdin []byte, args ...string) (string, int) {
		var stdout, stderr bytes.Buffer
		env := &Env{Stdin: bytes.NewReader(stdin), Stdout: &stdout, Stderr: &stderr,
			Getenv: func(k string) string {
				if k == maxInputVar {
					return max
				}
				return ""
			}}
		code := Main(t.Context(), env, args)
		return stderr.String(), code
	}
	stderr, code := run("1000", make([]byte, 2000), "inspect", "-")
	if code != ExitError || !strings.Contains(stderr, "stdin: more than 1000 bytes read") || !strings.Contains(stderr, maxInputVar) {
		t.Errorf("inspect - with 2000 bytes under %s=1000 = exit %d, %q; want exit 1 naming the cap and the variable", maxInputVar, code, stderr)
	}
	if stderr, code := run("lots", nil, "inspect", "-"); code != ExitUsage || !strings.Contains(stderr, maxInputVar) {
		t.Errorf("%s=lots = exit %d, %q; want a usage error", maxInputVar, code, stderr)
	}
}
