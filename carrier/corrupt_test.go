package carrier

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// TestCorruptInput: a truncated or bit-flipped artifact is ErrFormat saying
// "corrupt or truncated" and which layer, never ErrNotFound (which the CLI
// reports as a kernel built without CONFIG_IKHEADERS), from Archive,
// Config and Inspect alike (issue 10 point 5).
func TestCorruptInput(t *testing.T) {
	half := func(b []byte) []byte { return b[:len(b)/2] }
	for _, tc := range []struct {
		name, file, layer string
		mangle            func([]byte) []byte
	}{
		{"half archive", "ikheaders-m/kheaders_data.tar.xz", "xz", half},
		{"half bzImage", "ikheaders-y/bzImage", "bzimage", half},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.mangle(bytes.Clone(hosttest.ReadFixture(t, tc.file)))
			_, _, err := Archive(t.Context(), data, nil)
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, ErrFormat) || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "corrupt or truncated") || !strings.Contains(err.Error(), tc.layer) {
					t.Errorf("%s(%s) = %v; want ErrFormat, corrupt or truncated, naming %s", what, tc.name, err, tc.layer)
				}
			}
			check("Archive", err)
			_, err = Inspect(t.Context(), data, nil)
			check("Inspect", err)
		})
	}
	// A bit flip inside the compressed data passes the search (the index
	// is intact) but not the decoding Inspect does.
	data := bytes.Clone(hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz"))
	data[len(data)/2] ^= 0x10
	_, err := Inspect(t.Context(), data, nil)
	if err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("Inspect(bit-flipped archive) = %v, want a corrupt-data error", err)
	}
}
