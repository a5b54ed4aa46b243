package output

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mkdev encodes a Linux device number (glibc's makedev).
func mkdev(major, minor uint64) int {
	return int(minor&0xff | (major&0xfff)<<8 | (minor&^0xff)<<12 | (major&^0xfff)<<32)
}

// mknod makes a character device in dir, skipping t without the privilege.
func mknod(t *testing.T, dir, name string, major, minor uint64) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := syscall.Mknod(p, syscall.S_IFCHR|0o666, mkdev(major, minor)); err != nil {
		t.Skipf("mknod %s (char %d,%d): %v (needs CAP_MKNOD)", p, major, minor, err)
	}
	return p
}

func checkDevice(t *testing.T, p string, rdev uint64) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Type() != fs.ModeDevice|fs.ModeCharDevice || !ok || uint64(st.Rdev) != rdev {
		t.Errorf("%s is no longer the character device %#x: %v", p, rdev, fi.Mode())
	}
}

// TestDevice: a copy of /dev/null made with mknod is written through and
// stays a device, directly and through a symlink.
func TestDevice(t *testing.T) {
	dir := t.TempDir()
	null := mknod(t, dir, "null", 1, 3)
	link := filepath.Join(dir, "link")
	os.Symlink("null", link)
	for _, p := range []string{null, link} {
		if err := WriteFile(p, 0o644, nil, Bytes([]byte(strings.Repeat("x", 1<<20)))); err != nil {
			t.Errorf("WriteFile(%s) = %v", p, err)
		}
		checkDevice(t, null, uint64(mkdev(1, 3)))
	}
	if got := names(t, dir); len(got) != 2 {
		t.Errorf("directory holds %q, want null and link", got)
	}
}

// TestFullDevice: a copy of /dev/full (char 1,7) reports ENOSPC as
// "write PATH: no space left on device" and stays a device.
func TestFullDevice(t *testing.T) {
	dir := t.TempDir()
	full := mknod(t, dir, "full", 1, 7)
	err := WriteFile(full, 0o644, nil, Bytes([]byte("x")))
	if !errors.Is(err, syscall.ENOSPC) || err.Error() != "write "+full+": no space left on device" {
		t.Errorf("WriteFile(full) = %v, want write %s: no space left on device", err, full)
	}
	checkDevice(t, full, uint64(mkdev(1, 7)))
}
