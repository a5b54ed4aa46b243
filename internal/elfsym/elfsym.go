// Package elfsym reads what kheaders needs from ELF files, held in memory
// (Open) or read in place through an io.ReaderAt (OpenReaderAt: only the
// headers, the symbol table and the ranges asked for are read): the file
// bytes between two symbols (kernel_headers_data and
// kernel_headers_data_end in vmlinux or kheaders.ko), sections, and the
// machine. It handles both ELF classes and byte orders, relocatable objects
// (whose symbol values are section-relative) and executables (whose symbol
// values are virtual addresses), and sections at any file offset.
package elfsym

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
)

// Sentinel errors.
var (
	// ErrNotELF: the data does not start with the ELF magic.
	ErrNotELF = errors.New("not an ELF file")
	// ErrFormat: the ELF file is malformed (headers, tables or offsets out
	// of range).
	ErrFormat = errors.New("malformed ELF file")
	// ErrNoSymbols: the file has no symbol table (stripped).
	ErrNoSymbols = errors.New("ELF file has no symbol table")
	// ErrNotFound: a symbol is absent.
	ErrNotFound = errors.New("symbol not found")
)

// Magic is the ELF identification prefix.
var Magic = []byte{0x7f, 'E', 'L', 'F'}

// File is a parsed ELF file over data, or over r (size bytes) when opened
// with OpenReaderAt.
type File struct {
	data []byte
	r    io.ReaderAt
	size uint64
	f    *elf.File
	syms map[string]elf.Symbol // nil until needed
	serr error
}

// Open parses the ELF headers of data. It never panics on malformed input.
func Open(data []byte) (f *File, err error) {
	if !bytes.HasPrefix(data, Magic) {
		return nil, ErrNotELF
	}
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("%w: %v", ErrFormat, r)
		}
	}()
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return &File{data: data, size: uint64(len(data)), f: ef}, nil
}

// OpenReaderAt parses the ELF headers of the size bytes of r, reading only
// them. Later calls read the symbol table and the sections or ranges they
// return, each into its own buffer; a read error (a file truncated under
// it) is returned by the calls that read, wrapping the I/O error
// (io.ErrUnexpectedEOF). It never panics on malformed input.
//
// Errors: ErrNotELF, ErrFormat, an I/O error of r.
func OpenReaderAt(r io.ReaderAt, size int64) (f *File, err error) {
	var magic [4]byte
	if size < 4 {
		return nil, ErrNotELF
	}
	if _, err := r.ReadAt(magic[:], 0); err != nil {
		return nil, fmt.Errorf("read ELF header: %w", err)
	}
	if !bytes.Equal(magic[:], Magic) {
		return nil, ErrNotELF
	}
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("%w: %v", ErrFormat, r)
		}
	}()
	ef, err := elf.NewFile(io.NewSectionReader(r, 0, size))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	return &File{r: r, size: uint64(size), f: ef}, nil
}

// Machine returns the ELF machine (EM_X86_64, EM_AARCH64 ...).
func (f *File) Machine() elf.Machine { return f.f.Machine }

// Type returns the ELF file type (ET_REL for modules, ET_EXEC for vmlinux).
func (f *File) Type() elf.Type { return f.f.Type }

// Class returns ELFCLASS32 or ELFCLASS64.
func (f *File) Class() elf.Class { return f.f.Class }

// Data returns the byte order, ELFDATA2LSB or ELFDATA2MSB.
func (f *File) Data() elf.Data { return f.f.Data }

// Section returns the file bytes of the named section, or nil when there is
// no such section, it occupies no file bytes, it lies outside the file, or
// (OpenReaderAt) it cannot be read.
func (f *File) Section(name string) []byte {
	b, _ := f.ReadSection(name)
	return b
}

// ReadSection is Section with the reason for a nil result: nil, nil when
// there is no such section or it occupies no file bytes; ErrFormat when it
// lies outside the file; an I/O error of the ReaderAt.
func (f *File) ReadSection(name string) ([]byte, error) {
	s := f.f.Section(name)
	if s == nil || s.Type == elf.SHT_NOBITS {
		return nil, nil
	}
	return f.span(s.Offset, s.FileSize)
}

// HasSection reports whether the file has the named section with file
// bytes, without reading it.
func (f *File) HasSection(name string) bool {
	s := f.f.Section(name)
	return s != nil && s.Type != elf.SHT_NOBITS
}

// span returns n file bytes at off: a slice of data, or a new buffer read
// from r.
func (f *File) span(off, n uint64) ([]byte, error) {
	if off > f.size || n > f.size-off {
		return nil, fmt.Errorf("%w: %d bytes at %#x lie outside the file (%d bytes)", ErrFormat, n, off, f.size)
	}
	if f.r == nil {
		return f.data[off : off+n], nil
	}
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, int64(off)); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read %d bytes at %#x: %w", n, off, err)
	}
	return b, nil
}

func (f *File) symbols() (map[string]elf.Symbol, error) {
	if f.syms != nil || f.serr != nil {
		return f.syms, f.serr
	}
	syms, err := f.readSymbols()
	if err != nil {
		f.serr = err
		return nil, err
	}
	f.syms = make(map[string]elf.Symbol, 64)
	for _, s := range syms {
		if s.Name == "" {
			continue
		}
		if _, dup := f.syms[s.Name]; !dup || s.Section != elf.SHN_UNDEF {
			f.syms[s.Name] = s
		}
	}
	return f.syms, nil
}

func (f *File) readSymbols() (syms []elf.Symbol, err error) {
	defer func() {
		if r := recover(); r != nil {
			syms, err = nil, fmt.Errorf("%w: symbol table: %v", ErrFormat, r)
		}
	}()
	syms, err = f.f.Symbols()
	if errors.Is(err, elf.ErrNoSymbols) {
		return nil, ErrNoSymbols
	}
	if err != nil {
		return nil, fmt.Errorf("%w: symbol table: %w", ErrFormat, err)
	}
	return syms, nil
}

// HasSymbols reports whether the file has a readable symbol table.
func (f *File) HasSymbols() bool {
	_, err := f.symbols()
	return err == nil
}

// Symbol returns the named symbol.
func (f *File) Symbol(name string) (elf.Symbol, error) {
	syms, err := f.symbols()
	if err != nil {
		return elf.Symbol{}, err
	}
	s, ok := syms[name]
	if !ok || s.Section == elf.SHN_UNDEF {
		return elf.Symbol{}, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return s, nil
}

// Offset returns the file offset of the named symbol and the section
// holding it (the end of the section counts as inside, for end symbols).
func (f *File) Offset(name string) (uint64, *elf.Section, error) {
	s, err := f.Symbol(name)
	if err != nil {
		return 0, nil, err
	}
	return f.symOffset(s)
}

func (f *File) symOffset(s elf.Symbol) (uint64, *elf.Section, error) {
	var sec *elf.Section
	if s.Section < elf.SHN_LORESERVE && int(s.Section) < len(f.f.Sections) {
		sec = f.f.Sections[s.Section]
	}
	rel := f.f.Type == elf.ET_REL
	if sec == nil && !rel {
		// An absolute or odd section index: find the section by address.
		for _, c := range f.f.Sections {
			if c.Flags&elf.SHF_ALLOC != 0 && c.Type != elf.SHT_NOBITS && s.Value >= c.Addr && s.Value-c.Addr <= c.Size {
				sec = c
				break
			}
		}
	}
	if sec == nil {
		return 0, nil, fmt.Errorf("%w: symbol %s has section index %d", ErrFormat, s.Name, s.Section)
	}
	if sec.Type == elf.SHT_NOBITS {
		return 0, nil, fmt.Errorf("%w: symbol %s is in %s, which has no file bytes", ErrFormat, s.Name, sec.Name)
	}
	v := s.Value
	if !rel {
		if v < sec.Addr {
			return 0, nil, fmt.Errorf("%w: symbol %s (%#x) is below its section %s (%#x)", ErrFormat, s.Name, v, sec.Name, sec.Addr)
		}
		v -= sec.Addr
	}
	if v > sec.Size || v > sec.FileSize {
		return 0, nil, fmt.Errorf("%w: symbol %s (offset %#x) is past the end of %s (%#x bytes)", ErrFormat, s.Name, v, sec.Name, sec.Size)
	}
	off := sec.Offset + v
	if off < sec.Offset || off > f.size {
		return 0, nil, fmt.Errorf("%w: symbol %s lies outside the file", ErrFormat, s.Name)
	}
	return off, sec, nil
}

// Range returns the file bytes from symbol start up to symbol end, which
// must lie in the same section with start <= end. The result aliases the
// data given to Open (OpenReaderAt: a new buffer of just that range).
//
// Errors: ErrNoSymbols, ErrNotFound, ErrFormat, an I/O error (OpenReaderAt).
func (f *File) Range(start, end string) ([]byte, error) {
	a, sa, err := f.Offset(start)
	if err != nil {
		return nil, err
	}
	b, sb, err := f.Offset(end)
	if err != nil {
		return nil, err
	}
	if sa != sb {
		return nil, fmt.Errorf("%w: %s is in %s but %s is in %s", ErrFormat, start, sa.Name, end, sb.Name)
	}
	if b < a {
		return nil, fmt.Errorf("%w: %s (%#x) comes after %s (%#x)", ErrFormat, start, a, end, b)
	}
	return f.span(a, b-a)
}

// SymbolBytes returns the file bytes of the named symbol (its st_size bytes
// from its offset), e.g. linux_banner.
//
// Errors: ErrNoSymbols, ErrNotFound, ErrFormat, an I/O error (OpenReaderAt).
func (f *File) SymbolBytes(name string) ([]byte, error) {
	s, err := f.Symbol(name)
	if err != nil {
		return nil, err
	}
	off, sec, err := f.symOffset(s)
	if err != nil {
		return nil, err
	}
	if end := sec.Offset + sec.FileSize; s.Size > end-off {
		return nil, fmt.Errorf("%w: symbol %s (%d bytes) runs past the end of %s", ErrFormat, name, s.Size, sec.Name)
	}
	return f.span(off, s.Size)
}

// Range opens data and returns the bytes between two symbols.
func Range(data []byte, start, end string) ([]byte, error) {
	f, err := Open(data)
	if err != nil {
		return nil, err
	}
	return f.Range(start, end)
}
