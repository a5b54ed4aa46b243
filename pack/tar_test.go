package pack

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"
)

// FuzzTarWriter checks that archive/tar reads back what tarWriter writes,
// long names and link targets included, that the archive is a whole
// number of 10240-byte records, and that entrySize and archiveSize (the
// size pack.Write plans before writing, the xz size hint) are what the
// writer writes.
func FuzzTarWriter(f *testing.F) {
	f.Add("./include/linux/a.h", "", []byte("int a;\n"), int64(1700000000))
	f.Add("./"+strings.Repeat("d", 150)+".h", strings.Repeat("l", 120), []byte{}, int64(0))
	// A short name with a long link target: one ././@LongLink 'K' record.
	f.Add("./include/linux/l.h", strings.Repeat("../", 40)+"x.h", []byte{}, int64(5))
	f.Add("./"+strings.Repeat("e", 511)+".h", "", bytes.Repeat([]byte{'x'}, 513), int64(5))
	f.Fuzz(func(t *testing.T, name, link string, data []byte, mtime int64) {
		if name == "" || strings.ContainsRune(name, 0) || strings.ContainsRune(link, 0) || mtime < 0 || mtime >= 1<<33 {
			t.Skip()
		}
		var buf bytes.Buffer
		tw := newTarWriter(&buf)
		typ := byte('0')
		if link != "" {
			typ, data = '2', nil
		}
		tw.entry(name, 0o644, mtime, typ, link, data)
		if want := entrySize(name, link, int64(len(data))); tw.n != want {
			t.Fatalf("entry(%d-byte name, %d-byte link, %d bytes) wrote %d bytes, entrySize says %d", len(name), len(link), len(data), tw.n, want)
		}
		if err := tw.close(); err != nil {
			t.Fatal(err)
		}
		if buf.Len()%recordSize != 0 || int64(buf.Len()) != tw.n {
			t.Fatalf("archive of %d bytes (counted %d), not whole records", buf.Len(), tw.n)
		}
		if want := archiveSize(entrySize(name, link, int64(len(data)))); tw.n != want {
			t.Fatalf("archive of %d bytes, archiveSize says %d", tw.n, want)
		}
		tr := tar.NewReader(&buf)
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("archive/tar: %v", err)
		}
		got, _ := io.ReadAll(tr)
		if h.Name != name || h.Linkname != link || h.ModTime.Unix() != mtime || !bytes.Equal(got, data) || h.Format != tar.FormatGNU {
			t.Fatalf("read back %q -> %q, link %q, mtime %d, %d bytes, format %v", name, h.Name, h.Linkname, h.ModTime.Unix(), len(got), h.Format)
		}
		if _, err := tr.Next(); err != io.EOF {
			t.Fatalf("second Next = %v, want EOF", err)
		}
	})
}
