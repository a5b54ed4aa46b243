package btfc

import (
	"encoding/binary"
	"fmt"
)

// BTF kinds as numbered in the BTF format.
const (
	rawKindEnum    = 6
	rawKindTypeTag = 18
	rawKindEnum64  = 19
)

// rawInfo keeps, per type ID, the details cilium/ebpf folds away: the
// original kind (ENUM vs ENUM64: clang before 15 writes 8-byte enums as
// ENUM) and the kind flag (TYPE_TAG attribute form).
type rawInfo struct {
	kinds []uint8
	kflag []bool
}

// scanRaw walks the type section of a raw BTF blob. first is the ID of its
// first type (1, or the base's type count for split BTF); the result holds
// entries for IDs below first copied from base.
func scanRaw(data []byte, base *rawInfo) (*rawInfo, error) {
	if len(data) < 24 {
		return nil, fmt.Errorf("%w: BTF header truncated", ErrMalformed)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if binary.LittleEndian.Uint16(data) != btfMagic {
		if binary.BigEndian.Uint16(data) != btfMagic {
			return nil, fmt.Errorf("%w: bad BTF magic", ErrMalformed)
		}
		bo = binary.BigEndian
	}
	hdrLen := bo.Uint32(data[4:])
	typeOff := bo.Uint32(data[8:])
	typeLen := bo.Uint32(data[12:])
	start := uint64(hdrLen) + uint64(typeOff)
	end := start + uint64(typeLen)
	if hdrLen < 24 || end > uint64(len(data)) {
		return nil, fmt.Errorf("%w: BTF type section out of bounds", ErrMalformed)
	}
	ri := &rawInfo{kinds: []uint8{0}, kflag: []bool{false}}
	if base != nil {
		ri.kinds = append([]uint8(nil), base.kinds...)
		ri.kflag = append([]bool(nil), base.kflag...)
	}
	buf := data[start:end]
	for len(buf) > 0 {
		if len(buf) < 12 {
			return nil, fmt.Errorf("%w: BTF type truncated", ErrMalformed)
		}
		info := bo.Uint32(buf[4:])
		vlen := uint64(info & 0xffff)
		kind := uint8(info >> 24 & 0x1f)
		var extra uint64
		switch kind {
		case 1, 14, 17: // INT, VAR, DECL_TAG
			extra = 4
		case 3: // ARRAY
			extra = 12
		case 4, 5, 15, rawKindEnum64: // STRUCT, UNION, DATASEC, ENUM64
			extra = 12 * vlen
		case rawKindEnum, 13: // ENUM, FUNC_PROTO
			extra = 8 * vlen
		case 2, 7, 8, 9, 10, 11, 12, 16, rawKindTypeTag:
		default:
			return nil, fmt.Errorf("%w: unknown BTF kind %d", ErrMalformed, kind)
		}
		if uint64(len(buf)) < 12+extra {
			return nil, fmt.Errorf("%w: BTF type truncated", ErrMalformed)
		}
		ri.kinds = append(ri.kinds, kind)
		ri.kflag = append(ri.kflag, info>>31 != 0)
		buf = buf[12+extra:]
	}
	return ri, nil
}
