package elfsym

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// NoteBuildID is the type of the GNU build-id note (NT_GNU_BUILD_ID).
const NoteBuildID = 3

// ErrNoBuildID: the notes hold no GNU build-id note.
var ErrNoBuildID = fmt.Errorf("%w: no GNU build-id note", ErrNotFound)

// BuildID returns the GNU build-id (lowercase hex) in a sequence of ELF
// notes as the kernel exposes them in /sys/kernel/notes (its .notes
// section) or /sys/module/M/notes/.note.gnu.build-id: each note is namesz,
// descsz, type (32-bit words in the kernel's byte order), then the name and
// the descriptor, each padded to 4 bytes. The byte order is the one in
// which the notes parse; little-endian is tried first.
//
// Errors: ErrNoBuildID when the notes parse but hold none, ErrFormat when
// they parse in neither byte order.
func BuildID(notes []byte) (string, error) {
	var firstErr error
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		id, err := buildID(notes, bo)
		if err == nil {
			return id, nil
		}
		if err == ErrNoBuildID {
			return "", err
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return "", firstErr
}

func buildID(b []byte, bo binary.ByteOrder) (string, error) {
	pad := func(n uint64) uint64 { return (n + 3) &^ 3 }
	for off := uint64(0); off < uint64(len(b)); {
		if uint64(len(b))-off < 12 {
			// Trailing padding of a section is zeros.
			for _, c := range b[off:] {
				if c != 0 {
					return "", fmt.Errorf("%w: truncated note header at offset %d", ErrFormat, off)
				}
			}
			break
		}
		namesz := uint64(bo.Uint32(b[off:]))
		descsz := uint64(bo.Uint32(b[off+4:]))
		typ := bo.Uint32(b[off+8:])
		name := off + 12
		desc := name + pad(namesz)
		end := desc + pad(descsz)
		if namesz > 1<<16 || descsz > 1<<20 || end > uint64(len(b))+3 || desc+descsz > uint64(len(b)) {
			return "", fmt.Errorf("%w: note at offset %d (namesz %d, descsz %d) runs past the %d bytes", ErrFormat, off, namesz, descsz, len(b))
		}
		// A build-id is 8 (xxhash) to 64 bytes (sha1 is 20); a GNU note
		// of another size is not one and is passed over.
		if typ == NoteBuildID && namesz == 4 && string(b[name:name+4]) == "GNU\x00" && descsz >= 8 && descsz <= 64 {
			return hex.EncodeToString(b[desc : desc+descsz]), nil
		}
		off = end
	}
	return "", ErrNoBuildID
}
