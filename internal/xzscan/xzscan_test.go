package xzscan

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/ulikunitz/xz"
)

func xzWith(t testing.TB, check byte, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.WriterConfig{CheckSum: check}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func tarOf(t testing.TB, name string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatGNU})
	tw.Close()
	return buf.Bytes()
}

func TestFindArchive(t *testing.T) {
	archive := xzWith(t, xz.CRC64, tarOf(t, "./"))
	crc32Tar := xzWith(t, xz.CRC32, tarOf(t, "./"))                // wrong check: a kernel payload, not the archive
	notDot := xzWith(t, xz.CRC64, tarOf(t, "usr/"))                // tar, but not ./ members
	notTar := xzWith(t, xz.CRC64, bytes.Repeat([]byte("x"), 4000)) // not a tar
	junk := []byte("\x00\x01junk\xfd7zXZ\x00\x00\x04junk-YZ--")
	var data []byte
	for _, part := range [][]byte{junk, crc32Tar, junk[:3], notDot, notTar, junk, archive, junk} {
		data = append(data, part...)
	}
	s, err := FindArchive(data)
	if err != nil {
		t.Fatalf("FindArchive = %v", err)
	}
	if got := s.Bytes(data); !bytes.Equal(got, archive) {
		t.Errorf("FindArchive found %d bytes at %d, want the %d-byte archive", len(got), s.Offset, len(archive))
	}
	n := 0
	for range All(data, AnyCheck) {
		n++
	}
	if n != 4 {
		t.Errorf("All(AnyCheck) found %d streams, want 4", n)
	}
	if _, err := FindArchive(append(bytes.Clone(junk), archive[:len(archive)-8]...)); !errors.Is(err, ErrNotFound) {
		t.Errorf("FindArchive(truncated) = %v, want ErrNotFound", err)
	}
	if _, err := Parse(archive[:len(archive)-1]); !errors.Is(err, ErrFormat) {
		t.Errorf("Parse(truncated) = %v, want ErrFormat", err)
	}
	if _, err := Parse([]byte("nope")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Parse(nope) = %v, want ErrNotFound", err)
	}
}

func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Skip("no go.mod above the test directory")
		}
		dir = filepath.Dir(dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, "..", "shared", "fixtures", "linux-6.12.117-x86_64", rel))
	if err != nil {
		t.Skipf("fixture not available (%v); it lives in ../shared next to the repository", err)
	}
	return b
}

// fixtureOrNil reads a fixture without skipping (for fuzz seeds).
func fixtureOrNil(rel string) []byte {
	dir, _ := os.Getwd()
	for filepath.Dir(dir) != dir {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			b, _ := os.ReadFile(filepath.Join(dir, "..", "shared", "fixtures", "linux-6.12.117-x86_64", rel))
			return b
		}
		dir = filepath.Dir(dir)
	}
	return nil
}

func TestFixtures(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ikheaders-y/vmlinux", "ikheaders-y/kheaders_data.tar.xz"},
		{"ikheaders-m/kheaders.ko", "ikheaders-m/kheaders_data.tar.xz"},
		{"ikheaders-y/kheaders_data.tar.xz", "ikheaders-y/kheaders_data.tar.xz"},
	} {
		data, want := fixture(t, tc.in), fixture(t, tc.want)
		s, err := FindArchive(data)
		if err != nil {
			t.Errorf("FindArchive(%s) = %v", tc.in, err)
			continue
		}
		if !bytes.Equal(s.Bytes(data), want) || s.Uncompressed != 34088960 && tc.in != "ikheaders-m/kheaders.ko" {
			t.Errorf("FindArchive(%s) = %d bytes at %#x (%d decoded), want %s (%d bytes)", tc.in, s.Len, s.Offset, s.Uncompressed, tc.want, len(want))
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(xzWith(f, xz.CRC64, tarOf(f, "./")))
	f.Add(xzWith(f, xz.CRC32, []byte("hello")))
	if a := fixtureOrNil("ikheaders-y/kheaders_data.tar.xz"); len(a) > 4096 {
		f.Add(a[:2048])
		f.Add(append(bytes.Clone(a[:64]), a[len(a)-512:]...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if s, err := Parse(data); err == nil && (s.Len > len(data) || s.Len < 32) {
			t.Fatalf("Parse = len %d of %d bytes", s.Len, len(data))
		}
		for s := range All(data, AnyCheck) {
			if s.Offset+s.Len > len(data) {
				t.Fatalf("All: stream %d+%d past %d", s.Offset, s.Len, len(data))
			}
		}
		FindArchive(data)
	})
}
