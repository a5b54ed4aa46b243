package btfc

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzGenerate feeds arbitrary bytes through Load and every output mode:
// malformed BTF must give an error, never a panic or a hang.
func FuzzGenerate(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "seeds", "*.btf"))
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{0x9f, 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		b, _, err := Load(data, nil)
		if err != nil {
			return
		}
		for _, opts := range []*Options{{}, {Compat: CompatBpftool71}, {Sort: true, Kfuncs: true}} {
			if _, _, err := b.Generate(opts); err != nil {
				return
			}
		}
		_, _, _ = b.LayoutAsserts(nil)
	})
}
