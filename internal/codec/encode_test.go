package codec

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func encode(t *testing.T, kind Kind, o EncodeOptions, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(context.Background(), kind, &buf, o)
	if err != nil {
		t.Fatalf("NewWriter(%s, %+v): %v", kind, o, err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestEncodeRoundTrip(t *testing.T) {
	data := bytes.Repeat([]byte("#define FOO(x) ((x) + 1)\nstruct bar { int baz; };\n"), 5000)
	_, haveXZ := EncodeOptions{}.XZArgv()
	for _, tt := range []struct {
		name string
		kind Kind
		o    EncodeOptions
		exec bool
	}{
		{"xz go", XZ, EncodeOptions{XZMode: XZGo}, false},
		{"xz exec", XZ, EncodeOptions{XZMode: XZExec}, true},
		{"xz exec 2 blocks", XZ, EncodeOptions{XZMode: XZExec, XZThreads: 2, SizeHint: int64(len(data))}, true},
		{"zstd", Zstd, EncodeOptions{}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.exec && !haveXZ {
				t.Skip("xz not found (Debian package xz-utils)")
			}
			enc := encode(t, tt.kind, tt.o, data)
			if k, ok := Detect(enc); !ok || k != tt.kind {
				t.Errorf("Detect = %v, %v; want %v", k, ok, tt.kind)
			}
			if tt.kind == XZ && !bytes.Equal(enc[6:8], []byte{0, 4}) {
				t.Errorf("xz stream flags %x, want CRC64 (00 04) like xz's default", enc[6:8])
			}
			dec, err := Decompress(tt.kind, enc, 1<<30)
			if err != nil || !bytes.Equal(dec, data) {
				t.Errorf("round trip: %v (%d bytes back of %d)", err, len(dec), len(data))
			}
		})
	}
}

// TestEncodeXZLikeKbuild checks that exec mode without threads runs xz with
// no options: the same bytes as `xz < data`.
func TestEncodeXZLikeKbuild(t *testing.T) {
	if _, ok := (EncodeOptions{}).XZArgv(); !ok {
		t.Skip("xz not found (Debian package xz-utils)")
	}
	data := bytes.Repeat([]byte("kheaders "), 10000)
	cmd := exec.Command("xz")
	cmd.Stdin = bytes.NewReader(data)
	want, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := encode(t, XZ, EncodeOptions{XZMode: XZExec, XZThreads: 1, SizeHint: 90000}, data); !bytes.Equal(got, want) {
		t.Error("exec xz output differs from `xz < data`")
	}
}

func TestEncodeErrors(t *testing.T) {
	_, err := NewWriter(context.Background(), XZ, &bytes.Buffer{}, EncodeOptions{XZMode: XZExec, XZCommand: "/nonexistent/xz"})
	if !errors.Is(err, ErrNoXZ) || !strings.Contains(err.Error(), "xz-utils") {
		t.Errorf("missing $XZ: %v, want ErrNoXZ naming xz-utils", err)
	}
	// auto falls back to Go.
	if _, err := NewWriter(context.Background(), XZ, &bytes.Buffer{}, EncodeOptions{XZCommand: "/nonexistent/xz"}); err != nil {
		t.Errorf("auto with missing $XZ: %v, want the Go encoder", err)
	}
	if _, err := NewWriter(context.Background(), Gzip, &bytes.Buffer{}, EncodeOptions{}); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("gzip: %v, want ErrUnknownKind", err)
	}
	// A failing xz process is reported by Close.
	if _, err := exec.LookPath("false"); err == nil {
		w, err := NewWriter(context.Background(), XZ, &bytes.Buffer{}, EncodeOptions{XZMode: XZExec, XZCommand: "false"})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("x"))
		if err := w.Close(); err == nil {
			t.Error("Close after xz failed = nil")
		}
	}
}
