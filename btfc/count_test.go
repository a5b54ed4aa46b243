package btfc

import (
	"errors"
	"os"
	"testing"
)

// TestCountTypes: the count equals the types the full reader builds, for
// the seeds in testdata; a cut blob is ErrMalformed.
func TestCountTypes(t *testing.T) {
	for _, p := range []string{"testdata/seeds/tags.btf", "testdata/seeds/kfuncs.btf"} {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		g, err := readGraph(raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		n, err := CountTypes(raw)
		if err != nil || n != len(g.nodes)-1 || n == 0 {
			t.Errorf("CountTypes(%s) = %d, %v; want %d", p, n, err, len(g.nodes)-1)
		}
		if _, err := CountTypes(raw[:len(raw)/2]); !errors.Is(err, ErrMalformed) {
			t.Errorf("CountTypes(half of %s) = %v, want ErrMalformed", p, err)
		}
	}
}

func FuzzCountTypes(f *testing.F) {
	for _, p := range []string{"testdata/seeds/tags.btf", "testdata/seeds/kfuncs.btf"} {
		if raw, err := os.ReadFile(p); err == nil {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		n, err := CountTypes(raw)
		if err == nil && n > len(raw)/12 {
			t.Fatalf("CountTypes = %d types in %d bytes", n, len(raw))
		}
	})
}
