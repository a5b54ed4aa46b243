package xz

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Reader streams the decoded bytes of one xz stream. Its memory is the
// LZMA2 dictionary window (at most the block's dictionary size, itself at
// most MaxDict, plus one chunk; it grows with the data), one chunk of
// input and the decoder's 128 KiB copy of it (zero-padded for the range
// decoder).
type Reader struct {
	r     *bufio.Reader
	check int
	ck    *checker
	err   error
	out   []byte // decoded bytes not yet read

	// The current block (nil between blocks).
	blk      *blockHeader
	blocks   []record // blocks seen, for the index
	z        lzma2
	win      []byte // dictionary window
	opos     int    // end of the decoded bytes in win
	in       int64  // compressed bytes of the block so far
	outN     int64  // decoded bytes of the block so far
	bcj      *bcj
	fbuf     []byte // BCJ: decoded bytes, converted up to fdone
	fdone    int
	payload  []byte
	consumed int64 // stream bytes read
}

// NewReader returns a reader of the one xz stream read from r; it stops
// at the end of the stream's footer (bytes after it may have been
// buffered from r). The stream header is read and checked here.
//
// Errors (here and from Read): ErrNotFound (no xz stream header),
// ErrFormat, ErrUnsupported; read errors of r, with io.ErrUnexpectedEOF
// for a truncated stream.
func NewReader(r io.Reader) (*Reader, error) {
	x := &Reader{r: bufio.NewReaderSize(r, 64<<10)}
	var h [headerLen]byte
	if err := x.full(h[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: input shorter than an xz stream header", ErrNotFound)
		}
		return nil, err
	}
	check, err := streamFlags(h[:])
	if err != nil {
		return nil, err
	}
	if x.ck, err = newChecker(check); err != nil {
		return nil, err
	}
	x.check = check
	return x, nil
}

// full reads len(b) bytes of the stream.
func (x *Reader) full(b []byte) error {
	n, err := io.ReadFull(x.r, b)
	x.consumed += int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: xz stream truncated after %d bytes: %w", ErrFormat, x.consumed, err)
	}
	return err
}

func (x *Reader) byte() (byte, error) {
	var b [1]byte
	err := x.full(b[:])
	return b[0], err
}

// Read reads decoded bytes.
func (x *Reader) Read(p []byte) (int, error) {
	for len(x.out) == 0 {
		if x.err != nil {
			return 0, x.err
		}
		x.err = x.next()
	}
	n := copy(p, x.out)
	x.out = x.out[n:]
	return n, nil
}

// Close releases the window; it does not close the underlying reader.
func (x *Reader) Close() error {
	x.win, x.fbuf, x.payload, x.z = nil, nil, nil, lzma2{}
	if x.err == nil {
		x.err = errors.New("xz reader closed")
	}
	return nil
}

// next decodes the next chunk into x.out, or ends a block, or reads the
// index and footer (io.EOF).
func (x *Reader) next() error {
	if x.blk == nil {
		b, err := x.byte()
		if err != nil {
			return err
		}
		if b == 0 {
			if err := x.index(); err != nil {
				return err
			}
			return io.EOF
		}
		hb := make([]byte, (int(b)+1)*4)
		hb[0] = b
		if err := x.full(hb[1:]); err != nil {
			return err
		}
		h, err := parseBlockHeader(hb)
		if err != nil {
			return fmt.Errorf("xz block %d: %w", len(x.blocks)+1, err)
		}
		inBuf := x.z.s.in // kept from block to block
		x.blk, x.z, x.in, x.outN, x.opos, x.bcj = h, lzma2{}, 0, 0, 0, nil
		x.z.s.in = inBuf
		x.fbuf, x.fdone = x.fbuf[:0], 0
		if len(h.bcj) == 1 {
			x.bcj = newBCJ(h.bcj[0])
		}
	}
	n := len(x.blocks) + 1
	var hb [6]byte
	if err := x.full(hb[:1]); err != nil {
		return err
	}
	hl := chunkHeaderLen(hb[0])
	if hl == 0 {
		return fmt.Errorf("%w: xz block %d: LZMA2 control byte %#x", ErrFormat, n, hb[0])
	}
	if err := x.full(hb[1:hl]); err != nil {
		return err
	}
	x.in += int64(hl)
	c := parseChunkHeader(hb[:hl])
	if c.ctl == 0 {
		return x.endBlock()
	}
	if cap(x.payload) < c.packed {
		x.payload = make([]byte, 64<<10)
	}
	p := x.payload[:c.packed]
	if err := x.full(p); err != nil {
		return err
	}
	x.in += int64(c.packed)
	if u := x.blk.uncompressed; u >= 0 && x.outN+int64(c.unpacked) > u {
		return fmt.Errorf("%w: xz block %d decodes past the %d bytes its header declares", ErrFormat, n, u)
	}
	x.room(c.unpacked)
	start := x.opos
	if err := x.z.chunk(c, p, x.win, x.opos, 0); err != nil {
		return fmt.Errorf("xz block %d: %w", n, err)
	}
	x.opos += c.unpacked
	x.outN += int64(c.unpacked)
	x.emit(x.win[start:x.opos], false)
	return nil
}

// room makes room for n more decoded bytes in the window: it grows up to
// the dictionary size plus one chunk, then slides, keeping the last
// dictionary-size bytes (by a multiple of 16 bytes: the position bits of
// LZMA count from the dictionary reset).
func (x *Reader) room(n int) {
	if x.opos+n <= len(x.win) {
		return
	}
	limit := x.blk.dict + maxChunk + 16
	if len(x.win) < limit {
		w := make([]byte, min(max(2*len(x.win), x.opos+n, 1<<16), limit))
		copy(w, x.win[:x.opos])
		x.win = w
	}
	if x.opos+n > len(x.win) {
		shift := (x.opos - x.blk.dict) &^ 15
		copy(x.win, x.win[shift:x.opos])
		x.opos -= shift
		x.z.start -= shift
	}
}

// emit hands decoded bytes b to the reader, through the BCJ filter if the
// block has one (at the block's end, the bytes it holds back go out as
// they are), and to the check.
func (x *Reader) emit(b []byte, last bool) {
	if x.bcj != nil {
		x.fbuf = x.fbuf[:copy(x.fbuf, x.fbuf[x.fdone:])]
		x.fbuf = append(x.fbuf, b...)
		x.fdone = x.bcj.code(x.fbuf)
		if last {
			x.fdone = len(x.fbuf)
		}
		b = x.fbuf[:x.fdone]
	}
	x.ck.write(b)
	x.out = b
}

// endBlock checks the sizes, padding and check of the block just decoded.
func (x *Reader) endBlock() error {
	n := len(x.blocks) + 1
	h := x.blk
	x.emit(nil, true)
	if h.compressed >= 0 && h.compressed != x.in {
		return fmt.Errorf("%w: xz block %d: header says %d compressed bytes, data is %d", ErrFormat, n, h.compressed, x.in)
	}
	if h.uncompressed >= 0 && h.uncompressed != x.outN {
		return fmt.Errorf("%w: xz block %d: header says %d bytes, decoded %d", ErrFormat, n, h.uncompressed, x.outN)
	}
	unpadded := int64(h.size) + x.in
	for p := unpadded; p%4 != 0; p++ {
		b, err := x.byte()
		if err != nil {
			return err
		}
		if b != 0 {
			return fmt.Errorf("%w: xz block %d padding", ErrFormat, n)
		}
	}
	want := make([]byte, checkSize(x.check))
	if err := x.full(want); err != nil {
		return err
	}
	if err := x.ck.verify(want, n); err != nil {
		return err
	}
	x.blocks = append(x.blocks, record{unpadded + int64(len(want)), x.outN})
	x.blk = nil
	return nil
}

// index reads the index (its indicator byte already read) and the footer,
// and checks them against the blocks decoded.
func (x *Reader) index() error {
	idx := []byte{0}
	varint := func() (uint64, error) {
		for i := 0; i < 9; i++ {
			b, err := x.byte()
			if err != nil {
				return 0, err
			}
			idx = append(idx, b)
			if b&0x80 == 0 {
				v, k := uvarint(idx[len(idx)-i-1:])
				if k == 0 {
					break
				}
				return v, nil
			}
		}
		return 0, fmt.Errorf("%w: bad integer in the xz index", ErrFormat)
	}
	count, err := varint()
	if err != nil {
		return err
	}
	if count != uint64(len(x.blocks)) {
		return fmt.Errorf("%w: the xz index lists %d blocks, the stream has %d", ErrFormat, count, len(x.blocks))
	}
	for i, b := range x.blocks {
		u, err := varint()
		if err != nil {
			return err
		}
		c, err := varint()
		if err != nil {
			return err
		}
		if int64(u) != b.unpadded || int64(c) != b.uncompressed {
			return fmt.Errorf("%w: xz index record %d does not match block %d", ErrFormat, i+1, i+1)
		}
	}
	for len(idx)%4 != 0 {
		b, err := x.byte()
		if err != nil {
			return err
		}
		if b != 0 {
			return fmt.Errorf("%w: xz index padding", ErrFormat)
		}
		idx = append(idx, b)
	}
	var tail [4 + footerLen]byte
	if err := x.full(tail[:]); err != nil {
		return err
	}
	if crc32.ChecksumIEEE(idx) != binary.LittleEndian.Uint32(tail[:4]) {
		return fmt.Errorf("%w: xz index CRC mismatch", ErrFormat)
	}
	bs, ok := checkFooter(tail[4:], x.check)
	if !ok || bs != int64(len(idx)+4) {
		return fmt.Errorf("%w: xz stream footer does not match the header and index", ErrFormat)
	}
	return nil
}
