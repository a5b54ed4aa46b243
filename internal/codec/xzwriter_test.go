package codec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	ulxz "github.com/ulikunitz/xz"

	"github.com/kheaders/kheaders/internal/xz"
)

// xzWriterInputs are the inputs the xz writer tests encode: empty, tiny,
// text, incompressible, lengths around a multiple of 4, and the start of
// a real kernel's header tar (past one LZMA2 chunk) when the shared
// fixtures are there.
func xzWriterInputs(t *testing.T) map[string][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 100<<10)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	text := bytes.Repeat([]byte("#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + (c))\n"), 10000)
	in := map[string][]byte{"empty": {}, "one": {'x'}, "abc": []byte("abc"), "text": text, "random": random}
	for n := 1; n <= 8; n++ {
		in["len"+string(rune('0'+n))] = text[:1000+n]
	}
	fx := filepath.Join("..", "..", "..", "shared", "fixtures", "linux-6.12.117-x86_64", "ikheaders-y", "kheaders_data.tar.xz")
	if data, err := os.ReadFile(fx); err == nil {
		tarball, _, err := xz.Decode(data, 1<<30)
		if err != nil {
			t.Fatalf("decode fixture %s: %v", fx, err)
		}
		// Its first MiB (several LZMA2 chunks of at most 64 KiB packed; the whole
		// 40 MB takes minutes under -race in both encoders).
		in["kheaders-6.12.tar"] = tarball[:min(len(tarball), 1<<20)]
	} else {
		t.Logf("no real kernel tar (%v): ../shared fixtures absent, synthetic inputs only", err)
	}
	return in
}

func encodeXZ(t *testing.T, data []byte, dict int, check byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := NewXZWriter(&b, dict, check)
	if err != nil {
		t.Fatal(err)
	}
	// Uneven writes, as a tar writer makes them.
	for p := data; len(p) > 0; {
		n := min(len(p), 1+len(p)%7919)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestXZWriterMatchesUlikunitz: the output is byte for byte what
// github.com/ulikunitz/xz's own writer (which it replaces) writes with the
// same settings, for both configurations kheaders uses (pack: 8 MiB,
// CRC64; initramfs: 1 MiB, CRC32), and internal/xz decodes it back.
func TestXZWriterMatchesUlikunitz(t *testing.T) {
	for name, data := range xzWriterInputs(t) {
		for _, cfg := range []struct {
			dict  int
			check byte
			ul    byte
		}{{8 << 20, xz.CheckCRC64, ulxz.CRC64}, {1 << 20, xz.CheckCRC32, ulxz.CRC32}} {
			got := encodeXZ(t, data, cfg.dict, cfg.check)
			var want bytes.Buffer
			uw, err := ulxz.WriterConfig{DictCap: cfg.dict, CheckSum: cfg.ul}.NewWriter(&want)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := uw.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := uw.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("%s, dict %d check %d: %d bytes differ from ulikunitz/xz's %d", name, cfg.dict, cfg.check, len(got), want.Len())
			}
			back, _, err := xz.Decode(got, int64(len(data))+1)
			if err != nil || !bytes.Equal(back, data) {
				t.Errorf("%s, check %d: internal/xz decodes %d bytes, err %v; want the %d written", name, cfg.check, len(back), err, len(data))
			}
		}
	}
}

// TestXZWriterXZUtils: xz(1), when installed, accepts the streams.
func TestXZWriterXZUtils(t *testing.T) {
	xzBin, err := exec.LookPath("xz")
	if err != nil {
		t.Skip("no xz program (xz-utils) in PATH")
	}
	for _, check := range []byte{xz.CheckCRC32, xz.CheckCRC64} {
		data := []byte("kheaders\n")
		cmd := exec.Command(xzBin, "-dc")
		cmd.Stdin = bytes.NewReader(encodeXZ(t, data, 1<<20, check))
		out, err := cmd.Output()
		if err != nil || !bytes.Equal(out, data) {
			t.Errorf("xz -dc of a check %d stream: %q, %v; want %q", check, out, err, data)
		}
	}
}

type failWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errDiskFull
	}
	f.n--
	return len(p), nil
}

// TestXZWriterErrors: a failing destination fails Write or Close (the
// LZMA2 writer's Close alone would drop a flush error), an unknown check
// is refused, and Write after Close fails.
func TestXZWriterErrors(t *testing.T) {
	for n := 0; n < 4; n++ {
		w, err := NewXZWriter(&failWriter{n: n}, 1<<20, xz.CheckCRC64)
		if err != nil {
			if !errors.Is(err, errDiskFull) {
				t.Errorf("NewXZWriter with %d good writes: %v, want the destination's error", n, err)
			}
			continue
		}
		_, werr := w.Write(bytes.Repeat([]byte("abc"), 100000))
		cerr := w.Close()
		if !errors.Is(werr, errDiskFull) && !errors.Is(cerr, errDiskFull) {
			t.Errorf("%d good writes: Write %v, Close %v; want the destination's error", n, werr, cerr)
		}
	}
	if _, err := NewXZWriter(new(bytes.Buffer), 1<<20, xz.CheckSHA256); err == nil {
		t.Error("NewXZWriter with a SHA-256 check: no error, want one (not supported)")
	}
	w, _ := NewXZWriter(new(bytes.Buffer), 1<<20, xz.CheckCRC32)
	w.Close()
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Close: no error")
	}
}
