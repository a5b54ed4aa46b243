// Package xz is the module's one xz implementation: the .xz container
// (stream header, block headers, index, footer; CRC32, CRC64 and SHA-256
// checks), an LZMA2 decoder, the BCJ filters the kernel's xz_wrap.sh uses
// (x86, ARM, ARM-Thumb, ARM64, PowerPC, SPARC), and the location of xz
// streams inside raw bytes (a stripped vmlinux, a kernel image payload)
// from their footer and index, without decoding the blocks.
//
// Decoding comes in two shapes over the same LZMA2 decoder:
//
//   - NewReader streams one xz stream from an io.Reader with bounded memory
//     (a dictionary window of at most MaxDict bytes plus one chunk).
//   - Decode and NewBuffer decode one stream held in memory into one
//     buffer sized from the index (at most MaxBuffer bytes), where the LZMA
//     dictionary is the output itself; NewBuffer does so in a goroutine and
//     lets a reader follow the decoded bytes as they appear.
package xz

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"iter"
	"sync"
)

// Sentinel errors.
var (
	// ErrNotFound: no xz stream (no valid stream header) where one was looked for.
	ErrNotFound = errors.New("no xz stream found")
	// ErrFormat: the xz data is malformed, truncated or fails a check.
	ErrFormat = errors.New("malformed xz stream")
	// ErrUnsupported: a valid stream uses a filter, check or dictionary
	// size this package does not decode.
	ErrUnsupported = errors.New("unsupported xz stream feature")
	// ErrTooLarge: the decoded data exceeds the caller's cap.
	ErrTooLarge = errors.New("decoded xz data exceeds the size limit")
)

// Magic is the xz stream header magic (the one definition in the module).
var Magic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}

var footerMagic = []byte{'Y', 'Z'}

// crc64Table is the CRC64 (ECMA-182) table of the xz check, built on
// first use: hash/crc64 builds its slicing-by-8 tables (32 KiB) then,
// which every kheaders call would pay at init otherwise.
var crc64Table = sync.OnceValue(func() *crc64.Table { return crc64.MakeTable(crc64.ECMA) })

// Check types (the low nibble of the second stream flag byte).
const (
	CheckNone   = 0x00
	CheckCRC32  = 0x01
	CheckCRC64  = 0x04
	CheckSHA256 = 0x0a
	// AnyCheck selects streams of every check type in All.
	AnyCheck = -1
)

// Limits of the decoders.
const (
	// MaxDict caps the LZMA2 dictionary a stream may declare: the kernel
	// uses 128 MiB (scripts/xz_wrap.sh), xz -9 64 MiB.
	MaxDict = 256 << 20
	// MaxBuffer caps the one output buffer of Decode and NewBuffer; a
	// stream whose index declares more is decoded by the streaming reader.
	MaxBuffer = 256 << 20
)

const (
	headerLen = 12
	footerLen = 12
)

// Filter IDs.
const (
	filterX86      = 0x04
	filterPowerPC  = 0x05
	filterIA64     = 0x06
	filterARM      = 0x07
	filterARMThumb = 0x08
	filterSPARC    = 0x09
	filterARM64    = 0x0a
	filterRISCV    = 0x0b
	filterLZMA2    = 0x21
)

// uvarint reads the xz multibyte integer at b[0]: at most 9 bytes, the
// minimal encoding. It returns the value and its length, or 0 length when
// b does not start with one.
func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 9; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if i > 0 && b[i] == 0 {
				return 0, 0 // not minimal
			}
			return v, i + 1
		}
	}
	return 0, 0
}

// checkSize is the size of the check field for each check type.
func checkSize(t int) int {
	switch {
	case t == 0:
		return 0
	case t <= 3:
		return 4
	case t <= 6:
		return 8
	case t <= 9:
		return 16
	case t <= 12:
		return 32
	}
	return 64
}

// checkName names the check types this package verifies.
func checkName(t int) string {
	switch t {
	case CheckCRC32:
		return "CRC32"
	case CheckCRC64:
		return "CRC64"
	case CheckSHA256:
		return "SHA-256"
	}
	return fmt.Sprintf("check type %#x", t)
}

// checker computes a block check over the decoded bytes.
type checker struct {
	t   int
	c32 uint32
	c64 uint64
	sha hash.Hash
}

func newChecker(t int) (*checker, error) {
	c := &checker{t: t}
	switch t {
	case CheckNone, CheckCRC32, CheckCRC64:
	case CheckSHA256:
		c.sha = sha256.New()
	default:
		return nil, fmt.Errorf("%w: xz %s (this decoder verifies CRC32, CRC64 and SHA-256)", ErrUnsupported, checkName(t))
	}
	return c, nil
}

func (c *checker) write(b []byte) {
	switch c.t {
	case CheckCRC32:
		c.c32 = crc32.Update(c.c32, crc32.IEEETable, b)
	case CheckCRC64:
		c.c64 = crc64.Update(c.c64, crc64Table(), b)
	case CheckSHA256:
		c.sha.Write(b)
	}
}

// verify compares the check of the bytes written since the last verify
// with want (the check field after block n, counted from 1) and resets.
func (c *checker) verify(want []byte, n int) error {
	var got []byte
	switch c.t {
	case CheckNone:
		return nil
	case CheckCRC32:
		got = binary.LittleEndian.AppendUint32(nil, c.c32)
	case CheckCRC64:
		got = binary.LittleEndian.AppendUint64(nil, c.c64)
	case CheckSHA256:
		got = c.sha.Sum(nil)
		c.sha.Reset()
	}
	c.c32, c.c64 = 0, 0
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%w: xz block %d: %s mismatch", ErrFormat, n, checkName(c.t))
	}
	return nil
}

// streamFlags checks the 12-byte stream header at data[0] and returns the
// check type.
func streamFlags(data []byte) (int, error) {
	if len(data) < headerLen || !bytes.HasPrefix(data, Magic) {
		return 0, fmt.Errorf("%w: no xz stream header", ErrNotFound)
	}
	if crc32.ChecksumIEEE(data[6:8]) != binary.LittleEndian.Uint32(data[8:12]) {
		return 0, fmt.Errorf("%w: stream header CRC mismatch", ErrFormat)
	}
	if data[6] != 0 || data[7]&0xf0 != 0 {
		return 0, fmt.Errorf("%w: xz stream flags %#x %#x", ErrUnsupported, data[6], data[7])
	}
	return int(data[7]), nil
}

// checkFooter checks the 12-byte stream footer f against the header's check
// type and returns the index size it records.
func checkFooter(f []byte, check int) (int64, bool) {
	if len(f) != footerLen || !bytes.Equal(f[10:], footerMagic) || f[8] != 0 || int(f[9]) != check {
		return 0, false
	}
	if crc32.ChecksumIEEE(f[4:10]) != binary.LittleEndian.Uint32(f[0:4]) {
		return 0, false
	}
	return (int64(binary.LittleEndian.Uint32(f[4:8])) + 1) * 4, true
}

// record is one index record: a block's unpadded and uncompressed sizes.
type record struct{ unpadded, uncompressed int64 }

// indexSum is what an index adds up to.
type indexSum struct {
	records      []record
	blocksLen    int64 // sum of the padded unpadded sizes
	uncompressed int64
}

// parseIndex parses a whole xz index (indicator through CRC32).
func parseIndex(b []byte) (indexSum, bool) {
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
	s.records = make([]record, 0, n)
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
		s.records = append(s.records, record{int64(u), int64(c)})
	}
	for ; p < len(body); p++ {
		if body[p] != 0 {
			return s, false
		}
	}
	return s, p%4 == 0
}

// Stream is an xz stream located in a byte slice.
type Stream struct {
	Offset       int   // of the stream header in the scanned data
	Len          int   // header to the end of the footer (padding excluded)
	Check        int   // check type
	Blocks       int   // records in the index
	Uncompressed int64 // sum of the uncompressed sizes in the index

	records []record
}

// Bytes returns the stream's bytes within data.
func (s Stream) Bytes(data []byte) []byte { return data[s.Offset : s.Offset+s.Len] }

// Parse returns the extent of the xz stream starting at data[0]: it looks
// for the first footer (at a 4-byte aligned offset) whose CRC and flags
// match the header, whose backward size points at a well-formed index with
// a matching CRC, and whose index records account for exactly the bytes
// between the header and the index. Bytes after the stream are ignored.
//
// Errors: ErrNotFound (no valid stream header at data[0]), ErrFormat,
// ErrUnsupported (stream flags of a later format version).
func Parse(data []byte) (Stream, error) {
	check, err := streamFlags(data)
	if err != nil {
		return Stream{}, err
	}
	for pos := headerLen; ; {
		i := bytes.Index(data[pos:], footerMagic)
		if i < 0 {
			return Stream{}, fmt.Errorf("%w: no footer matching the stream header (truncated?)", ErrFormat)
		}
		end := pos + i + 2 // just past "YZ"
		pos = pos + i + 1
		if end%4 != 0 || end < headerLen+8+footerLen {
			continue
		}
		bs, ok := checkFooter(data[end-footerLen:end], check)
		if !ok {
			continue
		}
		idx := int64(end-footerLen) - bs
		if idx < headerLen {
			continue
		}
		s, ok := parseIndex(data[idx : end-footerLen])
		if !ok || s.blocksLen != idx-headerLen {
			continue
		}
		return Stream{Len: end, Check: check, Blocks: len(s.records), Uncompressed: s.uncompressed, records: s.records}, nil
	}
}

// padding returns the length of the xz stream padding b starts with: zero
// bytes in groups of four (the padding the format allows between and after
// streams).
func padding(b []byte) int {
	n := 0
	for n+4 <= len(b) && b[n] == 0 && b[n+1] == 0 && b[n+2] == 0 && b[n+3] == 0 {
		n += 4
	}
	return n
}

// Streams returns the run of concatenated xz streams, with stream padding
// between and after them, that starts at data[0] (each found by Parse, its
// Offset set), and where the run ends, its padding included: none and 0
// when no stream starts there. xz -dc reads such a run as one input.
func Streams(data []byte) (streams []Stream, end int) {
	for end < len(data) && bytes.HasPrefix(data[end:], Magic) {
		s, err := Parse(data[end:])
		if err != nil {
			break
		}
		s.Offset = end
		streams = append(streams, s)
		end += s.Len
		end += padding(data[end:])
	}
	return streams, end
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

// filterSpec is one filter of a block's chain.
type filterSpec struct {
	id    uint64
	props []byte
}

// blockHeader is a parsed block header.
type blockHeader struct {
	size         int   // header size in bytes
	compressed   int64 // -1 when absent
	uncompressed int64 // -1 when absent
	dict         int   // LZMA2 dictionary size
	bcj          []filterSpec
}

// parseBlockHeader parses the block header at b[0] (b may run on past it).
// The chain must end in LZMA2, preceded by at most three BCJ filters.
func parseBlockHeader(b []byte) (*blockHeader, error) {
	if len(b) < 1 || b[0] == 0 {
		return nil, fmt.Errorf("%w: block header expected", ErrFormat)
	}
	hs := (int(b[0]) + 1) * 4
	if len(b) < hs {
		return nil, fmt.Errorf("%w: block header truncated", ErrFormat)
	}
	b = b[:hs]
	if crc32.ChecksumIEEE(b[:hs-4]) != binary.LittleEndian.Uint32(b[hs-4:]) {
		return nil, fmt.Errorf("%w: block header CRC mismatch", ErrFormat)
	}
	h := &blockHeader{size: hs, compressed: -1, uncompressed: -1}
	flags := b[1]
	if flags&0x3c != 0 {
		return nil, fmt.Errorf("%w: xz block flags %#x", ErrUnsupported, flags)
	}
	body := b[:hs-4]
	p := 2
	read := func() (uint64, error) {
		v, n := uvarint(body[p:])
		if n == 0 {
			return 0, fmt.Errorf("%w: bad integer in block header", ErrFormat)
		}
		p += n
		return v, nil
	}
	if flags&0x40 != 0 {
		v, err := read()
		if err != nil {
			return nil, err
		}
		if v == 0 || v > 1<<62 {
			return nil, fmt.Errorf("%w: block compressed size %d", ErrFormat, v)
		}
		h.compressed = int64(v)
	}
	if flags&0x80 != 0 {
		v, err := read()
		if err != nil {
			return nil, err
		}
		if v > 1<<62 {
			return nil, fmt.Errorf("%w: block uncompressed size %d", ErrFormat, v)
		}
		h.uncompressed = int64(v)
	}
	nf := int(flags&3) + 1
	for i := range nf {
		id, err := read()
		if err != nil {
			return nil, err
		}
		n, err := read()
		if err != nil {
			return nil, err
		}
		if n > uint64(len(body)-p) {
			return nil, fmt.Errorf("%w: filter properties past the block header", ErrFormat)
		}
		props := body[p : p+int(n)]
		p += int(n)
		if i < nf-1 {
			if i > 0 {
				return nil, fmt.Errorf("%w: more than one BCJ filter in an xz block", ErrUnsupported)
			}
			if err := checkBCJ(id, props); err != nil {
				return nil, err
			}
			h.bcj = append(h.bcj, filterSpec{id, props})
			continue
		}
		if id != filterLZMA2 {
			return nil, fmt.Errorf("%w: xz filter chain ends in filter %#x, not LZMA2", ErrUnsupported, id)
		}
		if len(props) != 1 {
			return nil, fmt.Errorf("%w: LZMA2 properties of %d bytes", ErrFormat, len(props))
		}
		if h.dict, err = dictSize(props[0]); err != nil {
			return nil, err
		}
	}
	for ; p < len(body); p++ {
		if body[p] != 0 {
			return nil, fmt.Errorf("%w: block header padding", ErrFormat)
		}
	}
	return h, nil
}

// dictSize decodes the LZMA2 dictionary size property.
func dictSize(prop byte) (int, error) {
	if prop > 40 {
		return 0, fmt.Errorf("%w: LZMA2 dictionary property %d", ErrFormat, prop)
	}
	d := int64(2|prop&1) << (prop/2 + 11)
	if prop == 40 {
		d = 1<<32 - 1
	}
	if d > MaxDict {
		return 0, fmt.Errorf("%w: LZMA2 dictionary of %d bytes (limit %d)", ErrUnsupported, d, MaxDict)
	}
	return int(d), nil
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

// FindArchive returns the first xz stream in data with a CRC64 check whose
// decoded start is a tar with "./" members: the kernel header archive. The
// stream is not decoded beyond its first chunk.
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

// decodedStart returns the first n decoded bytes of the xz stream s.
// Usually they are in the first LZMA2 chunks of the first block, and only
// those n bytes are decoded (the streaming reader would decode its whole
// first chunk, up to 2 MiB: milliseconds spent before an extraction can
// start); otherwise (BCJ filters, a first block shorter than n, any
// error) the streaming reader decodes them, and reports the error.
func decodedStart(s []byte, n int) ([]byte, error) {
	if b, ok := chunkStart(s, n); ok {
		return b, nil
	}
	r, err := NewReader(bytes.NewReader(s))
	if err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	m, err := io.ReadFull(r, buf)
	return buf[:m], err
}

// chunkStart decodes the first n bytes of the xz stream s from its first
// block's LZMA2 chunks, stopping at n. It reports false when they are not
// all there or anything is wrong (decodedStart then decodes them the
// slow way): the bytes it returns are those every decoder returns.
func chunkStart(s []byte, n int) ([]byte, bool) {
	if _, err := streamFlags(s); err != nil || len(s) < headerLen {
		return nil, false
	}
	h, err := parseBlockHeader(s[headerLen:])
	if err != nil || len(h.bcj) != 0 {
		return nil, false
	}
	out := make([]byte, n)
	in, opos := headerLen+h.size, 0
	var z lzma2
	for opos < n {
		if in >= len(s) {
			return nil, false
		}
		hl := chunkHeaderLen(s[in])
		if hl == 0 || in+hl > len(s) {
			return nil, false
		}
		c := parseChunkHeader(s[in:])
		in += hl
		if c.ctl == 0 || in+c.packed > len(s) || h.uncompressed >= 0 && int64(opos+c.unpacked) > h.uncompressed {
			return nil, false
		}
		// The chunk decoded up to n only (out ends there).
		if err := z.chunk(c, s[in:in+c.packed], out, opos, 0); err != nil {
			return nil, false
		}
		in += c.packed
		opos += c.unpacked
	}
	return out, true
}
