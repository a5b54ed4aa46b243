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
		r, _ := fastXZ(data, 1<<30)
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
		r, _ := fastXZ(data, 1<<24)
		if r == nil {
			return
		}
		defer r.stop()
		io.Copy(io.Discard, r)
	})
}

// TestFastXZCheck: the block checks, computed while decoding, catch a
// corrupted check value in any block of a CRC64 or CRC32 stream, and a
// good stream of several blocks decodes to the xz tool's bytes.
func TestFastXZCheck(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("xz not installed (Debian package xz-utils)")
	}
	plain := bytes.Repeat([]byte("static inline int f(void) { return 0; }\n"), 40000)
	for _, tc := range []struct {
		name  string
		args  []string
		width int
	}{
		{"crc64", []string{"--check=crc64"}, 8},
		{"crc32", []string{"--check=crc32"}, 4},
		{"crc64-3-blocks", []string{"--check=crc64", "--block-size=600000"}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("xz", append([]string{"-c"}, tc.args...)...)
			cmd.Stdin = bytes.NewReader(plain)
			data, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			r, _ := fastXZ(data, 1<<30)
			if r == nil {
				t.Fatal("fastXZ declined")
			}
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("decode: %d bytes, %v; want %d bytes", len(got), err, len(plain))
			}
			// The last block's check ends where the index starts: the
			// footer's backward size gives the index length.
			bsize := int(data[len(data)-8]) | int(data[len(data)-7])<<8 | int(data[len(data)-6])<<16 | int(data[len(data)-5])<<24
			index := len(data) - 12 - (bsize+1)*4
			bad := bytes.Clone(data)
			bad[index-tc.width] ^= 1
			r, _ = fastXZ(bad, 1<<30)
			if r == nil {
				t.Fatal("fastXZ declined the corrupted stream (its index is intact)")
			}
			if _, err := io.ReadAll(r); err == nil || !bytes.Contains([]byte(err.Error()), []byte("mismatch")) {
				t.Errorf("corrupted check: err = %v, want a check mismatch", err)
			}
		})
	}
}
