package locate

import (
	"path/filepath"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// BenchmarkLocateCold measures a cold Locate (empty cache: read the sysfs
// archive, hash, extract, write the manifest, verify, publish) in-process.
func BenchmarkLocateCold(b *testing.B) {
	root := hosttest.Make(b, hosttest.Kernel612(b))
	i := 0
	for b.Loop() {
		i++
		opts := &Options{HostRoot: root, CacheDir: filepath.Join(b.TempDir(), "c", string(rune('a'+i%26))), Load: LoadNever}
		h, err := Locate(b.Context(), opts)
		if err != nil || h.Cached {
			b.Fatalf("cold Locate = %v, %v", h, err)
		}
	}
}
