package codec

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"

	"github.com/therootcompany/xz"
	"github.com/ulikunitz/xz/lzma"
)

// xz decoding: github.com/therootcompany/xz (a port of XZ Embedded) decodes
// LZMA2 with the x86, PowerPC, IA-64, ARM, ARM-Thumb and SPARC BCJ filters.
// It lacks the ARM64 BCJ filter (xz >= 5.4, used by scripts/xz_wrap.sh for
// arm64), so streams using it go through xzDecodeOwn: this package's own .xz
// container parser, ulikunitz/xz/lzma for LZMA2 and bcjARM64Decode.

const (
	xzFilterDelta = 0x03
	xzFilterX86   = 0x04
	xzFilterARM64 = 0x0a
	xzFilterRISCV = 0x0b
	xzFilterLZMA2 = 0x21
	xzHeaderLen   = 12
	// xzMaxDict caps the LZMA2 dictionary the decoders allocate: the
	// kernel uses 128 MiB (scripts/xz_wrap.sh), xz -9 64 MiB.
	xzMaxDict = 256 << 20
)

var (
	xzMagic    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	xzCRC64Tab = crc64.MakeTable(crc64.ECMA)
)

// xzCheckSize is the size of the check field for each check type.
func xzCheckSize(t byte) int {
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

// xzStreamHeader checks the 12-byte stream header and returns its flags.
func xzStreamHeader(data []byte) ([2]byte, error) {
	var f [2]byte
	if len(data) < xzHeaderLen || !bytes.HasPrefix(data, xzMagic) {
		return f, fmt.Errorf("%w: no xz stream header", ErrCorrupt)
	}
	if crc32.ChecksumIEEE(data[6:8]) != binary.LittleEndian.Uint32(data[8:12]) {
		return f, fmt.Errorf("%w: xz stream header CRC mismatch", ErrCorrupt)
	}
	if data[6] != 0 || data[7] > 0x0f {
		return f, fmt.Errorf("%w: xz stream flags %#x %#x", ErrUnsupported, data[6], data[7])
	}
	copy(f[:], data[6:8])
	return f, nil
}

// XZStreamLen returns the length of the xz stream at data[0] (header to end
// of footer) by locating its footer: the first 4-aligned footer whose CRC,
// flags and backward size point at an index whose CRC matches.
func XZStreamLen(data []byte) (int, error) {
	flags, err := xzStreamHeader(data)
	if err != nil {
		return 0, err
	}
	for off := xzHeaderLen; ; {
		i := bytes.Index(data[off:], []byte("YZ"))
		if i < 0 {
			return 0, fmt.Errorf("%w: xz stream footer not found", ErrCorrupt)
		}
		y := off + i
		off = y + 1
		end := y + 2
		if end%4 != 0 || end-12 < xzHeaderLen+8 {
			continue
		}
		f := end - 12
		if data[f+8] != flags[0] || data[f+9] != flags[1] {
			continue
		}
		if crc32.ChecksumIEEE(data[f+4:f+10]) != binary.LittleEndian.Uint32(data[f:]) {
			continue
		}
		back := (int64(binary.LittleEndian.Uint32(data[f+4:])) + 1) * 4
		idx := int64(f) - back
		if idx < xzHeaderLen || data[idx] != 0 {
			continue
		}
		if crc32.ChecksumIEEE(data[idx:f-4]) != binary.LittleEndian.Uint32(data[f-4:]) {
			continue
		}
		return end, nil
	}
}

// xzFilters reads the filter IDs of the first block header, for choosing a
// decoder. It returns nil when the header cannot be read.
func xzFilters(data []byte) []uint64 {
	if len(data) < xzHeaderLen+1 || data[xzHeaderLen] == 0 {
		return nil
	}
	h, err := parseXZBlockHeader(data[xzHeaderLen:])
	if err != nil {
		return nil
	}
	ids := make([]uint64, len(h.filters))
	for i, f := range h.filters {
		ids[i] = f.id
	}
	return ids
}

func needsOwnXZ(ids []uint64) bool {
	for _, id := range ids {
		if id == xzFilterARM64 {
			return true
		}
	}
	return false
}

func decodeXZ(data []byte, max int64) ([]byte, int, error) {
	if _, err := xzStreamHeader(data); err != nil {
		return nil, 0, fmt.Errorf("decompress xz: %w", err)
	}
	if needsOwnXZ(xzFilters(data)) {
		out, n, err := xzDecodeOwn(data, max)
		if err != nil {
			return nil, 0, fmt.Errorf("decompress xz: %w", err)
		}
		return out, n, nil
	}
	// Decode exactly the stream: the reader would take what follows for
	// stream padding, which must be a multiple of 4 zero bytes.
	n, err := XZStreamLen(data)
	if err != nil {
		return nil, 0, fmt.Errorf("decompress xz: %w", err)
	}
	zr, err := xz.NewReader(bytes.NewReader(data[:n]), xzMaxDict)
	if err != nil {
		return nil, 0, fmt.Errorf("decompress xz: %w", xzErr(err))
	}
	zr.Multistream(false)
	out, err := readCapped(xzErrReader{zr}, max, n)
	if err != nil {
		return nil, 0, fmt.Errorf("decompress xz: %w", err)
	}
	return out, n, nil
}

func xzErr(err error) error {
	if errors.Is(err, xz.ErrOptions) || errors.Is(err, xz.ErrMemlimit) {
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	return corrupt(err)
}

type xzErrReader struct{ r io.Reader }

func (x xzErrReader) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	if err != nil && err != io.EOF {
		err = xzErr(err)
	}
	return n, err
}

func newXZReader(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 4096)
	head, _ := br.Peek(xzHeaderLen + 1024)
	if _, err := xzStreamHeader(head); err != nil {
		return nil, err
	}
	if needsOwnXZ(xzFilters(head)) {
		all, err := io.ReadAll(br)
		if err != nil {
			return nil, err
		}
		out, _, err := xzDecodeOwn(all, 0)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(out)), nil
	}
	zr, err := xz.NewReader(br, xzMaxDict)
	if err != nil {
		return nil, xzErr(err)
	}
	zr.Multistream(false)
	return io.NopCloser(xzErrReader{zr}), nil
}

type xzFilter struct {
	id    uint64
	props []byte
}

type xzBlockHeader struct {
	size         int // header size in bytes
	compressed   int64
	uncompressed int64
	filters      []xzFilter
}

func xzVarint(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 9; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			if i > 0 && b[i] == 0 {
				return 0, 0, fmt.Errorf("%w: xz varint not minimal", ErrCorrupt)
			}
			return v, i + 1, nil
		}
	}
	return 0, 0, fmt.Errorf("%w: xz varint truncated", ErrCorrupt)
}

func parseXZBlockHeader(b []byte) (*xzBlockHeader, error) {
	if len(b) < 1 || b[0] == 0 {
		return nil, fmt.Errorf("%w: xz block header expected", ErrCorrupt)
	}
	hs := (int(b[0]) + 1) * 4
	if len(b) < hs {
		return nil, fmt.Errorf("%w: xz block header truncated", ErrCorrupt)
	}
	b = b[:hs]
	if crc32.ChecksumIEEE(b[:hs-4]) != binary.LittleEndian.Uint32(b[hs-4:]) {
		return nil, fmt.Errorf("%w: xz block header CRC mismatch", ErrCorrupt)
	}
	h := &xzBlockHeader{size: hs, compressed: -1, uncompressed: -1}
	flags := b[1]
	if flags&0x3c != 0 {
		return nil, fmt.Errorf("%w: xz block flags %#x", ErrUnsupported, flags)
	}
	p := 2
	body := b[:hs-4]
	read := func() (uint64, error) {
		v, n, err := xzVarint(body[p:])
		p += n
		return v, err
	}
	if flags&0x40 != 0 {
		v, err := read()
		if err != nil {
			return nil, err
		}
		h.compressed = int64(v)
	}
	if flags&0x80 != 0 {
		v, err := read()
		if err != nil {
			return nil, err
		}
		h.uncompressed = int64(v)
	}
	for i := 0; i <= int(flags&3); i++ {
		id, err := read()
		if err != nil {
			return nil, err
		}
		n, err := read()
		if err != nil {
			return nil, err
		}
		if n > uint64(len(body)-p) {
			return nil, fmt.Errorf("%w: xz filter properties past header", ErrCorrupt)
		}
		h.filters = append(h.filters, xzFilter{id: id, props: body[p : p+int(n)]})
		p += int(n)
	}
	return h, nil
}

// lzma2Len walks the LZMA2 chunk headers at b[0] and returns the length of
// the LZMA2 data including its end marker.
func lzma2Len(b []byte) (int, error) {
	p := 0
	for {
		if p >= len(b) {
			return 0, fmt.Errorf("%w: LZMA2 data truncated", ErrCorrupt)
		}
		c := b[p]
		switch {
		case c == 0:
			return p + 1, nil
		case c == 1 || c == 2:
			if p+3 > len(b) {
				return 0, fmt.Errorf("%w: LZMA2 chunk header truncated", ErrCorrupt)
			}
			p += 3 + int(binary.BigEndian.Uint16(b[p+1:])) + 1
		case c >= 0x80:
			hl := 5
			if c >= 0xc0 {
				hl = 6
			}
			if p+hl > len(b) {
				return 0, fmt.Errorf("%w: LZMA2 chunk header truncated", ErrCorrupt)
			}
			p += hl + int(binary.BigEndian.Uint16(b[p+3:])) + 1
		default:
			return 0, fmt.Errorf("%w: LZMA2 control byte %#x", ErrCorrupt, c)
		}
	}
}

func lzma2DictSize(prop byte) (int, error) {
	if prop > 40 {
		return 0, fmt.Errorf("%w: LZMA2 dictionary property %d", ErrCorrupt, prop)
	}
	d := int64(2|prop&1) << (prop/2 + 11)
	if prop == 40 {
		d = 1<<32 - 1
	}
	if d > xzMaxDict {
		return 0, fmt.Errorf("%w: LZMA2 dictionary of %d bytes (limit %d)", ErrUnsupported, d, xzMaxDict)
	}
	return int(d), nil
}

// xzDecodeOwn decodes a single xz stream whose blocks use LZMA2, optionally
// preceded by the ARM64 BCJ filter.
func xzDecodeOwn(data []byte, limit int64) ([]byte, int, error) {
	if limit <= 0 {
		limit = 1<<63 - 1
	}
	flags, err := xzStreamHeader(data)
	if err != nil {
		return nil, 0, err
	}
	checkType := flags[1]
	cs := xzCheckSize(checkType)
	var out []byte
	p := xzHeaderLen
	for {
		if p >= len(data) {
			return nil, 0, fmt.Errorf("%w: xz stream truncated", ErrCorrupt)
		}
		if data[p] == 0 {
			break // index
		}
		h, err := parseXZBlockHeader(data[p:])
		if err != nil {
			return nil, 0, err
		}
		p += h.size
		last := h.filters[len(h.filters)-1]
		if last.id != xzFilterLZMA2 || len(last.props) != 1 {
			return nil, 0, fmt.Errorf("%w: xz filter chain does not end in LZMA2", ErrUnsupported)
		}
		var arm64Start uint32
		useARM64 := false
		for _, f := range h.filters[:len(h.filters)-1] {
			if f.id != xzFilterARM64 || useARM64 {
				return nil, 0, fmt.Errorf("%w: xz filter %#x", ErrUnsupported, f.id)
			}
			useARM64 = true
			switch len(f.props) {
			case 0:
			case 4:
				arm64Start = binary.LittleEndian.Uint32(f.props)
				if arm64Start&3 != 0 {
					return nil, 0, fmt.Errorf("%w: ARM64 BCJ start offset %#x not aligned", ErrCorrupt, arm64Start)
				}
			default:
				return nil, 0, fmt.Errorf("%w: ARM64 BCJ properties of %d bytes", ErrCorrupt, len(f.props))
			}
		}
		dict, err := lzma2DictSize(last.props[0])
		if err != nil {
			return nil, 0, err
		}
		n, err := lzma2Len(data[p:])
		if err != nil {
			return nil, 0, err
		}
		if h.compressed >= 0 && h.compressed != int64(n) {
			return nil, 0, fmt.Errorf("%w: xz block compressed size %d, data is %d", ErrCorrupt, h.compressed, n)
		}
		lr, err := lzma.Reader2Config{DictCap: max(dict, lzma.MinDictCap)}.NewReader2(bytes.NewReader(data[p : p+n]))
		if err != nil {
			return nil, 0, corrupt(err)
		}
		start := len(out)
		room := limit - int64(start)
		var buf bytes.Buffer
		m, err := buf.ReadFrom(io.LimitReader(lr, min(room, 1<<62)+1))
		if err != nil {
			return nil, 0, corrupt(err)
		}
		if m > room {
			return nil, 0, fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit)
		}
		out = append(out, buf.Bytes()...)
		blk := out[start:]
		if h.uncompressed >= 0 && h.uncompressed != int64(len(blk)) {
			return nil, 0, fmt.Errorf("%w: xz block uncompressed size %d, decoded %d", ErrCorrupt, h.uncompressed, len(blk))
		}
		if useARM64 {
			bcjARM64Decode(blk, arm64Start)
		}
		p += n
		for p%4 != 0 {
			if p >= len(data) || data[p] != 0 {
				return nil, 0, fmt.Errorf("%w: xz block padding", ErrCorrupt)
			}
			p++
		}
		if p+cs > len(data) {
			return nil, 0, fmt.Errorf("%w: xz block check truncated", ErrCorrupt)
		}
		if err := xzVerifyCheck(checkType, blk, data[p:p+cs]); err != nil {
			return nil, 0, err
		}
		p += cs
	}
	// Index and footer: find the stream end from the footer, which must start
	// right after the index.
	end, err := XZStreamLen(data)
	if err != nil {
		return nil, 0, err
	}
	if end < p {
		return nil, 0, fmt.Errorf("%w: xz footer before index", ErrCorrupt)
	}
	return out, end, nil
}

func xzVerifyCheck(t byte, data, want []byte) error {
	var got []byte
	switch t {
	case 0:
		return nil
	case 1:
		got = binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(data))
	case 4:
		got = binary.LittleEndian.AppendUint64(nil, crc64.Checksum(data, xzCRC64Tab))
	case 10:
		s := sha256.Sum256(data)
		got = s[:]
	default:
		return fmt.Errorf("%w: xz check type %d", ErrUnsupported, t)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("%w: xz block check mismatch", ErrCorrupt)
	}
	return nil
}

// bcjARM64Decode reverses the xz ARM64 BCJ filter in place (xz's
// src/liblzma/simple/arm64.c): BL targets and ADRP immediates were made
// absolute by the encoder; pos is the stream offset of buf[0] plus the
// filter's start offset.
func bcjARM64Decode(buf []byte, pos uint32) {
	for i := 0; i+4 <= len(buf); i += 4 {
		pc := pos + uint32(i)
		ins := binary.LittleEndian.Uint32(buf[i:])
		switch {
		case ins>>26 == 0x25: // BL
			ins = 0x94000000 | ((ins - pc>>2) & 0x03ffffff)
			binary.LittleEndian.PutUint32(buf[i:], ins)
		case ins&0x9f000000 == 0x90000000: // ADRP
			src := (ins>>29)&3 | (ins>>3)&0x001ffffc
			if (src+0x00020000)&0x001c0000 != 0 {
				continue
			}
			dest := src - pc>>12
			ins &= 0x9000001f
			ins |= (dest & 3) << 29
			ins |= (dest & 0x0003fffc) << 3
			ins |= (0 - (dest & 0x00020000)) & 0x00e00000
			binary.LittleEndian.PutUint32(buf[i:], ins)
		}
	}
}
