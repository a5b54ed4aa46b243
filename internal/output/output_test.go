package output

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// names lists dir, to check that no temporary file is left behind.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestStdout(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFile("-", 0o644, &buf, Bytes([]byte("hello"))); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "hello" {
		t.Errorf(`WriteFile("-") wrote %q to stdout, want "hello"`, buf.String())
	}
	err := WriteFile("-", 0o644, failWriter{}, Bytes([]byte("x")))
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "write stdout") {
		t.Errorf(`WriteFile("-") to a failing stdout = %v, want "write stdout: ...: no space left on device"`, err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

func TestNoPath(t *testing.T) {
	if err := WriteFile("", 0o644, nil, Bytes(nil)); !errors.Is(err, ErrNoPath) {
		t.Errorf(`WriteFile("") = %v, want ErrNoPath`, err)
	}
}

func TestNewFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.h")
	if err := WriteFile(p, 0o600, nil, Bytes([]byte("new"))); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != "new" {
		t.Errorf("content %q, want %q", got, "new")
	}
	fi, _ := os.Stat(p)
	if fi.Mode() != 0o600 {
		t.Errorf("mode %v, want -rw-------", fi.Mode())
	}
	if got := names(t, dir); !slices.Equal(got, []string{"out.h"}) {
		t.Errorf("directory holds %q, want only out.h", got)
	}
}

func TestMissingDir(t *testing.T) {
	p := filepath.Join(t.TempDir(), "nodir", "out.h")
	err := WriteFile(p, 0o644, nil, Bytes([]byte("x")))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), p) {
		t.Errorf("WriteFile(%s) = %v, want a not-exist error naming the path", p, err)
	}
}

// TestReplaceRegular checks that a regular file is replaced by rename (a
// reader holding the old file still sees the old content) and keeps its
// permission bits.
func TestReplaceRegular(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.h")
	if err := os.WriteFile(p, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o640)
	old, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := WriteFile(p, 0o644, nil, Bytes([]byte("new content"))); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != "new content" {
		t.Errorf("content %q, want %q", got, "new content")
	}
	b, _ := io.ReadAll(old)
	if string(b) != "old" {
		t.Errorf("the file open before the write reads %q, want %q (replaced by rename, not truncated)", b, "old")
	}
	if fi, _ := os.Stat(p); fi.Mode() != 0o640 {
		t.Errorf("mode %v, want the old file's -rw-r-----", fi.Mode())
	}
	if got := names(t, dir); !slices.Equal(got, []string{"out.h"}) {
		t.Errorf("directory holds %q, want only out.h", got)
	}
}

// TestWriteFails: a failing write function leaves nothing: no temporary
// file, an existing target untouched, a missing one still missing.
func TestWriteFails(t *testing.T) {
	boom := errors.New("boom")
	fail := func(w io.Writer) error {
		io.WriteString(w, strings.Repeat("partial", 100000))
		return boom
	}
	dir := t.TempDir()
	exist := filepath.Join(dir, "exist")
	os.WriteFile(exist, []byte("old"), 0o644)
	if err := WriteFile(exist, 0o644, nil, fail); !errors.Is(err, boom) {
		t.Errorf("WriteFile = %v, want the write function's error", err)
	}
	if got := readFile(t, exist); got != "old" {
		t.Errorf("existing target after a failed write holds %q, want %q", got, "old")
	}
	missing := filepath.Join(dir, "missing")
	if err := WriteFile(missing, 0o644, nil, fail); !errors.Is(err, boom) {
		t.Errorf("WriteFile = %v, want the write function's error", err)
	}
	if got := names(t, dir); !slices.Equal(got, []string{"exist"}) {
		t.Errorf("directory holds %q after failed writes, want only exist", got)
	}
}

func TestDirectory(t *testing.T) {
	dir := t.TempDir()
	err := WriteFile(dir, 0o644, nil, Bytes([]byte("x")))
	if !errors.Is(err, ErrIsDir) || !strings.Contains(err.Error(), dir) {
		t.Errorf("WriteFile(dir) = %v, want ErrIsDir naming %s", err, dir)
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() {
		t.Errorf("directory changed: %v %v", fi, err)
	}
	if got := names(t, dir); len(got) != 0 {
		t.Errorf("directory holds %q, want nothing", got)
	}
	// Through a symlink too.
	link := filepath.Join(t.TempDir(), "link")
	os.Symlink(dir, link)
	if err := WriteFile(link, 0o644, nil, Bytes([]byte("x"))); !errors.Is(err, ErrIsDir) {
		t.Errorf("WriteFile(link to dir) = %v, want ErrIsDir", err)
	}
}

func TestSymlink(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	target := filepath.Join(sub, "target")
	os.WriteFile(target, []byte("old"), 0o644)
	cases := []struct {
		name, link, dest string // dest: the link's content
	}{
		{"absolute", filepath.Join(dir, "abs"), target},
		{"relative", filepath.Join(dir, "rel"), "sub/target"},
		{"dangling", filepath.Join(dir, "dangling"), "sub/new"},
		{"chain", filepath.Join(dir, "chain"), "abs"},
		// "..": relative to the link's real directory.
		// ".." is relative to the link's real directory (real/deeper),
		// not applied lexically to lsub/up (which would give dir/rx).
		{"dotdot through a linked dir", filepath.Join(dir, "lsub", "up"), "../rx"},
	}
	os.MkdirAll(filepath.Join(dir, "real", "deeper"), 0o755)
	os.Symlink("real/deeper", filepath.Join(dir, "lsub"))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := os.Symlink(c.dest, c.link); err != nil {
				t.Fatal(err)
			}
			if err := WriteFile(c.link, 0o644, nil, Bytes([]byte(c.name))); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(c.link)
			if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				t.Fatalf("%s is no longer a symlink: %v %v", c.link, fi, err)
			}
			if got, _ := os.Readlink(c.link); got != c.dest {
				t.Errorf("link points to %q, want %q", got, c.dest)
			}
			if got := readFile(t, c.link); got != c.name {
				t.Errorf("through the link: %q, want %q", got, c.name)
			}
		})
	}
	if got := names(t, sub); !slices.Equal(got, []string{"new", "target"}) {
		t.Errorf("target directory holds %q, want new and target only", got)
	}
	if _, err := os.Lstat(filepath.Join(dir, "rx")); err == nil {
		t.Errorf("a relative link's .. was applied lexically: %s/rx exists", dir)
	}
	loop := filepath.Join(dir, "loop")
	os.Symlink("loop", loop)
	if err := WriteFile(loop, 0o644, nil, Bytes(nil)); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("WriteFile(self-loop) = %v, want ELOOP", err)
	}
}

// TestFIFO: a named pipe is written through (a reader gets the bytes) and
// stays a pipe.
func TestFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	want := strings.Repeat("through the pipe\n", 10000)
	got := make(chan string)
	go func() {
		f, err := os.Open(p)
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- string(b)
	}()
	link := filepath.Join(filepath.Dir(p), "link")
	os.Symlink("fifo", link)
	if err := WriteFile(link, 0o644, nil, Bytes([]byte(want))); err != nil {
		t.Fatal(err)
	}
	if g := <-got; g != want {
		t.Errorf("reader got %d bytes, want %d", len(g), len(want))
	}
	if fi, err := os.Lstat(p); err != nil || fi.Mode().Type() != fs.ModeNamedPipe {
		t.Errorf("%s is no longer a FIFO: %v %v", p, fi, err)
	}
	if got := names(t, filepath.Dir(p)); !slices.Equal(got, []string{"fifo", "link"}) {
		t.Errorf("directory holds %q, want fifo and link", got)
	}
}

// TestReadOnlyDir: a directory the writer cannot create files in gives an
// error naming the path and leaves the target untouched. As root (who may
// write anywhere) the check runs in a child process as uid 65534.
func TestReadOnlyDir(t *testing.T) {
	if d := os.Getenv("OUTPUT_TEST_RO_DIR"); d != "" {
		// The child: report the error on stdout.
		err := WriteFile(filepath.Join(d, "target"), 0o644, nil, Bytes([]byte("new")))
		if err == nil {
			os.Stdout.WriteString("no error")
		} else {
			os.Stdout.WriteString(err.Error())
		}
		return
	}
	base, err := os.MkdirTemp("", "output-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(base, "ro"), 0o755); os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	ro := filepath.Join(base, "ro")
	os.Mkdir(ro, 0o755)
	target := filepath.Join(ro, "target")
	os.WriteFile(target, []byte("old"), 0o666)
	os.Chmod(target, 0o666) // writable in place: only the directory refuses
	os.Chmod(ro, 0o555)
	var msg string
	if os.Geteuid() != 0 {
		err := WriteFile(target, 0o644, nil, Bytes([]byte("new")))
		if err == nil {
			t.Fatal("WriteFile in a read-only directory succeeded")
		}
		msg = err.Error()
	} else {
		msg = runAsNobody(t, base, ro)
	}
	if !strings.Contains(msg, target) || !strings.Contains(msg, "permission denied") {
		t.Errorf("WriteFile in a read-only directory: %q, want an error naming %s and the denial", msg, target)
	}
	if got := readFile(t, target); got != "old" {
		t.Errorf("target holds %q, want %q", got, "old")
	}
	if got := names(t, ro); !slices.Equal(got, []string{"target"}) {
		t.Errorf("directory holds %q, want only target", got)
	}
}
