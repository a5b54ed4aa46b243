package host

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// VersionNote returns LINUX_VERSION_CODE from the ELF note named "Linux"
// with type 0 in the ELF image r (the vDSO carries one). It reads program
// headers of type PT_NOTE first, then SHT_NOTE sections. It returns
// ErrNotFound when the image has no such note.
func VersionNote(r io.ReaderAt) (uint32, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return 0, fmt.Errorf("vdso: %w", err)
	}
	defer f.Close()
	var blobs []io.Reader
	for _, p := range f.Progs {
		if p.Type == elf.PT_NOTE {
			blobs = append(blobs, p.Open())
		}
	}
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOTE {
			blobs = append(blobs, s.Open())
		}
	}
	for _, b := range blobs {
		data, err := io.ReadAll(io.LimitReader(b, 1<<20))
		if err != nil && len(data) == 0 {
			continue
		}
		if v, ok := linuxNote(data, f.ByteOrder); ok {
			return v, nil
		}
	}
	return 0, fmt.Errorf("vdso: no \"Linux\" version note: %w", ErrNotFound)
}

// linuxNote walks the notes in data (4-byte aligned, as in the vDSO).
func linuxNote(data []byte, bo binary.ByteOrder) (uint32, bool) {
	for len(data) >= 12 {
		namesz := uint64(bo.Uint32(data[0:]))
		descsz := uint64(bo.Uint32(data[4:]))
		typ := bo.Uint32(data[8:])
		data = data[12:]
		nameEnd := align4(namesz)
		descEnd := nameEnd + align4(descsz)
		if nameEnd > uint64(len(data)) || descEnd > uint64(len(data)) {
			return 0, false
		}
		name := data[:namesz]
		desc := data[nameEnd : nameEnd+descsz]
		if typ == 0 && descsz == 4 && (string(name) == "Linux\x00" || string(name) == "Linux") {
			return bo.Uint32(desc), true
		}
		data = data[descEnd:]
	}
	return 0, false
}

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// FormatVersionCode renders a LINUX_VERSION_CODE as a.b.c (c clamped at 255
// by the kernel).
func FormatVersionCode(v uint32) string {
	return fmt.Sprintf("%d.%d.%d", v>>16, (v>>8)&0xff, v&0xff)
}

// VersionCodeOf computes KERNEL_VERSION(a, b, c) as the kernel does since
// 4.9.256/4.14.218: the sublevel saturates at 255.
func VersionCodeOf(a, b, c int) uint32 {
	if c > 255 {
		c = 255
	}
	return uint32(a)<<16 | uint32(b)<<8 | uint32(c)
}

var errNoVDSO = errors.New("no vDSO in the auxiliary vector")

// NoteImage returns a minimal little-endian ELF64 image whose only content
// is a PT_NOTE segment with the "Linux" type-0 note carrying code: what a
// fake or container root puts at VDSOFile to state LINUX_VERSION_CODE.
func NoteImage(code uint32) []byte {
	const ehsize, phsize = 64, 56
	note := make([]byte, 0, 24)
	le := binary.LittleEndian
	note = le.AppendUint32(note, 6) // namesz "Linux\0"
	note = le.AppendUint32(note, 4) // descsz
	note = le.AppendUint32(note, 0) // type
	note = append(note, 'L', 'i', 'n', 'u', 'x', 0, 0, 0)
	note = le.AppendUint32(note, code)
	b := make([]byte, ehsize+phsize)
	copy(b, []byte{0x7f, 'E', 'L', 'F', 2, 1, 1})
	le.PutUint16(b[16:], uint16(elf.ET_DYN))
	le.PutUint16(b[18:], uint16(elf.EM_X86_64))
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[32:], ehsize) // e_phoff
	le.PutUint16(b[52:], ehsize)
	le.PutUint16(b[54:], phsize)
	le.PutUint16(b[56:], 1) // e_phnum
	ph := b[ehsize:]
	le.PutUint32(ph[0:], uint32(elf.PT_NOTE))
	le.PutUint32(ph[4:], uint32(elf.PF_R))
	le.PutUint64(ph[8:], ehsize+phsize) // p_offset
	le.PutUint64(ph[32:], uint64(len(note)))
	le.PutUint64(ph[40:], uint64(len(note)))
	le.PutUint64(ph[48:], 4)
	return append(b, note...)
}
