package elfsym

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// countingReader is an io.ReaderAt over data that counts the bytes read
// and, when cut > 0, acts as if the file were truncated to cut bytes.
type countingReader struct {
	data []byte
	cut  int64
	read int64
}

func (r *countingReader) ReadAt(p []byte, off int64) (int, error) {
	end := int64(len(r.data))
	if r.cut > 0 {
		end = r.cut
	}
	if off >= end {
		return 0, io.EOF
	}
	n := copy(p, r.data[off:end])
	r.read += int64(n)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// TestOpenReaderAt: the ReaderAt path gives the bytes Open gives, for the
// synthetic ELFs of every class and order and for the real fixtures, and
// reads only a part of a vmlinux.
func TestOpenReaderAt(t *testing.T) {
	payload := []byte("....ARCHIVE-BYTES-HERE....")
	for _, s := range []elfSpec{
		{class: elf.ELFCLASS64, order: binary.LittleEndian, typ: elf.ET_REL, off: 0x99},
		{class: elf.ELFCLASS32, order: binary.BigEndian, typ: elf.ET_EXEC, off: 0x80, addr: 0x80001000},
	} {
		s.payload, s.start, s.end = payload, 4, 22
		data := mkELF(s)
		f, err := OpenReaderAt(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Range("kernel_headers_data", "kernel_headers_data_end")
		if err != nil || !bytes.Equal(got, payload[4:22]) {
			t.Errorf("OpenReaderAt(%v %v).Range = %q, %v; want %q", s.class, s.typ, got, err, payload[4:22])
		}
	}
	for _, tc := range []struct{ elf, archive string }{
		{"ikheaders-m/kheaders.ko", "ikheaders-m/kheaders_data.tar.xz"},
		{"ikheaders-y/vmlinux", "ikheaders-y/kheaders_data.tar.xz"},
	} {
		data := fixture(t, tc.elf)
		want := fixture(t, tc.archive)
		r := &countingReader{data: data}
		f, err := OpenReaderAt(r, int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Range("kernel_headers_data", "kernel_headers_data_end")
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("OpenReaderAt(%s).Range = %d bytes, %v; want the %d bytes of %s", tc.elf, len(got), err, len(want), tc.archive)
		}
		if !f.HasSection(".symtab") || f.HasSection(".no-such-section") {
			t.Errorf("%s: HasSection(.symtab) = %v, HasSection(.no-such-section) = %v", tc.elf, f.HasSection(".symtab"), f.HasSection(".no-such-section"))
		}
		if tc.elf == "ikheaders-y/vmlinux" {
			banner, err := f.SymbolBytes("linux_banner")
			if err != nil || !bytes.HasPrefix(banner, []byte("Linux version 6.12.117")) {
				t.Errorf("SymbolBytes(linux_banner) = %q, %v", banner, err)
			}
			if r.read >= int64(len(data))/2 {
				t.Errorf("reading the archive, banner and symbols of %s read %d of its %d bytes, want less than half", tc.elf, r.read, len(data))
			}
		}
	}
}

// TestOpenReaderAtTruncated: a file cut short under the reader (after its
// headers were read) gives an error wrapping io.ErrUnexpectedEOF or
// ErrFormat from the calls that read, never a panic or short data.
func TestOpenReaderAtTruncated(t *testing.T) {
	data := fixture(t, "ikheaders-m/kheaders.ko")
	r := &countingReader{data: data}
	f, err := OpenReaderAt(r, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Symbol("kernel_headers_data"); err != nil {
		t.Fatal(err)
	}
	r.cut = int64(len(data)) / 2 // truncated after the symbols were read
	got, err := f.Range("kernel_headers_data", "kernel_headers_data_end")
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Range on a truncated file = %d bytes, %v; want io.ErrUnexpectedEOF", len(got), err)
	}
	// Truncated before the symbol table was read.
	r = &countingReader{data: data}
	f, err = OpenReaderAt(r, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	r.cut = 4096
	if _, err := f.Range("kernel_headers_data", "kernel_headers_data_end"); err == nil {
		t.Error("Range with the symbol table cut off: no error")
	}
	if _, err := OpenReaderAt(&countingReader{data: data, cut: 40}, int64(len(data))); !errors.Is(err, ErrFormat) {
		t.Errorf("OpenReaderAt(cut at 40 bytes) = %v, want ErrFormat", err)
	}
}
