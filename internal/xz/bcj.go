package xz

import (
	"encoding/binary"
	"fmt"
)

// The BCJ filters make branch targets absolute before compression so that
// repeated calls to one function compress alike; decoding turns them back
// into relative ones. Each converts a prefix of its buffer in place and
// says how long it is; the rest waits for more bytes (or, at the end of a
// block, stays as it is, as in the encoder).

// bcj is the decoding state of one BCJ filter of a block.
type bcj struct {
	id  uint64
	pos uint32 // stream position of the next byte to convert (plus the start offset)
	// x86 only: the recent E8/E9 history.
	prevMask uint32
	prevPos  uint32
}

// checkBCJ checks a BCJ filter's ID and properties (an optional 4-byte
// start offset).
func checkBCJ(id uint64, props []byte) error {
	switch id {
	case filterX86, filterPowerPC, filterARM, filterARMThumb, filterSPARC, filterARM64:
	case filterIA64, filterRISCV:
		return fmt.Errorf("%w: xz BCJ filter %#x (IA-64, RISC-V) not decoded", ErrUnsupported, id)
	default:
		return fmt.Errorf("%w: xz filter %#x", ErrUnsupported, id)
	}
	switch len(props) {
	case 0:
	case 4:
		if id == filterARM64 && binary.LittleEndian.Uint32(props)&3 != 0 {
			return fmt.Errorf("%w: ARM64 BCJ start offset %#x not aligned", ErrFormat, binary.LittleEndian.Uint32(props))
		}
	default:
		return fmt.Errorf("%w: BCJ filter %#x properties of %d bytes", ErrFormat, id, len(props))
	}
	return nil
}

func newBCJ(f filterSpec) *bcj {
	b := &bcj{id: f.id}
	if len(f.props) == 4 {
		b.pos = binary.LittleEndian.Uint32(f.props)
	}
	b.prevPos = b.pos - 5
	return b
}

// code converts a prefix of b in place and returns its length.
func (f *bcj) code(b []byte) int {
	var n int
	switch f.id {
	case filterX86:
		n = f.x86(b)
	case filterARM:
		n = bcjARM(b, f.pos)
	case filterARMThumb:
		n = bcjARMThumb(b, f.pos)
	case filterPowerPC:
		n = bcjPowerPC(b, f.pos)
	case filterSPARC:
		n = bcjSPARC(b, f.pos)
	case filterARM64:
		n = bcjARM64(b, f.pos)
	}
	f.pos += uint32(n)
	return n
}

// x86 undoes the conversion of E8 (CALL) and E9 (JMP) rel32 operands. An
// operand counts as converted when its top byte is 00 or FF; the bytes
// seen since the last candidate (prevMask) decide whether a candidate is
// one at all, and whether the result must be converted again.
func (f *bcj) x86(b []byte) int {
	if len(b) < 5 {
		return 0
	}
	allowed := [8]bool{true, true, true, false, true, false, false, false}
	bitNum := [8]uint32{0, 1, 2, 2, 3, 3, 3, 3}
	msb := func(c byte) bool { return c == 0 || c == 0xff }
	mask, prev := f.prevMask, f.prevPos
	if f.pos-prev > 5 {
		prev = f.pos - 5
	}
	i := 0
	for i <= len(b)-5 {
		if b[i] != 0xe8 && b[i] != 0xe9 {
			i++
			continue
		}
		here := f.pos + uint32(i)
		gap := here - prev
		prev = here
		if gap > 5 {
			mask = 0
		} else {
			for range gap {
				mask = (mask & 0x77) << 1
			}
		}
		c := b[i+4]
		if !msb(c) || !allowed[(mask>>1)&7] || mask>>1 >= 0x10 {
			i++
			mask |= 1
			if msb(c) {
				mask |= 0x10
			}
			continue
		}
		src := binary.LittleEndian.Uint32(b[i+1:])
		var dest uint32
		for {
			dest = src - (here + 5)
			if mask == 0 {
				break
			}
			k := bitNum[(mask>>1)&7]
			if !msb(byte(dest >> (24 - k*8))) {
				break
			}
			src = dest ^ (1<<(32-k*8) - 1)
		}
		b[i+1], b[i+2], b[i+3] = byte(dest), byte(dest>>8), byte(dest>>16)
		b[i+4] = 0
		if dest&(1<<24) != 0 {
			b[i+4] = 0xff
		}
		i += 5
		mask = 0
	}
	f.prevMask, f.prevPos = mask, prev
	return i
}

// bcjARM undoes the conversion of ARM BL instructions (little endian).
func bcjARM(b []byte, pos uint32) int {
	i := 0
	for ; i+4 <= len(b); i += 4 {
		if b[i+3] != 0xeb {
			continue
		}
		src := (uint32(b[i+2])<<16 | uint32(b[i+1])<<8 | uint32(b[i])) << 2
		dest := (src - (pos + uint32(i) + 8)) >> 2
		b[i], b[i+1], b[i+2] = byte(dest), byte(dest>>8), byte(dest>>16)
	}
	return i
}

// bcjARMThumb undoes the conversion of Thumb BL instruction pairs.
func bcjARMThumb(b []byte, pos uint32) int {
	i := 0
	for ; i+4 <= len(b); i += 2 {
		if b[i+1]&0xf8 != 0xf0 || b[i+3]&0xf8 != 0xf8 {
			continue
		}
		src := ((uint32(b[i+1])&7)<<19 | uint32(b[i])<<11 | (uint32(b[i+3])&7)<<8 | uint32(b[i+2])) << 1
		dest := (src - (pos + uint32(i) + 4)) >> 1
		b[i+1] = 0xf0 | byte(dest>>19)&7
		b[i] = byte(dest >> 11)
		b[i+3] = 0xf8 | byte(dest>>8)&7
		b[i+2] = byte(dest)
		i += 2
	}
	return i
}

// bcjPowerPC undoes the conversion of PowerPC "bl" instructions (big endian).
func bcjPowerPC(b []byte, pos uint32) int {
	i := 0
	for ; i+4 <= len(b); i += 4 {
		if b[i]>>2 != 0x12 || b[i+3]&3 != 1 {
			continue
		}
		src := (uint32(b[i])&3)<<24 | uint32(b[i+1])<<16 | uint32(b[i+2])<<8 | uint32(b[i+3])&^3
		dest := src - (pos + uint32(i))
		b[i] = 0x48 | byte(dest>>24)&3
		b[i+1] = byte(dest >> 16)
		b[i+2] = byte(dest >> 8)
		b[i+3] = b[i+3]&3 | byte(dest)&^3
	}
	return i
}

// bcjSPARC undoes the conversion of SPARC "call" instructions.
func bcjSPARC(b []byte, pos uint32) int {
	i := 0
	for ; i+4 <= len(b); i += 4 {
		if !(b[i] == 0x40 && b[i+1]&0xc0 == 0) && !(b[i] == 0x7f && b[i+1]&0xc0 == 0xc0) {
			continue
		}
		src := binary.BigEndian.Uint32(b[i:]) << 2
		dest := (src - (pos + uint32(i))) >> 2
		dest = ((0-(dest>>22)&1)<<22)&0x3fffffff | dest&0x3fffff | 0x40000000
		binary.BigEndian.PutUint32(b[i:], dest)
	}
	return i
}

// bcjARM64 undoes the ARM64 filter (xz 5.4+, scripts/xz_wrap.sh for
// arm64): BL targets and ADRP immediates were made absolute by the encoder.
func bcjARM64(b []byte, pos uint32) int {
	i := 0
	for ; i+4 <= len(b); i += 4 {
		pc := pos + uint32(i)
		ins := binary.LittleEndian.Uint32(b[i:])
		switch {
		case ins>>26 == 0x25: // BL
			ins = 0x94000000 | ((ins - pc>>2) & 0x03ffffff)
			binary.LittleEndian.PutUint32(b[i:], ins)
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
			binary.LittleEndian.PutUint32(b[i:], ins)
		}
	}
	return i
}
