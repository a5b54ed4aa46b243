//go:build unix

package host

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestReadFileDirect(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 511, 512, 513, 70_000} {
		p := filepath.Join(dir, "f")
		want := bytes.Repeat([]byte{'x'}, n)
		if err := os.WriteFile(p, want, 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadFileDirect(p)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ReadFileDirect(%d bytes) = %d bytes, %v", n, len(got), err)
		}
	}
	// A file reporting size 0 (as /proc's do) is read to EOF.
	if b, err := ReadFileDirect("/proc/self/stat"); err != nil || len(b) == 0 {
		t.Errorf("ReadFileDirect(/proc/self/stat) = %d bytes, %v", len(b), err)
	}
	if _, err := ReadFileDirect(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFileDirect(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestReadFileAt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("key\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b, uid, mode, err := ReadFileAt(d, "f")
	if err != nil || string(b) != "key\n" || uid != os.Geteuid() || mode != 0o640 {
		t.Errorf("ReadFileAt(f) = %q, %d, %v, %v", b, uid, mode, err)
	}
	// A symlink is refused, not followed; a FIFO is not waited on.
	for _, name := range []string{"link", "fifo", "none", "../f", ""} {
		if b, _, _, err := ReadFileAt(d, name); err == nil {
			t.Errorf("ReadFileAt(%q) = %q, want an error", name, b)
		}
	}
	if _, err := OpenDir(filepath.Join(dir, "link")); err == nil {
		t.Errorf("OpenDir(symlink) succeeded")
	}
}

// TestReadAllPastStaleSize: the size fstat gave sizes the buffer but does
// not end the read. A file that grew since, or whose size an attribute
// cache (NFS, FUSE, 9p) reports stale, is read to EOF, not cut short.
func TestReadAllPastStaleSize(t *testing.T) {
	want := bytes.Repeat([]byte("0123456789"), 1000)
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{-1, 0, 1, 4, 4096, int64(len(want)) - 1, int64(len(want)), int64(len(want)) + 7} {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(int(f.Fd()), size)
		f.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("readAll(size %d) = %d bytes, %v; want the whole %d", size, len(got), err, len(want))
		}
	}
}
