package elfsym

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

type elfSpec struct {
	class   elf.Class
	order   binary.ByteOrder
	typ     elf.Type
	off     int    // file offset of .rodata
	addr    uint64 // sh_addr of .rodata (0 for ET_REL)
	payload []byte
	start   int // symbol offsets within .rodata
	end     int
	noSyms  bool
}

// mkELF builds a minimal ELF file: .rodata holding payload at file offset
// off, a symbol table with kernel_headers_data/_end, and section names.
func mkELF(s elfSpec) []byte {
	is64 := s.class == elf.ELFCLASS64
	ehsize, shentsize, symsize := 52, 40, 16
	if is64 {
		ehsize, shentsize, symsize = 64, 64, 24
	}
	buf := make([]byte, s.off)
	buf = append(buf, s.payload...)
	shstr := []byte("\x00.rodata\x00.symtab\x00.strtab\x00.shstrtab\x00")
	shstrOff := len(buf)
	buf = append(buf, shstr...)
	str := []byte("\x00kernel_headers_data\x00kernel_headers_data_end\x00")
	strOff := len(buf)
	buf = append(buf, str...)
	for len(buf)%8 != 0 {
		buf = append(buf, 0)
	}
	symOff := len(buf)
	sym := func(name uint32, value uint64, shndx uint16) {
		b := make([]byte, symsize)
		info := byte(elf.STB_GLOBAL)<<4 | byte(elf.STT_NOTYPE)
		if is64 {
			s.order.PutUint32(b[0:], name)
			b[4] = info
			s.order.PutUint16(b[6:], shndx)
			s.order.PutUint64(b[8:], value)
		} else {
			s.order.PutUint32(b[0:], name)
			s.order.PutUint32(b[4:], uint32(value))
			b[12] = info
			s.order.PutUint16(b[14:], shndx)
		}
		buf = append(buf, b...)
	}
	sym(0, 0, 0)
	sym(1, s.addr+uint64(s.start), 1)
	sym(21, s.addr+uint64(s.end), 1)
	symLen := len(buf) - symOff
	for len(buf)%8 != 0 {
		buf = append(buf, 0)
	}
	shOff := len(buf)
	sh := func(name, typ uint32, flags, addr uint64, off, size int, link, info uint32, align, entsize uint64) {
		b := make([]byte, shentsize)
		o := s.order
		if is64 {
			o.PutUint32(b[0:], name)
			o.PutUint32(b[4:], typ)
			o.PutUint64(b[8:], flags)
			o.PutUint64(b[16:], addr)
			o.PutUint64(b[24:], uint64(off))
			o.PutUint64(b[32:], uint64(size))
			o.PutUint32(b[40:], link)
			o.PutUint32(b[44:], info)
			o.PutUint64(b[48:], align)
			o.PutUint64(b[56:], entsize)
		} else {
			o.PutUint32(b[0:], name)
			o.PutUint32(b[4:], typ)
			o.PutUint32(b[8:], uint32(flags))
			o.PutUint32(b[12:], uint32(addr))
			o.PutUint32(b[16:], uint32(off))
			o.PutUint32(b[20:], uint32(size))
			o.PutUint32(b[24:], link)
			o.PutUint32(b[28:], info)
			o.PutUint32(b[32:], uint32(align))
			o.PutUint32(b[36:], uint32(entsize))
		}
		buf = append(buf, b...)
	}
	nsec := 5
	symtype := uint32(elf.SHT_SYMTAB)
	if s.noSyms {
		symtype = uint32(elf.SHT_PROGBITS)
	}
	sh(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	sh(1, uint32(elf.SHT_PROGBITS), uint64(elf.SHF_ALLOC), s.addr, s.off, len(s.payload), 0, 0, 1, 0)
	sh(9, symtype, 0, 0, symOff, symLen, 3, 1, 8, uint64(symsize))
	sh(17, uint32(elf.SHT_STRTAB), 0, 0, strOff, len(str), 0, 0, 1, 0)
	sh(25, uint32(elf.SHT_STRTAB), 0, 0, shstrOff, len(shstr), 0, 0, 1, 0)

	h := make([]byte, ehsize)
	copy(h, Magic)
	h[4] = byte(s.class)
	if s.order == binary.LittleEndian {
		h[5] = byte(elf.ELFDATA2LSB)
	} else {
		h[5] = byte(elf.ELFDATA2MSB)
	}
	h[6] = 1
	o := s.order
	o.PutUint16(h[16:], uint16(s.typ))
	o.PutUint16(h[18:], uint16(elf.EM_X86_64))
	o.PutUint32(h[20:], 1)
	if is64 {
		o.PutUint64(h[40:], uint64(shOff))
		o.PutUint16(h[52:], uint16(ehsize))
		o.PutUint16(h[58:], uint16(shentsize))
		o.PutUint16(h[60:], uint16(nsec))
		o.PutUint16(h[62:], 4)
	} else {
		o.PutUint32(h[32:], uint32(shOff))
		o.PutUint16(h[40:], uint16(ehsize))
		o.PutUint16(h[46:], uint16(shentsize))
		o.PutUint16(h[48:], uint16(nsec))
		o.PutUint16(h[50:], 4)
	}
	copy(buf, h)
	return buf
}

func TestRange(t *testing.T) {
	payload := []byte("....ARCHIVE-BYTES-HERE....")
	want := payload[4:22]
	for _, tc := range []struct {
		name string
		spec elfSpec
	}{
		{"rel64le-unaligned", elfSpec{class: elf.ELFCLASS64, order: binary.LittleEndian, typ: elf.ET_REL, off: 0x99}},
		{"rel64be", elfSpec{class: elf.ELFCLASS64, order: binary.BigEndian, typ: elf.ET_REL, off: 0x41}},
		{"rel32le", elfSpec{class: elf.ELFCLASS32, order: binary.LittleEndian, typ: elf.ET_REL, off: 0x35}},
		{"rel32be", elfSpec{class: elf.ELFCLASS32, order: binary.BigEndian, typ: elf.ET_REL, off: 0x77}},
		{"exec64le", elfSpec{class: elf.ELFCLASS64, order: binary.LittleEndian, typ: elf.ET_EXEC, off: 0x1000, addr: 0xffffffff81400000}},
		{"exec64be", elfSpec{class: elf.ELFCLASS64, order: binary.BigEndian, typ: elf.ET_EXEC, off: 0x200, addr: 0xffff800010000000}},
		{"exec32le", elfSpec{class: elf.ELFCLASS32, order: binary.LittleEndian, typ: elf.ET_EXEC, off: 0x100, addr: 0xc1000000}},
		{"exec32be", elfSpec{class: elf.ELFCLASS32, order: binary.BigEndian, typ: elf.ET_EXEC, off: 0x80, addr: 0x80001000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.spec
			s.payload, s.start, s.end = payload, 4, 22
			data := mkELF(s)
			got, err := Range(data, "kernel_headers_data", "kernel_headers_data_end")
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("Range = %q, %v; want %q", got, err, want)
			}
			// End at the very end of the section is allowed.
			s.end = len(payload)
			if got, err := Range(mkELF(s), "kernel_headers_data", "kernel_headers_data_end"); err != nil || !bytes.Equal(got, payload[4:]) {
				t.Errorf("Range(end of section) = %q, %v", got, err)
			}
		})
	}
}

func TestRangeErrors(t *testing.T) {
	base := elfSpec{class: elf.ELFCLASS64, order: binary.LittleEndian, typ: elf.ET_REL, off: 0x99, payload: []byte("0123456789"), start: 2, end: 8}
	f, err := Open(mkELF(base))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Range("kernel_headers_data", "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Range(missing) = %v, want ErrNotFound", err)
	}
	if _, err := f.Range("kernel_headers_data_end", "kernel_headers_data"); !errors.Is(err, ErrFormat) {
		t.Errorf("Range(reversed) = %v, want ErrFormat", err)
	}
	past := base
	past.end = 50
	if _, err := Range(mkELF(past), "kernel_headers_data", "kernel_headers_data_end"); !errors.Is(err, ErrFormat) {
		t.Errorf("Range(past section) = %v, want ErrFormat", err)
	}
	stripped := base
	stripped.noSyms = true
	if _, err := Range(mkELF(stripped), "kernel_headers_data", "kernel_headers_data_end"); !errors.Is(err, ErrNoSymbols) {
		t.Errorf("Range(stripped) = %v, want ErrNoSymbols", err)
	}
	if _, err := Open([]byte("MZ not elf")); !errors.Is(err, ErrNotELF) {
		t.Errorf("Open(MZ) = %v, want ErrNotELF", err)
	}
	data := mkELF(base)
	if _, err := Open(data[:40]); !errors.Is(err, ErrFormat) {
		t.Errorf("Open(truncated) = %v, want ErrFormat", err)
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
	p := filepath.Join(dir, "..", "shared", "fixtures", "linux-6.12.117-x86_64", rel)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Skipf("fixture not available (%v); it lives in ../shared next to the repository", err)
	}
	return b
}

// fixtureOrNil is fixture without skipping, for fuzz seeds.
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
	for _, tc := range []struct{ elf, archive string }{
		{"ikheaders-m/kheaders.ko", "ikheaders-m/kheaders_data.tar.xz"},
		{"ikheaders-y/vmlinux", "ikheaders-y/kheaders_data.tar.xz"},
	} {
		data := fixture(t, tc.elf)
		want := fixture(t, tc.archive)
		got, err := Range(data, "kernel_headers_data", "kernel_headers_data_end")
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("Range(%s) = %d bytes, %v; want the %d bytes of %s", tc.elf, len(got), err, len(want), tc.archive)
		}
	}
}

func FuzzRange(f *testing.F) {
	f.Add(mkELF(elfSpec{class: elf.ELFCLASS64, order: binary.LittleEndian, typ: elf.ET_REL, off: 0x99, payload: []byte("0123456789"), start: 2, end: 8}))
	f.Add(mkELF(elfSpec{class: elf.ELFCLASS32, order: binary.BigEndian, typ: elf.ET_EXEC, off: 0x40, addr: 0x1000, payload: []byte("0123456789"), start: 0, end: 10}))
	// Slices of the real artifacts (headers; section tables cut off).
	if ko := fixtureOrNil("ikheaders-m/kheaders.ko"); ko != nil {
		f.Add(ko[:4096])
		f.Add(ko[len(ko)-4096:])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := Range(data, "kernel_headers_data", "kernel_headers_data_end")
		if err == nil && len(got) > len(data) {
			t.Fatalf("Range returned %d bytes from %d", len(got), len(data))
		}
		if f, err := Open(data); err == nil {
			f.Section(".rodata")
			f.HasSymbols()
		}
		// The ReaderAt path reads the same bytes.
		if f, ferr := OpenReaderAt(bytes.NewReader(data), int64(len(data))); ferr == nil {
			g, gerr := f.Range("kernel_headers_data", "kernel_headers_data_end")
			if (gerr == nil) != (err == nil) || !bytes.Equal(g, got) {
				t.Fatalf("OpenReaderAt.Range = %d bytes, %v; Range = %d bytes, %v", len(g), gerr, len(got), err)
			}
		}
	})
}
