package btfc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"unsafe"

	"github.com/cilium/ebpf/btf"
)

// The reference reading for tests: cilium/ebpf's Spec converted into a
// graph, as this package read BTF before it had its own reader.

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
			n.kind, n.size = kInt, t.Size
			g.setName(n, t.Name)
			n.set(fSigned, t.Encoding&btf.Signed != 0)
		case *btf.Float:
			n.kind, n.size = kFloat, t.Size
			g.setName(n, t.Name)
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
			n.kind, n.size = kStruct, t.Size
			g.setName(n, t.Name)
			var ms []member
			ms, err = g.convMembers(t.Members, lookup)
			g.setMembers(n, ms)
		case *btf.Union:
			n.kind, n.size = kUnion, t.Size
			g.setName(n, t.Name)
			var ms []member
			ms, err = g.convMembers(t.Members, lookup)
			g.setMembers(n, ms)
		case *btf.Enum:
			n.kind, n.size = kEnum, t.Size
			g.setName(n, t.Name)
			n.set(fSigned, t.Signed)
			// cilium/ebpf folds ENUM64 into Enum: ask the raw kinds, else
			// take an 8-byte enum as ENUM64 (what pahole and clang >= 15
			// write).
			if raw != nil {
				n.set(fEnum64, raw.kinds[i] == rawKindEnum64)
			} else {
				n.set(fEnum64, t.Size == 8)
			}
			n.first, n.count = uint32(len(g.vals)), uint16(len(t.Values))
			for _, v := range t.Values {
				g.vals = append(g.vals, enumVal{g.addStr(v.Name), v.Value})
			}
		case *btf.Fwd:
			n.kind = kFwd
			g.setName(n, t.Name)
			n.set(fFwdUnion, t.Kind == btf.FwdUnion)
		case *btf.Typedef:
			n.kind = kTypedef
			g.setName(n, t.Name)
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
			n.kind = kTypeTag
			g.setName(n, t.Value)
			n.set(fAttrTag, raw != nil && raw.kflag[i])
			n.ref, err = lookup(t.Type)
		case *btf.Func:
			n.kind = kFunc
			g.setName(n, t.Name)
			n.set(fKfunc, slices.Contains(t.Tags, "bpf_kfunc"))
			n.set(fFastcall, slices.Contains(t.Tags, "bpf_fastcall"))
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
			n.kind = kVar
			g.setName(n, t.Name)
			n.ref, err = lookup(t.Type)
		case *btf.Datasec:
			n.kind, n.size = kDatasec, t.Size
			g.setName(n, t.Name)
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

// setName gives n the name s, appended to the graph's string section.
func (g *graph) setName(n *node, s string) {
	n.name = g.addStr(s)
	n.nlen = uint16(min(len(s), nameLong))
}

// setMembers gives n the members ms, encoded as the type section holds them
// (graph.mem reads them back): little-endian records appended to g.types,
// struct and union members with bitfields in the kind-flag form.
func (g *graph) setMembers(n *node, ms []member) {
	n.count = uint16(len(ms))
	if n.kind == kArray {
		n.first = uint32(ms[0].typ)
		return
	}
	n.first = uint32(len(g.types))
	kflag := false
	for _, m := range ms {
		kflag = kflag || m.bits != 0
	}
	n.set(fKflag, kflag && (n.kind == kStruct || n.kind == kUnion))
	for _, m := range ms {
		switch n.kind {
		case kProto:
			g.types = binary.LittleEndian.AppendUint32(g.types, m.name)
			g.types = binary.LittleEndian.AppendUint32(g.types, uint32(m.typ))
		case kDatasec:
			g.types = binary.LittleEndian.AppendUint32(g.types, uint32(m.typ))
			g.types = append(g.types, make([]byte, 8)...)
		default:
			off := m.off
			if kflag {
				if m.off >= 1<<24 || m.bits >= 1<<8 {
					panic(fmt.Sprintf("member at bit %d of %d bits: no kind-flag encoding", m.off, m.bits))
				}
				off |= m.bits << 24
			}
			g.types = binary.LittleEndian.AppendUint32(g.types, m.name)
			g.types = binary.LittleEndian.AppendUint32(g.types, uint32(m.typ))
			g.types = binary.LittleEndian.AppendUint32(g.types, off)
		}
	}
}
