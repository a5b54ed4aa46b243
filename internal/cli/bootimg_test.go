package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/initramfs"
)

func TestBootimgCommand(t *testing.T) {
	if _, err := exec.LookPath("mkbootimg"); err != nil {
		t.Skip("skipping: mkbootimg not found (install Debian package mkbootimg)")
	}
	dir := t.TempDir()
	rd, img, out := filepath.Join(dir, "rd"), filepath.Join(dir, "boot.img"), filepath.Join(dir, "new.img")
	var cpio bytes.Buffer
	if err := initramfs.WriteCPIO(&cpio, []initramfs.Entry{{Name: "init", Mode: 0o755, Data: []byte("#!/bin/sh\n")}}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(rd, cpio.Bytes(), 0o644)
	kernel := filepath.Join("..", "..", "testdata", "kernels", "bzImage-x86_64-net-n") // no headers of its own
	if b, err := exec.Command("mkbootimg", "--kernel", kernel, "--ramdisk", rd, "-o", img).CombinedOutput(); err != nil {
		t.Fatalf("mkbootimg: %v\n%s", err, b)
	}
	// The kernel has no archive: exit 3 without SRC, nothing written.
	if _, errs, code := runKH(t, nil, "bootimg", "add-headers", img, "-o", out); code != 3 || !strings.Contains(errs, "give SRC") {
		t.Errorf("add-headers without SRC: exit %d, %q; want 3 asking for SRC", code, errs)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed add-headers left its output")
	}
	src := filepath.Join("..", "..", "testdata", "kernels", "kheaders-x86_64-net-n.tar.xz")
	stdout, errs, code := runKH(t, nil, "bootimg", "add-headers", img, src, "-o", out, "--json")
	if code != 0 {
		t.Fatalf("add-headers: exit %d\n%s", code, errs)
	}
	var r bootimgResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil || r.Boot == nil || r.Manifest == nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if r.Boot.RamdiskBefore != int64(cpio.Len()) || r.Manifest.ArchiveSHA256 != fileSum(t, src) || r.Boot.ImageSize != fileSize(t, out) {
		t.Errorf("result %+v %+v: want the ramdisk's size before, the archive's sha256, the written size", r.Boot, r.Manifest)
	}
	// The new image carries the archive (in its ramdisk): extract finds it.
	back := filepath.Join(dir, "back.tar.xz")
	if _, errs, code := runKH(t, nil, "extract", out, "-o", back); code != 0 || fileSum(t, back) != fileSum(t, src) {
		t.Errorf("extract of the new image: exit %d %s", code, errs)
	}
	if _, _, code := runKH(t, nil, "bootimg"); code != 2 {
		t.Errorf("bootimg without subcommand: exit %d, want 2", code)
	}
	if _, _, code := runKH(t, nil, "bootimg", "add-headers", rd, src, "-o", out+"2"); code == 0 {
		t.Error("add-headers of a non-image succeeded")
	}
}

func fileSize(t *testing.T, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
