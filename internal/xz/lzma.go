package xz

// The LZMA decoder of LZMA2 chunks. It writes into one linear buffer that
// is also its dictionary: the whole output for Decode and Buffer (matches
// are plain in-slice copies), a sliding window for Reader.

import (
	"encoding/binary"
	"fmt"
	"math/bits"
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

// stateAfterLit is the state after a literal in each state.
var stateAfterLit = [lzNumStates]uint8{0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 4, 5}

type lenDec struct {
	choice, choice2 uint16
	// The trees, in one array indexed without bounds checks: the 3-bit
	// low trees at 16*posState, the mid ones at 256+16*posState, the
	// 8-bit high tree at 512. Each has twice the room it uses: its
	// decoding loop loads both children of a node before the bit is
	// known (see rcBitNext), also past the last level.
	tree [1024]uint16
}

func (l *lenDec) reset() {
	l.choice, l.choice2 = lzProbInit, lzProbInit
	fill(l.tree[:])
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
	posSlot    [4][128]uint16                              // 6-bit trees, twice as wide (see lenDec)
	posSpecial [lzFullDist - lzEndPosModel + 1 + 32]uint16 // + the look-ahead (see lenDec) of slot 13's 5-bit tree
	align      [2 << lzAlignBits]uint16                    // twice as wide (see lenDec)
	literal    []uint16
	matchLen   lenDec
	repLen     lenDec
	pending    int // bytes of a match still to copy (a match may span chunks)
	in         *[inBufSize]byte
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
	n := 0x300<<(s.lc+s.lp) + 0x100 // the last coder's look-ahead (see matched)
	if cap(s.literal) < n {
		s.literal = make([]uint16, n)
	}
	s.literal = s.literal[:n]
	fill(s.literal)
	s.matchLen.reset()
	s.repLen.reset()
	s.pending = 0
}

// inBufSize is the size of the buffer holding one chunk's compressed
// bytes (at most 64 KiB in LZMA2) followed by inPad zero bytes: the range
// decoder indexes it masked, without a bounds check, and reads zeros past
// the end of the chunk (the decoder then fails the chunk).
const (
	inBufSize = 1 << 17
	inPad     = 64 // more than the bytes one symbol can read (at most 48)
)

// rcNormalize shifts in the next input byte when the range got small.
func rcNormalize(rng, code uint32, ip int, in *[inBufSize]byte) (uint32, uint32, int) {
	if rng < 1<<24 {
		rng <<= 8
		code = code<<8 | uint32(in[ip&(inBufSize-1)])
		ip++
	}
	return rng, code, ip
}

// rcBitNext decodes one bit with probability prob (of a 0 bit, in
// 1/2048): it returns the new range, code and probability, the bit, and
// the probability of the next bit, q0 after a 0 bit and q1 after a 1 bit
// (the bit-tree loops load both before the bit is known, so the next bit
// does not wait for a load). Which way a data bit goes cannot be
// predicted, so a branch on it would mispredict about half the time: the
// selections compile to conditional moves, and the probability update is
// one formula for both bits (see rcProb).
func rcBitNext(rng, code, prob, q0, q1 uint32) (uint32, uint32, uint32, uint32, uint32) {
	bound := (rng >> 11) * prob
	r, c, b := rng-bound, code-bound, uint32(1)
	if code < bound {
		r, c, b, q1 = bound, code, 0, q0
	}
	return r, c, rcProb(prob, b-1), b, q1
}

// rcProb is the updated probability after a 0 bit (mask all ones):
// prob + (2048-prob)>>5, or after a 1 bit (mask 0): prob - prob>>5. For a
// 0 bit, (prob-2017)>>5, an arithmetic shift, is -ceil((2017-prob)/32),
// that is -floor((2048-prob)/32).
func rcProb(prob, mask uint32) uint32 {
	return uint32(int32(prob) - (int32(prob)-int32(2017&mask))>>5)
}

// rc is the range decoder's state. The decoding loops below take and
// return it by value, so that it stays in registers (a function with a
// loop of its own keeps few values live; the big symbol loop of chunk
// would spill them).
type rc struct {
	rng, code uint32
	ip        int
}

// literal decodes a literal byte with the probabilities lit (0x300 of
// them; the matched loop loads ahead up to 0x3ff, see lzState.literal).
func (r rc) literal(lit *[0x400]uint16, in *[inBufSize]byte) (rc, uint32) {
	rng, code, ip := r.rng, r.code, r.ip
	sym := uint32(1)
	prob := uint32(lit[1])
	var p, b uint32
	for sym < 0x100 {
		rng, code, ip = rcNormalize(rng, code, ip, in)
		rng, code, p, b, prob = rcBitNext(rng, code, prob, uint32(lit[2*sym&0x3ff]), uint32(lit[(2*sym+1)&0x3ff]))
		lit[sym&0x3ff] = uint16(p)
		sym = sym<<1 | b
	}
	return rc{rng, code, ip}, sym
}

// matched decodes a literal after a match, knowing the byte match at
// rep0: while the decoded bits equal match's, they use the probabilities
// at 0x100 + 0x100*(match's bit) + the tree node; from the first
// difference on, the plain ones (literal's loop). As in the trees, the
// probabilities of both possible next bits are loaded before the bit is
// known (while matching, the next match bit is known).
func (r rc) matched(lit *[0x400]uint16, match uint32, in *[inBufSize]byte) (rc, uint32) {
	rng, code, ip := r.rng, r.code, r.ip
	sym := uint32(1)
	match <<= 1
	prob := uint32(lit[(0x100+match&0x100+1)&0x3ff])
	var p, b uint32
	for sym < 0x100 {
		mbit := match & 0x100
		match <<= 1
		next := 0x100 + match&0x100 + 2*sym // the next node while still matching
		rng, code, ip = rcNormalize(rng, code, ip, in)
		rng, code, p, b, prob = rcBitNext(rng, code, prob, uint32(lit[next&0x3ff]), uint32(lit[(next+1)&0x3ff]))
		lit[(0x100+mbit+sym)&0x3ff] = uint16(p)
		sym = sym<<1 | b
		if b != mbit>>8 {
			// The first difference: plain bits from here on.
			prob = uint32(lit[sym&0x3ff])
			for sym < 0x100 {
				rng, code, ip = rcNormalize(rng, code, ip, in)
				rng, code, p, b, prob = rcBitNext(rng, code, prob, uint32(lit[2*sym&0x3ff]), uint32(lit[(2*sym+1)&0x3ff]))
				lit[sym&0x3ff] = uint16(p)
				sym = sym<<1 | b
			}
			break
		}
	}
	return rc{rng, code, ip}, sym
}

// length decodes a match length: choice bits, then a 3- or 8-bit tree.
func (r rc) length(ld *lenDec, posState uint32, in *[inBufSize]byte) (rc, int) {
	rng, code, ip := r.rng, r.code, r.ip
	var p, b uint32
	// base+m is the node m of the tree; top is 1<<bits; n the length
	// of the 3-bit trees' symbol 0.
	base, top, n := 16*(posState&(lzPosStatesMx-1)), uint32(1<<3), 2
	// The choice bits pick the code path: decoded with a branch (see
	// isMatch in chunk).
	rng, code, ip = rcNormalize(rng, code, ip, in)
	prob := uint32(ld.choice)
	bound := (rng >> 11) * prob
	if code < bound {
		rng = bound
		ld.choice = uint16(prob + (2048-prob)>>5)
	} else {
		rng -= bound
		code -= bound
		ld.choice = uint16(prob - prob>>5)
		rng, code, ip = rcNormalize(rng, code, ip, in)
		prob = uint32(ld.choice2)
		bound = (rng >> 11) * prob
		if code < bound {
			rng = bound
			ld.choice2 = uint16(prob + (2048-prob)>>5)
			base, n = base+256, 2+8
		} else {
			rng -= bound
			code -= bound
			ld.choice2 = uint16(prob - prob>>5)
			base, top = 512, 1<<8
		}
	}
	// Two loops with constant bounds and the tree sliced to its own
	// array: fewer live values, no spill of rng and code.
	t := (*[512]uint16)(ld.tree[base : base+512])
	m := uint32(1)
	prob = uint32(t[1])
	if top == 1<<3 {
		for m < 1<<3 {
			rng, code, ip = rcNormalize(rng, code, ip, in)
			rng, code, p, b, prob = rcBitNext(rng, code, prob, uint32(t[2*m&511]), uint32(t[(2*m+1)&511]))
			t[m&511] = uint16(p)
			m = m<<1 | b
		}
		return rc{rng, code, ip}, n + int(m-1<<3)
	}
	for m < 1<<8 {
		rng, code, ip = rcNormalize(rng, code, ip, in)
		rng, code, p, b, prob = rcBitNext(rng, code, prob, uint32(t[2*m&511]), uint32(t[(2*m+1)&511]))
		t[m&511] = uint16(p)
		m = m<<1 | b
	}
	return rc{rng, code, ip}, 2 + 16 + int(m-1<<8)
}

// distance decodes the distance of a new match of length n: a 6-bit
// slot, then direct bits, reverse-coded with probabilities for small
// distances, plain plus a 4-bit reverse-coded tail for large ones.
func (r rc) distance(s *lzState, n int, in *[inBufSize]byte) (rc, uint32) {
	rng, code, ip := r.rng, r.code, r.ip
	var p, b uint32
	slots := &s.posSlot[min(n-2, 3)]
	m := uint32(1)
	prob := uint32(slots[1])
	for m < 64 {
		rng, code, ip = rcNormalize(rng, code, ip, in)
		rng, code, p, b, prob = rcBitNext(rng, code, prob, uint32(slots[2*m&127]), uint32(slots[(2*m+1)&127]))
		slots[m&127] = uint16(p)
		m = m<<1 | b
	}
	slot := m - 64
	if slot < 4 {
		return rc{rng, code, ip}, slot
	}
	direct := uint(slot>>1) - 1
	dist := (2 | slot&1) << direct
	// The reverse-coded bits: the tree is walked as usual, the symbol
	// is its path read backwards. Each loop needs only m and a constant
	// or one bound (fewer live values: no spill of rng and code).
	m = 1
	if slot < lzEndPosModel {
		rev := (*[64]uint16)(s.posSpecial[dist-slot : dist-slot+64]) // with the look-ahead of a 5-bit tree
		top := uint32(1) << direct
		prob = uint32(rev[1])
		for m < top {
			rng, code, ip = rcNormalize(rng, code, ip, in)
			rng, code, p, b, prob = rcBitNext(rng, code, prob, uint32(rev[2*m&63]), uint32(rev[(2*m+1)&63]))
			rev[m&63] = uint16(p)
			m = m<<1 | b
		}
		return rc{rng, code, ip}, dist + bits.Reverse32(m-top)>>(32-direct)
	}
	v := uint32(0)
	for range direct - lzAlignBits {
		rng, code, ip = rcNormalize(rng, code, ip, in)
		rng >>= 1
		c, t := code-rng, uint32(0)
		if code >= rng {
			code, t = c, 1 // CMOV and SETcc: two cycles a bit
		}
		v = v<<1 | t
	}
	dist += v << lzAlignBits
	al := &s.align
	prob = uint32(al[1])
	for m < 1<<lzAlignBits {
		rng, code, ip = rcNormalize(rng, code, ip, in)
		rng, code, p, b, prob = rcBitNext(rng, code, prob, uint32(al[2*m&31]), uint32(al[(2*m+1)&31]))
		al[m&31] = uint16(p)
		m = m<<1 | b
	}
	return rc{rng, code, ip}, dist + bits.Reverse32(m-1<<lzAlignBits)>>(32-lzAlignBits)
}

// chunk decodes one LZMA chunk of compressed bytes src into out[opos:limit].
// start is the output position of the last dictionary reset (it may lie
// below 0 once a streaming window slid past it: only its distance counts,
// for the position bits) and lo the lowest index a match may copy from.
//
// The range decoder lives in the locals rng, code and ip (no closure:
// captured variables live in memory). The bits that pick the code path
// are decoded inline with a branch; literals, lengths and distances by
// the methods of rc, whose loops keep it in registers and decode each
// bit branch-free (rcNormalize and rcBitNext, inlined).
func (s *lzState) chunk(src []byte, out []byte, opos, limit, start, lo int) (int, error) {
	if len(src) < 5 || src[0] != 0 {
		return 0, fmt.Errorf("%w: chunk does not start a range coder", errLZMA)
	}
	if len(src) > inBufSize-inPad {
		return 0, fmt.Errorf("%w: chunk of %d compressed bytes", errLZMA, len(src))
	}
	if s.in == nil {
		s.in = new([inBufSize]byte)
	}
	in := s.in
	end := copy(in[:], src)
	clear(in[end : end+inPad])
	rng := uint32(0xffffffff)
	code := binary.BigEndian.Uint32(src[1:])
	ip := 5
	out = out[:limit]
	pbMask := uint32(1)<<s.pb - 1
	lpMask := uint32(1)<<s.lp - 1
	lc := s.lc
	state := s.state
	rep := s.rep
	// A match left over from the previous chunk.
	if s.pending > 0 && opos-rep[0]-1 < lo {
		return 0, fmt.Errorf("%w at output offset %d", errLZMA, opos)
	}
	for s.pending > 0 && opos < len(out) {
		out[opos] = out[opos-rep[0]-1]
		opos++
		s.pending--
	}
	for opos < len(out) {
		if ip > end {
			break // read past the chunk: corrupt (reported below)
		}
		posState := uint32(opos-start) & pbMask
		rng, code, ip = rcNormalize(rng, code, ip, in)
		pi := &s.isMatch[state<<4+int(posState)]
		// A bit that picks the code path (isMatch, the isRep bits, the
		// length choices) is decoded with a branch, not rcBitNext: the
		// branch is needed anyway, and a predicted one lets the next
		// bits start without waiting for the compare (measured 1-2%
		// faster each).
		prob := uint32(*pi)
		bound := (rng >> 11) * prob
		if code < bound {
			rng = bound
			*pi = uint16(prob + (2048-prob)>>5)
			prev := uint32(0)
			if opos > lo {
				prev = uint32(out[opos-1])
			}
			li := 0x300 * int((((uint32(opos-start))&lpMask)<<lc)+(prev>>(8-lc)))
			lit := (*[0x400]uint16)(s.literal[li : li+0x400])
			var sym uint32
			r := rc{rng, code, ip}
			if state >= 7 {
				mpos := opos - rep[0] - 1
				if mpos < lo {
					return 0, fmt.Errorf("%w at output offset %d", errLZMA, opos)
				}
				r, sym = r.matched(lit, uint32(out[mpos]), in)
			} else {
				r, sym = r.literal(lit, in)
			}
			rng, code, ip = r.rng, r.code, r.ip
			out[opos] = byte(sym)
			opos++
			state = int(stateAfterLit[state]) // a load, not two branches
			continue
		}
		rng -= bound
		code -= bound
		*pi = uint16(prob - prob>>5)
		var ld *lenDec
		rng, code, ip = rcNormalize(rng, code, ip, in)
		prob = uint32(s.isRep[state])
		bound = (rng >> 11) * prob
		if code < bound { // a branch, as for isMatch
			rng = bound
			s.isRep[state] = uint16(prob + (2048-prob)>>5)
			rep[3], rep[2], rep[1] = rep[2], rep[1], rep[0]
			ld = &s.matchLen
			if state < 7 {
				state = 7
			} else {
				state = 10
			}
		} else {
			rng -= bound
			code -= bound
			s.isRep[state] = uint16(prob - prob>>5)
			rng, code, ip = rcNormalize(rng, code, ip, in)
			prob = uint32(s.isRepG0[state])
			bound = (rng >> 11) * prob
			if code < bound {
				rng = bound
				s.isRepG0[state] = uint16(prob + (2048-prob)>>5)
				pl := &s.isRep0Long[state<<4+int(posState)]
				rng, code, ip = rcNormalize(rng, code, ip, in)
				prob = uint32(*pl)
				bound = (rng >> 11) * prob
				if code < bound {
					rng = bound
					*pl = uint16(prob + (2048-prob)>>5)
					// A short rep: one byte from rep0.
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
				rng -= bound
				code -= bound
				*pl = uint16(prob - prob>>5)
			} else {
				rng -= bound
				code -= bound
				s.isRepG0[state] = uint16(prob - prob>>5)
				var dist int
				rng, code, ip = rcNormalize(rng, code, ip, in)
				prob = uint32(s.isRepG1[state])
				bound = (rng >> 11) * prob
				if code < bound {
					rng = bound
					s.isRepG1[state] = uint16(prob + (2048-prob)>>5)
					dist = rep[1]
				} else {
					rng -= bound
					code -= bound
					s.isRepG1[state] = uint16(prob - prob>>5)
					rng, code, ip = rcNormalize(rng, code, ip, in)
					prob = uint32(s.isRepG2[state])
					bound = (rng >> 11) * prob
					if code < bound {
						rng = bound
						s.isRepG2[state] = uint16(prob + (2048-prob)>>5)
						dist = rep[2]
					} else {
						rng -= bound
						code -= bound
						s.isRepG2[state] = uint16(prob - prob>>5)
						dist = rep[3]
						rep[3] = rep[2]
					}
					rep[2] = rep[1]
				}
				rep[1] = rep[0]
				rep[0] = dist
			}
			ld = &s.repLen
			if state < 7 {
				state = 8
			} else {
				state = 11
			}
		}
		r, n := rc{rng, code, ip}.length(ld, posState, in)
		if ld == &s.matchLen {
			var dist uint32
			r, dist = r.distance(s, n, in)
			rng, code, ip = r.rng, r.code, r.ip
			if dist == 0xffffffff {
				return 0, fmt.Errorf("%w at output offset %d", errLZMA, opos) // end marker: not used in LZMA2
			}
			rep[0] = int(dist)
		} else {
			rng, code, ip = r.rng, r.code, r.ip
		}
		from := opos - rep[0] - 1
		if from < lo {
			return 0, fmt.Errorf("%w at output offset %d", errLZMA, opos)
		}
		k := n
		if k > len(out)-opos {
			k = len(out) - opos
			s.pending = n - k
		}
		switch dist := rep[0] + 1; {
		case k <= 32 && dist >= 8 && opos+32 <= len(out):
			// 90% of the matches: four 8-byte moves whatever the
			// length, no loop and no branch on it (a length of at most
			// 16 or more would be a coin toss for the predictor; see
			// below for why each load reads final bytes).
			d, f := out[opos:opos+32], out[from:from+32]
			binary.LittleEndian.PutUint64(d, binary.LittleEndian.Uint64(f))
			binary.LittleEndian.PutUint64(d[8:], binary.LittleEndian.Uint64(f[8:]))
			binary.LittleEndian.PutUint64(d[16:], binary.LittleEndian.Uint64(f[16:]))
			binary.LittleEndian.PutUint64(d[24:], binary.LittleEndian.Uint64(f[24:]))
		case dist >= 8 && opos+k+8 <= len(out):
			// Eight bytes at a time; each load reads bytes already
			// final (dist >= 8), and the last store may run up to 7
			// bytes past the match, which later symbols overwrite
			// (out[:limit] is this chunk's: nothing else reads them yet).
			if k > 64 && dist >= k {
				copy(out[opos:opos+k], out[from:from+k])
				break
			}
			for i := 0; i < k; i += 8 {
				binary.LittleEndian.PutUint64(out[opos+i:], binary.LittleEndian.Uint64(out[from+i:]))
			}
		default:
			// Overlapping by less than 8 bytes (the pattern repeats, as
			// LZ77 means) or at the end of the chunk: byte by byte.
			dst, src := out[opos:opos+k], out[from:from+k]
			for i := range dst {
				dst[i] = src[i]
			}
		}
		opos += k
	}
	s.state, s.rep = state, rep
	if ip > end {
		return 0, fmt.Errorf("%w at output offset %d", errLZMA, opos)
	}
	return opos, nil
}
