package xz

// The LZMA decoder of LZMA2 chunks. It writes into one linear buffer that
// is also its dictionary: the whole output for Decode and Buffer (matches
// are plain in-slice copies), a sliding window for Reader.

import (
	"encoding/binary"
	"fmt"
)

var errLZMA = fmt.Errorf("%w: corrupt LZMA2 data", ErrFormat)

// LZMA constants.
const (
	lzNumStates   = 12
	lzPosStatesMx = 16
	lzEndPosModel = 14
	lzFullDist    = 128
	lzAlignBits   = 4
	lzProbInit    = 1024
)

type lenDec struct {
	choice, choice2 uint16
	low, mid        [lzPosStatesMx][8]uint16
	high            [256]uint16
}

func (l *lenDec) reset() {
	l.choice, l.choice2 = lzProbInit, lzProbInit
	for i := range l.low {
		for j := range l.low[i] {
			l.low[i][j], l.mid[i][j] = lzProbInit, lzProbInit
		}
	}
	for i := range l.high {
		l.high[i] = lzProbInit
	}
}

type lzState struct {
	lc, lp, pb uint
	state      int
	rep        [4]int
	isMatch    [lzNumStates << 4]uint16
	isRep      [lzNumStates]uint16
	isRepG0    [lzNumStates]uint16
	isRepG1    [lzNumStates]uint16
	isRepG2    [lzNumStates]uint16
	isRep0Long [lzNumStates << 4]uint16
	posSlot    [4][64]uint16
	posSpecial [lzFullDist - lzEndPosModel + 1]uint16
	align      [1 << lzAlignBits]uint16
	literal    []uint16
	matchLen   lenDec
	repLen     lenDec
	pending    int // bytes of a match still to copy (a match may span chunks)
	propsKnown bool
}

func fill(p []uint16) {
	for i := range p {
		p[i] = lzProbInit
	}
}

func (s *lzState) reset() {
	s.state = 0
	s.rep = [4]int{}
	fill(s.isMatch[:])
	fill(s.isRep[:])
	fill(s.isRepG0[:])
	fill(s.isRepG1[:])
	fill(s.isRepG2[:])
	fill(s.isRep0Long[:])
	for i := range s.posSlot {
		fill(s.posSlot[i][:])
	}
	fill(s.posSpecial[:])
	fill(s.align[:])
	n := 0x300 << (s.lc + s.lp)
	if cap(s.literal) < n {
		s.literal = make([]uint16, n)
	}
	s.literal = s.literal[:n]
	fill(s.literal)
	s.matchLen.reset()
	s.repLen.reset()
	s.pending = 0
}

// chunk decodes one LZMA chunk of compressed bytes src into out[opos:limit].
// start is the output position of the last dictionary reset (it may lie
// below 0 once a streaming window slid past it: only its distance counts,
// for the position bits) and lo the lowest index a match may copy from.
func (s *lzState) chunk(src []byte, out []byte, opos, limit, start, lo int) (int, error) {
	if len(src) < 5 || src[0] != 0 {
		return 0, fmt.Errorf("%w: chunk does not start a range coder", errLZMA)
	}
	rng := uint32(0xffffffff)
	code := binary.BigEndian.Uint32(src[1:])
	ip := 5
	// bit decodes one bit with probability *p.
	// normalize shifts in the next input byte when the range gets small
	// (past the end of src it shifts in zeros; the caller then fails).
	normalize := func() {
		if rng < 1<<24 {
			rng <<= 8
			var b byte
			if ip < len(src) {
				b = src[ip]
			}
			ip++
			code = code<<8 | uint32(b)
		}
	}
	bit := func(p *uint16) uint32 {
		normalize()
		// Branch-free: which way a bit goes is data, so a branch on it
		// mispredicts about half the time. m is all ones for a 0 bit.
		prob := uint32(*p)
		bound := (rng >> 11) * prob
		m := uint32((uint64(code) - uint64(bound)) >> 63) // 1 when code < bound
		mask := -m
		rng = (bound & mask) | ((rng - bound) &^ mask)
		code -= bound &^ mask
		// 0 bit: prob += (2048-prob)>>5; 1 bit: prob -= prob>>5.
		*p = uint16(prob + ((((2048 - prob) >> 5) + (prob >> 5)) & mask) - (prob >> 5))
		return m ^ 1
	}
	tree := func(probs []uint16, bits uint) uint32 {
		m := uint32(1)
		for range bits {
			m = m<<1 | bit(&probs[m])
		}
		return m - (1 << bits)
	}
	reverse := func(probs []uint16, bits uint) uint32 {
		m, sym := uint32(1), uint32(0)
		for i := range bits {
			b := bit(&probs[m])
			m = m<<1 | b
			sym |= b << i
		}
		return sym
	}
	decodeLen := func(l *lenDec, posState uint32) int {
		if bit(&l.choice) == 0 {
			return int(tree(l.low[posState][:], 3)) + 2
		}
		if bit(&l.choice2) == 0 {
			return int(tree(l.mid[posState][:], 3)) + 2 + 8
		}
		return int(tree(l.high[:], 8)) + 2 + 16
	}
	pbMask := uint32(1)<<s.pb - 1
	lpMask := uint32(1)<<s.lp - 1
	state := s.state
	rep := s.rep
	// A match left over from the previous chunk.
	if s.pending > 0 && opos-rep[0]-1 < lo {
		return 0, fmt.Errorf("%w at output offset %d", errLZMA, opos)
	}
	for s.pending > 0 && opos < limit {
		out[opos] = out[opos-rep[0]-1]
		opos++
		s.pending--
	}
	for opos < limit {
		posState := uint32(opos-start) & pbMask
		if bit(&s.isMatch[state<<4+int(posState)]) == 0 {
			prev := uint32(0)
			if opos > lo {
				prev = uint32(out[opos-1])
			}
			lit := s.literal[0x300*((((uint32(opos-start))&lpMask)<<s.lc)+(prev>>(8-s.lc))):]
			sym := uint32(1)
			if state >= 7 {
				mpos := opos - rep[0] - 1
				if mpos < lo {
					return 0, fmt.Errorf("%w at output offset %d", errLZMA, opos)
				}
				match := uint32(out[mpos])
				for sym < 0x100 {
					mb := (match >> 7) & 1
					match <<= 1
					b := bit(&lit[((1+mb)<<8)+sym])
					sym = sym<<1 | b
					if mb != b {
						break
					}
				}
			}
			for sym < 0x100 {
				sym = sym<<1 | bit(&lit[sym])
			}
			out[opos] = byte(sym)
			opos++
			switch {
			case state < 4:
				state = 0
			case state < 10:
				state -= 3
			default:
				state -= 6
			}
			continue
		}
		var n int
		if bit(&s.isRep[state]) == 0 {
			rep[3], rep[2], rep[1] = rep[2], rep[1], rep[0]
			n = decodeLen(&s.matchLen, posState)
			if state < 7 {
				state = 7
			} else {
				state = 10
			}
			ls := n - 2
			if ls > 3 {
				ls = 3
			}
			slot := tree(s.posSlot[ls][:], 6)
			var dist uint32
			if slot < 4 {
				dist = slot
			} else {
				direct := uint(slot>>1) - 1
				dist = (2 | slot&1) << direct
				if slot < lzEndPosModel {
					dist += reverse(s.posSpecial[dist-slot:], direct)
				} else {
					dist = 2 | slot&1
					for range direct - lzAlignBits {
						normalize()
						rng >>= 1
						var t uint32
						if code >= rng {
							code -= rng
							t = 1
						}
						dist = dist<<1 | t
					}
					dist <<= lzAlignBits
					dist += reverse(s.align[:], lzAlignBits)
				}
			}
			if dist == 0xffffffff {
				return 0, fmt.Errorf("%w at output offset %d", errLZMA, opos) // end marker: not used in LZMA2
			}
			rep[0] = int(dist)
		} else {
			if bit(&s.isRepG0[state]) == 0 {
				if bit(&s.isRep0Long[state<<4+int(posState)]) == 0 {
					if state < 7 {
						state = 9
					} else {
						state = 11
					}
					mpos := opos - rep[0] - 1
					if mpos < lo {
						return 0, fmt.Errorf("%w at output offset %d", errLZMA, opos)
					}
					out[opos] = out[mpos]
					opos++
					continue
				}
			} else {
				var dist int
				if bit(&s.isRepG1[state]) == 0 {
					dist = rep[1]
				} else {
					if bit(&s.isRepG2[state]) == 0 {
						dist = rep[2]
					} else {
						dist = rep[3]
						rep[3] = rep[2]
					}
					rep[2] = rep[1]
				}
				rep[1] = rep[0]
				rep[0] = dist
			}
			n = decodeLen(&s.repLen, posState)
			if state < 7 {
				state = 8
			} else {
				state = 11
			}
		}
		from := opos - rep[0] - 1
		if from < lo {
			return 0, fmt.Errorf("%w at output offset %d", errLZMA, opos)
		}
		k := n
		if opos+k > limit {
			k = limit - opos
			s.pending = n - k
		}
		if k > 24 && rep[0]+1 >= k {
			copy(out[opos:opos+k], out[from:from+k])
		} else {
			// Short or overlapping: a forward byte loop (overlap repeats
			// the pattern, as LZ77 means) beats a memmove call.
			dst, src := out[opos:opos+k], out[from:from+k]
			for i := range dst {
				dst[i] = src[i]
			}
		}
		opos += k
	}
	s.state, s.rep = state, rep
	if ip > len(src) {
		return 0, fmt.Errorf("%w at output offset %d", errLZMA, opos)
	}
	return opos, nil
}
