// Package btfc turns BTF (BPF Type Format) type information into C
// declarations: the vmlinux.h header that CO-RE BPF programs include.
//
// BTF is read by this package's own flat reader (Load: header, type and
// string sections, split BTF on a base); github.com/cilium/ebpf/btf is used
// only by Generate, Write and LayoutAsserts for callers holding a cilium spec.
// The C emitter is this package's own. Its ordering and naming rules follow the public description
// of libbpf's btf_dump (topological order with strong and weak edges, forward
// declarations on cycles, inlined anonymous types, packing and padding
// reconstruction, per-namespace name de-duplication), so that the output can
// be compared byte for byte with `bpftool btf dump file X format c`.
//
// The emitter works on a compact copy of the type graph indexed by BTF type
// ID (see graph), so the hot loops never touch interface values or maps.
package btfc

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"unsafe"

	"github.com/cilium/ebpf/btf"
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
	name string
	val  uint64
}

// node is one BTF type.
type node struct {
	kind     kind
	signed   bool // enum
	fwdUnion bool // fwd
	enum64   bool // enum: 64-bit values (ENUM64 kind)
	attrTag  bool // type tag: kind flag set, emit __attribute__((NAME))
	name     string
	size     uint32 // int, float, struct, union, enum, datasec; nelems for arrays
	ref      int32  // pointee, element, typedef target, modifier target, func proto, return type, var type
	// members (struct, union, proto, datasec, array index) or enumerators
	// (enum): graph.members or graph.vals [first, first+count)
	first, count uint32
	kfunc        bool // func: has the bpf_kfunc decl tag
	fastcall     bool // func: has the bpf_fastcall decl tag
	kflag        bool // struct, union: the raw kind flag (bitfield offsets)
	// int: a legacy bitfield (bit offset or size in the INT encoding)
	legacyBF              bool
	legacyOff, legacyBits uint8
}

// graph is the whole type table, index = BTF type ID (0 is void). For
// split BTF it holds the base's types too: bpftool dumps them as well.
type graph struct {
	nodes   []node
	members []member
	vals    []enumVal
	// Set by readGraph: the string section names point into (the base's
	// for split BTF, whose own strings are strs1) and the byte order.
	strs, strs1 []byte
	bigEndian   bool
}

// newGraph copies every type of spec (and of its base, for split BTF) into a
// graph. Types are visited in ID order.
func newGraph(spec *btf.Spec, raw *rawInfo) (*graph, error) {
	// Collect types in ID order, starting at 1. For split BTF TypeByID also
	// answers for base IDs.
	var types []btf.Type
	types = append(types, (*btf.Void)(nil))
	for id := btf.TypeID(1); ; id++ {
		t, err := spec.TypeByID(id)
		if err != nil {
			if errors.Is(err, btf.ErrNotFound) {
				break
			}
			return nil, fmt.Errorf("read BTF type %d: %w", id, err)
		}
		types = append(types, t)
	}
	// Every btf.Type is a pointer; keying the reverse index by the pointer
	// alone is much cheaper than by interface value.
	index := make(map[unsafe.Pointer]int32, len(types))
	for i, t := range types {
		p := typePtr(t)
		if _, dup := index[p]; !dup && p != nil {
			index[p] = int32(i)
		}
	}
	lookup := func(t btf.Type) (int32, error) {
		if t == nil {
			return 0, nil
		}
		if _, ok := t.(*btf.Void); ok {
			return 0, nil
		}
		id, ok := index[typePtr(t)]
		if !ok {
			return 0, fmt.Errorf("%w: reference to a type outside the spec (%T)", ErrMalformed, t)
		}
		return id, nil
	}

	if raw != nil && len(raw.kinds) != len(types) {
		raw = nil // not the blob this spec came from
	}
	g := &graph{nodes: make([]node, len(types))}
	for i, t := range types {
		n := &g.nodes[i]
		var err error
		switch t := t.(type) {
		case *btf.Void:
			n.kind = kVoid
		case *btf.Int:
			n.kind, n.name, n.size = kInt, t.Name, t.Size
			n.signed = t.Encoding&btf.Signed != 0
		case *btf.Float:
			n.kind, n.name, n.size = kFloat, t.Name, t.Size
		case *btf.Pointer:
			n.kind = kPtr
			n.ref, err = lookup(t.Target)
		case *btf.Array:
			n.kind, n.size = kArray, t.Nelems
			n.ref, err = lookup(t.Type)
			if err == nil {
				// The index type only matters for reference marking.
				var idx int32
				idx, err = lookup(t.Index)
				g.setMembers(n, []member{{typ: idx}})
			}
		case *btf.Struct:
			n.kind, n.name, n.size = kStruct, t.Name, t.Size
			var ms []member
			ms, err = g.convMembers(t.Members, lookup)
			g.setMembers(n, ms)
		case *btf.Union:
			n.kind, n.name, n.size = kUnion, t.Name, t.Size
			var ms []member
			ms, err = g.convMembers(t.Members, lookup)
			g.setMembers(n, ms)
		case *btf.Enum:
			n.kind, n.name, n.size, n.signed = kEnum, t.Name, t.Size, t.Signed
			// cilium/ebpf folds ENUM64 into Enum: ask the raw kinds, else
			// take an 8-byte enum as ENUM64 (what pahole and clang >= 15
			// write).
			if raw != nil {
				n.enum64 = raw.kinds[i] == rawKindEnum64
			} else {
				n.enum64 = t.Size == 8
			}
			n.first, n.count = uint32(len(g.vals)), uint32(len(t.Values))
			for _, v := range t.Values {
				g.vals = append(g.vals, enumVal{v.Name, v.Value})
			}
		case *btf.Fwd:
			n.kind, n.name, n.fwdUnion = kFwd, t.Name, t.Kind == btf.FwdUnion
		case *btf.Typedef:
			n.kind, n.name = kTypedef, t.Name
			n.ref, err = lookup(t.Type)
		case *btf.Volatile:
			n.kind = kVolatile
			n.ref, err = lookup(t.Type)
		case *btf.Const:
			n.kind = kConst
			n.ref, err = lookup(t.Type)
		case *btf.Restrict:
			n.kind = kRestrict
			n.ref, err = lookup(t.Type)
		case *btf.TypeTag:
			n.kind, n.name = kTypeTag, t.Value
			n.attrTag = raw != nil && raw.kflag[i]
			n.ref, err = lookup(t.Type)
		case *btf.Func:
			n.kind, n.name = kFunc, t.Name
			n.kfunc = slices.Contains(t.Tags, "bpf_kfunc")
			n.fastcall = slices.Contains(t.Tags, "bpf_fastcall")
			n.ref, err = lookup(t.Type)
		case *btf.FuncProto:
			n.kind = kProto
			n.ref, err = lookup(t.Return)
			if err == nil {
				ms := make([]member, len(t.Params))
				for j, p := range t.Params {
					ms[j].name = g.addStr(p.Name)
					if ms[j].typ, err = lookup(p.Type); err != nil {
						break
					}
				}
				g.setMembers(n, ms)
			}
		case *btf.Var:
			n.kind, n.name = kVar, t.Name
			n.ref, err = lookup(t.Type)
		case *btf.Datasec:
			n.kind, n.name, n.size = kDatasec, t.Name, t.Size
			ms := make([]member, len(t.Vars))
			for j, v := range t.Vars {
				if ms[j].typ, err = lookup(v.Type); err != nil {
					break
				}
			}
			g.setMembers(n, ms)
		default:
			// DECL_TAG (unexported in cilium/ebpf: its data is folded into
			// the Tags of its target) and anything newer.
			n.kind = kDeclTag
		}
		if err != nil {
			return nil, fmt.Errorf("BTF type %d: %w", i, err)
		}
	}
	return g, nil
}

// typePtr returns the pointer held in a btf.Type interface value (all
// btf.Type implementations are pointer types).
func typePtr(t btf.Type) unsafe.Pointer {
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&t))[1]
}

func (g *graph) convMembers(ms []btf.Member, lookup func(btf.Type) (int32, error)) ([]member, error) {
	out := make([]member, len(ms))
	for i, m := range ms {
		id, err := lookup(m.Type)
		if err != nil {
			return nil, err
		}
		out[i] = member{name: g.addStr(m.Name), typ: id, off: uint32(m.Offset), bits: uint32(m.BitfieldSize)}
	}
	return out, nil
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

// addStr appends name to the graph's string section and returns its offset
// (newGraph, which has no section of its own).
func (g *graph) addStr(name string) uint32 {
	if name == "" {
		return 0
	}
	if len(g.strs) == 0 {
		g.strs = []byte{0}
	}
	off := uint32(len(g.strs))
	g.strs = append(append(g.strs, name...), 0)
	return off
}

// mems returns the members of n (struct/union members, parameters,
// datasec entries, an array's index type).
func (g *graph) mems(n *node) []member {
	return g.members[n.first : n.first+n.count : n.first+n.count]
}

// enumVals returns the enumerators of enum n.
func (g *graph) enumVals(n *node) []enumVal {
	return g.vals[n.first : n.first+n.count : n.first+n.count]
}

// setMembers appends ms to g.members as n's members.
func (g *graph) setMembers(n *node, ms []member) {
	n.first, n.count = uint32(len(g.members)), uint32(len(ms))
	g.members = append(g.members, ms...)
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
		switch n.name {
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

// Raw kinds newGraph needs from a raw scan (tests pass one; see rawscan_test.go).
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
