package codec

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/pierrec/lz4/v4"
)

// The lz4 legacy frame (lz4 -l, what Kbuild uses): the magic 0x184C2102, then
// blocks, each a little-endian 32-bit compressed size and an LZ4 block that
// decodes to 8 MiB (the last one to less). A repeated magic starts a new frame.
// Like lib/decompress_unlz4.c, the stream ends at the end of the data, or at
// a size word that cannot be a block (the kernel's 4-byte size trailer).
const (
	lz4LegacyMagic = 0x184c2102
	lz4LegacyBlock = 8 << 20
)

var lz4MaxChunk = lz4.CompressBlockBound(lz4LegacyBlock)

// decodeLZ4Legacy decodes a legacy-frame stream at data[0].
func decodeLZ4Legacy(data []byte, max int64) ([]byte, int, error) {
	if len(data) < 4 || binary.LittleEndian.Uint32(data) != lz4LegacyMagic {
		return nil, 0, fmt.Errorf("decompress lz4: %w: no lz4 legacy magic", ErrCorrupt)
	}
	var out, scratch []byte
	p := 4
	for {
		if len(data)-p < 4 {
			break
		}
		size := binary.LittleEndian.Uint32(data[p:])
		if size == lz4LegacyMagic {
			p += 4
			continue
		}
		if size == 0 || int64(size) > int64(lz4MaxChunk) || int64(size) > int64(len(data)-p-4) {
			if p == 4 {
				return nil, 0, fmt.Errorf("decompress lz4: %w: first block size %d invalid (%d bytes left)", ErrCorrupt, size, len(data)-p-4)
			}
			break
		}
		// LZ4 expands at most ~255:1: size the buffer to the block.
		if want := min(lz4LegacyBlock, int(size)*256+64); len(scratch) < want {
			scratch = make([]byte, want)
		}
		n, err := lz4.UncompressBlock(data[p+4:p+4+int(size)], scratch)
		if err != nil {
			return nil, 0, fmt.Errorf("decompress lz4: %w: block at offset %d: %w", ErrCorrupt, p, err)
		}
		if int64(len(out))+int64(n) > max {
			return nil, 0, fmt.Errorf("decompress lz4: %w (%d bytes)", ErrTooLarge, max)
		}
		out = append(out, scratch[:n]...)
		if n < lz4LegacyBlock {
			p += 4 + int(size)
			// a short block ends the stream, unless a new frame follows
			if len(data)-p >= 4 && binary.LittleEndian.Uint32(data[p:]) == lz4LegacyMagic {
				continue
			}
			break
		}
		p += 4 + int(size)
	}
	return out, p, nil
}

// blockReader is the Read of the decoders that decode one block at a time
// (lz4 legacy, lzop): it serves out, refilled by next, which decodes the
// next block into out or sets done at the end; its first error sticks.
type blockReader struct {
	out  bytes.Reader
	done bool
	err  error
	next func() error
}

func (b *blockReader) Read(p []byte) (int, error) {
	for b.out.Len() == 0 {
		if b.err != nil {
			return 0, b.err
		}
		if b.done {
			return 0, io.EOF
		}
		b.err = b.next()
	}
	return b.out.Read(p)
}

func (b *blockReader) Close() error { return nil }

type lz4LegacyReader struct {
	blockReader
	r     *bufio.Reader
	buf   []byte
	src   []byte
	first bool
}

func newLZ4LegacyReader(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	var m [4]byte
	if _, err := io.ReadFull(br, m[:]); err != nil {
		return nil, corrupt(err)
	}
	if binary.LittleEndian.Uint32(m[:]) != lz4LegacyMagic {
		return nil, fmt.Errorf("%w: no lz4 legacy magic", ErrCorrupt)
	}
	z := &lz4LegacyReader{r: br, first: true}
	z.blockReader.next = z.block
	return z, nil
}

func (z *lz4LegacyReader) block() error {
	var w [4]byte
	n, err := io.ReadFull(z.r, w[:])
	if n < 4 {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			z.done = true
			return nil
		}
		return err
	}
	size := binary.LittleEndian.Uint32(w[:])
	if size == lz4LegacyMagic {
		return nil
	}
	if size == 0 || int(size) > lz4MaxChunk {
		if z.first {
			return fmt.Errorf("%w: lz4 block size %d invalid", ErrCorrupt, size)
		}
		z.done = true
		return nil
	}
	if cap(z.src) < int(size) {
		z.src = make([]byte, size)
	}
	z.src = z.src[:size]
	if _, err := io.ReadFull(z.r, z.src); err != nil {
		if z.first {
			return corrupt(err)
		}
		// a size trailer followed by fewer bytes: end of stream
		z.done = true
		return nil
	}
	if want := min(lz4LegacyBlock, int(size)*256+64); len(z.buf) < want {
		z.buf = make([]byte, want)
	}
	m, err := lz4.UncompressBlock(z.src, z.buf)
	if err != nil {
		return fmt.Errorf("%w: lz4 block: %w", ErrCorrupt, err)
	}
	z.first = false
	z.out.Reset(z.buf[:m])
	if m < lz4LegacyBlock {
		if b, err := z.r.Peek(4); err == nil && binary.LittleEndian.Uint32(b) == lz4LegacyMagic {
			return nil
		}
		z.done = true
	}
	return nil
}
