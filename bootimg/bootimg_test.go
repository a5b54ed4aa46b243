package bootimg

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kheaders/kheaders/carrier"
	"github.com/kheaders/kheaders/initramfs"
)

func need(t *testing.T, tools ...string) {
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s not found (install Debian package mkbootimg)", tool)
		}
	}
}

func mkbootimg(t *testing.T, dir, kernel, ramdisk string, ver int, out string) []byte {
	args := []string{"--kernel", kernel, "--ramdisk", ramdisk, "--header_version", fmt.Sprint(ver), "--cmdline", "console=ttyAMA0", "-o", out}
	if ver < 3 {
		args = append(args, "--pagesize", "4096", "--base", "0x40000000", "--os_version", "14.0.0", "--os_patch_level", "2026-11")
	}
	if ver == 2 {
		dtb := filepath.Join(dir, "dtb")
		os.WriteFile(dtb, []byte("fake dtb for the layout"), 0o644)
		args = append(args, "--dtb", dtb)
	}
	// No --recovery_dtbo: Debian's mkbootimg 29.0.6 fails with it
	// ("struct.error: required argument is not an integer" in
	// get_recovery_dtbo_offset).
	if b, err := exec.Command("mkbootimg", args...).CombinedOutput(); err != nil {
		t.Fatalf("mkbootimg %v: %v\n%s", args, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAddSegmentLikeMkbootimg: for each header version, adding the segment
// to a mkbootimg image gives exactly the image mkbootimg makes around the
// longer ramdisk (sizes, offsets, padding and the v0-v2 SHA-1 id), and
// unpack_bootimg reads that ramdisk back; the kernel in it still carries its
// own headers and the segment carries them again.
func TestAddSegmentLikeMkbootimg(t *testing.T) {
	need(t, "mkbootimg", "unpack_bootimg")
	kernel := filepath.Join("..", "testdata", "kernels", "Image-arm64-net.gz")
	kb, err := os.ReadFile(kernel)
	if err != nil {
		t.Fatal(err)
	}
	own, _, err := carrier.Archive(t.Context(), kb, nil)
	if err != nil {
		t.Fatal(err)
	}
	var seg bytes.Buffer
	if _, err := initramfs.Build(t.Context(), &seg, own, nil); err != nil {
		t.Fatal(err)
	}
	var rd bytes.Buffer
	if err := initramfs.WriteCPIO(&rd, []initramfs.Entry{{Name: "init", Mode: 0o755, Data: []byte("#!/bin/sh\n")}, {Name: "odd", Mode: 0o644, Data: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	ramdisk := append(rd.Bytes(), 1, 2, 3) // a length that is not 4-aligned
	for _, ver := range []int{0, 1, 2, 3} {
		t.Run(fmt.Sprintf("v%d", ver), func(t *testing.T) {
			dir := t.TempDir()
			rp, rp2 := filepath.Join(dir, "ramdisk"), filepath.Join(dir, "ramdisk2")
			os.WriteFile(rp, ramdisk, 0o644)
			img := mkbootimg(t, dir, kernel, rp, ver, filepath.Join(dir, "boot.img"))
			got, info, err := AddSegment(img, seg.Bytes())
			if err != nil {
				t.Fatalf("AddSegment: %v", err)
			}
			want := newRamdisk(ramdisk, seg.Bytes())
			if info.RamdiskAfter != int64(len(want)) || info.HeaderVersion != uint32(ver) {
				t.Errorf("info %+v, want ramdisk %d bytes, version %d", info, len(want), ver)
			}
			os.WriteFile(rp2, want, 0o644)
			ref := mkbootimg(t, dir, kernel, rp2, ver, filepath.Join(dir, "ref.img"))
			if !bytes.Equal(got, ref) {
				t.Errorf("image with the segment (%d bytes) differs from mkbootimg's with the longer ramdisk (%d bytes)", len(got), len(ref))
			}
			np := filepath.Join(dir, "new.img")
			os.WriteFile(np, got, 0o644)
			out := filepath.Join(dir, "out")
			if b, err := exec.Command("unpack_bootimg", "--boot_img", np, "--out", out).CombinedOutput(); err != nil {
				t.Fatalf("unpack_bootimg: %v\n%s", err, b)
			}
			back, err := os.ReadFile(filepath.Join(out, "ramdisk"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(back, want) {
				t.Errorf("unpack_bootimg ramdisk: %d bytes, want %d (the old ramdisk, padded, then the segment)", len(back), len(want))
			}
		})
	}
}

func TestAddSegmentErrors(t *testing.T) {
	for name, img := range map[string][]byte{
		"empty":       nil,
		"not boot":    bytes.Repeat([]byte("x"), 4096),
		"vendor_boot": append([]byte("VNDRBOOT"), make([]byte, 4096)...),
		"truncated":   append([]byte("ANDROID!"), make([]byte, 100)...),
	} {
		_, _, err := AddSegment(img, []byte("seg"))
		if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrNotSupported) {
			t.Errorf("%s: AddSegment = %v, want ErrFormat or ErrNotSupported", name, err)
		}
	}
}

func FuzzAddSegment(f *testing.F) {
	hdr := make([]byte, 4096)
	copy(hdr, "ANDROID!")
	f.Add(hdr)
	v3 := append([]byte{}, hdr...)
	v3[40] = 3
	f.Add(v3)
	f.Fuzz(func(t *testing.T, img []byte) {
		out, info, err := AddSegment(img, []byte("0707010000"))
		if err != nil {
			return
		}
		if int64(len(out)) != info.ImageSize || info.RamdiskAfter < info.RamdiskBefore {
			t.Fatalf("inconsistent result: %d bytes, %+v", len(out), info)
		}
		// The result is itself a boot image the function accepts.
		if _, _, err := AddSegment(out, nil); err != nil {
			t.Fatalf("the rewritten image is refused: %v", err)
		}
	})
}
