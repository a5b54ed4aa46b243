package pack

import (
	"bufio"
	"fmt"
	"io"
)

const (
	blockSize  = 512
	recordSize = 20 * blockSize // GNU tar's default blocking factor 20
)

// tarWriter writes a GNU-format tar archive with the exact bytes GNU tar 1.34
// produces for `tar --format=gnu --owner=0 --group=0 --numeric-owner`:
// "ustar  \0" magic, numeric fields as zero-padded octal with a NUL, empty
// user and group names, ././@LongLink records for names and link targets
// longer than 100 bytes, two zero blocks at the end and the archive padded
// to a 10240-byte record.
type tarWriter struct {
	w   *bufio.Writer
	n   int64 // bytes written
	err error
	hdr [blockSize]byte
}

func newTarWriter(w io.Writer) *tarWriter {
	return &tarWriter{w: bufio.NewWriterSize(w, 1<<16)}
}

func (t *tarWriter) write(b []byte) {
	if t.err != nil {
		return
	}
	n, err := t.w.Write(b)
	t.n += int64(n)
	t.err = err
}

var zeroBlock [blockSize]byte

func (t *tarWriter) pad() {
	if r := t.n % blockSize; r != 0 {
		t.write(zeroBlock[:blockSize-r])
	}
}

// octal writes v into f as len(f)-1 zero-padded octal digits and a NUL.
func octal(f []byte, v int64) error {
	s := fmt.Sprintf("%0*o", len(f)-1, v)
	if v < 0 || len(s) > len(f)-1 {
		return fmt.Errorf("tar header: value %d does not fit %d octal digits", v, len(f)-1)
	}
	copy(f, s)
	f[len(f)-1] = 0
	return nil
}

// header writes one header block.
func (t *tarWriter) header(name string, mode, size, mtime int64, typ byte, link string) {
	if t.err != nil {
		return
	}
	h := &t.hdr
	*h = [blockSize]byte{}
	copy(h[0:100], name)
	for _, f := range []struct {
		b []byte
		v int64
	}{{h[100:108], mode}, {h[108:116], 0}, {h[116:124], 0}, {h[124:136], size}, {h[136:148], mtime}} {
		if err := octal(f.b, f.v); err != nil {
			t.err = fmt.Errorf("%s: %w", name, err)
			return
		}
	}
	h[156] = typ
	copy(h[157:257], link)
	copy(h[257:265], "ustar  \x00")
	for i := 148; i < 156; i++ {
		h[i] = ' '
	}
	var sum int64
	for _, c := range h {
		sum += int64(c)
	}
	copy(h[148:156], fmt.Sprintf("%06o\x00 ", sum))
	t.write(h[:])
}

// blocks rounds n up to whole blocks.
func blocks(n int64) int64 { return (n + blockSize - 1) / blockSize * blockSize }

// entrySize is the number of bytes entry writes for a member: the
// ././@LongLink records of a long link target and a long name, the header,
// and the data padded to a block.
func entrySize(name, link string, size int64) int64 {
	n := blockSize + blocks(size)
	if len(link) > 100 {
		n += blockSize + blocks(int64(len(link))+1)
	}
	if len(name) > 100 {
		n += blockSize + blocks(int64(len(name))+1)
	}
	return n
}

// archiveSize is the size of the archive whose entries take n bytes: the
// two end blocks added and the whole padded to a record, as close writes it.
func archiveSize(n int64) int64 {
	n += 2 * blockSize
	return (n + recordSize - 1) / recordSize * recordSize
}

// longLink writes a GNU ././@LongLink record (typ 'L' for names, 'K' for
// link targets) carrying s and a NUL.
func (t *tarWriter) longLink(typ byte, s string) {
	t.header("././@LongLink", 0o644, int64(len(s)+1), 0, typ, "")
	t.write([]byte(s))
	t.write([]byte{0})
	t.pad()
}

// entry writes one member: typ '0' (regular, with data), '5' (directory,
// name ending in "/") or '2' (symlink to link).
func (t *tarWriter) entry(name string, mode, mtime int64, typ byte, link string, data []byte) {
	if len(link) > 100 {
		t.longLink('K', link)
	}
	if len(name) > 100 {
		t.longLink('L', name)
	}
	t.header(name, mode, int64(len(data)), mtime, typ, link)
	t.write(data)
	t.pad()
}

// close writes the end-of-archive blocks and pads to a full record.
func (t *tarWriter) close() error {
	t.write(zeroBlock[:])
	t.write(zeroBlock[:])
	if r := t.n % recordSize; r != 0 {
		t.write(make([]byte, recordSize-r))
	}
	if t.err == nil {
		t.err = t.w.Flush()
	}
	return t.err
}
