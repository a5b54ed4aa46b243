package btfc

import (
	"os"
	"testing"
)

// TestDisambigHashes: the memoized hashes the sort uses are the hashes of
// each type's own walk, on compiled snippets and this machine's BTF, and on
// a modifier cycle (where the memo is not used).
func TestDisambigHashes(t *testing.T) {
	graphs := map[string]*graph{}
	for _, sn := range snippets[:3] {
		graphs[sn.name] = loadSpec(t, compileBTF(t, sn.src)).g
	}
	if data, err := os.ReadFile(hostBTF); err == nil {
		b, _, err := Load(data, nil)
		if err != nil {
			t.Fatal(err)
		}
		graphs["host"] = b.g
	}
	// [1] const 'a' -> [2] volatile 'b' -> [1]: a walk ends at the depth
	// bound, and what the memo would keep differs from it.
	graphs["cycle"] = &graph{strs: []byte("\x00a\x00b\x00"), nodes: []node{{},
		{kind: kConst, ref: 2, name: 1, nlen: 1}, {kind: kVolatile, ref: 1, name: 3, nlen: 1}}}
	for name, g := range graphs {
		hs := g.disambigHashes()
		for id := range g.nodes {
			if want := g.disambigHash(int32(id), true, 0, nil); hs[id] != want {
				t.Fatalf("%s: disambigHashes()[%d] = %#x, want %#x", name, id, hs[id], want)
			}
		}
	}
}
