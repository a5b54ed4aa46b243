package xz

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/kheaders/kheaders/internal/host"
)

// blockEnd is a decoded block's end in the output and the check field its
// stream recorded after it.
type blockEnd struct {
	end  int
	want []byte
}

var errStopped = errors.New("xz decoding stopped")

// decodeBlocks decodes the blocks of the xz stream data (located by Parse
// as s) into out, which has exactly s.Uncompressed bytes. publish is
// called with the count of final bytes at the start of out after each
// chunk (after each block for BCJ blocks) and the lowest index of out
// that later chunks may still read (the start of the block, or the
// block's dictionary size behind the next chunk), and stops decoding when
// it returns false; done is called after each block. decoded, if not
// nil, is called with the end of the decoded bytes after every chunk
// (BCJ blocks included, whose bytes are final only at the block's end).
//
// A match reaches back at most the block's dictionary size from the
// start of its chunk: a stream whose matches go further than the
// dictionary its block header declares is refused, as xz refuses it.
func decodeBlocks(data []byte, s Stream, out []byte, decoded func(int), publish func(n, floor int) bool, done func(blockEnd) error) error {
	pos, opos := headerLen, 0
	cs := checkSize(s.Check)
	var inBuf *[inBufSize]byte // the decoder's input buffer, kept from block to block
	for i, rec := range s.records {
		n := i + 1
		h, err := parseBlockHeader(data[pos:])
		if err != nil {
			return fmt.Errorf("xz block %d: %w", n, err)
		}
		if h.uncompressed >= 0 && h.uncompressed != rec.uncompressed {
			return fmt.Errorf("%w: xz block %d: header says %d bytes, index %d", ErrFormat, n, h.uncompressed, rec.uncompressed)
		}
		bstart, bend := opos, opos+int(rec.uncompressed)
		in := pos + h.size
		var z lzma2
		z.s.in = inBuf
		for {
			if in >= len(data) {
				return fmt.Errorf("%w: xz block %d truncated", ErrFormat, n)
			}
			hl := chunkHeaderLen(data[in])
			if hl == 0 || in+hl > len(data) {
				return fmt.Errorf("%w: bad LZMA2 chunk header at input offset %d", ErrFormat, in)
			}
			c := parseChunkHeader(data[in:])
			in += hl
			if c.ctl == 0 {
				break
			}
			if in+c.packed > len(data) || opos+c.unpacked > bend {
				return fmt.Errorf("%w: LZMA2 chunk at input offset %d runs past its block", ErrFormat, in-hl)
			}
			if err := z.chunk(c, data[in:in+c.packed], out, opos, max(bstart, opos-h.dict)); err != nil {
				return fmt.Errorf("xz block %d: %w", n, err)
			}
			in += c.packed
			opos += c.unpacked
			if decoded != nil {
				decoded(opos)
			}
			if len(h.bcj) == 0 && !publish(opos, max(bstart, opos-h.dict)) {
				return errStopped
			}
		}
		inBuf = z.s.in
		comp := int64(in - pos - h.size)
		if h.compressed >= 0 && h.compressed != comp {
			return fmt.Errorf("%w: xz block %d: header says %d compressed bytes, data is %d", ErrFormat, n, h.compressed, comp)
		}
		if opos != bend || int64(h.size)+comp+int64(cs) != rec.unpadded {
			return fmt.Errorf("%w: xz block %d does not match its index record", ErrFormat, n)
		}
		for _, f := range h.bcj {
			newBCJ(f).code(out[bstart:bend])
		}
		for in%4 != 0 {
			if in >= len(data) || data[in] != 0 {
				return fmt.Errorf("%w: xz block %d padding", ErrFormat, n)
			}
			in++
		}
		if in+cs > len(data) {
			return fmt.Errorf("%w: xz block %d check truncated", ErrFormat, n)
		}
		if err := done(blockEnd{end: opos, want: data[in : in+cs]}); err != nil {
			return err
		}
		pos = in + cs
		if len(h.bcj) != 0 && !publish(opos, opos) {
			return errStopped
		}
	}
	return nil
}

// Decode decodes the xz stream at data[0] into one buffer sized from its
// index and returns it with the stream's length (bytes after the stream,
// such as a kernel payload's size trailer, are ignored). A stream whose
// index declares more than max bytes is refused before anything is
// allocated for it; one that declares more than MaxBuffer is decoded by
// the streaming reader instead.
//
// Errors: ErrNotFound, ErrFormat, ErrUnsupported, ErrTooLarge.
func Decode(data []byte, max int64) ([]byte, int, error) {
	s, err := Parse(data)
	if err != nil {
		return nil, 0, err
	}
	if s.Uncompressed > max {
		return nil, 0, fmt.Errorf("%w: the xz index declares %d bytes, more than the %d-byte cap", ErrTooLarge, s.Uncompressed, max)
	}
	if s.Uncompressed > MaxBuffer {
		r, err := NewReader(bytes.NewReader(s.Bytes(data)))
		if err != nil {
			return nil, 0, err
		}
		out, err := io.ReadAll(io.LimitReader(r, max+1))
		if err != nil {
			return nil, 0, err
		}
		if int64(len(out)) > max {
			return nil, 0, fmt.Errorf("%w (%d bytes)", ErrTooLarge, max)
		}
		return out, s.Len, nil
	}
	ck, err := newChecker(s.Check)
	if err != nil {
		return nil, 0, err
	}
	out := make([]byte, s.Uncompressed)
	pos, n := 0, 0
	err = decodeBlocks(data, s, out, nil, func(int, int) bool { return true }, func(b blockEnd) error {
		n++
		ck.write(out[pos:b.end])
		pos = b.end
		return ck.verify(b.want, n)
	})
	if err != nil {
		return nil, 0, err
	}
	return out, s.Len, nil
}

// Buffer decodes one in-memory xz stream in a goroutine into one buffer
// sized from its index, and reads the decoded bytes as they appear. The
// block checks are computed in a second goroutine that follows the
// decoder. Read, Peek and Seek are for one reader goroutine.
type Buffer struct {
	in  []byte
	out []byte
	s   Stream

	mu      sync.Mutex
	cond    *sync.Cond
	avail   int   // decoded bytes published
	floor   int   // lowest index the decoder may still read
	checked int   // bytes the checker is done with
	err     error // set when decoding and checking ended
	done    bool
	checks  []blockEnd // decoded blocks, for the checker
	decoded bool       // decoding returned (no more checks will come)
	rpos    int

	progress func(done, total int64)
	total    int64
	reported int64
	quit     atomic.Bool // set by Stop: the reader is gone

	relMu    sync.Mutex
	released int // out[:released] is given back to the kernel
	faulted  int // out[:faulted] is mapped or being mapped (decoder goroutine)
}

// NewBuffer starts decoding data, which must be exactly one xz stream. It
// returns nil (and no error) when data is not one well-formed stream or
// its index declares no bytes or more than MaxBuffer: NewReader then
// decodes it (and reports what is wrong with it).
//
// Errors: ErrTooLarge, when the index declares more than limit bytes
// (nothing is allocated for them); ErrUnsupported (a check type this
// package does not verify).
func NewBuffer(data []byte, limit int64) (*Buffer, error) {
	s, err := Parse(data)
	if err != nil || s.Len != len(data) || s.Uncompressed <= 0 {
		return nil, nil
	}
	if s.Uncompressed > limit {
		return nil, fmt.Errorf("%w: the xz index declares %d bytes, more than the %d-byte cap", ErrTooLarge, s.Uncompressed, limit)
	}
	if s.Uncompressed > MaxBuffer {
		return nil, nil
	}
	if _, err := newChecker(s.Check); err != nil {
		return nil, err
	}
	d := &Buffer{in: data, out: make([]byte, s.Uncompressed), s: s}
	d.prefault(0)
	d.cond = sync.NewCond(&d.mu)
	go d.run()
	return d, nil
}

// SetProgress makes reads report the compressed-size equivalent of the
// bytes read so far (total * read / decoded size), every MiB.
func (d *Buffer) SetProgress(progress func(done, total int64), total int64) {
	d.progress, d.total = progress, total
}

// Stop makes the decoding goroutine give up at the next chunk.
func (d *Buffer) Stop() { d.quit.Store(true) }

// prefaultAhead is how far ahead of the decoder the buffer's pages are
// mapped (host.PrefaultWrite, in the background): far enough that the
// decoder takes no page faults, near enough that the pages Release gives
// back behind it keep the resident memory well below the whole output.
const prefaultAhead = 4 << 20

// prefault maps the pages up to prefaultAhead past n once the decoder
// (at n) is halfway through those mapped so far; for the decoding
// goroutine.
func (d *Buffer) prefault(n int) {
	if d.faulted >= len(d.out) || n+prefaultAhead/2 < d.faulted {
		return
	}
	end := min(len(d.out), n+prefaultAhead)
	host.PrefaultWrite(d.out[d.faulted:end])
	d.faulted = end
}

func (d *Buffer) publish(n, floor int) bool {
	d.mu.Lock()
	d.avail, d.floor = n, floor
	d.cond.Broadcast()
	d.mu.Unlock()
	return !d.quit.Load()
}

func (d *Buffer) run() {
	verr := make(chan error, 1)
	go func() { verr <- d.verify() }()
	err := decodeBlocks(d.in, d.s, d.out, d.prefault, d.publish, func(b blockEnd) error {
		d.mu.Lock()
		d.checks = append(d.checks, b)
		d.cond.Broadcast()
		d.mu.Unlock()
		return nil
	})
	d.mu.Lock()
	d.decoded = true
	d.cond.Broadcast()
	d.mu.Unlock()
	if v := <-verr; err == nil {
		err = v
	}
	d.mu.Lock()
	d.err, d.done = err, true
	d.cond.Broadcast()
	d.mu.Unlock()
}

// verify computes the block checks over the decoded bytes as they are
// published and compares each with the value the stream recorded.
func (d *Buffer) verify() error {
	ck, _ := newChecker(d.s.Check)
	if d.s.Check == CheckNone {
		d.mu.Lock()
		d.checked = len(d.out)
		d.mu.Unlock()
		return nil
	}
	pos := 0
	for next := 0; ; {
		d.mu.Lock()
		d.checked = pos
		for d.avail <= pos && len(d.checks) <= next && !d.decoded {
			d.cond.Wait()
		}
		end, decoded := d.avail, d.decoded
		var bc blockEnd
		ended := next < len(d.checks) // block next is decoded: check up to its end
		if ended {
			bc = d.checks[next]
			end = bc.end
		}
		d.mu.Unlock()
		ck.write(d.out[pos:end])
		pos = end
		switch {
		case ended:
			next++
			if err := ck.verify(bc.want, next); err != nil {
				return err
			}
		case decoded:
			return nil
		}
	}
}

// releaseStep is the least memory Release gives back at once (each call
// of madvise costs a TLB flush on every CPU the process runs on).
const releaseStep = 2 << 20

// Release tells the buffer that its reader is done with the decoded bytes
// before offset n (read, peeked, or seeked past): their memory goes back
// to the kernel once the decoder's dictionary and the block checks are
// past them too, so that an extraction writing files as they are decoded
// does not hold the whole decoded archive. Bytes before n must not be
// used after Release (Peek's slices of them included); they read as
// zeros. Release may be called from any goroutine.
func (d *Buffer) Release(n int) {
	d.mu.Lock()
	n = min(n, d.floor, d.checked)
	d.mu.Unlock()
	d.relMu.Lock()
	defer d.relMu.Unlock()
	if n-d.released < releaseStep {
		return
	}
	host.Discard(d.out[d.released:n]) // the whole pages in it
	d.released = n
}

// Size is the count of bytes the stream decodes to (its index says so).
func (d *Buffer) Size() int64 { return int64(len(d.out)) }

// Offset is the count of decoded bytes the reader has consumed (read or
// seeked past); for the reader goroutine, as Read.
func (d *Buffer) Offset() int { return d.rpos }

// Read reads decoded bytes, waiting for the decoder.
func (d *Buffer) Read(p []byte) (int, error) {
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
func (d *Buffer) wait(n int) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.avail < n && !d.done {
		d.cond.Wait()
	}
	return d.avail, d.err
}

// Peek returns the next n decoded bytes without consuming them; they stay
// valid (the buffer is never rewritten).
func (d *Buffer) Peek(n int) ([]byte, error) {
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
func (d *Buffer) Seek(offset int64, whence int) (int64, error) {
	if whence != io.SeekCurrent || offset < 0 {
		return 0, errors.New("xz buffer: only forward relative seeks")
	}
	if offset > int64(len(d.out)-d.rpos) {
		offset = int64(len(d.out) - d.rpos)
	}
	avail, _ := d.wait(d.rpos + int(offset))
	d.rpos = min(d.rpos+int(offset), avail)
	return int64(d.rpos), nil
}
