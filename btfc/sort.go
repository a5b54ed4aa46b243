package btfc

import (
	"cmp"
	"slices"
)

// Sorted order (bpftool 7.5+): every type is dumped as a root in the order
// of (rank, sort name, own name, disambiguation hash, ID). Dumping a root
// still pulls in its dependencies first, so the result stays compilable.

const maxRank = 10

// rank orders kinds: anonymous enums (constants) first, then named enums,
// base types, named structs and unions, function prototypes reached through
// a name; everything else last.
func (g *graph) rank(id int32, hasName bool, depth int) int {
	if depth > maxDepth || !g.valid(id) {
		return maxRank
	}
	n := &g.nodes[id]
	if n.name != "" {
		hasName = true
	}
	switch n.kind {
	case kEnum:
		if hasName {
			return 1
		}
		return 0
	case kInt, kFloat:
		return 2
	case kStruct, kUnion:
		if hasName {
			return 3
		}
		return maxRank
	case kProto:
		if hasName {
			return 4
		}
		return maxRank
	case kArray, kTypeTag, kConst, kPtr, kVolatile, kRestrict, kTypedef, kDeclTag:
		if hasName && n.kind != kDeclTag {
			return g.rank(n.ref, true, depth+1)
		}
		return maxRank
	}
	return maxRank
}

// sortName is the name a type sorts under: its own, the one of the type it
// refers to, or for an anonymous enum its first enumerator.
func (g *graph) sortName(id int32, fromRef bool, depth int) string {
	if depth > maxDepth || !g.valid(id) {
		return ""
	}
	n := &g.nodes[id]
	switch n.kind {
	case kEnum:
		if !fromRef && n.name == "" && len(g.enumVals(n)) > 0 {
			return g.enumVals(n)[0].name
		}
		return n.name
	case kArray, kTypeTag, kConst, kPtr, kVolatile, kRestrict, kTypedef:
		return g.sortName(n.ref, true, depth+1)
	}
	return n.name
}

// strHash is libbpf's string hash (h = h*31 + c).
func strHash(s string) uint64 {
	var h uint64
	for i := 0; i < len(s); i++ {
		h = h*31 + uint64(int64(int8(s[i])))
	}
	return h
}

func hashName(h uint64, name string) uint64 {
	if name == "" {
		return h
	}
	return h*31 + strHash(name)
}

// disambigHash separates types with equal names (two `struct foo` from
// different compilation units) by their member names and member type names.
func (g *graph) disambigHash(id int32, members bool, depth int) uint64 {
	if depth > maxDepth || !g.valid(id) {
		return 0
	}
	n := &g.nodes[id]
	h := hashName(0, n.name)
	switch n.kind {
	case kEnum:
		for _, v := range g.enumVals(n) {
			h = hashName(h, v.name)
		}
	case kStruct, kUnion:
		if !members {
			break
		}
		for _, m := range g.mems(n) {
			h = hashName(h, g.str(m.name))
			h = h*31 + g.disambigHash(m.typ, false, depth+1)
		}
	case kTypeTag, kConst, kPtr, kVolatile, kRestrict, kTypedef:
		h = h*31 + g.disambigHash(n.ref, members, depth+1)
	case kArray:
		h = h*31 + uint64(n.size)
		h = h*31 + g.disambigHash(n.ref, members, depth+1)
	}
	return h
}

type sortDatum struct {
	id       int32
	rank     int
	sortName string
	ownName  string
	hash     uint64
}

// sortedIDs returns type IDs in bpftool 7.5+'s sorted order: 1..n-1, or
// 0..n-1 with withVoid (bpftool sorts void too).
func (g *graph) sortedIDs(withVoid bool) []int32 {
	start := 1
	if withVoid {
		start = 0
	}
	ds := make([]sortDatum, 0, len(g.nodes))
	for i := start; i < len(g.nodes); i++ {
		id := int32(i)
		ds = append(ds, sortDatum{
			id:       id,
			rank:     g.rank(id, false, 0),
			sortName: g.sortName(id, false, 0),
			ownName:  g.nodes[i].name,
			hash:     g.disambigHash(id, true, 0),
		})
	}
	slices.SortFunc(ds, func(a, b sortDatum) int {
		if c := cmp.Compare(a.rank, b.rank); c != 0 {
			return c
		}
		if c := cmp.Compare(a.sortName, b.sortName); c != 0 {
			return c
		}
		if c := cmp.Compare(a.ownName, b.ownName); c != 0 {
			return c
		}
		if c := cmp.Compare(a.hash, b.hash); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	out := make([]int32, len(ds))
	for i, d := range ds {
		out[i] = d.id
	}
	return out
}
