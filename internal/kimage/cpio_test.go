package kimage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func fileNames(parts []Part) []string {
	var n []string
	for _, p := range parts {
		n = append(n, p.Name+"="+p.Meta["type"]+":"+p.Meta["mode"]+":"+p.Meta["compression"])
	}
	return n
}

// compressors as Kbuild runs them for initramfs (usr/Makefile) and images.
var cpioCompressors = []struct {
	kind string
	pkg  string
	argv []string
}{
	{"gzip", "gzip", []string{"gzip", "-n", "-9", "-c"}},
	{"bzip2", "bzip2", []string{"bzip2", "-9", "-c"}},
	{"lzma", "xz-utils", []string{"xz", "--format=lzma", "-6", "-c"}},
	{"xz", "xz-utils", []string{"xz", "--check=crc32", "--lzma2=dict=1MiB", "-c"}},
	{"lzo", "lzop", []string{"lzop", "-9", "-c"}},
	{"lz4", "lz4", []string{"lz4", "-l", "-9", "-c"}},
	{"zstd", "zstd", []string{"zstd", "-19", "-q", "-c"}},
}

func TestInitramfsConcatenated(t *testing.T) {
	payload := ramdiskPayload(t)
	payload = payload[:min(len(payload), 200<<10)] // keep the compressors quick
	// The early (microcode-style) uncompressed archive, padded to 512.
	early := newc(
		cpioEntry{name: "kernel", mode: 0o40755},
		cpioEntry{name: "kernel/x86/microcode/GenuineIntel.bin", mode: 0o100644, data: []byte("ucode")},
	)
	img := append(bytes.Clone(early), make([]byte, 512-len(early)%512)...)
	want := []string{"kernel/x86/microcode/GenuineIntel.bin=file:644:"}
	for i, c := range cpioCompressors {
		needTool(t, c.argv[0], c.pkg)
		arch := newc(
			cpioEntry{name: fmt.Sprintf("dir%d", i), mode: 0o40755},
			cpioEntry{name: fmt.Sprintf("dir%d/kheaders.tar.xz", i), mode: 0o100600, data: payload[:len(payload)/(i+1)]},
			cpioEntry{name: fmt.Sprintf("dir%d/link", i), mode: 0o120777, data: []byte("kheaders.tar.xz")},
		)
		img = append(img, run(t, "", arch, c.argv...)...)
		img = append(img, make([]byte, i)...) // padding of any length
		want = append(want, fmt.Sprintf("dir%d/kheaders.tar.xz=file:600:%s", i, c.kind), fmt.Sprintf("dir%d/link=symlink:777:%s", i, c.kind))
	}
	// And a last uncompressed archive after the compressed ones, 4-aligned.
	for len(img)%4 != 0 {
		img = append(img, 0)
	}
	img = append(img, newc(cpioEntry{name: "last", mode: 0o100644, data: []byte("end")})...)
	want = append(want, "last=file:644:")

	f, parts, err := Peel(img)
	if err != nil || f != CPIO {
		t.Fatalf("Peel = %q, %v", f, err)
	}
	if diff := cmp.Diff(want, fileNames(parts)); diff != "" {
		t.Fatalf("files (-want +got):\n%s", diff)
	}
	if got := find(parts, "last").Meta["archive"]; got != fmt.Sprint(len(cpioCompressors)+1) {
		t.Errorf("last archive index = %s, want %d", got, len(cpioCompressors)+1)
	}
	for i := range cpioCompressors {
		p := find(parts, fmt.Sprintf("dir%d/kheaders.tar.xz", i))
		if !bytes.Equal(p.Data, payload[:len(payload)/(i+1)]) {
			t.Errorf("%s: content differs", p.Name)
		}
	}
	if _, _, err := Kernel(img); !errors.Is(err, ErrNoKernel) {
		t.Errorf("Kernel(initramfs) = %v, want ErrNoKernel", err)
	}
	// A compressed initramfs as a whole (the common case): peeled as cpio.
	whole := gz(t, img[:len(early)])
	if f, parts, err := Peel(whole); err != nil || f != CPIO || len(parts) != 1 {
		t.Errorf("Peel(gzip initramfs) = %q, %d parts, %v", f, len(parts), err)
	}
}

func TestInitramfsCpioTool(t *testing.T) {
	needTool(t, "cpio", "cpio")
	dir := t.TempDir()
	writeFile(t, dir, "a.txt", []byte("alpha"))
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "sub/b.bin", bytes.Repeat([]byte{1, 2, 3}, 1000))
	if err := os.Symlink("../a.txt", filepath.Join(dir, "sub/ln")); err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"newc", "crc"} {
		out := run(t, dir, []byte(".\na.txt\nsub\nsub/b.bin\nsub/ln\n"), "cpio", "--quiet", "-o", "-H", format)
		f, parts, err := Peel(out)
		if err != nil || f != CPIO {
			t.Fatalf("%s: Peel = %q, %v", format, f, err)
		}
		want := []string{"a.txt=file:644:", "sub/b.bin=file:644:", "sub/ln=symlink:777:"}
		if diff := cmp.Diff(want, fileNames(parts)); diff != "" {
			t.Errorf("%s files (-want +got):\n%s", format, diff)
		}
		if string(parts[0].Data) != "alpha" || len(parts[1].Data) != 3000 || string(parts[2].Data) != "../a.txt" {
			t.Errorf("%s: contents differ", format)
		}
	}
	odc := run(t, dir, []byte("a.txt\n"), "cpio", "--quiet", "-o", "-H", "odc")
	if _, _, err := Peel(odc); err == nil {
		t.Errorf("Peel(odc cpio) succeeded, want an error (the kernel accepts newc only)")
	}
}

func TestInitramfsBad(t *testing.T) {
	good := newc(cpioEntry{name: "f", mode: 0o100644, data: []byte("0123456789")})
	hdr := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated header", good[:60], "truncated"},
		{"truncated data", good[:cpioHeaderLen+4+5], "declares 10 bytes"},
		{"no trailer", good[:cpioHeaderLen+4+12], "truncated"},
		{"bad hex", hdr(func(b []byte) { b[6+8*6] = 'x' }), "bad cpio header field"},
		{"huge size", hdr(func(b []byte) { copy(b[6+8*6:], "FFFFFFFF") }), "declares 4294967295 bytes"},
		{"huge name", hdr(func(b []byte) { copy(b[6+8*11:], "00100000") }), "name size"},
		{"junk after", append(bytes.Clone(good), "JUNK"...), "invalid magic"},
		{"corrupt gzip after", append(bytes.Clone(good), 0x1f, 0x8b, 0x08, 0, 1, 2), "compressed archive"},
	}
	for _, tc := range tests {
		_, _, err := Peel(tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Peel = %v, want error containing %q", tc.name, err, tc.want)
		}
	}
}
