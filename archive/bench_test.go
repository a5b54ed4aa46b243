package archive

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/kheaders/kheaders/internal/xz"
)

// benchArchive returns the fixture archive (or $KHEADERS_BENCH_ARCHIVE).
func benchArchive(b *testing.B) []byte {
	p := os.Getenv("KHEADERS_BENCH_ARCHIVE")
	if p == "" {
		s := sharedOrEmpty()
		if s == "" {
			b.Skip("no ../shared fixtures and no KHEADERS_BENCH_ARCHIVE")
		}
		p = filepath.Join(s, "fixtures", "linux-6.12.117-x86_64", "ikheaders-y", "kheaders_data.tar.xz")
	}
	data, err := os.ReadFile(p)
	if err != nil {
		b.Skip(err)
	}
	return data
}

func benchDir(b *testing.B) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "kheaders-bench-")
		if err == nil {
			b.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return b.TempDir()
}

// BenchmarkDecode measures decoding alone (xz to tar bytes, discarded).
func BenchmarkDecode(b *testing.B) {
	data := benchArchive(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s, err := openStream(bytes.NewReader(data), nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, s.dec); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExtract measures a full extraction into tmpfs.
func BenchmarkExtract(b *testing.B) {
	data := benchArchive(b)
	dir := benchDir(b)
	b.SetBytes(int64(len(data)))
	i := 0
	for b.Loop() {
		i++
		if _, err := Extract(b.Context(), bytes.NewReader(data), filepath.Join(dir, "e"+itoa(i)), nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWrite measures extraction of the decoded tar (the write path).
func BenchmarkWrite(b *testing.B) {
	data := benchArchive(b)
	s, err := openStream(bytes.NewReader(data), nil)
	if err != nil {
		b.Fatal(err)
	}
	tarData, err := io.ReadAll(s.dec)
	if err != nil {
		b.Fatal(err)
	}
	dir := benchDir(b)
	os.MkdirAll(filepath.Join(dir, "x"), 0o755)
	b.SetBytes(int64(len(tarData)))
	i := 0
	for b.Loop() {
		i++
		if _, err := Extract(b.Context(), bytes.NewReader(tarData), filepath.Join(dir, "x", itoa(i)), benchOpts()); err != nil {
			b.Fatal(err)
		}
	}
}

func itoa(i int) string {
	var buf [20]byte
	n := len(buf)
	for {
		n--
		buf[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(buf[n:])
		}
	}
}

// benchOpts reads KHEADERS_BENCH_WORKERS (writer goroutines) for tuning runs.
func benchOpts() *Options {
	n := 0
	for _, c := range os.Getenv("KHEADERS_BENCH_WORKERS") {
		n = n*10 + int(c-'0')
	}
	return &Options{Workers: n}
}

// BenchmarkDecodeFast measures the LZMA2 fast path alone.
func BenchmarkDecodeFast(b *testing.B) {
	data := benchArchive(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, _ := xz.NewBuffer(data, 1<<31)
		if r == nil {
			b.Fatal("fast path declined")
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}
