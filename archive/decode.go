package archive

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"

	"github.com/kheaders/kheaders/internal/xz"
)

var (
	magicZstd = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicGzip = []byte{0x1f, 0x8b}
)

// Format reports the outer encoding of an archive from its first bytes:
// "xz", "zstd", "gzip", "tar", or "" when it is none of them. head should be
// at least 262 bytes long to recognise a plain tar.
func Format(head []byte) string {
	switch {
	case bytes.HasPrefix(head, xz.Magic):
		return "xz"
	case bytes.HasPrefix(head, magicZstd):
		return "zstd"
	case bytes.HasPrefix(head, magicGzip):
		return "gzip"
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return "tar"
	}
	return ""
}

// maxCompressed caps the compressed xz archive read into memory (real
// kheaders archives are 3 to 10 MB).
const maxCompressed = 512 << 20

// stream is the decoded view of an archive input, hashing and counting the
// raw bytes as they are read.
type stream struct {
	raw    *countReader
	format string
	dec    io.Reader // decoded tar bytes
	close  func()
	// sum is the sha256 (hex) of the raw input: Options.ArchiveSHA256
	// when the caller knows it, "" with NoArchiveSHA256, else the hash
	// of what was read (for xz, computed beside the decoding; sum waits).
	sum func() string
}

type countReader struct {
	r          io.Reader
	h          hash.Hash
	n          int64
	total      int64
	progress   func(done, total int64)
	lastReport int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.h.Write(p[:n])
		c.n += int64(n)
		if c.progress != nil && c.n-c.lastReport >= 256<<10 {
			c.lastReport = c.n
			c.progress(c.n, c.total)
		}
	}
	return n, err
}

// readAll is io.ReadAll of lr, a limited view of buffered bytes already
// read from src and the rest of src, in one buffer of the size src says it
// has left (a bytes.Reader from the cache or extract, a regular file)
// instead of io.ReadAll's doublings: one copy of the compressed archive
// before decoding, not two and regrowth.
func readAll(lr io.Reader, src io.Reader, buffered int, max int64) ([]byte, error) {
	n := int64(-1)
	switch v := src.(type) {
	case interface{ Len() int }:
		n = int64(v.Len())
	default:
		n = size(src)
	}
	if n < 0 || n+int64(buffered) >= max {
		return io.ReadAll(lr)
	}
	n += int64(buffered)
	buf := bytes.NewBuffer(make([]byte, 0, n+bytes.MinRead))
	if _, err := buf.ReadFrom(lr); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// size guesses the total size of r for progress reports.
func size(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Size() int64 }:
		return v.Size()
	case *os.File:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			if off, err := v.Seek(0, io.SeekCurrent); err == nil {
				return fi.Size() - off
			}
		}
	}
	return -1
}

func openStream(r io.Reader, opts *Options) (*stream, error) {
	var known string
	hashing := true
	if opts != nil {
		known = opts.ArchiveSHA256
		hashing = known == "" && !opts.NoArchiveSHA256
	}
	// Nothing is hashed until the format is known: an xz input is read
	// whole and hashed beside the decoding, the others as they stream.
	cr := &countReader{r: r, h: nopHash{}, total: -1}
	if opts != nil && opts.Progress != nil {
		cr.progress = opts.Progress
		cr.total = size(r)
	}
	s := &stream{raw: cr, close: func() {}, sum: func() string { return known }}
	if m, ok := r.(*bytes.Buffer); ok && bytes.HasPrefix(m.Bytes(), xz.Magic) {
		// An xz archive in memory already (extract, the cache): decoded
		// where it is, without a copy (a copy, its page faults and the
		// garbage collection it starts come before the decoder can).
		s.format = "xz"
		cr.total = int64(m.Len())
		if max := min(opts.limits().MaxBytes, maxCompressed); int64(m.Len()) > max {
			return nil, fmt.Errorf("%w: compressed xz input larger than %d bytes", ErrLimit, max)
		}
		all := m.Next(m.Len())
		cr.n = int64(len(all))
		return s, s.openXZ(all, opts, hashing)
	}
	br := bufio.NewReaderSize(cr, 64<<10)
	head, err := br.Peek(512)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: read: %w", ErrFormat, err)
	}
	s.format = Format(head)
	if s.format != "xz" && hashing {
		// The buffered bytes are all cr has read so far (Peek consumes
		// nothing): hash them, then hash the rest as it is read.
		b, _ := br.Peek(br.Buffered())
		h := sha256.New()
		h.Write(b)
		cr.h = h
		s.sum = func() string { return hex.EncodeToString(h.Sum(nil)) }
	}
	switch s.format {
	case "xz":
		// Read the compressed stream whole (kheaders archives are a few MB)
		// to decode it into one buffer sized from its index, which the tar
		// reader follows as it fills.
		progress := cr.progress
		cr.progress = nil // reported as decoding advances
		maxIn := min(opts.limits().MaxBytes, maxCompressed)
		all, err := readAll(io.LimitReader(br, maxIn+1), r, br.Buffered(), maxIn+1)
		if err != nil {
			return nil, fmt.Errorf("%w: read: %w", ErrFormat, err)
		}
		if int64(len(all)) > maxIn {
			return nil, fmt.Errorf("%w: compressed xz input larger than %d bytes", ErrLimit, maxIn)
		}
		cr.progress = progress
		if err := s.openXZ(all, opts, hashing); err != nil {
			return nil, err
		}
	case "zstd":
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(2), zstd.WithDecoderMaxWindow(1<<28))
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %w", ErrFormat, err)
		}
		s.dec = zr
		s.close = zr.Close
	case "gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %w", ErrFormat, err)
		}
		s.dec = zr
	case "tar":
		s.dec = br
	default:
		if len(head) == 0 {
			return nil, fmt.Errorf("%w: empty input", ErrFormat)
		}
		return nil, fmt.Errorf("%w: unknown magic % x (want xz, zstd, gzip or tar)", ErrFormat, head[:min(len(head), 6)])
	}
	return s, nil
}

// openXZ sets up the decoding of all, the whole xz input (s.raw has read
// it; its progress function, if any, is moved to the decoder's reports).
func (s *stream) openXZ(all []byte, opts *Options, hashing bool) error {
	if hashing {
		// Hash the input on another core while it is decoded (the
		// decoder is the critical path); sum() waits for it.
		h, done := sha256.New(), make(chan struct{})
		go func() {
			h.Write(all)
			close(done)
		}()
		s.sum = func() string {
			<-done
			return hex.EncodeToString(h.Sum(nil))
		}
	}
	progress := s.raw.progress
	s.raw.progress = nil
	lim := opts.limits()
	d, err := xz.NewBuffer(all, lim.MaxBytes+int64(lim.MaxEntries)*1024+1<<20)
	if errors.Is(err, xz.ErrTooLarge) {
		return fmt.Errorf("%w: %w (the cap is the file data cap plus tar headers; --max-bytes raises it)", ErrLimit, err)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if d != nil {
		d.SetProgress(progress, int64(len(all)))
		s.dec = d
		s.close = d.Stop
		return nil
	}
	// Not one stream of at most xz.MaxBuffer bytes: the streaming
	// reader, reporting compressed bytes as it consumes them.
	if streams, end := xz.Streams(all); len(streams) > 0 {
		// One stream or several concatenated ones, which xz -dc (and so
		// tar -xJf) reads one after another; what follows the last is
		// checked (nothing, or a damaged stream reported as such).
		s.dec = &xzStreams{data: all, streams: streams, end: end, progress: progress}
		return nil
	}
	pr := &countReader{r: bytes.NewReader(all), h: nopHash{}, total: int64(len(all)), progress: progress}
	zr, err := xz.NewReader(pr)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrFormat, err)
	}
	s.dec = zr
	return nil
}

// xzStreams reads the concatenated xz streams of data one after another,
// as xz -dc does: the run xz.Streams found (each stream's extent from its
// index and footer), then what follows it. Bytes there that start another
// stream (one xz.Parse refused) go to the streaming reader, whose error
// says where it is truncated or corrupt; any other bytes are an error.
type xzStreams struct {
	data     []byte
	streams  []xz.Stream
	end      int // where the run of streams ends, padding included
	next     int // the stream to open next; len(streams): what follows the run
	cur      *xz.Reader
	damaged  bool // cur reads what follows the run: it may not end cleanly
	progress func(done, total int64)
}

func (m *xzStreams) Read(p []byte) (int, error) {
	for {
		if m.cur != nil {
			n, err := m.cur.Read(p)
			if err == io.EOF {
				if m.damaged {
					// The reader saw an end where xz.Parse saw none.
					return n, fmt.Errorf("%w: xz stream %d (offset %d) has no valid index and footer", xz.ErrFormat, m.next, m.end)
				}
				m.cur = nil
				if n > 0 {
					return n, nil
				}
				continue
			}
			return n, err
		}
		var seg []byte
		var off int
		switch rest := m.data[m.end:]; {
		case m.next < len(m.streams):
			seg, off = m.streams[m.next].Bytes(m.data), m.streams[m.next].Offset
		case len(rest) == 0:
			return 0, io.EOF
		case !bytes.HasPrefix(rest, xz.Magic):
			return 0, fmt.Errorf("%w: %d bytes after xz stream %d (offset %d) are neither stream padding nor another xz stream", xz.ErrFormat, len(rest), len(m.streams), m.end)
		default:
			seg, off, m.damaged = rest, m.end, true
		}
		m.next++
		r, err := xz.NewReader(&countReader{r: bytes.NewReader(seg), h: nopHash{}, n: int64(off), total: int64(len(m.data)), progress: m.progress})
		if err != nil {
			return 0, fmt.Errorf("xz stream %d (offset %d): %w", m.next, off, err)
		}
		m.cur = r
	}
}

// finish drains the decoder (so that xz and zstd verify their checksums and
// the stream end) and then the raw input (so that the hash covers it all).
func (s *stream) finish(limit int64) error {
	n, err := io.Copy(io.Discard, io.LimitReader(s.dec, limit+1))
	if err != nil {
		return s.decErr(err)
	}
	if n > limit {
		return fmt.Errorf("%w: more than %d bytes of data after the end of the tar", ErrLimit, limit)
	}
	if _, err := io.Copy(io.Discard, s.raw); err != nil {
		return fmt.Errorf("read archive: %w", err)
	}
	return nil
}

// decErr wraps an error from the decoder or the tar reader.
func (s *stream) decErr(err error) error {
	if errors.Is(err, ErrLimit) || errors.Is(err, ErrFormat) {
		return err
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %s data corrupt or truncated: %w", ErrFormat, s.format, err)
}

// nopHash is a hash.Hash that hashes nothing (progress counting only).
type nopHash struct{}

func (nopHash) Write(p []byte) (int, error) { return len(p), nil }
func (nopHash) Sum(b []byte) []byte         { return b }
func (nopHash) Reset()                      {}
func (nopHash) Size() int                   { return 0 }
func (nopHash) BlockSize() int              { return 1 }
