// Package btfc turns BTF (BPF Type Format) type information into C
// declarations: the vmlinux.h header that CO-RE BPF programs include.
//
// Load reads BTF with this package's own flat reader (header, type and
// string sections; raw BTF or an ELF's .BTF section; split BTF on a base);
// (*BTF).Write streams the header, Generate returns it in memory and
// LayoutAsserts the sizeof/offsetof checks of its layouts. The C emitter is
// this package's own. Its ordering and naming rules follow the public
// description of libbpf's btf_dump (topological order with strong and weak
// edges, forward declarations on cycles, inlined anonymous types, packing
// and padding reconstruction, per-namespace name de-duplication), so that
// the output can be compared byte for byte with
// `bpftool btf dump file X format c`. The tests check the reader against
// github.com/cilium/ebpf/btf's reading of the same inputs.
//
// The emitter works on a compact type graph indexed by BTF type ID (see
// graph): 24 bytes per type, names as offsets into the BTF's string
// section, members and enumerators in two shared slices, so the hot loops
// never touch interface values or maps and nothing is allocated per type.
package btfc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"iter"
	"unsafe"
)

// Errors returned by this package.
var (
	// ErrNotFound: a type named in Options.Types does not exist.
	ErrNotFound = errors.New("type not found")
	// ErrCycle: the BTF has a cycle that C cannot express (for example an
	// anonymous struct that contains itself), as bpftool reports it.
	ErrCycle = errors.New("unsatisfiable type cycle")
	// ErrMalformed: the BTF graph is inconsistent (too deep, unknown kind).
	ErrMalformed = errors.New("malformed BTF")
)

type kind uint8

const (
	kVoid kind = iota
	kInt
	kPtr
	kArray
	kStruct
	kUnion
	kEnum
	kFwd
	kTypedef
	kVolatile
	kConst
	kRestrict
	kFunc
	kProto
	kVar
	kDatasec
	kFloat
	kDeclTag
	kTypeTag
)

// member is a struct/union member, a function parameter or a datasec entry.
type member struct {
	name uint32 // string offset (graph.str); 0 = no name
	typ  int32
	off  uint32 // bit offset (struct/union)
	bits uint32 // bitfield size, 0 if not a bitfield
}

type enumVal struct {
	name uint32 // string offset (graph.str)
	val  uint64
}

// node is one BTF type, in 24 bytes: names are offsets into the string
// section (with their length, so that reading one is not a scan), flags a
// bit set.
type node struct {
	name uint32 // string offset (graph.name); 0 = anonymous
	size uint32 // int, float, struct, union, enum, datasec; nelems for arrays; decl tag: component index
	ref  int32  // pointee, element, typedef target, modifier target, func proto, return type, var type
	// members (struct, union, proto, datasec): where their records start
	// in the type section (graph.mem), count of them; array: the index
	// type, count 1; enum: graph.vals[first, first+count)
	first uint32
	count uint16
	nlen  uint16 // length of the name; nameLong when it does not fit
	kind  kind
	flags uint8 // fSigned ...
	// int: a legacy bitfield's bit offset and size (fLegacyBF)
	legacyOff, legacyBits uint8
}

// node flags.
const (
	fSigned   uint8 = 1 << iota // int, enum
	fFwdUnion                   // fwd: of a union
	fEnum64                     // enum: 64-bit values (ENUM64 kind)
	fAttrTag                    // type tag: kind flag set, emit __attribute__((NAME))
	fKfunc                      // func: has the bpf_kfunc decl tag
	fFastcall                   // func: has the bpf_fastcall decl tag
	fKflag                      // struct, union: the raw kind flag (bitfield offsets)
	fLegacyBF                   // int: a legacy bitfield (bit offset or size in the INT encoding)
)

// nameLong in node.nlen: the name is 65535 bytes or longer (graph.str finds
// its end).
const nameLong = 0xffff

func (n *node) has(f uint8) bool { return n.flags&f != 0 }

func (n *node) set(f uint8, on bool) {
	if on {
		n.flags |= f
	}
}

// graph is the whole type table, index = BTF type ID (0 is void). For
// split BTF it holds the base's types too: bpftool dumps them as well.
type graph struct {
	nodes []node
	vals  []enumVal
	// types is the type section member records are read from (graph.mem;
	// the base's for split BTF, whose own section is types1).
	types, types1 []byte
	// legacy: some INT is a legacy bitfield; anonFix: some member name
	// offset other than 0 names the empty string.
	legacy, anonFix bool
	// Set by readGraph: the string section names point into (the base's
	// for split BTF, whose own strings are strs1) and the byte order.
	strs, strs1 []byte
	bigEndian   bool
}

// str returns the string at offset off of the graph's string sections (for
// split BTF, offsets from len(strs) on are in strs1). Offsets were checked
// when the graph was built.
func (g *graph) str(off uint32) string {
	if off == 0 {
		return ""
	}
	b := g.strs
	if g.strs1 != nil && uint64(off) >= uint64(len(g.strs)) {
		b, off = g.strs1, off-uint32(len(g.strs))
	}
	s := b[off:]
	i := bytes.IndexByte(s, 0)
	if i <= 0 {
		return ""
	}
	return unsafe.String(&s[0], i)
}

// name returns the name of n (no copy, no scan unless it is nameLong).
func (g *graph) name(n *node) string {
	if n.nlen == 0 {
		return ""
	}
	if n.nlen == nameLong {
		return g.str(n.name)
	}
	b, off := g.strs, n.name
	if g.strs1 != nil && uint64(off) >= uint64(len(g.strs)) {
		b, off = g.strs1, off-uint32(len(g.strs))
	}
	return unsafe.String(&b[off], int(n.nlen))
}

// mems yields the members of n (struct/union members, parameters, datasec
// entries, an array's index type) with their index.
func (g *graph) mems(n *node) iter.Seq2[int, member] {
	return func(yield func(int, member) bool) {
		for j := range int(n.count) {
			if !yield(j, g.mem(n, j)) {
				return
			}
		}
	}
}

// mem returns member j of n, read from the type section: names as
// cilium/ebpf gives them (an empty name is offset 0) and legacy bitfields
// (an INT member's own bit offset and size) folded in.
func (g *graph) mem(n *node, j int) member {
	m := g.rawMem(n, j)
	if g.anonFix && m.name != 0 && g.str(m.name) == "" {
		m.name = 0
	}
	if g.legacy && !n.has(fKflag) && (n.kind == kStruct || n.kind == kUnion) {
		if t := &g.nodes[m.typ]; t.kind == kInt && t.has(fLegacyBF) {
			m.off += uint32(t.legacyOff)
			m.bits = uint32(t.legacyBits)
		}
	}
	return m
}

// rawMem decodes member j of n as the type section has it.
func (g *graph) rawMem(n *node, j int) member {
	if n.kind == kArray {
		return member{typ: int32(n.first)}
	}
	b, off := g.types, uint64(n.first)
	if g.types1 != nil && off >= uint64(len(g.types)) {
		b, off = g.types1, off-uint64(len(g.types))
	}
	switch n.kind {
	case kProto:
		r := b[off+8*uint64(j):]
		return member{name: g.u32(r), typ: int32(g.u32(r[4:]))}
	case kDatasec:
		return member{typ: int32(g.u32(b[off+12*uint64(j):]))}
	}
	r := b[off+12*uint64(j):]
	m := member{name: g.u32(r), typ: int32(g.u32(r[4:]))}
	o := g.u32(r[8:])
	if n.has(fKflag) {
		m.off, m.bits = o&0xffffff, o>>24
	} else {
		m.off = o
	}
	return m
}

// u32 reads a 32-bit word of the BTF in its byte order.
func (g *graph) u32(b []byte) uint32 {
	if g.bigEndian {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// enumVals returns the enumerators of enum n.
func (g *graph) enumVals(n *node) []enumVal {
	e := n.first + uint32(n.count)
	return g.vals[n.first:e:e]
}

// valid reports whether id is a type ID of g.
func (g *graph) valid(id int32) bool { return id >= 0 && int(id) < len(g.nodes) }

// maxDepth bounds every walk along references; real kernels stay far below.
const maxDepth = 1024

// ptrSize guesses the target's pointer size from the size of its long type,
// as libbpf does; 8 when no long is found.
func (g *graph) ptrSize() int {
	for i := range g.nodes {
		n := &g.nodes[i]
		if n.kind != kInt || (n.size != 4 && n.size != 8) {
			continue
		}
		switch g.name(n) {
		case "long", "long int", "int long", "unsigned long", "long unsigned",
			"unsigned long int", "unsigned int long", "long unsigned int",
			"long int unsigned", "int unsigned long", "int long unsigned":
			return int(n.size)
		}
	}
	return 8
}

// resolveSize is the size in bytes of a type as C sees it, or -1 if it has
// none (void, fwd, function).
func (g *graph) resolveSize(id int32, ptrSz int) int64 {
	nelems := int64(1)
	for depth := 0; depth < 32; depth++ {
		if !g.valid(id) {
			return -1
		}
		n := &g.nodes[id]
		switch n.kind {
		case kInt, kFloat, kStruct, kUnion, kEnum, kDatasec:
			return nelems * int64(n.size)
		case kPtr:
			return nelems * int64(ptrSz)
		case kTypedef, kVolatile, kConst, kRestrict, kTypeTag, kVar:
			id = n.ref
		case kArray:
			if n.size != 0 && nelems > (1<<32-1)/int64(n.size) {
				return -1
			}
			nelems *= int64(n.size)
			id = n.ref
		default:
			return -1
		}
	}
	return -1
}
