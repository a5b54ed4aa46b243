package btfc

import (
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
// With a memo, results are kept per (type, members) and reused.
func (g *graph) disambigHash(id int32, members bool, depth int, memo *hashMemo) uint64 {
	if depth > maxDepth {
		if memo != nil {
			memo.bad = true
		}
		return 0
	}
	if !g.valid(id) {
		return 0
	}
	k := 0
	if members {
		k = 1
	}
	if memo != nil {
		switch memo.state[k][id] {
		case 2:
			return memo.v[k][id]
		case 1: // a cycle: the walk of its own would end at the depth bound
			memo.bad = true
			return 0
		}
		memo.state[k][id] = 1
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
			h = h*31 + g.disambigHash(m.typ, false, depth+1, memo)
		}
	case kTypeTag, kConst, kPtr, kVolatile, kRestrict, kTypedef:
		h = h*31 + g.disambigHash(n.ref, members, depth+1, memo)
	case kArray:
		h = h*31 + uint64(n.size)
		h = h*31 + g.disambigHash(n.ref, members, depth+1, memo)
	}
	if memo != nil {
		memo.state[k][id], memo.v[k][id] = 2, h
	}
	return h
}

// hashMemo memoizes disambigHash per type, with and without members. bad is
// set when a walk met the depth bound or a cycle, where a kept value could
// differ from the type's own walk (only crafted BTF): the hashes are then
// computed per type without the memo.
type hashMemo struct {
	v     [2][]uint64
	state [2][]uint8 // 0 not computed, 1 in progress, 2 done
	bad   bool
}

// disambigHashes returns disambigHash(id, true, 0, nil) for every type.
func (g *graph) disambigHashes() []uint64 {
	n := len(g.nodes)
	memo := &hashMemo{
		v:     [2][]uint64{make([]uint64, n), make([]uint64, n)},
		state: [2][]uint8{make([]uint8, n), make([]uint8, n)},
	}
	hs := make([]uint64, n)
	for i := range hs {
		hs[i] = g.disambigHash(int32(i), true, 0, memo)
	}
	if memo.bad {
		for i := range hs {
			hs[i] = g.disambigHash(int32(i), true, 0, nil)
		}
	}
	return hs
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
	hash     uint64 // disambigHash
	sortName string
	id       int32
	long     uint8 // 1: the sort name is longer than 15 bytes; 2: the own name longer than 8
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
	hashes := g.disambigHashes()
	keys := make([]sortKey, 0, len(g.nodes))
	for i := start; i < len(g.nodes); i++ {
		id := int32(i)
		sn := g.sortName(id, false, 0)
		own := g.name(&g.nodes[i])
		k := sortKey{
			pre:      uint64(g.rank(id, false, 0))<<56 | prefix(sn, 0, 7),
			pre2:     prefix(sn, 7, 8),
			own:      prefix(own, 0, 8),
			hash:     hashes[i],
			sortName: sn,
			id:       id,
		}
		if len(sn) > 15 {
			k.long |= 1
		}
		if len(own) > 8 {
			k.long |= 2
		}
		keys = append(keys, k)
	}
	st := &sorter{g: g}
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
// it quadratic).
type sorter struct {
	g *graph
}

// less orders by rank, sort name, own name, hash, ID.
func (s *sorter) less(a, b *sortKey) bool {
	if a.pre != b.pre {
		return a.pre < b.pre
	}
	if a.pre2 != b.pre2 {
		return a.pre2 < b.pre2
	}
	if (a.long|b.long)&1 != 0 {
		if c := strings.Compare(a.sortName, b.sortName); c != 0 {
			return c < 0
		}
	}
	if a.own != b.own {
		return a.own < b.own
	}
	if (a.long|b.long)&2 != 0 {
		if c := s.compareOwn(a, b); c != 0 {
			return c < 0
		}
	}
	if a.hash != b.hash {
		return a.hash < b.hash
	}
	return a.id < b.id
}

func (s *sorter) compareOwn(a, b *sortKey) int {
	return strings.Compare(s.g.name(&s.g.nodes[a.id]), s.g.name(&s.g.nodes[b.id]))
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
