package kimage

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"

	"github.com/google/go-cmp/cmp"
)

// ramdiskPayload is what the test ramdisks carry as kheaders.tar.xz: the
// shared fixture's archive when present, else the arm64 config.
func ramdiskPayload(t testing.TB) []byte {
	if b := hosttest.FixtureSeed("ikheaders-y/kheaders_data.tar.xz"); b != nil {
		return b
	}
	return readTestdata(t, "config-arm64")
}

func testRamdisk(t testing.TB) (cpioGz, payload []byte) {
	payload = ramdiskPayload(t)
	c := newc(
		cpioEntry{name: ".", mode: 0o40755},
		cpioEntry{name: "init", mode: 0o100755, data: []byte("#!/bin/sh\n")},
		cpioEntry{name: "kheaders.tar.xz", mode: 0o100644, data: payload},
	)
	return gz(t, c), payload
}

func TestAndroidBootMkbootimg(t *testing.T) {
	needTool(t, "mkbootimg", "mkbootimg")
	kernel := readTestdata(t, "Image-arm64.gz")
	ramdisk, payload := testRamdisk(t)
	dir := t.TempDir()
	kp := writeFile(t, dir, "Image.gz", kernel)
	rp := writeFile(t, dir, "ramdisk.cpio.gz", ramdisk)
	dtb := []byte("\xd0\x0d\xfe\xedfake dtb for the layout test")
	dp := writeFile(t, dir, "board.dtb", dtb)
	for _, v := range []int{0, 1, 2, 3} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("boot-v%d.img", v))
			args := []string{"mkbootimg", "--kernel", kp, "--ramdisk", rp, "--header_version", fmt.Sprint(v),
				"--os_version", "14.1.0", "--os_patch_level", "2024-05", "--cmdline", "console=ttyS0 quiet", "-o", out}
			if v == 2 {
				args = append(args, "--dtb", dp, "--pagesize", "4096")
			}
			if v < 3 {
				args = append(args, "--board", "kheaders")
			}
			run(t, dir, nil, args...)
			img, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			f, parts, err := Peel(img)
			if err != nil || f != AndroidBoot {
				t.Fatalf("Peel = %q, %v", f, err)
			}
			got := map[string][]byte{}
			for _, p := range parts {
				got[p.Name] = p.Data
			}
			if !bytes.Equal(got["kernel"], kernel) || !bytes.Equal(got["ramdisk"], ramdisk) {
				t.Errorf("kernel %d bytes (want %d), ramdisk %d bytes (want %d)", len(got["kernel"]), len(kernel), len(got["ramdisk"]), len(ramdisk))
			}
			if v == 2 && !bytes.Equal(got["dtb"], dtb) {
				t.Errorf("dtb = %q, want %q", got["dtb"], dtb)
			}
			m := parts[0].Meta
			want := map[string]string{"header_version": fmt.Sprint(v), "os_version": "14.1.0", "os_patch_level": "2024-05", "cmdline": "console=ttyS0 quiet"}
			for k, w := range want {
				if m[k] != w {
					t.Errorf("Meta[%q] = %q, want %q", k, m[k], w)
				}
			}
			if v == 0 || v == 3 { // decoding the kernel once per layout family is enough
				k, chain, err := Kernel(img)
				if err != nil {
					t.Fatalf("Kernel: %v", err)
				}
				if diff := cmp.Diff([]Format{AndroidBoot, "gzip", ARM64Image}, chain); diff != "" {
					t.Errorf("chain (-want +got):\n%s", diff)
				}
				if r, _ := Release(k); r != "6.12.117" {
					t.Errorf("Release = %q", r)
				}
			}
			f, files, err := Peel(got["ramdisk"])
			if err != nil || f != CPIO {
				t.Fatalf("Peel(ramdisk) = %q, %v", f, err)
			}
			if p := find(files, "kheaders.tar.xz"); p == nil || !bytes.Equal(p.Data, payload) {
				t.Errorf("ramdisk kheaders.tar.xz missing or different")
			}
		})
	}
	t.Run("vendor_boot-v3", func(t *testing.T) {
		out := filepath.Join(dir, "vendor_boot.img")
		run(t, dir, nil, "mkbootimg", "--header_version", "3", "--vendor_boot", out, "--vendor_ramdisk", rp,
			"--dtb", dp, "--vendor_cmdline", "androidboot.hardware=kh", "--board", "vb")
		img, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		f, parts, err := Peel(img)
		if err != nil || f != VendorBoot {
			t.Fatalf("Peel = %q, %v", f, err)
		}
		if len(parts) != 2 || !bytes.Equal(parts[0].Data, ramdisk) || !bytes.Equal(parts[1].Data, dtb) || parts[0].Meta["cmdline"] != "androidboot.hardware=kh" {
			t.Errorf("parts = %v", names(parts))
		}
		if _, _, err := Kernel(img); !errors.Is(err, ErrNoKernel) {
			t.Errorf("Kernel(vendor_boot) = %v, want ErrNoKernel", err)
		}
	})
}

func TestAndroidBootV4(t *testing.T) {
	kernel := readTestdata(t, "Image-arm64.lz4")
	ramdisk, payload := testRamdisk(t)
	sig := bytes.Repeat([]byte{0xa5}, 4096+17)
	osv := uint32(15<<25 | 0<<18 | 2<<11 | (2025-2000)<<4 | 3)
	for _, v := range []uint32{3, 4} {
		img := bootV3V4(v, kernel, ramdisk, sig, osv, "console=ttyAMA0")
		f, parts, err := Peel(img)
		if err != nil || f != AndroidBoot {
			t.Fatalf("v%d: Peel = %q, %v", v, f, err)
		}
		want := []string{"kernel", "ramdisk"}
		if v == 4 {
			want = append(want, "signature")
		}
		if diff := cmp.Diff(want, names(parts)); diff != "" {
			t.Errorf("v%d parts (-want +got):\n%s", v, diff)
		}
		if !bytes.Equal(parts[0].Data, kernel) || !bytes.Equal(parts[1].Data, ramdisk) || (v == 4 && !bytes.Equal(parts[2].Data, sig)) {
			t.Errorf("v%d: section contents differ", v)
		}
		if m := parts[0].Meta; m["os_version"] != "15.0.2" || m["os_patch_level"] != "2025-03" || m["cmdline"] != "console=ttyAMA0" {
			t.Errorf("v%d: Meta = %v", v, m)
		}
		k, chain, err := Kernel(img)
		if err != nil || len(k) == 0 {
			t.Fatalf("v%d: Kernel: %v", v, err)
		}
		if diff := cmp.Diff([]Format{AndroidBoot, "lz4", ARM64Image}, chain); diff != "" {
			t.Errorf("v%d chain (-want +got):\n%s", v, diff)
		}
		_, files, err := Peel(parts[1].Data)
		if p := find(files, "kheaders.tar.xz"); err != nil || p == nil || !bytes.Equal(p.Data, payload) {
			t.Errorf("v%d: ramdisk archive: %v", v, err)
		}
	}
	vb := vendorBootV4(ramdisk, []byte("dtb!"), []byte("androidboot.x=1\n"))
	f, parts, err := Peel(vb)
	if err != nil || f != VendorBoot {
		t.Fatalf("vendor v4: Peel = %q, %v", f, err)
	}
	if diff := cmp.Diff([]string{"vendor_ramdisk", "dtb", "vendor_ramdisk_table", "bootconfig"}, names(parts)); diff != "" {
		t.Errorf("vendor v4 parts (-want +got):\n%s", diff)
	}
	if string(parts[3].Data) != "androidboot.x=1\n" || parts[0].Meta["name"] != "testboard" {
		t.Errorf("vendor v4: bootconfig %q, meta %v", parts[3].Data, parts[0].Meta)
	}
	if _, _, err := Kernel(vb); !errors.Is(err, ErrNoKernel) {
		t.Errorf("Kernel(vendor_boot v4) = %v, want ErrNoKernel", err)
	}
}

func TestAndroidBootBad(t *testing.T) {
	kernel := []byte("not really a kernel")
	good := bootV3V4(4, kernel, []byte("rd"), nil, 0, "")
	tests := []struct {
		name string
		img  []byte
		want error
	}{
		{"truncated header", good[:100], ErrCorrupt},
		{"truncated section", good[:4096+5], ErrCorrupt},
		{"version 9", func() []byte { b := bytes.Clone(good); b[40] = 9; return b }(), ErrCorrupt},
		{"kernel past EOF", func() []byte { b := bytes.Clone(good); b[11] = 0x7f; return b }(), ErrCorrupt},
		{"no kernel", bootV3V4(3, nil, []byte("rd"), nil, 0, ""), ErrNoKernel},
		{"v0 bad page size", func() []byte {
			b := make([]byte, 4096)
			copy(b, bootMagic)
			b[8] = 1
			b[36] = 3
			return b
		}(), ErrCorrupt},
		{"vendor truncated", []byte(vendorBootMagic + "\x03\x00\x00\x00"), ErrCorrupt},
	}
	for _, tc := range tests {
		_, _, err := Peel(tc.img)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: Peel = %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestOSVersion(t *testing.T) {
	v, p := OSVersion(14<<25 | 1<<18 | 0<<11 | 24<<4 | 5)
	if v != "14.1.0" || p != "2024-05" {
		t.Errorf("OSVersion = %q, %q", v, p)
	}
	if v, p := OSVersion(0); v != "" || p != "" {
		t.Errorf("OSVersion(0) = %q, %q", v, p)
	}
}

func names(parts []Part) []string {
	var n []string
	for _, p := range parts {
		n = append(n, p.Name)
	}
	return n
}

func find(parts []Part, name string) *Part {
	for i := range parts {
		if parts[i].Name == name {
			return &parts[i]
		}
	}
	return nil
}
