// Package codec holds the compressors kheaders needs: decoders for every
// compressor the Linux kernel uses for its images, modules and initramfs
// (gzip, bzip2, lzma, xz with BCJ filters through internal/xz, lzop, lz4
// legacy frame, zstd),
// with magic detection, plus the encoders used by pack (encode*.go).
//
// Decode API:
//
//   - Detect(data) reports the compression from the magic at offset 0 (the
//     magics scripts/extract-ikconfig and extract-vmlinux search for).
//   - NewReader(kind, r) streams one compressed stream of kind from r.
//   - Decompress(kind, data, max) decodes the stream starting at data[0] into
//     memory, tolerating trailing bytes after the stream (kernel payloads carry a
//     4-byte size trailer and padding) and refusing output past max bytes.
//   - DecompressPrefix is Decompress that also says how many input bytes the
//     stream used, for concatenated streams (initramfs).
//
// Everything is pure Go.
package codec

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz/lzma"

	"github.com/kheaders/kheaders/internal/xz"
)

// Kind names a compression format.
type Kind string

// The compression formats the kernel uses.
const (
	Gzip  Kind = "gzip"
	Bzip2 Kind = "bzip2"
	LZMA  Kind = "lzma"
	XZ    Kind = "xz"
	LZO   Kind = "lzo" // lzop file format (what Kbuild's lzop produces)
	LZ4   Kind = "lz4" // lz4 legacy frame (lz4 -l), as Kbuild uses
	Zstd  Kind = "zstd"
)

// Kinds lists every decodable kind, in the order Detect tries them.
var Kinds = []Kind{Gzip, XZ, Bzip2, LZMA, LZO, LZ4, Zstd}

// Sentinel errors.
var (
	// ErrUnknownKind: the Kind is not one of Kinds.
	ErrUnknownKind = errors.New("unknown compression kind")
	// ErrTooLarge: the decoded output exceeds the caller's cap.
	ErrTooLarge = errors.New("decompressed data exceeds the size limit")
	// ErrCorrupt: the compressed data is malformed or truncated.
	ErrCorrupt = errors.New("corrupt compressed data")
	// ErrUnsupported: a valid stream uses a feature this package does not decode.
	ErrUnsupported = errors.New("unsupported compressed stream feature")
)

// magics are the leading bytes of each format, as scripts/extract-ikconfig,
// scripts/extract-vmlinux and lib/decompress.c look for them.
var magics = []struct {
	kind  Kind
	magic []byte
}{
	{Gzip, []byte{0x1f, 0x8b, 0x08}},
	{XZ, xz.Magic},
	{Bzip2, []byte("BZh")},
	// lzma: properties 0x5d (lc=3 lp=0 pb=2) and a dictionary size whose
	// low 16 bits are zero (every xz/lzma preset); lib/decompress.c checks 5d 00.
	{LZMA, []byte{0x5d, 0x00, 0x00}},
	{LZO, []byte{0x89, 'L', 'Z', 'O'}},
	{LZ4, []byte{0x02, 0x21, 0x4c, 0x18}},
	{Zstd, []byte{0x28, 0xb5, 0x2f, 0xfd}},
}

// Magic returns the leading bytes that identify kind, or nil for an unknown kind.
func Magic(kind Kind) []byte {
	for _, m := range magics {
		if m.kind == kind {
			return bytes.Clone(m.magic)
		}
	}
	return nil
}

// Detect reports the compression of data from its magic at offset 0.
func Detect(data []byte) (Kind, bool) {
	for _, m := range magics {
		if bytes.HasPrefix(data, m.magic) {
			if m.kind == Bzip2 && (len(data) < 4 || data[3] < '1' || data[3] > '9') {
				continue
			}
			return m.kind, true
		}
	}
	return "", false
}

// NewReader returns a reader of the data decoded from one stream of kind read
// from r. Bytes after the end of the stream are ignored (and may have been
// consumed from r by buffering). Closing the reader does not close r.
//
// Errors: ErrUnknownKind, ErrCorrupt (a bad header), or the decoder's own
// errors wrapped with the kind.
func NewReader(kind Kind, r io.Reader) (io.ReadCloser, error) {
	rc, err := newReader(kind, r)
	if err != nil {
		return nil, fmt.Errorf("open %s stream: %w", kind, err)
	}
	return rc, nil
}

func newReader(kind Kind, r io.Reader) (io.ReadCloser, error) {
	switch kind {
	case Gzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, corrupt(err)
		}
		zr.Multistream(false)
		return zr, nil
	case Bzip2:
		return io.NopCloser(&bzip2Stream{r: bzip2.NewReader(r)}), nil
	case LZMA:
		// Refuse huge dictionaries before the decoder allocates them. A
		// bytes.Reader is checked in place so the decoder reads it exactly.
		if b, ok := r.(*bytes.Reader); ok {
			var h [5]byte
			if n, _ := b.ReadAt(h[:], b.Size()-int64(b.Len())); n == 5 {
				if err := lzmaDictOK(h[:]); err != nil {
					return nil, err
				}
			}
		} else {
			br := bufio.NewReader(r)
			if h, err := br.Peek(5); err == nil {
				if err := lzmaDictOK(h); err != nil {
					return nil, err
				}
			}
			r = br
		}
		lr, err := lzma.NewReader(r)
		if err != nil {
			return nil, corrupt(err)
		}
		return io.NopCloser(lr), nil
	case XZ:
		return newXZReader(r)
	case LZO:
		return newLzopReader(r)
	case LZ4:
		return newLZ4LegacyReader(r)
	case Zstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<28))
		if err != nil {
			return nil, err
		}
		return &zstdStream{d: zr}, nil
	}
	return nil, ErrUnknownKind
}

// Decompress decodes one stream of kind starting at data[0], tolerating
// trailing bytes after it as the kernel's decompressors do. max caps the
// output (0 means no cap); past it Decompress returns ErrTooLarge.
func Decompress(kind Kind, data []byte, max int64) ([]byte, error) {
	out, _, err := DecompressPrefix(kind, data, max)
	return out, err
}

// DecompressPrefix is Decompress that also returns how many bytes of data the
// stream occupied (header to end of stream, including any trailing checksum
// or end marker, excluding padding), for concatenated streams (initramfs).
func DecompressPrefix(kind Kind, data []byte, max int64) ([]byte, int, error) {
	if max <= 0 {
		max = 1<<63 - 1
	}
	switch kind {
	case Zstd:
		return decompressZstd(data, max)
	case LZ4:
		return decodeLZ4Legacy(data, max)
	case LZO:
		return decodeLzop(data, max)
	case XZ:
		return decodeXZ(data, max)
	}
	br := bytes.NewReader(data)
	var r io.Reader
	var bz *bzip2Stream
	if kind == Bzip2 {
		bz = &bzip2Stream{r: bzip2.NewReader(br)}
		r = bz
	} else {
		rc, err := NewReader(kind, br)
		if err != nil {
			return nil, 0, err
		}
		defer rc.Close()
		r = rc
	}
	out, err := readCapped(r, max, len(data))
	if err != nil {
		return nil, 0, fmt.Errorf("decompress %s: %w", kind, err)
	}
	n := len(data) - br.Len()
	if bz != nil && bz.done {
		n -= 2 // the stdlib reader looked at two bytes for a next "BZ"
	}
	return out, n, nil
}

// readCapped reads r to EOF, failing with ErrTooLarge past max bytes.
func readCapped(r io.Reader, max int64, hint int) ([]byte, error) {
	var buf bytes.Buffer
	if g := int64(hint) * 4; g < max && g < 256<<20 {
		buf.Grow(int(g))
	}
	lim := max
	if lim < 1<<62 {
		lim++
	}
	n, err := buf.ReadFrom(io.LimitReader(r, lim))
	if err != nil {
		return buf.Bytes(), corrupt(err)
	}
	if n > max {
		return nil, fmt.Errorf("%w (%d bytes)", ErrTooLarge, max)
	}
	return buf.Bytes(), nil
}

// corrupt wraps a decoder error with ErrCorrupt unless it already carries one
// of this package's sentinels.
func corrupt(err error) error {
	if err == nil || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnsupported) {
		return err
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}

// bzip2Stream ends the stream at its end-of-stream marker even when bytes
// that are not another bzip2 stream follow (the stdlib reader reports them
// as a bad continuation magic after all data and the CRC were checked).
type bzip2Stream struct {
	r    io.Reader
	done bool
}

func (b *bzip2Stream) Read(p []byte) (int, error) {
	if b.done {
		return 0, io.EOF
	}
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && err.Error() == "bzip2 data invalid: bad magic value in continuation file" {
		b.done = true
		return n, io.EOF
	}
	return n, err
}

// zstdStream ends at the end of the first frames when what follows is not
// another frame (a size trailer, padding).
type zstdStream struct {
	d *zstd.Decoder
	n int64
}

func (z *zstdStream) Read(p []byte) (int, error) {
	n, err := z.d.Read(p)
	z.n += int64(n)
	if z.n > 0 && (errors.Is(err, zstd.ErrMagicMismatch) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return n, io.EOF
	}
	return n, err
}

func (z *zstdStream) Close() error { z.d.Close(); return nil }

func decompressZstd(data []byte, max int64) ([]byte, int, error) {
	n, err := zstdFrameLen(data)
	if err != nil {
		return nil, 0, fmt.Errorf("decompress zstd: %w", err)
	}
	d, err := zstd.NewReader(bytes.NewReader(data[:n]), zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(1<<28))
	if err != nil {
		return nil, 0, err
	}
	defer d.Close()
	out, err := readCapped(d, max, n)
	if err != nil {
		return nil, 0, fmt.Errorf("decompress zstd: %w", err)
	}
	return out, n, nil
}

func lzmaDictOK(h []byte) error {
	if d := binary.LittleEndian.Uint32(h[1:]); d > xz.MaxDict {
		return fmt.Errorf("%w: lzma dictionary of %d bytes (limit %d)", ErrUnsupported, d, xz.MaxDict)
	}
	return nil
}
