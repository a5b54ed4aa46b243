package cli

import (
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// TestExtractOutputNonRegular is issue 10 point 1 as a test: extract -o to
// a device node (a mknod copy of /dev/null in a temp dir), through a
// symlink, and to a FIFO keeps each of them what it was.
func TestExtractOutputNonRegular(t *testing.T) {
	ko := hosttest.Fixture(t, "ikheaders-m/kheaders.ko")
	want := fileSum(t, hosttest.Fixture(t, "ikheaders-m/kheaders_data.tar.xz"))
	dir := t.TempDir()

	t.Run("device", func(t *testing.T) {
		null := filepath.Join(dir, "null")
		if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Skipf("mknod char 1,3: %v (needs CAP_MKNOD)", err)
		}
		if _, stderr, code := runKH(t, nil, "extract", ko, "-o", null); code != 0 {
			t.Fatalf("extract -o %s: exit %d: %s", null, code, stderr)
		}
		fi, err := os.Lstat(null)
		if err != nil || fi.Mode().Type() != fs.ModeDevice|fs.ModeCharDevice || fi.Sys().(*syscall.Stat_t).Rdev != 1<<8|3 {
			t.Errorf("%s is no longer char device 1,3 after extract -o: %v %v", null, fi.Mode(), err)
		}
	})
	t.Run("symlink", func(t *testing.T) {
		target := filepath.Join(dir, "target.tar.xz")
		os.WriteFile(target, []byte("old"), 0o644)
		link := filepath.Join(dir, "link.tar.xz")
		os.Symlink("target.tar.xz", link)
		if _, stderr, code := runKH(t, nil, "extract", ko, "-o", link); code != 0 {
			t.Fatalf("extract -o %s: exit %d: %s", link, code, stderr)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("%s is no longer a symlink: %v", link, err)
		}
		if got := fileSum(t, target); got != want {
			t.Errorf("symlink target sha256 %s, want %s", got, want)
		}
	})
	t.Run("fifo", func(t *testing.T) {
		fifo := filepath.Join(dir, "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		got := make(chan []byte)
		go func() {
			f, err := os.Open(fifo)
			if err != nil {
				got <- nil
				return
			}
			b, _ := io.ReadAll(f)
			f.Close()
			got <- b
		}()
		if _, stderr, code := runKH(t, nil, "extract", ko, "-o", fifo); code != 0 {
			t.Fatalf("extract -o %s: exit %d: %s", fifo, code, stderr)
		}
		b := <-got
		wantBytes, _ := os.ReadFile(hosttest.Fixture(t, "ikheaders-m/kheaders_data.tar.xz"))
		if string(b) != string(wantBytes) {
			t.Errorf("FIFO reader got %d bytes, want the %d-byte archive", len(b), len(wantBytes))
		}
		if fi, err := os.Lstat(fifo); err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
			t.Errorf("%s is no longer a FIFO: %v", fifo, err)
		}
	})
}
