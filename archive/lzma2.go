package archive

// A fast path for the xz streams kheaders archives are: one stream, LZMA2
// as the only filter, sizes recorded in the index. The whole output is
// decoded into one buffer sized from the index, so the LZMA dictionary is
// the output itself (matches are plain in-slice copies) and the tar parser
// reads decoded bytes as a goroutine produces them. Anything else (BCJ
// filters, several streams, odd checks) goes to internal/codec.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/crc64"
	"io"
	"sync"
	"sync/atomic"

	"github.com/kheaders/kheaders/internal/xzscan"
)

var errLZMA = errors.New("corrupt LZMA2 data")

var crc64Table = crc64.MakeTable(crc64.ECMA)

// maxFastOut caps the one output buffer of the fast path: a stream whose
// index declares more decoded bytes goes to the streaming decoder of
// internal/codec (a dictionary of at most 256 MiB), so the declared size is
// never allocated. Real kheaders archives decode to about 50 MB at most.
const maxFastOut = 256 << 20

// fastXZ returns a reader of the decoded stream when data is a single xz
// stream this decoder handles, or nil. A stream whose index declares more
// than limit decoded bytes is refused with ErrLimit before anything is
// allocated for it.
func fastXZ(data []byte, limit int64) (*xzDec, error) {
	s, err := xzscan.Parse(data)
	if err != nil || s.Len != len(data) || s.Uncompressed <= 0 {
		return nil, nil
	}
	if s.Uncompressed > limit {
		return nil, fmt.Errorf("%w: the xz index declares %d bytes of tar, more than the %d-byte cap (file data cap plus headers; --max-bytes raises it)", ErrLimit, s.Uncompressed, limit)
	}
	if s.Uncompressed > maxFastOut {
		return nil, nil
	}
	if s.Check != xzscan.CheckCRC64 && s.Check != xzscan.CheckCRC32 && s.Check != xzscan.CheckNone {
		return nil, nil
	}
	// The first block header must be LZMA2 alone (the decoder checks the
	// others as it reaches them).
	hs := int(data[12])*4 + 4
	if data[12] == 0 || 12+hs > len(data) || !lzma2Only(data[12:12+hs]) {
		return nil, nil
	}
	d := &xzDec{in: data, out: make([]byte, s.Uncompressed), check: s.Check, blocks: s.Blocks}
	prefault(d.out)
	d.cond = sync.NewCond(&d.mu)
	go d.run()
	return d, nil
}

// lzma2Only parses a block header and reports whether its only filter is
// LZMA2.
func lzma2Only(h []byte) bool {
	if crc32.ChecksumIEEE(h[:len(h)-4]) != binary.LittleEndian.Uint32(h[len(h)-4:]) {
		return false
	}
	flags := h[1]
	if flags&0x3c != 0 || flags&3 != 0 {
		return false // reserved bits, or more than one filter
	}
	p := 2
	skip := func() bool {
		_, n := binary.Uvarint(h[p:])
		p += n
		return n > 0
	}
	if flags&0x40 != 0 && !skip() {
		return false
	}
	if flags&0x80 != 0 && !skip() {
		return false
	}
	id, n := binary.Uvarint(h[p:])
	if n <= 0 || id != 0x21 {
		return false
	}
	p += n
	sz, n := binary.Uvarint(h[p:])
	return n > 0 && sz == 1
}

type xzDec struct {
	in     []byte
	out    []byte
	check  int
	blocks int

	mu    sync.Mutex
	cond  *sync.Cond
	avail int   // decoded bytes published
	err   error // set when decoding and checking ended
	done  bool
	// The block checks (CRC64/CRC32) run in their own goroutine, which
	// follows avail, so checking overlaps decoding instead of following
	// it: decode records each finished block here.
	checks  []blockCheck
	decoded bool // decode returned (no more checks will come)
	rpos    int
	// progress, when set, gets the compressed-size equivalent of the bytes
	// read so far (total * read / decoded size).
	progress func(done, total int64)
	total    int64
	reported int64
	quit     atomic.Bool // set by stop: the reader is gone
}

// stop makes the decoding goroutine give up at the next chunk.
func (d *xzDec) stop() { d.quit.Store(true) }

var errStopped = errors.New("decoding stopped")

// blockCheck is a decoded block's end in the output and the check value
// its stream recorded after it.
type blockCheck struct {
	end  int
	want uint64
}

// publish makes n decoded bytes available to the reader and the checker.
func (d *xzDec) publish(n int) {
	d.mu.Lock()
	d.avail = n
	d.cond.Broadcast()
	d.mu.Unlock()
}

// finish ends the stream for the reader: io.EOF when err is nil.
func (d *xzDec) finish(err error) {
	d.mu.Lock()
	d.err, d.done = err, true
	d.cond.Broadcast()
	d.mu.Unlock()
}

// verify computes the block checks over the decoded bytes as they are
// published and compares each with the value decode recorded.
func (d *xzDec) verify() error {
	var update func(uint64, []byte) uint64
	name := "CRC64"
	switch d.check {
	case xzscan.CheckCRC64:
		update = func(c uint64, b []byte) uint64 { return crc64.Update(c, crc64Table, b) }
	case xzscan.CheckCRC32:
		update = func(c uint64, b []byte) uint64 { return uint64(crc32.Update(uint32(c), crc32.IEEETable, b)) }
		name = "CRC32"
	default:
		return nil
	}
	var sum uint64
	pos := 0
	for next := 0; ; {
		d.mu.Lock()
		for d.avail <= pos && len(d.checks) <= next && !d.decoded {
			d.cond.Wait()
		}
		end, decoded := d.avail, d.decoded
		var bc blockCheck
		ended := next < len(d.checks) // block next is decoded: check up to its end
		if ended {
			bc = d.checks[next]
			end = bc.end
		}
		d.mu.Unlock()
		sum = update(sum, d.out[pos:end])
		pos = end
		switch {
		case ended:
			if sum != bc.want {
				return fmt.Errorf("xz block %d: %s mismatch", next+1, name)
			}
			sum = 0
			next++
		case decoded:
			return nil
		}
	}
}

func (d *xzDec) Read(p []byte) (int, error) {
	d.mu.Lock()
	for d.rpos >= d.avail && !d.done {
		d.cond.Wait()
	}
	avail, err, done := d.avail, d.err, d.done
	d.mu.Unlock()
	if d.rpos < avail {
		n := copy(p, d.out[d.rpos:avail])
		d.rpos += n
		if d.progress != nil && int64(d.rpos)-d.reported >= 1<<20 {
			d.reported = int64(d.rpos)
			d.progress(d.total*int64(d.rpos)/int64(len(d.out)), d.total)
		}
		return n, nil
	}
	if err != nil {
		return 0, err
	}
	if done {
		return 0, io.EOF
	}
	return 0, nil
}

// wait blocks until n bytes are decoded (or decoding ended) and returns
// how many are available and the decoding error.
func (d *xzDec) wait(n int) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.avail < n && !d.done {
		d.cond.Wait()
	}
	return d.avail, d.err
}

// Peek returns the next n decoded bytes without consuming them; they stay
// valid (the buffer is never rewritten).
func (d *xzDec) Peek(n int) ([]byte, error) {
	avail, err := d.wait(d.rpos + n)
	if avail < d.rpos+n {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return d.out[d.rpos : d.rpos+n : d.rpos+n], nil
}

// Seek supports io.SeekCurrent with offset >= 0 (what archive/tar uses to
// skip file data), waiting for the bytes to be decoded.
func (d *xzDec) Seek(offset int64, whence int) (int64, error) {
	if whence != io.SeekCurrent || offset < 0 {
		return 0, errors.New("xz decoder: only forward relative seeks")
	}
	if offset > int64(len(d.out)-d.rpos) {
		offset = int64(len(d.out) - d.rpos)
	}
	avail, _ := d.wait(d.rpos + int(offset))
	d.rpos = min(d.rpos+int(offset), avail)
	return int64(d.rpos), nil
}

func (d *xzDec) run() {
	verr := make(chan error, 1)
	go func() { verr <- d.verify() }()
	err := d.decode()
	d.mu.Lock()
	d.decoded = true
	d.cond.Broadcast()
	d.mu.Unlock()
	if v := <-verr; err == nil {
		err = v
	}
	d.finish(err)
}

func (d *xzDec) decode() error {
	in := d.in
	pos := 12
	opos := 0
	for range d.blocks {
		if pos >= len(in) || in[pos] == 0 {
			return errLZMA
		}
		hs := int(in[pos])*4 + 4
		if pos+hs > len(in) || !lzma2Only(in[pos:pos+hs]) {
			return errors.New("xz block is not LZMA2 alone")
		}
		h := in[pos : pos+hs]
		p := 2
		if h[1]&0x40 != 0 {
			_, n := binary.Uvarint(h[p:])
			p += n
		}
		if h[1]&0x80 != 0 {
			_, n := binary.Uvarint(h[p:])
			p += n
		}
		p += 2 // filter id 0x21, props size 1
		dictProp := h[p]
		if dictProp > 40 {
			return errLZMA
		}
		var err error
		pos, opos, err = d.lzma2(pos+hs, opos)
		if err != nil {
			return err
		}
		for (pos)%4 != 0 { // block padding (the stream starts 4-aligned)
			if pos >= len(in) || in[pos] != 0 {
				return errLZMA
			}
			pos++
		}
		var want uint64
		switch d.check {
		case xzscan.CheckCRC64:
			if pos+8 > len(in) {
				return errors.New("xz block check truncated")
			}
			want = binary.LittleEndian.Uint64(in[pos:])
			pos += 8
		case xzscan.CheckCRC32:
			if pos+4 > len(in) {
				return errors.New("xz block check truncated")
			}
			want = uint64(binary.LittleEndian.Uint32(in[pos:]))
			pos += 4
		}
		if d.check != xzscan.CheckNone {
			d.mu.Lock()
			d.checks = append(d.checks, blockCheck{end: opos, want: want})
			d.cond.Broadcast()
			d.mu.Unlock()
		}
	}
	if opos != len(d.out) {
		return errors.New("xz index size does not match the decoded data")
	}
	return nil
}

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

// lzma2 decodes the LZMA2 data at in[pos:] into out[opos:], publishing
// progress, and returns the positions after its end marker.
func (d *xzDec) lzma2(pos, opos int) (int, int, error) {
	in, out := d.in, d.out
	s := &lzState{}
	dictStart := opos
	for {
		if pos >= len(in) {
			return 0, 0, fmt.Errorf("%w: bad chunk header at input offset %d", errLZMA, pos)
		}
		ctl := in[pos]
		pos++
		if ctl == 0 {
			d.publish(opos)
			return pos, opos, nil
		}
		if ctl == 1 || ctl == 2 {
			if pos+2 > len(in) {
				return 0, 0, fmt.Errorf("%w: bad chunk header at input offset %d", errLZMA, pos)
			}
			n := int(binary.BigEndian.Uint16(in[pos:])) + 1
			pos += 2
			if ctl == 1 {
				dictStart = opos
			}
			if pos+n > len(in) || opos+n > len(out) {
				return 0, 0, fmt.Errorf("%w: bad chunk header at input offset %d", errLZMA, pos)
			}
			copy(out[opos:], in[pos:pos+n])
			pos += n
			opos += n
			d.publish(opos)
			continue
		}
		if ctl < 0x80 || pos+4 > len(in) {
			return 0, 0, fmt.Errorf("%w: bad chunk header at input offset %d", errLZMA, pos)
		}
		unpacked := int(ctl&0x1f)<<16 + int(binary.BigEndian.Uint16(in[pos:])) + 1
		packed := int(binary.BigEndian.Uint16(in[pos+2:])) + 1
		pos += 4
		mode := (ctl >> 5) & 3
		if mode == 3 {
			dictStart = opos
		}
		if mode >= 2 {
			if pos >= len(in) {
				return 0, 0, fmt.Errorf("%w: bad chunk header at input offset %d", errLZMA, pos)
			}
			pr := in[pos]
			pos++
			if pr >= 9*5*5 {
				return 0, 0, fmt.Errorf("%w: bad chunk header at input offset %d", errLZMA, pos)
			}
			s.lc, s.lp, s.pb = uint(pr%9), uint(pr/9%5), uint(pr/45)
			if s.lc+s.lp > 4 {
				return 0, 0, fmt.Errorf("%w: bad chunk header at input offset %d", errLZMA, pos)
			}
			s.propsKnown = true
		}
		if !s.propsKnown {
			return 0, 0, fmt.Errorf("%w: bad chunk header at input offset %d", errLZMA, pos)
		}
		if mode >= 1 {
			s.reset()
		}
		if pos+packed > len(in) || opos+unpacked > len(out) {
			return 0, 0, fmt.Errorf("%w: bad chunk header at input offset %d", errLZMA, pos)
		}
		end, err := s.chunk(in[pos:pos+packed], out, opos, opos+unpacked, dictStart)
		if err != nil {
			return 0, 0, err
		}
		_ = end
		pos += packed
		opos += unpacked
		d.publish(opos)
		if d.quit.Load() {
			return 0, 0, errStopped
		}
	}
}

// chunk decodes one LZMA chunk of compressed bytes src into out[opos:limit].
func (s *lzState) chunk(src []byte, out []byte, opos, limit, dictStart int) (int, error) {
	if len(src) < 5 || src[0] != 0 {
		return 0, fmt.Errorf("%w: chunk does not start a range coder", errLZMA)
	}
	rng := uint32(0xffffffff)
	code := binary.BigEndian.Uint32(src[1:])
	ip := 5
	// bit decodes one bit with probability *p.
	bit := func(p *uint16) uint32 {
		if rng < 1<<24 {
			rng <<= 8
			var b byte
			if ip < len(src) {
				b = src[ip]
			}
			ip++
			code = code<<8 | uint32(b)
		}
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
	for s.pending > 0 && opos < limit {
		out[opos] = out[opos-rep[0]-1]
		opos++
		s.pending--
	}
	for opos < limit {
		posState := uint32(opos-dictStart) & pbMask
		if bit(&s.isMatch[state<<4+int(posState)]) == 0 {
			prev := uint32(0)
			if opos > dictStart {
				prev = uint32(out[opos-1])
			}
			lit := s.literal[0x300*((((uint32(opos-dictStart))&lpMask)<<s.lc)+(prev>>(8-s.lc))):]
			sym := uint32(1)
			if state >= 7 {
				mpos := opos - rep[0] - 1
				if mpos < dictStart {
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
						if rng < 1<<24 {
							rng <<= 8
							var b byte
							if ip < len(src) {
								b = src[ip]
							}
							ip++
							code = code<<8 | uint32(b)
						}
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
					if mpos < dictStart {
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
		if from < dictStart {
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
