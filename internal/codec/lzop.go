package codec

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/adler32"
	"hash/crc32"
	"io"

	lzo "github.com/anchore/go-lzo"
)

// The lzop file format (lzop's src/lzop.c, and lib/decompress_unlzo.c in the
// kernel): a 9-byte magic, a header (version-dependent fields, name,
// checksum), then blocks of big-endian dst_len, src_len, optional checksums,
// and LZO1X data (stored raw when src_len == dst_len); dst_len 0 ends it.
var lzopMagic = []byte{0x89, 'L', 'Z', 'O', 0x00, 0x0d, 0x0a, 0x1a, 0x0a}

const (
	lzopAdler32D   = 0x0001
	lzopAdler32C   = 0x0002
	lzopExtraField = 0x0040
	lzopCRC32D     = 0x0100
	lzopCRC32C     = 0x0200
	lzopFilter     = 0x0800
	lzopHeaderCRC  = 0x1000
	lzopMaxBlock   = 64 << 20
)

type lzopReader struct {
	blockReader
	r     *bufio.Reader
	n     int64 // bytes consumed
	flags uint32
	dst   []byte
	src   []byte
}

func (z *lzopReader) full(p []byte) error {
	n, err := io.ReadFull(z.r, p)
	z.n += int64(n)
	if err != nil {
		return corrupt(err)
	}
	return nil
}

func (z *lzopReader) u32() (uint32, error) {
	var b [4]byte
	err := z.full(b[:])
	return binary.BigEndian.Uint32(b[:]), err
}

// header parses the lzop header, checking its checksum.
func (z *lzopReader) header() error {
	var m [9]byte
	if err := z.full(m[:]); err != nil {
		return err
	}
	if !bytes.Equal(m[:], lzopMagic) {
		return fmt.Errorf("%w: no lzop magic", ErrCorrupt)
	}
	// Record the header bytes for the checksum.
	var h bytes.Buffer
	rd := func(n int) ([]byte, error) {
		b := make([]byte, n)
		if err := z.full(b); err != nil {
			return nil, fmt.Errorf("lzop header: %w", err)
		}
		h.Write(b)
		return b, nil
	}
	b, err := rd(4)
	if err != nil {
		return err
	}
	version := binary.BigEndian.Uint16(b)
	if version < 0x0900 {
		return fmt.Errorf("%w: lzop version %#x too old", ErrUnsupported, version)
	}
	if version >= 0x0940 {
		if _, err := rd(2); err != nil { // version needed to extract
			return err
		}
	}
	b, err = rd(1)
	if err != nil {
		return err
	}
	if method := b[0]; method < 1 || method > 3 {
		return fmt.Errorf("%w: lzop method %d is not LZO1X", ErrUnsupported, method)
	}
	if version >= 0x0940 {
		if _, err := rd(1); err != nil { // level
			return err
		}
	}
	b, err = rd(4)
	if err != nil {
		return err
	}
	z.flags = binary.BigEndian.Uint32(b)
	if z.flags&lzopFilter != 0 {
		return fmt.Errorf("%w: lzop filter", ErrUnsupported)
	}
	skip := 4 + 4 // mode, mtime low
	if version >= 0x0940 {
		skip += 4 // mtime high
	}
	if _, err := rd(skip); err != nil {
		return err
	}
	b, err = rd(1)
	if err != nil {
		return err
	}
	if _, err := rd(int(b[0])); err != nil { // name
		return err
	}
	sum, err := z.u32()
	if err != nil {
		return fmt.Errorf("lzop header: %w", err)
	}
	var want uint32
	if z.flags&lzopHeaderCRC != 0 {
		want = crc32.ChecksumIEEE(h.Bytes())
	} else {
		want = adler32.Checksum(h.Bytes())
	}
	if sum != want {
		return fmt.Errorf("%w: lzop header checksum %#x, computed %#x", ErrCorrupt, sum, want)
	}
	if z.flags&lzopExtraField != 0 {
		n, err := z.u32()
		if err != nil {
			return err
		}
		if n > 1<<20 {
			return fmt.Errorf("%w: lzop extra field of %d bytes", ErrCorrupt, n)
		}
		if err := z.full(make([]byte, n+4)); err != nil {
			return err
		}
	}
	return nil
}

// block decodes the next block into z.out; it sets z.done at the end marker.
func (z *lzopReader) block() error {
	dlen, err := z.u32()
	if err != nil {
		return err
	}
	if dlen == 0 {
		z.done = true
		return nil
	}
	if dlen > lzopMaxBlock {
		return fmt.Errorf("%w: lzop block of %d bytes", ErrCorrupt, dlen)
	}
	slen, err := z.u32()
	if err != nil {
		return err
	}
	if slen == 0 || slen > dlen {
		return fmt.Errorf("%w: lzop block sizes %d/%d", ErrCorrupt, slen, dlen)
	}
	var dsum, csum uint32
	if z.flags&(lzopAdler32D|lzopCRC32D) != 0 {
		if dsum, err = z.u32(); err != nil {
			return err
		}
	}
	if slen < dlen && z.flags&(lzopAdler32C|lzopCRC32C) != 0 {
		if csum, err = z.u32(); err != nil {
			return err
		}
	}
	_ = csum // the decoded data's checksum covers the compressed one
	if cap(z.src) < int(slen) {
		z.src = make([]byte, slen)
	}
	z.src = z.src[:slen]
	if err := z.full(z.src); err != nil {
		return err
	}
	if cap(z.dst) < int(dlen) {
		z.dst = make([]byte, dlen)
	}
	z.dst = z.dst[:dlen]
	if slen == dlen {
		copy(z.dst, z.src)
	} else {
		n, err := lzo.Decompress(z.src, z.dst)
		if err != nil {
			return fmt.Errorf("%w: lzo block: %w", ErrCorrupt, err)
		}
		if n != int(dlen) {
			return fmt.Errorf("%w: lzo block decoded to %d bytes, header says %d", ErrCorrupt, n, dlen)
		}
	}
	switch {
	case z.flags&lzopAdler32D != 0:
		if got := adler32.Checksum(z.dst); got != dsum {
			return fmt.Errorf("%w: lzop block adler32 %#x, want %#x", ErrCorrupt, got, dsum)
		}
	case z.flags&lzopCRC32D != 0:
		if got := crc32.ChecksumIEEE(z.dst); got != dsum {
			return fmt.Errorf("%w: lzop block crc32 %#x, want %#x", ErrCorrupt, got, dsum)
		}
	}
	z.out.Reset(z.dst)
	return nil
}

func newLzopReader(r io.Reader) (io.ReadCloser, error) {
	z := &lzopReader{r: bufio.NewReader(r)}
	z.blockReader.next = z.block
	if err := z.header(); err != nil {
		return nil, err
	}
	return z, nil
}

func decodeLzop(data []byte, max int64) ([]byte, int, error) {
	z := &lzopReader{r: bufio.NewReaderSize(bytes.NewReader(data), 1<<16)}
	z.blockReader.next = z.block
	if err := z.header(); err != nil {
		return nil, 0, fmt.Errorf("decompress lzo: %w", err)
	}
	out, err := readCapped(z, max, len(data))
	if err != nil {
		return nil, 0, fmt.Errorf("decompress lzo: %w", err)
	}
	return out, int(z.n), nil
}
