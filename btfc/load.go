package btfc

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrNoBTF is returned when an input carries no BTF.
var ErrNoBTF = errors.New("no BTF")

// Format is what kind of input LoadBytes recognised.
type Format string

const (
	FormatRaw Format = "raw" // a raw BTF blob (/sys/kernel/btf/*)
	FormatELF Format = "elf" // the .BTF section of an ELF file (vmlinux, .ko)
)

// btfMagic is the first two bytes of a BTF header.
const btfMagic = 0xeB9F

// IsRawBTF reports whether data starts with a BTF header in either byte
// order.
func IsRawBTF(data []byte) bool {
	if len(data) < 4 {
		return false
	}
	return binary.LittleEndian.Uint16(data) == btfMagic || binary.BigEndian.Uint16(data) == btfMagic
}

// SectionBTF returns the raw bytes of the .BTF section of an ELF file. It
// works on stripped files (the vmlinux inside a bzImage has no symbol table,
// which cilium/ebpf's ELF loader requires).
func SectionBTF(data []byte) ([]byte, error) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read ELF: %w", err)
	}
	defer f.Close()
	sec := f.Section(".BTF")
	if sec == nil {
		return nil, fmt.Errorf("ELF has no .BTF section: %w (build the kernel with CONFIG_DEBUG_INFO_BTF=y)", ErrNoBTF)
	}
	if sec.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf(".BTF section has no data: %w", ErrNoBTF)
	}
	b, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("read .BTF section: %w", err)
	}
	return b, nil
}

// RawBTF returns the raw BTF blob in data: data itself when it is raw BTF,
// the .BTF section when it is ELF.
func RawBTF(data []byte) ([]byte, Format, error) {
	switch {
	case IsRawBTF(data):
		return data, FormatRaw, nil
	case len(data) >= 4 && string(data[:4]) == elf.ELFMAG:
		b, err := SectionBTF(data)
		return b, FormatELF, err
	}
	return nil, "", fmt.Errorf("neither raw BTF nor ELF: %w", ErrNoBTF)
}

// BTF is parsed BTF, ready for Generate and LayoutAsserts. It keeps the
// bytes given to Load (names point into them): do not modify them while the
// BTF is in use.
type BTF struct {
	g *graph
}

// Load parses BTF from raw bytes or an ELF file's .BTF section with this
// package's own reader (flat, bounds-checked; see readGraph). With a non-nil
// base the BTF is split BTF (a kernel module's) on top of base. Errors wrap
// ErrNoBTF (no BTF in data) or ErrMalformed.
func Load(data []byte, base *BTF) (*BTF, Format, error) {
	raw, f, err := RawBTF(data)
	if err != nil {
		return nil, "", err
	}
	var bg *graph
	if base != nil {
		bg = base.g
	}
	g, err := readGraph(raw, bg)
	if err != nil {
		return nil, f, fmt.Errorf("parse BTF: %w", err)
	}
	return &BTF{g: g}, f, nil
}
