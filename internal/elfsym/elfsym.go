// Package elfsym reads what kheaders needs from ELF files held in memory:
// the file bytes between two symbols (kernel_headers_data and
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

// File is a parsed ELF file over data.
type File struct {
	data []byte
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
	return &File{data: data, f: ef}, nil
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
// no such section, it occupies no file bytes, or it lies outside the file.
func (f *File) Section(name string) []byte {
	s := f.f.Section(name)
	if s == nil || s.Type == elf.SHT_NOBITS {
		return nil
	}
	b, ok := f.span(s.Offset, s.FileSize)
	if !ok {
		return nil
	}
	return b
}

func (f *File) span(off, n uint64) ([]byte, bool) {
	if off > uint64(len(f.data)) || n > uint64(len(f.data))-off {
		return nil, false
	}
	return f.data[off : off+n], true
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
	if off < sec.Offset || off > uint64(len(f.data)) {
		return 0, nil, fmt.Errorf("%w: symbol %s lies outside the file", ErrFormat, s.Name)
	}
	return off, sec, nil
}

// Range returns the file bytes from symbol start up to symbol end, which
// must lie in the same section with start <= end. The result aliases the
// data given to Open.
//
// Errors: ErrNoSymbols, ErrNotFound, ErrFormat.
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
	return f.data[a:b], nil
}

// Range opens data and returns the bytes between two symbols.
func Range(data []byte, start, end string) ([]byte, error) {
	f, err := Open(data)
	if err != nil {
		return nil, err
	}
	return f.Range(start, end)
}
