package btfc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unsafe"
)

// The dump path's own BTF reader. A full dump needs every type once, in ID
// order, and nothing of cilium/ebpf's general-purpose model (one Go value per
// type, reverse maps, lazy inflation). So the raw type section is decoded in
// two passes straight into the graph the emitter walks:
//
//  1. walk the type headers, bounds-checking each record, and count types,
//     members (struct/union members, parameters, datasec entries, array index
//     slots) and enumerators;
//  2. allocate one slice of nodes, one of members and one of enumerators of
//     exactly that size and fill them; each type's members or enumerators
//     are a (first, count) range of the shared slices (no allocation per
//     type, no map).
//
// Names are not copied: they are zero-copy strings pointing into the string
// section of the input (which must therefore stay unmodified while the BTF
// is in use), with each name offset checked to be the start of a
// NUL-terminated string before it is used. For split BTF (a module's) the
// graph continues the base's: IDs from the base's count on, string offsets
// from the base's string section length on, as the format defines them.
//
// What cilium/ebpf does on reading is reproduced where it changes output:
// legacy bitfields (an INT with a bit offset or a bit size smaller than its
// size, referenced by a member of a struct without the kind flag) become
// bitfield members; ENUM values are sign-extended for signed enums; decl
// tags with component index -1 on a FUNC mark kfuncs.

// rawHeaderLen is the length of the BTF header's fixed part.
const rawHeaderLen = 24

// BTF kinds (raw numbering).
const (
	rkInt = iota + 1
	rkPtr
	rkArray
	rkStruct
	rkUnion
	rkEnum
	rkFwd
	rkTypedef
	rkVolatile
	rkConst
	rkRestrict
	rkFunc
	rkFuncProto
	rkVar
	rkDatasec
	rkFloat
	rkDeclTag
	rkTypeTag
	rkEnum64
)

// maxTypes bounds the type count (IDs are int32 in the graph; the kernel
// allows 2^31 too).
const maxTypes = 1<<31 - 1

// rawSections checks the header of a raw BTF blob and returns its byte
// order and its type and string sections.
func rawSections(data []byte) (binary.ByteOrder, []byte, []byte, error) {
	if len(data) < rawHeaderLen {
		return nil, nil, nil, fmt.Errorf("%w: BTF header truncated (%d bytes, need %d)", ErrMalformed, len(data), rawHeaderLen)
	}
	var bo binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint16(data) == btfMagic:
		bo = binary.LittleEndian
	case binary.BigEndian.Uint16(data) == btfMagic:
		bo = binary.BigEndian
	default:
		return nil, nil, nil, fmt.Errorf("%w: bad BTF magic %#04x", ErrMalformed, binary.LittleEndian.Uint16(data))
	}
	if v := data[2]; v != 1 {
		return nil, nil, nil, fmt.Errorf("%w: BTF version %d, only 1 is known", ErrMalformed, v)
	}
	if f := data[3]; f != 0 {
		return nil, nil, nil, fmt.Errorf("%w: BTF header flags %#x, none are known", ErrMalformed, f)
	}
	hdrLen := uint64(bo.Uint32(data[4:]))
	if hdrLen < rawHeaderLen || hdrLen > uint64(len(data)) {
		return nil, nil, nil, fmt.Errorf("%w: BTF header length %d out of bounds (%d bytes)", ErrMalformed, hdrLen, len(data))
	}
	sec := func(what string, off, n uint32) ([]byte, error) {
		start := hdrLen + uint64(off)
		end := start + uint64(n)
		if end > uint64(len(data)) {
			return nil, fmt.Errorf("%w: BTF %s section [%d, %d) beyond the %d bytes read", ErrMalformed, what, start, end, len(data))
		}
		return data[start:end:end], nil
	}
	types, err := sec("type", bo.Uint32(data[8:]), bo.Uint32(data[12:]))
	if err != nil {
		return nil, nil, nil, err
	}
	strs, err := sec("string", bo.Uint32(data[16:]), bo.Uint32(data[20:]))
	if err != nil {
		return nil, nil, nil, err
	}
	return bo, types, strs, nil
}

// rawExtra is the size of the data following a type's 12-byte header.
func rawExtra(kind uint8, vlen uint64) (uint64, bool) {
	switch kind {
	case rkInt, rkVar, rkDeclTag:
		return 4, true
	case rkArray:
		return 12, true
	case rkStruct, rkUnion, rkDatasec, rkEnum64:
		return 12 * vlen, true
	case rkEnum, rkFuncProto:
		return 8 * vlen, true
	case rkPtr, rkFwd, rkTypedef, rkVolatile, rkConst, rkRestrict, rkFunc, rkFloat, rkTypeTag:
		return 0, true
	}
	return 0, false
}

// readGraph decodes raw BTF (the bytes of /sys/kernel/btf/*, or an ELF's
// .BTF section) into a graph. With a non-nil base, data is split BTF on it
// and the result holds the base's types too.
func readGraph(data []byte, base *graph) (*graph, error) {
	bo, types, strs, err := rawSections(data)
	if err != nil {
		return nil, err
	}
	if len(strs) > 0 && strs[len(strs)-1] != 0 {
		return nil, fmt.Errorf("%w: BTF string section does not end with NUL", ErrMalformed)
	}
	g := &graph{strs: strs}
	first := 1
	if base != nil {
		if base.strs1 != nil {
			return nil, fmt.Errorf("%w: split BTF cannot be the base of split BTF", ErrMalformed)
		}
		if base.bigEndian != (bo == binary.BigEndian) {
			return nil, fmt.Errorf("%w: split BTF and its base differ in byte order", ErrMalformed)
		}
		first = len(base.nodes)
		g.strs, g.strs1 = base.strs, strs
		if g.strs1 == nil {
			g.strs1 = []byte{}
		}
	} else if len(strs) == 0 || strs[0] != 0 {
		return nil, fmt.Errorf("%w: BTF string section does not start with an empty string", ErrMalformed)
	}
	g.bigEndian = bo == binary.BigEndian

	// Pass 1: bounds and counts.
	var nTypes, nVals uint64
	for buf := types; len(buf) > 0; {
		if len(buf) < 12 {
			return nil, fmt.Errorf("%w: BTF type %d: header truncated", ErrMalformed, uint64(first)+nTypes)
		}
		info := bo.Uint32(buf[4:])
		kind, vlen := uint8(info>>24&0x1f), uint64(info&0xffff)
		extra, ok := rawExtra(kind, vlen)
		if !ok {
			return nil, fmt.Errorf("%w: BTF type %d: unknown kind %d", ErrMalformed, uint64(first)+nTypes, kind)
		}
		if uint64(len(buf))-12 < extra {
			return nil, fmt.Errorf("%w: BTF type %d: data truncated", ErrMalformed, uint64(first)+nTypes)
		}
		if kind == rkEnum || kind == rkEnum64 {
			nVals += vlen
		}
		nTypes++
		buf = buf[12+extra:]
	}
	total := uint64(first) + nTypes
	if total > maxTypes {
		return nil, fmt.Errorf("%w: %d BTF types, more than %d", ErrMalformed, total, maxTypes)
	}

	// Pass 2: fill. Members stay in the type section (graph.mem reads
	// them); a node records where its member records start, in the
	// offsets of the base's type section followed by this one's.
	g.nodes = make([]node, total)
	var vi int // next free enumerator
	g.types = types
	var typeBase uint64
	if base != nil {
		copy(g.nodes, base.nodes)
		vi = len(base.vals)
		g.types, g.types1 = base.types, types
		typeBase = uint64(len(base.types))
		g.anonFix = base.anonFix
	}
	if typeBase+uint64(len(types)) > 1<<32-1 {
		return nil, fmt.Errorf("%w: BTF type sections of %d bytes, more than 4 GiB", ErrMalformed, typeBase+uint64(len(types)))
	}
	g.vals = make([]enumVal, uint64(vi)+nVals)
	if base != nil {
		copy(g.vals, base.vals)
	}
	strBase := uint32(0)
	if base != nil {
		strBase = uint32(len(base.strs))
	}
	var legacy bool // some INT is a legacy bitfield
	id := first
	for buf := types; len(buf) > 0; id++ {
		at := uint32(typeBase + uint64(len(types)-len(buf)) + 12) // the type's data
		n := &g.nodes[id]
		info := bo.Uint32(buf[4:])
		rk, vlen, kflag := uint8(info>>24&0x1f), int(info&0xffff), info>>31 != 0
		sizeType := bo.Uint32(buf[8:])
		name, err := g.lookup(bo.Uint32(buf[0:]), strBase)
		if err != nil {
			return nil, fmt.Errorf("BTF type %d: %w", id, err)
		}
		if name != "" {
			n.name, n.nlen = bo.Uint32(buf[0:]), uint16(min(len(name), nameLong))
		}
		extra, _ := rawExtra(rk, uint64(vlen))
		d := buf[12 : 12+extra]
		buf = buf[12+extra:]
		switch rk {
		case rkInt:
			n.kind, n.size = kInt, sizeType
			enc := bo.Uint32(d)
			n.set(fSigned, enc>>24&1 != 0)
			// As cilium/ebpf: a bit offset, or a bit size whose bytes differ
			// from the size.
			if off, bits := enc>>16&0xff, enc&0xff; off != 0 || uint64(bits+7)/8 != uint64(sizeType) {
				n.flags |= fLegacyBF
				n.legacyOff, n.legacyBits, legacy = uint8(off), uint8(bits), true
			}
		case rkFloat:
			n.kind, n.size = kFloat, sizeType
		case rkPtr, rkTypedef, rkVolatile, rkConst, rkRestrict, rkFunc, rkTypeTag, rkVar, rkDeclTag:
			n.kind = [...]kind{rkPtr: kPtr, rkTypedef: kTypedef, rkVolatile: kVolatile, rkConst: kConst,
				rkRestrict: kRestrict, rkFunc: kFunc, rkTypeTag: kTypeTag, rkVar: kVar, rkDeclTag: kDeclTag}[rk]
			n.ref = int32(sizeType)
			n.set(fAttrTag, rk == rkTypeTag && kflag)
			if rk == rkDeclTag {
				n.size = bo.Uint32(d) // component index
			}
		case rkArray:
			n.kind, n.size, n.ref = kArray, bo.Uint32(d[8:]), int32(bo.Uint32(d))
			n.first, n.count = bo.Uint32(d[4:]), 1 // the index type
		case rkStruct, rkUnion:
			n.kind, n.size = kStruct, sizeType
			if rk == rkUnion {
				n.kind = kUnion
			}
			n.first, n.count = at, uint16(vlen)
			for j := range vlen {
				if err := g.checkName(bo.Uint32(d[12*j:]), strBase); err != nil {
					return nil, fmt.Errorf("BTF type %d member %d: %w", id, j, err)
				}
			}
			n.set(fKflag, kflag)
		case rkFuncProto:
			n.kind, n.ref = kProto, int32(sizeType)
			n.first, n.count = at, uint16(vlen)
			for j := range vlen {
				if err := g.checkName(bo.Uint32(d[8*j:]), strBase); err != nil {
					return nil, fmt.Errorf("BTF type %d parameter %d: %w", id, j, err)
				}
			}
		case rkDatasec:
			n.kind, n.size = kDatasec, sizeType
			n.first, n.count = at, uint16(vlen)
		case rkEnum, rkEnum64:
			n.kind, n.size = kEnum, sizeType
			n.set(fSigned, kflag)
			n.set(fEnum64, rk == rkEnum64)
			vs := g.vals[vi : vi+vlen : vi+vlen]
			n.first, n.count = uint32(vi), uint16(vlen)
			vi += vlen
			step := 8
			if rk == rkEnum64 {
				step = 12
			}
			for j := range vs {
				r := d[step*j:]
				if vs[j].name, err = g.lookupOff(bo.Uint32(r), strBase); err != nil {
					return nil, fmt.Errorf("BTF type %d enumerator %d: %w", id, j, err)
				}
				lo := bo.Uint32(r[4:])
				switch {
				case rk == rkEnum64:
					vs[j].val = uint64(bo.Uint32(r[8:]))<<32 | uint64(lo)
				case kflag:
					vs[j].val = uint64(int64(int32(lo)))
				default:
					vs[j].val = uint64(lo)
				}
			}
		case rkFwd:
			n.kind = kFwd
			n.set(fFwdUnion, kflag)
		}
	}

	// References must name a type of this graph; kfunc tags and legacy
	// bitfields need the targets.
	valid := func(t int32) bool { return t >= 0 && int(t) < len(g.nodes) }
	for i := first; i < len(g.nodes); i++ {
		n := &g.nodes[i]
		switch n.kind {
		case kInt, kFloat, kFwd, kEnum:
			continue
		}
		if !valid(n.ref) {
			return nil, fmt.Errorf("%w: BTF type %d refers to type %d, beyond the last (%d)", ErrMalformed, i, uint32(n.ref), len(g.nodes)-1)
		}
		for j := range int(n.count) {
			if m := g.rawMem(n, j); !valid(m.typ) {
				return nil, fmt.Errorf("%w: BTF type %d member %d refers to type %d, beyond the last (%d)", ErrMalformed, i, j, uint32(m.typ), len(g.nodes)-1)
			}
		}
		if n.kind == kDeclTag && int32(n.size) == -1 {
			if t := &g.nodes[n.ref]; t.kind == kFunc {
				switch g.name(n) {
				case "bpf_kfunc":
					t.flags |= fKfunc
				case "bpf_fastcall":
					t.flags |= fFastcall
				}
			}
		}
	}
	g.legacy = g.legacy || legacy
	return g, nil
}

// checkName checks a member's name offset as lookup does; an offset other
// than 0 naming the empty string sets anonFix (graph.mem then reads it as 0,
// as cilium/ebpf does).
func (g *graph) checkName(off, strBase uint32) error {
	s, err := g.lookup(off, strBase)
	if err == nil && off != 0 && s == "" {
		g.anonFix = true
	}
	return err
}

// lookupOff checks the string offset off as lookup does and returns it, or
// 0 for an empty string.
func (g *graph) lookupOff(off, strBase uint32) (uint32, error) {
	s, err := g.lookup(off, strBase)
	if err != nil || s == "" {
		return 0, err
	}
	return off, nil
}

// lookup returns the string at offset off (in the split-BTF numbering: the
// base's strings first, from strBase on this BTF's own) without copying it.
func (g *graph) lookup(off, strBase uint32) (string, error) {
	if off == 0 {
		return "", nil
	}
	b := g.strs
	if g.strs1 != nil {
		if off >= strBase {
			b, off = g.strs1, off-strBase
		}
	}
	if uint64(off) >= uint64(len(b)) {
		return "", fmt.Errorf("%w: string offset %d beyond the string section", ErrMalformed, off)
	}
	if off > 0 && b[off-1] != 0 {
		return "", fmt.Errorf("%w: string offset %d is not the start of a string", ErrMalformed, off)
	}
	s := b[off:]
	i := bytes.IndexByte(s, 0) // found: the section ends with NUL
	if i <= 0 {
		return "", nil
	}
	return unsafe.String(&s[0], i), nil
}
