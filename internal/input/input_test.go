package input

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestReadStreamCap(t *testing.T) {
	opts := &Options{MaxStream: 10 << 20, Flag: "--max-input"}
	_, err := ReadStream(t.Context(), "stdin", zeros{}, opts)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadStream(endless) = %v, want ErrTooLarge", err)
	}
	for _, want := range []string{"stdin", "10 MiB", "--max-input"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("ReadStream(endless) error %q lacks %q", err, want)
		}
	}
	// Exactly at the cap is fine; one byte more is not.
	data := bytes.Repeat([]byte{7}, 10<<20)
	got, err := ReadStream(t.Context(), "stdin", bytes.NewReader(data), opts)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadStream(at cap) = %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
	if _, err := ReadStream(t.Context(), "stdin", io.MultiReader(bytes.NewReader(data), strings.NewReader("x")), opts); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadStream(cap+1) = %v, want ErrTooLarge", err)
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	data := bytes.Repeat([]byte("kheaders"), 1<<18)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(t.Context(), p, nil)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadFile = %d bytes, %v; want %d bytes", len(got), err, len(data))
	}
	if _, err := ReadFile(t.Context(), p, &Options{MaxFile: 1 << 20}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), p) {
		t.Fatalf("ReadFile(past cap) = %v, want ErrTooLarge naming %s", err, p)
	}
	if _, err := ReadFile(t.Context(), dir, nil); err == nil {
		t.Fatalf("ReadFile(dir) = nil error")
	}
}

// TestReadFileDevice reads a /dev/zero made in the test directory (mknod
// needs root) and a FIFO fed endlessly: both are streams and stop at the cap.
func TestReadFileDevice(t *testing.T) {
	dir := t.TempDir()
	opts := &Options{MaxStream: 8 << 20}
	if os.Geteuid() == 0 {
		zero := filepath.Join(dir, "zero")
		if err := syscall.Mknod(zero, syscall.S_IFCHR|0o666, 1<<8|5); err != nil {
			t.Fatalf("mknod: %v", err)
		}
		if _, err := ReadFile(t.Context(), zero, opts); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "8 MiB") {
			t.Errorf("ReadFile(char 1,5) = %v, want ErrTooLarge at 8 MiB", err)
		}
	} else {
		t.Log("not root: skipping the character device (mknod needs root); the FIFO still runs")
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		buf := make([]byte, 64<<10)
		for {
			if _, err := f.Write(buf); err != nil {
				return
			}
		}
	}()
	if _, err := ReadFile(t.Context(), fifo, opts); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadFile(endless FIFO) = %v, want ErrTooLarge", err)
	}
	<-done
}

// chunky returns at most n bytes per Read, like sysfs's page-sized reads.
type chunky struct {
	r *bytes.Reader
	n int
}

func (c *chunky) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

func TestReadLoops(t *testing.T) {
	want := bytes.Repeat([]byte("kheaders"), 1<<20)
	for _, hint := range []int64{0, 100, int64(len(want)), int64(len(want)) * 2} {
		got, err := read(t.Context(), "x", "file", &chunky{bytes.NewReader(want), 4096}, hint, 1<<30, "f")
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("read(hint %d) = %d bytes, %v; want %d", hint, len(got), err, len(want))
		}
	}
}
