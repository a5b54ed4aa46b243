package input_test

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/kheaders/kheaders/archive"
	"github.com/kheaders/kheaders/internal/testbin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Remove()
	os.Exit(code)
}

// memLimit is the bound the CLI runs under. It is RLIMIT_DATA (ulimit -d),
// not RLIMIT_AS (ulimit -v): the Go runtime reserves over 1 GiB of address
// space at start (an idle kheaders has VmSize 1.26 GB, VmRSS 6 MB), so an
// address-space limit of 1 GiB fails thread creation before any work. Since
// Linux 4.7 RLIMIT_DATA counts the private writable mappings, which is
// where the Go heap lives once it is used.
const memLimit = 1 << 30

// runLimited runs the CLI with args under memLimit, stdin from stdin (nil:
// none) and returns its exit code and stderr.
func runLimited(t *testing.T, stdin *os.File, args ...string) (int, string) {
	t.Helper()
	bin := testbin.Kheaders(t)
	script := `ulimit -d ` + strconv.Itoa(memLimit>>10) + ` && exec "$0" "$@"`
	cmd := exec.CommandContext(t.Context(), "bash", append([]string{"-c", script, bin}, args...)...)
	cmd.Stdin = stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "XDG_CACHE_HOME="+t.TempDir())
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stderr.String()
	}
	t.Fatalf("run %v: %v", args, err)
	return 0, ""
}

func wantFail(t *testing.T, what string, code int, stderr string, words ...string) {
	t.Helper()
	if code != 1 {
		t.Errorf("%s: exit %d, want 1; stderr:\n%s", what, code, tail(stderr))
		return
	}
	for _, w := range words {
		if !strings.Contains(stderr, w) {
			t.Errorf("%s: stderr lacks %q:\n%s", what, w, tail(stderr))
		}
	}
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}

// TestMemoryEndlessInputs: extract and inspect of a /dev/zero (a char
// device 1,5 made in the test directory) and of an endless stdin stop at
// the 512 MiB stream cap under a 1 GiB memory bound, with exit 1 and a
// message naming the input and the cap.
func TestMemoryEndlessInputs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: mknod of a character device needs root")
	}
	dir := t.TempDir()
	zero := filepath.Join(dir, "zero")
	if err := syscall.Mknod(zero, syscall.S_IFCHR|0o666, 1<<8|5); err != nil {
		t.Fatalf("mknod: %v", err)
	}
	for _, args := range [][]string{
		{"extract", zero, "-o", filepath.Join(dir, "out")},
		{"extract", zero, "-C", filepath.Join(dir, "tree")},
		{"inspect", zero},
	} {
		code, stderr := runLimited(t, nil, args...)
		wantFail(t, strings.Join(args[:1], " ")+" /dev/zero", code, stderr, zero, "more than 512 MiB read", "KHEADERS_MAX_INPUT")
	}
	for _, args := range [][]string{
		{"extract", "-", "-o", filepath.Join(dir, "out")},
		{"inspect", "-"},
	} {
		f, err := os.Open(zero) // an endless stream on stdin
		if err != nil {
			t.Fatal(err)
		}
		code, stderr := runLimited(t, f, args...)
		f.Close()
		wantFail(t, args[0]+" - < endless", code, stderr, "stdin: more than 512 MiB read")
	}
	for _, p := range []string{"out", "tree"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s was written by a failed run", p)
		}
	}
}

// declaring20G returns a valid kheaders-like tar.xz whose xz index declares
// 20 GiB of decoded data (the block header carries no sizes, so only the
// index and its CRC32 change).
func declaring20G(t *testing.T) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	tw.WriteHeader(&tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "./include/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.Close()
	var xb bytes.Buffer
	w, err := xz.WriterConfig{CheckSum: xz.CRC64}.NewWriter(&xb)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(tb.Bytes())
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data := xb.Bytes()
	back := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	idxLen := (back + 1) * 4
	idx := data[len(data)-12-idxLen : len(data)-12]
	if idx[0] != 0 || idx[1] != 1 {
		t.Fatalf("index % x: want one record", idx[:2])
	}
	unpadded, _ := binary.Uvarint(idx[2:])
	rec := binary.AppendUvarint(nil, unpadded)
	rec = binary.AppendUvarint(rec, 20<<30)
	ni := append([]byte{0, 1}, rec...)
	for len(ni)%4 != 0 {
		ni = append(ni, 0)
	}
	ni = binary.LittleEndian.AppendUint32(ni, crc32.ChecksumIEEE(ni))
	out := append(bytes.Clone(data[:len(data)-12-idxLen]), ni...)
	foot := make([]byte, 12)
	binary.LittleEndian.PutUint32(foot[4:], uint32(len(ni)/4-1))
	copy(foot[8:], data[len(data)-4:]) // stream flags and "YZ"
	binary.LittleEndian.PutUint32(foot, crc32.ChecksumIEEE(foot[4:10]))
	return append(out, foot...)
}

// TestMemoryDeclared20G: an archive whose xz index declares 20 GiB is
// refused before the declared size is allocated: by archive.Inspect in
// process, and by the CLI's extract -C, extract -o (which verifies before
// committing) and inspect under the 1 GiB bound, even with --max-bytes
// raised past 20 GiB.
func TestMemoryDeclared20G(t *testing.T) {
	data := declaring20G(t)
	if _, err := archive.Inspect(t.Context(), bytes.NewReader(data), nil); !errors.Is(err, archive.ErrLimit) || !strings.Contains(err.Error(), "declares 21474836480 bytes") {
		t.Fatalf("archive.Inspect(declares 20 GiB) = %v, want ErrLimit naming the declared size", err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "big.tar.xz")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"extract", src, "-C", filepath.Join(dir, "tree")},
		{"extract", src, "-C", filepath.Join(dir, "tree"), "--max-bytes", "30000000000"},
		{"extract", src, "-o", filepath.Join(dir, "out")},
		{"inspect", src},
	} {
		code, stderr := runLimited(t, nil, args...)
		if code != 1 || !strings.Contains(stderr, "declares") && !strings.Contains(stderr, "corrupt") {
			t.Errorf("%v: exit %d, want 1 with the declared size or corrupt:\n%s", args, code, tail(stderr))
		}
	}
	for _, p := range []string{"out", "tree"} {
		if _, err := os.Lstat(filepath.Join(dir, p)); err == nil {
			t.Errorf("%s was written by a failed run", p)
		}
	}
}
