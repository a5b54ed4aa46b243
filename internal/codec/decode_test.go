package codec

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// sample returns n bytes of real x86 kernel code (the fixture vmlinux), or
// synthetic data when the fixtures are absent.
func sample(t testing.TB, n int) []byte {
	t.Helper()
	if v := hosttest.FixtureSeed("ikheaders-y/vmlinux"); len(v) >= 0x200000+n {
		return v[0x200000 : 0x200000+n]
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/1000)
	}
	return b
}

// compressTool runs a compressor the way Kbuild does and returns its output,
// skipping when the tool (Debian package pkg) is missing.
func compressTool(t testing.TB, in []byte, pkg string, argv ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath(argv[0]); err != nil {
		t.Skipf("%s not installed (Debian package %s)", argv[0], pkg)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v: %s", argv, err, stderr.String())
	}
	return out.Bytes()
}

// kbuildCommands are the compressor invocations of scripts/Makefile.lib
// (and xz_wrap.sh's BCJ choices).
var kbuildCommands = []struct {
	name string
	kind Kind
	pkg  string
	argv []string
}{
	{"gzip", Gzip, "gzip", []string{"gzip", "-n", "-9", "-c"}},
	{"bzip2", Bzip2, "bzip2", []string{"bzip2", "-9", "-c"}},
	{"lzma", LZMA, "xz-utils", []string{"xz", "--format=lzma", "-9", "-c"}},
	{"xz-x86", XZ, "xz-utils", []string{"xz", "--check=crc32", "--x86", "--lzma2=dict=32MiB", "-c"}},
	{"xz-arm", XZ, "xz-utils", []string{"xz", "--check=crc32", "--arm", "--lzma2=dict=32MiB", "-c"}},
	{"xz-arm64", XZ, "xz-utils", []string{"xz", "--check=crc32", "--arm64", "--lzma2=dict=32MiB", "-c"}},
	{"xz-arm64-crc64", XZ, "xz-utils", []string{"xz", "--check=crc64", "--arm64=start=4096", "--lzma2=dict=1MiB", "-c"}},
	{"xz-module", XZ, "xz-utils", []string{"xz", "--check=crc32", "--lzma2=dict=1MiB", "-c"}},
	{"lzo", LZO, "lzop", []string{"lzop", "-9", "-c"}},
	{"lz4", LZ4, "lz4", []string{"lz4", "-l", "-9", "-c"}},
	{"zstd", Zstd, "zstd", []string{"zstd", "-19", "-q", "-c"}},
}

func TestDecompressKbuild(t *testing.T) {
	small := sample(t, 512<<10+12345)
	// 9 MiB spans two lz4 legacy blocks (8 MiB each).
	big := sample(t, 9<<20+12345)
	for _, tc := range kbuildCommands {
		t.Run(tc.name, func(t *testing.T) {
			in := small
			if tc.kind == LZ4 {
				in = big
			}
			comp := compressTool(t, in, tc.pkg, tc.argv...)
			if k, ok := Detect(comp); !ok || k != tc.kind {
				t.Fatalf("Detect = %q, %v, want %q", k, ok, tc.kind)
			}
			// As in a bzImage payload: a 4-byte size trailer, then padding.
			withTrailer := append(bytes.Clone(comp), 0x39, 0x30, 0x90, 0x00, 0, 0, 0, 0, 0, 0)
			for _, data := range [][]byte{comp, withTrailer} {
				out, n, err := DecompressPrefix(tc.kind, data, 0)
				if err != nil {
					t.Fatalf("DecompressPrefix: %v", err)
				}
				if !bytes.Equal(out, in) {
					t.Fatalf("DecompressPrefix output differs: %d bytes, want %d", len(out), len(in))
				}
				if n != len(comp) {
					t.Errorf("DecompressPrefix consumed %d bytes, stream is %d", n, len(comp))
				}
			}
			rc, err := NewReader(tc.kind, bytes.NewReader(withTrailer))
			if err != nil {
				t.Fatalf("NewReader: %v", err)
			}
			var buf bytes.Buffer
			if _, err := buf.ReadFrom(rc); err != nil {
				t.Fatalf("NewReader read: %v", err)
			}
			rc.Close()
			if !bytes.Equal(buf.Bytes(), in) {
				t.Fatalf("NewReader output differs: %d bytes, want %d", buf.Len(), len(in))
			}
			// The cap.
			if _, err := Decompress(tc.kind, comp, int64(len(in)-1)); !errors.Is(err, ErrTooLarge) {
				t.Errorf("Decompress with cap %d: %v, want ErrTooLarge", len(in)-1, err)
			}
			if _, err := Decompress(tc.kind, comp, int64(len(in))); err != nil {
				t.Errorf("Decompress with exact cap: %v", err)
			}
			// Truncation and corruption must fail, not panic.
			if out, err := Decompress(tc.kind, comp[:len(comp)/2], 0); err == nil {
				t.Errorf("Decompress of truncated stream: no error (%d bytes)", len(out))
			}
			bad := bytes.Clone(comp)
			for i := len(bad) / 3; i < len(bad)/3+64; i++ {
				bad[i] ^= 0x5a
			}
			if out, err := Decompress(tc.kind, bad, 0); err == nil && bytes.Equal(out, in) {
				t.Errorf("Decompress of corrupted stream returned the original data")
			}
		})
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		in   []byte
		want Kind
		ok   bool
	}{
		{[]byte{0x1f, 0x8b, 0x08, 0}, Gzip, true},
		{[]byte("BZh9"), Bzip2, true},
		{[]byte("BZhx"), "", false},
		{[]byte{0x5d, 0, 0, 0, 4}, LZMA, true},
		{[]byte{0x5d, 0, 0, 0x80, 0}, LZMA, true}, // xz --format=lzma -6
		{[]byte{0x5d, 0, 1, 0, 0}, "", false},
		{[]byte{0xfd, '7', 'z', 'X', 'Z', 0}, XZ, true},
		{[]byte{0x89, 'L', 'Z', 'O', 0}, LZO, true},
		{[]byte{0x02, 0x21, 0x4c, 0x18}, LZ4, true},
		{[]byte{0x28, 0xb5, 0x2f, 0xfd}, Zstd, true},
		{[]byte("\x7fELF"), "", false},
		{nil, "", false},
	}
	for _, tc := range tests {
		k, ok := Detect(tc.in)
		if k != tc.want || ok != tc.ok {
			t.Errorf("Detect(%x) = %q, %v, want %q, %v", tc.in, k, ok, tc.want, tc.ok)
		}
	}
}

func TestUnknownKind(t *testing.T) {
	if _, err := Decompress("rar", []byte("x"), 0); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("Decompress(rar) = %v, want ErrUnknownKind", err)
	}
}

// TestModules decodes the shared fixture's kheaders.ko compressed the way
// scripts/Makefile.modinst does (CONFIG_MODULE_COMPRESS_{XZ,ZSTD,GZIP}).
func TestModules(t *testing.T) {
	ko, err := os.ReadFile(hosttest.Fixture(t, "ikheaders-m/kheaders.ko"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kind Kind
		pkg  string
		argv []string
	}{
		{XZ, "xz-utils", []string{"xz", "--check=crc32", "--lzma2=dict=1MiB", "-c"}},
		{Zstd, "zstd", []string{"zstd", "-T0", "-q", "-c"}},
		{Gzip, "gzip", []string{"gzip", "-n", "-c"}},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			comp := compressTool(t, ko, tc.pkg, tc.argv...)
			k, ok := Detect(comp)
			if !ok || k != tc.kind {
				t.Fatalf("Detect = %q, %v", k, ok)
			}
			out, err := Decompress(k, comp, 64<<20)
			if err != nil || !bytes.Equal(out, ko) {
				t.Fatalf("Decompress = %d bytes, %v; want the module (%d bytes)", len(out), err, len(ko))
			}
		})
	}
}
