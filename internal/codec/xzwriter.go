package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"

	"github.com/ulikunitz/xz/lzma"

	"github.com/kheaders/kheaders/internal/xz"
)

// The pure-Go xz encoder: the LZMA2 data comes from
// github.com/ulikunitz/xz/lzma, the .xz container around it (stream
// header, one block, its check, the index, the footer) is written here.
// Not ulikunitz's own xz.Writer: its package builds a CRC-64 table at
// init, which every kheaders call paid, encoding or not (issue 16). The
// output is byte for byte what xz.WriterConfig{DictCap, CheckSum}.NewWriter
// writes (TestXZWriterMatchesUlikunitz).

// xzWriter writes one xz stream holding one block.
type xzWriter struct {
	out    *errWriter // the destination, counting bytes, keeping the first error
	lz     *lzma.Writer2
	check  hash.Hash
	flags  [2]byte // stream flags: 0, check type
	hdrLen int64   // block header length
	start  int64   // out.n at the start of the block's data
	n      int64   // uncompressed bytes
	closed bool
}

// errWriter counts what reaches w and keeps its first error, which later
// writes return (lzma.Writer2.Close drops a flush error).
type errWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	e.err = err
	return n, err
}

// NewXZWriter returns a writer of an xz stream into w: LZMA2 (lc=3 lp=0
// pb=2) with a dictionary of dictCap bytes, and check xz.CheckCRC32 or
// xz.CheckCRC64.
func NewXZWriter(w io.Writer, dictCap int, check byte) (io.WriteCloser, error) {
	z := &xzWriter{out: &errWriter{w: w}, flags: [2]byte{0, check}}
	switch check {
	case xz.CheckCRC32:
		z.check = crc32.NewIEEE()
	case xz.CheckCRC64:
		z.check = crc64.New(crc64.MakeTable(crc64.ECMA))
	default:
		return nil, fmt.Errorf("xz writer: check type %#x not supported", check)
	}
	lz, err := lzma.Writer2Config{
		Properties: &lzma.Properties{LC: 3, LP: 0, PB: 2},
		DictCap:    dictCap,
		BufSize:    4096,
	}.NewWriter2(z.out)
	if err != nil {
		return nil, fmt.Errorf("xz writer: %w", err)
	}
	z.lz = lz
	// Stream header: magic, flags, CRC32 of the flags.
	h := append(append([]byte(nil), xz.Magic...), z.flags[:]...)
	h = binary.LittleEndian.AppendUint32(h, crc32.ChecksumIEEE(z.flags[:]))
	// Block header: its size in 4-byte units minus one, block flags (one
	// filter, no sizes), the LZMA2 filter (ID, one property byte, the
	// dictionary size code), padding to a multiple of 4, CRC32.
	b := []byte{0, 0, 0x21, 1, lzma.EncodeDictCap(int64(dictCap))}
	for (len(b)+4)%4 != 0 {
		b = append(b, 0)
	}
	b[0] = byte((len(b)+4)/4 - 1)
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	z.hdrLen = int64(len(b))
	if _, err := z.out.Write(append(h, b...)); err != nil {
		return nil, err
	}
	z.start = z.out.n
	return z, nil
}

var errXZClosed = errors.New("xz writer: write after close")

func (z *xzWriter) Write(p []byte) (int, error) {
	if z.closed {
		return 0, errXZClosed
	}
	n, err := z.lz.Write(p)
	z.check.Write(p[:n])
	z.n += int64(n)
	if err == nil {
		err = z.out.err
	}
	return n, err
}

// Close ends the LZMA2 data and writes the block's padding and check, the
// index and the stream footer.
func (z *xzWriter) Close() error {
	if z.closed {
		return errXZClosed
	}
	z.closed = true
	if err := z.lz.Close(); err != nil {
		return err
	}
	if z.out.err != nil {
		return z.out.err
	}
	data := z.out.n - z.start
	var t []byte
	for i := (z.hdrLen + data) % 4; i != 0 && i < 4; i++ {
		t = append(t, 0)
	}
	// The check, little-endian in xz (the hashes' Sum is big-endian).
	t = z.check.Sum(t)
	if z.flags[1] == xz.CheckCRC64 {
		c := t[len(t)-8:]
		binary.LittleEndian.PutUint64(c, binary.BigEndian.Uint64(c))
	} else {
		c := t[len(t)-4:]
		binary.LittleEndian.PutUint32(c, binary.BigEndian.Uint32(c))
	}
	// Index: indicator, one record (unpadded size, uncompressed size),
	// padding, CRC32.
	idx := []byte{0, 1}
	idx = binary.AppendUvarint(idx, uint64(z.hdrLen+data+int64(z.check.Size())))
	idx = binary.AppendUvarint(idx, uint64(z.n))
	for len(idx)%4 != 0 {
		idx = append(idx, 0)
	}
	idx = binary.LittleEndian.AppendUint32(idx, crc32.ChecksumIEEE(idx))
	// Footer: CRC32 of (backward size, flags), backward size (the index's
	// size in 4-byte units minus one), flags, magic.
	f := binary.LittleEndian.AppendUint32(nil, uint32(len(idx)/4-1))
	f = append(f, z.flags[:]...)
	f = append(binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(f)), f...)
	f = append(f, 'Y', 'Z')
	t = append(append(t, idx...), f...)
	_, err := z.out.Write(t)
	return err
}
