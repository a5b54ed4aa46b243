package locate

import (
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// BenchmarkLocateWarm measures a warm Locate (cache populated, identity hit,
// full verification) in-process: the library part of a warm CLI call.
func BenchmarkLocateWarm(b *testing.B) {
	root := hosttest.Make(b, hosttest.Kernel612(b))
	opts := &Options{HostRoot: root, CacheDir: sharedCache, Load: LoadNever}
	h, err := Locate(b.Context(), opts)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		h2, err := Locate(b.Context(), opts)
		if err != nil || h2.Dir != h.Dir || h2.Source != "cache" {
			b.Fatalf("warm Locate = %v, %v", h2, err)
		}
	}
}
