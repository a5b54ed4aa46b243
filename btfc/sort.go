package btfc

import (
	"cmp"
	"slices"
	"strings"
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
	if n.name != 0 {
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
		if !fromRef && n.name == 0 && n.count > 0 {
			return g.str(g.enumVals(n)[0].name)
		}
		return g.name(n)
	case kArray, kTypeTag, kConst, kPtr, kVolatile, kRestrict, kTypedef:
		return g.sortName(n.ref, true, depth+1)
	}
	return g.name(n)
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
	h := hashName(0, g.name(n))
	switch n.kind {
	case kEnum:
		for _, v := range g.enumVals(n) {
			h = hashName(h, g.str(v.name))
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

// sortKey is one type in the sort: rank and the first 7 bytes of its sort
// name in one integer, so that most comparisons are one; the rest of the
// key (the whole sort name, the own name, the disambiguation hash) is
// looked at only on a tie.
type sortKey struct {
	pre      uint64 // rank<<56 | the sort name's first 7 bytes, zero-padded
	sortName string
	ownName  string
	id       int32
}

// sortedIDs returns type IDs in bpftool 7.5+'s sorted order: 1..n-1, or
// 0..n-1 with withVoid (bpftool sorts void too).
func (g *graph) sortedIDs(withVoid bool) []int32 {
	start := 1
	if withVoid {
		start = 0
	}
	keys := make([]sortKey, 0, len(g.nodes))
	for i := start; i < len(g.nodes); i++ {
		id := int32(i)
		sn := g.sortName(id, false, 0)
		pre := uint64(g.rank(id, false, 0)) << 56
		for j := 0; j < 7 && j < len(sn); j++ {
			pre |= uint64(sn[j]) << (48 - 8*j)
		}
		keys = append(keys, sortKey{pre: pre, sortName: sn, ownName: g.name(&g.nodes[i]), id: id})
	}
	// Names hold no NUL, so zero padding keeps the prefixes in the order of
	// the names. Equal names are mostly the same bytes of the string section
	// (BTF writers de-duplicate strings), which compare in one step. The
	// hash is computed only for ties, once per type.
	hashes := make([]uint64, len(g.nodes))
	hashed := make([]bool, len(g.nodes))
	hash := func(id int32) uint64 {
		if !hashed[id] {
			hashes[id], hashed[id] = g.disambigHash(id, true, 0), true
		}
		return hashes[id]
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		if c := cmp.Compare(a.pre, b.pre); c != 0 {
			return c
		}
		if c := strings.Compare(a.sortName, b.sortName); c != 0 {
			return c
		}
		if c := strings.Compare(a.ownName, b.ownName); c != 0 {
			return c
		}
		if c := cmp.Compare(hash(a.id), hash(b.id)); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	out := make([]int32, len(keys))
	for i, k := range keys {
		out[i] = k.id
	}
	return out
}
