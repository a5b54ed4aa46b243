package archive

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestFastXZ decodes real archives with the fast path and compares with
// the xz tool's output (or internal/codec's when xz is absent).
func TestFastXZ(t *testing.T) {
	shared := sharedOrEmpty()
	if shared == "" {
		t.Skip("no ../shared fixtures")
	}
	for _, rel := range []string{"ikheaders-y/kheaders_data.tar.xz", "ikheaders-m/kheaders_data.tar.xz"} {
		data, err := os.ReadFile(filepath.Join(shared, "fixtures", "linux-6.12.117-x86_64", rel))
		if err != nil {
			t.Skip(err)
		}
		r := fastXZ(data, 1<<30)
		if r == nil {
			t.Fatalf("fastXZ(%s) declined", rel)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("fast decode %s: %v", rel, err)
		}
		var want []byte
		if _, err := exec.LookPath("xz"); err == nil {
			cmd := exec.Command("xz", "-dc")
			cmd.Stdin = bytes.NewReader(data)
			want, err = cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
		} else {
			s, err := openStream(bytes.NewReader(data), nil)
			if err != nil {
				t.Fatal(err)
			}
			want, _ = io.ReadAll(s.dec)
		}
		if sha256.Sum256(got) != sha256.Sum256(want) {
			t.Errorf("fast decode of %s differs: %d bytes, want %d", rel, len(got), len(want))
		}
	}
}

// FuzzFastXZ mutates small valid xz streams (the index stays valid when a
// mutation hits the compressed data): the decoder must fail cleanly.
func FuzzFastXZ(f *testing.F) {
	f.Add(xzBytes(f, mkTar(f, good...)))
	f.Add(xzBytes(f, bytes.Repeat([]byte("abcabcabd"), 5000)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := fastXZ(data, 1<<24)
		if r == nil {
			return
		}
		defer r.stop()
		io.Copy(io.Discard, r)
	})
}
