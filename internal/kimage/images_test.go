package kimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// zbootImage builds an EFI zboot image the way zboot-header.S lays it out:
// "MZ", "zimg", payload offset and size (without the size trailer), the
// compression name at 24, LINUX_PE_MAGIC at 0x38, the PE header offset at
// 0x3c, a PE header for arm64, then (after some stub code) the payload.
func zbootImage(payload []byte, sizeLen int, comp string) []byte {
	le := binary.LittleEndian
	img := make([]byte, 0x1000)
	copy(img, "MZ\x00\x00zimg")
	le.PutUint32(img[8:], 0x1000)
	le.PutUint32(img[12:], uint32(len(payload)-sizeLen))
	copy(img[24:], comp+"\x00")
	le.PutUint32(img[0x38:], 0x818223cd)
	le.PutUint32(img[0x3c:], 0x40)
	copy(img[0x40:], "PE\x00\x00")
	le.PutUint16(img[0x44:], 0xaa64)
	for i := 0x200; i < 0x1000; i++ { // stand-in for the stub's code
		img[i] = byte(i * 13)
	}
	img = append(img, payload...)
	return append(img, make([]byte, 512)...)
}

func TestZboot(t *testing.T) {
	gzImage := readTestdata(t, "Image-arm64.gz") // zboot's gzip payload is exactly Image.gz
	img := zbootImage(gzImage, 0, "gzip")
	f, parts, err := Peel(img)
	if err != nil || f != Zboot {
		t.Fatalf("Peel = %q, %v", f, err)
	}
	want := map[string]string{"compression": "gzip", "declared_compression": "gzip", "arch": "arm64", "machine": "aarch64",
		"payload_offset": "4096", "payload_length": "5547473"}
	if diff := cmp.Diff(want, parts[0].Meta); diff != "" {
		t.Errorf("Meta (-want +got):\n%s", diff)
	}
	k, chain, err := Kernel(img)
	if err != nil {
		t.Fatalf("Kernel: %v", err)
	}
	if diff := cmp.Diff([]Format{Zboot, ARM64Image}, chain); diff != "" {
		t.Errorf("chain (-want +got):\n%s", diff)
	}
	var a artifact
	for _, x := range loadArtifacts(t) {
		if x.file == "Image-arm64.gz" {
			a = x
		}
	}
	if _, ok := findArchive(k, a.head, a.size, a.sha); !ok {
		t.Errorf("zboot kernel does not hold the arm64 build's archive")
	}
	bad := []struct {
		name string
		img  []byte
	}{
		{"payload past EOF", func() []byte { b := bytes.Clone(img[:0x2000]); return b }()},
		{"offset zero", func() []byte { b := bytes.Clone(img); binary.LittleEndian.PutUint32(b[8:], 0); return b }()},
		{"not compressed", func() []byte { b := bytes.Clone(img); binary.LittleEndian.PutUint32(b[8:], 0x800); return b }()},
	}
	for _, tc := range bad {
		if _, _, err := Peel(tc.img); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Peel = %v, want ErrCorrupt", tc.name, err)
		}
	}
}

func TestZbootZstd(t *testing.T) {
	needTool(t, "zstd", "zstd")
	gzImage := readTestdata(t, "Image-arm64.gz")
	_, parts, err := Peel(gzImage)
	if err != nil {
		t.Fatal(err)
	}
	raw := parts[0].Data
	// Makefile.zboot: zstd22_with_size, ZBOOT_SIZE_LEN 4.
	payload := run(t, "", raw, "zstd", "-3", "-q", "-c")
	payload = binary.LittleEndian.AppendUint32(payload, uint32(len(raw)))
	k, chain, err := Kernel(zbootImage(payload, 4, "zstd"))
	if err != nil || !bytes.Equal(k, raw) {
		t.Fatalf("Kernel(zboot zstd) = %d bytes, %v", len(k), err)
	}
	if diff := cmp.Diff([]Format{Zboot, ARM64Image}, chain); diff != "" {
		t.Errorf("chain (-want +got):\n%s", diff)
	}
}

// zImageFor builds an arm (32-bit) zImage around a compressed payload: the
// head.S header (8 nops... magic 0x016f2818 at 0x24, start, end, endianness
// word) then decompressor-like bytes holding false magics, then the payload.
func zImageFor(payload []byte) []byte {
	le := binary.LittleEndian
	img := make([]byte, 0x34)
	for i := 0; i < 0x24; i += 4 {
		le.PutUint32(img[i:], 0xe1a00000) // mov r0, r0
	}
	le.PutUint32(img[0x24:], zImageMagic)
	le.PutUint32(img[0x30:], 0x04030201)
	code := bytes.Repeat([]byte{0x00, 0x00, 0xa0, 0xe1}, 2000)
	copy(code[100:], []byte{0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad}) // a false gzip magic
	copy(code[400:], []byte{0x5d, 0x00, 0x00, 0x00, 0x01})       // a false lzma magic
	img = append(img, code...)
	img = append(img, payload...)
	img = binary.LittleEndian.AppendUint32(img, 12345) // piggy size word
	le.PutUint32(img[0x2c:], uint32(len(img)))
	return img
}

func TestZImage(t *testing.T) {
	kernel := bytes.Repeat([]byte{0x12, 0x34, 0x56, 0xe5}, 50000)
	copy(kernel[40000:], "Linux version 6.12.117 (kheaders@test) (arm-linux-gnueabihf-gcc) #1 SMP\n\x00")
	img := zImageFor(gz(t, kernel))
	f, parts, err := Peel(img)
	if err != nil || f != ZImage {
		t.Fatalf("Peel = %q, %v", f, err)
	}
	if parts[0].Meta["arch"] != "arm" || parts[0].Meta["machine"] != "arm" || parts[0].Meta["compression"] != "gzip" {
		t.Errorf("Meta = %v", parts[0].Meta)
	}
	k, chain, err := Kernel(img)
	if err != nil || !bytes.Equal(k, kernel) {
		t.Fatalf("Kernel = %d bytes, %v", len(k), err)
	}
	if diff := cmp.Diff([]Format{ZImage}, chain); diff != "" {
		t.Errorf("chain (-want +got):\n%s", diff)
	}
	if r, _ := Release(k); r != "6.12.117" {
		t.Errorf("Release = %q", r)
	}
	if _, _, err := Peel(zImageFor([]byte("no payload"))); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Peel(zImage without payload) = %v, want ErrCorrupt", err)
	}
}

func TestBzImageBad(t *testing.T) {
	good := readTestdata(t, "bzImage-x86_64-gzip")
	le := binary.LittleEndian
	mod := func(f func(b []byte)) []byte { b := bytes.Clone(good[:64<<10]); f(b); return b }
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"truncated", good[:len(good)/2], "past end of file"},
		{"payload length huge", mod(func(b []byte) { le.PutUint32(b[bzPayloadLength:], 0xffffff00) }), "past end of file"},
		{"payload length zero", mod(func(b []byte) { le.PutUint32(b[bzPayloadLength:], 0) }), "past end of file"},
		{"setup sects past EOF", mod(func(b []byte) { b[bzSetupSects] = 0xff })[:0x1000], "past end of file"},
		{"payload not compressed", func() []byte { b := bytes.Clone(good); le.PutUint32(b[bzPayloadOffset:], 0); return b }(), "no known compression"},
	}
	for _, tc := range tests {
		_, _, err := Peel(tc.data)
		if err == nil || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Peel = %v, want ErrCorrupt containing %q", tc.name, err, tc.want)
		}
	}
	// A corrupted payload: the codec's error, wrapped.
	bad := bytes.Clone(good)
	off := int(le.Uint32(good[bzPayloadOffset:])) + (int(good[bzSetupSects])+1)*512
	for i := off + 5000; i < off+5100; i++ {
		bad[i] ^= 0xff
	}
	if _, _, err := Peel(bad); err == nil || !strings.Contains(err.Error(), "bzImage payload") {
		t.Errorf("Peel(corrupted payload) = %v, want a bzImage payload error", err)
	}
	if f, _, err := Peel([]byte("hello world")); !errors.Is(err, ErrUnknownFormat) || f != "" {
		t.Errorf("Peel(text) = %q, %v, want ErrUnknownFormat", f, err)
	}
	if _, _, err := Kernel(nil); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Kernel(nil) = %v, want ErrUnknownFormat", err)
	}
}

func TestRelease(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"xx\x00Linux version %s (%s)\x00Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) #1 SMP\n", "6.1.0-18-amd64"},
		{"Linux version 5.10.0\x00", "5.10.0"},
		{"Linux version \x01\x02", ""},
		{"nothing", ""},
	}
	for _, tc := range tests {
		if got, ok := Release([]byte(tc.in)); got != tc.want || ok != (tc.want != "") {
			t.Errorf("Release(%q) = %q, %v, want %q", tc.in, got, ok, tc.want)
		}
	}
	if b := Banner([]byte("..Linux version 6.12.117 (x@y) #1\n")); b != "Linux version 6.12.117 (x@y) #1" {
		t.Errorf("Banner = %q", b)
	}
}

func TestARM64ImageMeta(t *testing.T) {
	_, parts, err := Peel(readTestdata(t, "Image-arm64.gz"))
	if err != nil {
		t.Fatal(err)
	}
	f, kp, err := Peel(parts[0].Data)
	if !errors.Is(err, ErrNotContainer) || f != ARM64Image || kp[0].Meta["arch"] != "arm64" || kp[0].Meta["machine"] != "aarch64" || kp[0].Meta["endian"] != "little" {
		t.Errorf("Peel(Image) = %q, %v, %v", f, kp[0].Meta, err)
	}
}
