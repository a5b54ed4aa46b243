package codec

import (
	"encoding/binary"
	"fmt"
)

// zstdFrameLen returns the length of the zstd frame at data[0] by walking its
// header and block headers (RFC 8878 §3.1.1), without decoding.
func zstdFrameLen(data []byte) (int, error) {
	if len(data) < 5 || binary.LittleEndian.Uint32(data) != 0xfd2fb528 {
		return 0, fmt.Errorf("%w: no zstd frame magic", ErrCorrupt)
	}
	fhd := data[4]
	p := 5
	single := fhd&0x20 != 0
	if fhd&0x08 != 0 {
		return 0, fmt.Errorf("%w: zstd frame header reserved bit set", ErrCorrupt)
	}
	if !single {
		p++ // window descriptor
	}
	p += []int{0, 1, 2, 4}[fhd&3]
	switch fhd >> 6 {
	case 0:
		if single {
			p++
		}
	case 1:
		p += 2
	case 2:
		p += 4
	case 3:
		p += 8
	}
	for {
		if p+3 > len(data) {
			return 0, fmt.Errorf("%w: zstd frame truncated at block header (offset %d)", ErrCorrupt, p)
		}
		h := uint32(data[p]) | uint32(data[p+1])<<8 | uint32(data[p+2])<<16
		p += 3
		size := int(h >> 3)
		switch (h >> 1) & 3 {
		case 1: // RLE
			size = 1
		case 3:
			return 0, fmt.Errorf("%w: zstd reserved block type at offset %d", ErrCorrupt, p-3)
		}
		if size > len(data)-p {
			return 0, fmt.Errorf("%w: zstd block of %d bytes past end of data", ErrCorrupt, size)
		}
		p += size
		if h&1 != 0 {
			break
		}
	}
	if fhd&0x04 != 0 {
		p += 4
		if p > len(data) {
			return 0, fmt.Errorf("%w: zstd frame checksum truncated", ErrCorrupt)
		}
	}
	return p, nil
}
