// Package xzscan finds xz streams inside raw bytes (a stripped vmlinux, a
// kernel image payload) and establishes their exact extent from the stream
// footer and index, without decoding the blocks. The kernel header archive
// has no marker of its own; it is the xz stream with a CRC64 check (kernel
// images and modules use CRC32) whose decoded start is a tar of "./" members.
package xzscan

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"iter"

	"github.com/kheaders/kheaders/internal/codec"
)

// Sentinel errors.
var (
	// ErrNotFound: no matching xz stream in the data.
	ErrNotFound = errors.New("no xz stream found")
	// ErrFormat: an xz stream header is present but its footer or index
	// cannot be found or does not add up (truncated or corrupt stream).
	ErrFormat = errors.New("malformed xz stream")
)

// Magic is the xz stream header magic.
var Magic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}

var footerMagic = []byte{'Y', 'Z'}

// Check types (the low nibble of the second stream flag byte).
const (
	CheckNone   = 0x00
	CheckCRC32  = 0x01
	CheckCRC64  = 0x04
	CheckSHA256 = 0x0a
	AnyCheck    = -1
)

// Stream is an xz stream located in a byte slice.
type Stream struct {
	Offset       int   // of the stream header in the scanned data
	Len          int   // header to the end of the footer (padding excluded)
	Check        int   // check type
	Blocks       int   // records in the index
	Uncompressed int64 // sum of the uncompressed sizes in the index
}

// Bytes returns the stream's bytes within data.
func (s Stream) Bytes(data []byte) []byte { return data[s.Offset : s.Offset+s.Len] }

// header checks the 12-byte stream header at data[0] and returns the flags.
func header(data []byte) ([2]byte, bool) {
	var fl [2]byte
	if len(data) < 12 || !bytes.HasPrefix(data, Magic) {
		return fl, false
	}
	fl = [2]byte{data[6], data[7]}
	if fl[0] != 0 || fl[1]&0xf0 != 0 {
		return fl, false
	}
	return fl, crc32.ChecksumIEEE(data[6:8]) == binary.LittleEndian.Uint32(data[8:12])
}

// Parse returns the extent of the xz stream starting at data[0]: it looks
// for the first footer (at a 4-byte aligned offset) whose CRC and flags
// match the header, whose backward size points at a well-formed index with
// a matching CRC, and whose index records account for exactly the bytes
// between the header and the index.
//
// Errors: ErrNotFound (no valid stream header at data[0]), ErrFormat.
func Parse(data []byte) (Stream, error) {
	fl, ok := header(data)
	if !ok {
		return Stream{}, fmt.Errorf("%w: no valid stream header at offset 0", ErrNotFound)
	}
	for pos := 12; ; {
		i := bytes.Index(data[pos:], footerMagic)
		if i < 0 {
			return Stream{}, fmt.Errorf("%w: no footer matching the header (truncated?)", ErrFormat)
		}
		end := pos + i + 2 // just past "YZ"
		pos = pos + i + 1
		if end%4 != 0 || end < 12+8+12 {
			continue
		}
		f := data[end-12 : end]
		if f[8] != fl[0] || f[9] != fl[1] || crc32.ChecksumIEEE(f[4:10]) != binary.LittleEndian.Uint32(f[0:4]) {
			continue
		}
		bs := (int64(binary.LittleEndian.Uint32(f[4:8])) + 1) * 4
		idx := int64(end-12) - bs
		if idx < 12 {
			continue
		}
		s, ok := index(data[idx : end-12])
		if !ok || s.blocksLen != idx-12 {
			continue
		}
		return Stream{Len: end, Check: int(fl[1]), Blocks: s.records, Uncompressed: s.uncompressed}, nil
	}
}

type indexSum struct {
	records      int
	blocksLen    int64 // sum of the padded unpadded sizes
	uncompressed int64
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 9; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if i > 0 && b[i] == 0 {
				return 0, 0 // non-minimal encoding
			}
			return v, i + 1
		}
	}
	return 0, 0
}

// index parses a whole xz index (indicator through CRC32).
func index(b []byte) (indexSum, bool) {
	var s indexSum
	if len(b) < 8 || len(b)%4 != 0 || b[0] != 0 {
		return s, false
	}
	body := b[:len(b)-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return s, false
	}
	p := 1
	n, k := uvarint(body[p:])
	if k == 0 || n > uint64(len(body)) {
		return s, false
	}
	p += k
	for range n {
		u, k := uvarint(body[p:])
		if k == 0 || u == 0 || u > 1<<62 {
			return s, false
		}
		p += k
		c, k := uvarint(body[p:])
		if k == 0 || c > 1<<62 {
			return s, false
		}
		p += k
		s.blocksLen += int64((u + 3) &^ 3)
		s.uncompressed += int64(c)
		if s.blocksLen < 0 || s.uncompressed < 0 {
			return s, false
		}
		s.records++
	}
	for ; p < len(body); p++ {
		if body[p] != 0 {
			return s, false
		}
	}
	return s, p%4 == 0
}

// All yields every well-formed xz stream in data whose check type is check
// (or any, with AnyCheck), in order of offset. Streams may not overlap:
// the scan continues after the end of each stream found.
func All(data []byte, check int) iter.Seq[Stream] {
	pat := Magic
	if check >= 0 {
		pat = append(bytes.Clone(Magic), 0, byte(check))
	}
	return func(yield func(Stream) bool) {
		for pos := 0; pos < len(data); {
			i := bytes.Index(data[pos:], pat)
			if i < 0 {
				return
			}
			off := pos + i
			s, err := Parse(data[off:])
			if err != nil {
				pos = off + 1
				continue
			}
			s.Offset = off
			if !yield(s) {
				return
			}
			pos = off + s.Len
		}
	}
}

// IsTarStart reports whether b starts with a tar header (valid checksum)
// whose member name begins with "./", as the kernel's archives do.
func IsTarStart(b []byte) bool {
	if len(b) < 512 || !bytes.HasPrefix(b, []byte("./")) || string(b[257:262]) != "ustar" {
		return false
	}
	var sum int64
	for i, c := range b[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	field := bytes.TrimRight(bytes.TrimLeft(b[148:156], " \x00"), " \x00")
	var want int64
	if len(field) == 0 {
		return false
	}
	for _, c := range field {
		if c < '0' || c > '7' {
			return false
		}
		want = want*8 + int64(c-'0')
	}
	return sum == want
}

// decodedStart returns the first n decoded bytes of the xz stream s.
func decodedStart(s []byte, n int) ([]byte, error) {
	r, err := codec.NewReader(codec.XZ, bytes.NewReader(s))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	buf := make([]byte, n)
	m, err := io.ReadFull(r, buf)
	return buf[:m], err
}

// FindArchive returns the first xz stream in data with a CRC64 check whose
// decoded start is a tar with "./" members: the kernel header archive. The
// stream is not decoded beyond its first tar header.
//
// Errors: ErrNotFound.
func FindArchive(data []byte) (Stream, error) {
	seen := 0
	for s := range All(data, CheckCRC64) {
		seen++
		head, err := decodedStart(s.Bytes(data), 512)
		if err == nil && IsTarStart(head) {
			return s, nil
		}
	}
	return Stream{}, fmt.Errorf("%w: %d xz stream(s) with a CRC64 check, none holding a tar of ./ members", ErrNotFound, seen)
}
