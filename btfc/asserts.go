package btfc

import (
	"io"
	"strconv"
)

// AssertStats counts the assertions LayoutAsserts wrote.
type AssertStats struct {
	Records  int // named structs and unions checked
	Sizeof   int
	Offsetof int
}

// LayoutAsserts returns C11 _Static_assert lines checking, for every named
// struct and union the header for (b, opts) defines, its sizeof and the
// offsetof of each named non-bitfield member (members of anonymous nested
// structs and unions included) against the values BTF records. Compile them
// after `#include "vmlinux.h"` with `clang -target bpf -fsyntax-only`: any
// failure is a layout the header gets wrong.
//
// Names are the header's de-duplicated names (struct foo___2), so the
// assertions fit a header generated with the same options (and bpftool's,
// which names types the same way). Errors are those of Write.
func (b *BTF) LayoutAsserts(opts *Options) ([]byte, AssertStats, error) {
	d, _, err := run(b.g, opts, io.Discard)
	if err != nil {
		return nil, AssertStats{}, err
	}
	return d.asserts()
}

func (d *dumper) asserts() ([]byte, AssertStats, error) {
	var st AssertStats
	var out []byte
	for i := range d.g.nodes {
		n := &d.g.nodes[i]
		if (n.kind != kStruct && n.kind != kUnion) || n.name == 0 || d.st[i].emit != emitted {
			continue
		}
		tag := "struct "
		if n.kind == kUnion {
			tag = "union "
		}
		rec := tag + d.typeName(int32(i))
		st.Records++
		st.Sizeof++
		out = append(out, "_Static_assert(sizeof("+rec+") == "...)
		out = strconv.AppendUint(out, uint64(n.size), 10)
		out = append(out, ", \"sizeof("+rec+")\");\n"...)
		d.memberAsserts(&out, &st, rec, n, 0, 0)
	}
	return out, st, nil
}

func (d *dumper) memberAsserts(out *[]byte, st *AssertStats, rec string, n *node, base uint32, depth int) {
	if depth > 16 {
		return
	}
	for _, m := range d.g.mems(n) {
		if m.bits != 0 {
			continue
		}
		off := base + m.off
		if m.name == 0 {
			// An anonymous struct or union member: its fields are fields of
			// the record in C11.
			t := d.g.skipMods(m.typ)
			if t >= 0 {
				if tn := &d.g.nodes[t]; (tn.kind == kStruct || tn.kind == kUnion) && tn.name == 0 {
					d.memberAsserts(out, st, rec, tn, off, depth+1)
				}
			}
			continue
		}
		if off%8 != 0 {
			continue
		}
		st.Offsetof++
		name := d.g.str(m.name)
		*out = append(*out, "_Static_assert(__builtin_offsetof("+rec+", "+name+") == "...)
		*out = strconv.AppendUint(*out, uint64(off/8), 10)
		*out = append(*out, ", \""+rec+"."+name+"\");\n"...)
	}
}

// skipMods follows const/volatile/restrict/type tags; -1 when invalid.
func (g *graph) skipMods(id int32) int32 {
	for i := 0; i < maxDepth; i++ {
		if !g.valid(id) {
			return -1
		}
		switch g.nodes[id].kind {
		case kVolatile, kConst, kRestrict, kTypeTag:
			id = g.nodes[id].ref
		default:
			return id
		}
	}
	return -1
}
