package xz

import (
	"encoding/binary"
	"fmt"
)

// maxChunk is the most bytes one LZMA2 chunk decodes to.
const maxChunk = 2 << 20

// chunkHeader is a parsed LZMA2 chunk header.
type chunkHeader struct {
	ctl      byte
	len      int // header bytes, control byte included
	packed   int // payload bytes after the header
	unpacked int // decoded bytes
	props    byte
}

// chunkHeaderLen returns the header length for control byte ctl, 0 for an
// invalid one.
func chunkHeaderLen(ctl byte) int {
	switch {
	case ctl == 0:
		return 1
	case ctl == 1 || ctl == 2:
		return 3
	case ctl >= 0xc0:
		return 6
	case ctl >= 0x80:
		return 5
	}
	return 0
}

// parseChunkHeader parses the chunk header at b[0] (b holds at least
// chunkHeaderLen(b[0]) bytes).
func parseChunkHeader(b []byte) chunkHeader {
	h := chunkHeader{ctl: b[0], len: chunkHeaderLen(b[0])}
	switch {
	case h.ctl == 1 || h.ctl == 2:
		h.unpacked = int(binary.BigEndian.Uint16(b[1:])) + 1
		h.packed = h.unpacked
	case h.ctl >= 0x80:
		h.unpacked = int(h.ctl&0x1f)<<16 + int(binary.BigEndian.Uint16(b[1:])) + 1
		h.packed = int(binary.BigEndian.Uint16(b[3:])) + 1
		if h.ctl >= 0xc0 {
			h.props = b[5]
		}
	}
	return h
}

// lzma2 is the LZMA2 decoder of one block.
type lzma2 struct {
	s     lzState
	start int  // output position of the last dictionary reset
	reset bool // a dictionary reset was seen (the first chunk must be one)
}

// chunk decodes the chunk h with payload p into out at opos; lo is the
// lowest index of out that holds dictionary bytes. The chunk's bytes past
// the end of out are not decoded (decodedStart wants only a prefix): the
// decoders give out room for h.unpacked bytes.
func (z *lzma2) chunk(h chunkHeader, p, out []byte, opos, lo int) error {
	if h.ctl == 1 || (h.ctl >= 0x80 && (h.ctl>>5)&3 == 3) {
		z.start, z.reset = opos, true
	}
	if !z.reset {
		return fmt.Errorf("%w: the first LZMA2 chunk of a block does not reset the dictionary", ErrFormat)
	}
	lo = max(lo, z.start)
	end := min(opos+h.unpacked, len(out))
	if h.ctl < 0x80 {
		copy(out[opos:end], p)
		z.s.pending = 0
		return nil
	}
	s := &z.s
	mode := (h.ctl >> 5) & 3
	if mode >= 2 {
		pr := h.props
		if pr >= 9*5*5 {
			return fmt.Errorf("%w: LZMA properties %#x", ErrFormat, pr)
		}
		s.lc, s.lp, s.pb = uint(pr%9), uint(pr/9%5), uint(pr/45)
		if s.lc+s.lp > 4 {
			return fmt.Errorf("%w: LZMA properties lc=%d lp=%d", ErrFormat, s.lc, s.lp)
		}
		s.propsKnown = true
	}
	if !s.propsKnown {
		return fmt.Errorf("%w: LZMA chunk before any properties", ErrFormat)
	}
	if mode >= 1 {
		s.reset()
	}
	_, err := s.chunk(p, out, opos, end, z.start, lo)
	return err
}
