package btfc

import (
	"cmp"
	"math/bits"
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

// sortKey is one type in the sort. Most comparisons are settled by the
// integers: the rank and the first 15 bytes of the sort name, and the first
// 8 bytes of the type's own name, each zero-padded (names hold no NUL, so
// the padded prefixes order as the names do); the whole names and the
// disambiguation hash are looked at only on a tie.
type sortKey struct {
	pre      uint64 // rank<<56 | the sort name's bytes 0-6
	pre2     uint64 // the sort name's bytes 7-14
	own      uint64 // the own name's bytes 0-7
	sortName string
	id       int32
}

// prefix packs up to n bytes of s from byte i on, big-endian, into the low
// 8*n bits of an integer.
func prefix(s string, i, n int) uint64 {
	var v uint64
	for j := range n {
		v <<= 8
		if i+j < len(s) {
			v |= uint64(s[i+j])
		}
	}
	return v
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
		keys = append(keys, sortKey{
			pre:      uint64(g.rank(id, false, 0))<<56 | prefix(sn, 0, 7),
			pre2:     prefix(sn, 7, 8),
			own:      prefix(g.name(&g.nodes[i]), 0, 8),
			sortName: sn,
			id:       id,
		})
	}
	st := &sorter{g: g, hashes: make([]uint64, len(g.nodes)), hashed: make([]bool, len(g.nodes))}
	st.sort(keys, 4*bits.Len(uint(len(keys))))
	out := make([]int32, len(keys))
	for i, k := range keys {
		out[i] = k.id
	}
	return out
}

// sorter sorts sortKeys: a quicksort whose comparison is inlined for the
// common case (the integers differ), with insertion sort for short ranges
// and heapsort when the recursion gets too deep (so crafted BTF cannot make
// it quadratic). The disambiguation hash is computed only for ties, once per
// type.
type sorter struct {
	g      *graph
	hashes []uint64
	hashed []bool
}

func (s *sorter) less(a, b *sortKey) bool {
	if a.pre != b.pre {
		return a.pre < b.pre
	}
	if a.pre2 != b.pre2 {
		return a.pre2 < b.pre2
	}
	return s.compareRest(a, b) < 0
}

// compareRest compares a and b whose pre and pre2 are equal.
func (s *sorter) compareRest(a, b *sortKey) int {
	g := s.g
	if len(a.sortName) > 15 || len(b.sortName) > 15 {
		if c := strings.Compare(a.sortName, b.sortName); c != 0 {
			return c
		}
	}
	if a.own != b.own {
		return cmp.Compare(a.own, b.own)
	}
	if g.nodes[a.id].nlen > 8 || g.nodes[b.id].nlen > 8 {
		if c := strings.Compare(g.name(&g.nodes[a.id]), g.name(&g.nodes[b.id])); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(s.hash(a.id), s.hash(b.id)); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

func (s *sorter) hash(id int32) uint64 {
	if !s.hashed[id] {
		s.hashes[id], s.hashed[id] = s.g.disambigHash(id, true, 0), true
	}
	return s.hashes[id]
}

// sort sorts k; depth is the recursion left before heapsort takes over.
func (s *sorter) sort(k []sortKey, depth int) {
	for len(k) > 12 {
		if depth == 0 {
			s.heapSort(k)
			return
		}
		depth--
		// Median of three to k[0], then a Hoare partition around it.
		m := len(k) / 2
		if s.less(&k[m], &k[0]) {
			k[m], k[0] = k[0], k[m]
		}
		if s.less(&k[len(k)-1], &k[m]) {
			k[len(k)-1], k[m] = k[m], k[len(k)-1]
			if s.less(&k[m], &k[0]) {
				k[m], k[0] = k[0], k[m]
			}
		}
		k[0], k[m] = k[m], k[0]
		p := k[0]
		i, j := 1, len(k)-1
		for {
			for i <= j && s.less(&k[i], &p) {
				i++
			}
			for i <= j && s.less(&p, &k[j]) {
				j--
			}
			if i >= j {
				break
			}
			k[i], k[j] = k[j], k[i]
			i++
			j--
		}
		k[0], k[j] = k[j], k[0]
		// Recurse into the smaller side, loop on the larger.
		if j < len(k)-j {
			s.sort(k[:j], depth)
			k = k[j+1:]
		} else {
			s.sort(k[j+1:], depth)
			k = k[:j]
		}
	}
	for i := 1; i < len(k); i++ {
		for j := i; j > 0 && s.less(&k[j], &k[j-1]); j-- {
			k[j], k[j-1] = k[j-1], k[j]
		}
	}
}

func (s *sorter) heapSort(k []sortKey) {
	down := func(i, n int) {
		for {
			c := 2*i + 1
			if c >= n {
				return
			}
			if c+1 < n && s.less(&k[c], &k[c+1]) {
				c++
			}
			if !s.less(&k[i], &k[c]) {
				return
			}
			k[i], k[c] = k[c], k[i]
			i = c
		}
	}
	for i := len(k)/2 - 1; i >= 0; i-- {
		down(i, len(k))
	}
	for n := len(k) - 1; n > 0; n-- {
		k[0], k[n] = k[n], k[0]
		down(0, n)
	}
}
