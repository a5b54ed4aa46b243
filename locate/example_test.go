package locate_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/locate"
)

func ExampleLocate() {
	h, err := locate.Locate(context.Background(), nil)
	if err != nil {
		// A *locate.Error lists every source tried, why it gave nothing and
		// how to fix it; errors.Is tells ErrNotFound from ErrMismatch.
		log.Fatal(err)
	}
	fmt.Println(h.Dir)                          // BCC_KERNEL_SOURCE, bpftrace's --include dir ...
	fmt.Println(strings.Join(h.Flags(), " "))   // what `kheaders cflags` prints
	fmt.Println(h.Source, h.Origin, h.Verified) // e.g. sysfs /sys/kernel/kheaders.tar.xz true
}

// vendorSource is a Source written outside package locate: the archive a
// deployment agent drops on every host at /var/lib/vendor/kheaders-R.tar.xz.
// It reads the host only through Env (so it works under Options.HostRoot),
// and leaves extraction, caching and verification to Locate.
type vendorSource struct {
	opened *atomic.Int32 // counts reads of the archive (for the test)
}

func (vendorSource) Name() string { return "vendor" }

func (s vendorSource) Find(ctx context.Context, env *locate.Env) (*locate.Candidate, error) {
	p := "/var/lib/vendor/kheaders-" + env.Release + ".tar.xz"
	fi, err := env.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, locate.Skip(p+": does not exist", "run the vendor agent's install-headers step")
	}
	if err != nil {
		return nil, err
	}
	return &locate.Candidate{
		Origin: p,
		// While path, size and mtime hold, a warm Locate answers from the
		// cache without calling Open.
		Identity: fmt.Sprintf("vendor|%s|%s|%d|%d", p, env.BootID(), fi.Size(), fi.ModTime().UnixNano()),
		Open: func(ctx context.Context) ([]byte, error) {
			if s.opened != nil {
				s.opened.Add(1)
			}
			return env.ReadFile(p)
		},
	}, nil
}

// ExampleSource adds a source of one's own after the default chain.
func ExampleSource() {
	h, err := locate.Locate(context.Background(), &locate.Options{
		Sources: append(locate.DefaultSources(), vendorSource{}),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(h.Source, h.Dir)
}

// TestOutsideSource runs vendorSource, a Source of another package, in the
// default chain on a host whose only headers are the vendor's archive: it
// is skipped with its reason when absent, used and verified when present,
// and answered from the cache by its identity on the next call.
func TestOutsideSource(t *testing.T) {
	r := hosttest.Kernel612(t)
	archive := r.Files["/sys/kernel/kheaders.tar.xz"]
	delete(r.Files, "/sys/kernel/kheaders.tar.xz")
	root := hosttest.Make(t, r)
	var opened atomic.Int32
	opts := &locate.Options{
		HostRoot: root,
		CacheDir: filepath.Join(t.TempDir(), "cache"),
		Load:     locate.LoadNever,
		Sources:  append(locate.DefaultSources(), vendorSource{&opened}),
		Disable:  []string{"btf"},
	}
	_, err := locate.Locate(t.Context(), opts)
	var le *locate.Error
	if !errors.Is(err, locate.ErrNotFound) || !errors.As(err, &le) {
		t.Fatalf("Locate without the vendor archive = %v, want ErrNotFound", err)
	}
	if last := le.Attempts[len(le.Attempts)-1]; last.Source != "vendor" || last.Outcome != locate.OutcomeSkipped ||
		last.Fix != "run the vendor agent's install-headers step" {
		t.Errorf("last attempt %+v, want the vendor source skipped with its fix", last)
	}

	p := filepath.Join(root, "var/lib/vendor/kheaders-6.12.117.tar.xz")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, archive, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := locate.Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("Locate with the vendor archive: %v", err)
	}
	if h.Source != "vendor" || !h.Verified || h.Cached || opened.Load() != 1 {
		t.Errorf("Locate = source %s verified %v cached %v (archive read %d times); want vendor, verified, extracted, read once",
			h.Source, h.Verified, h.Cached, opened.Load())
	}
	if _, err := os.Stat(filepath.Join(h.Dir, "include/linux/sched.h")); err != nil {
		t.Errorf("vendor headers at %s: %v", h.Dir, err)
	}
	h2, err := locate.Locate(t.Context(), opts)
	if err != nil || h2.Dir != h.Dir || !h2.Cached || opened.Load() != 1 {
		t.Errorf("warm Locate = %+v, %v (archive read %d times); want the same cached tree without reading the archive", h2, err, opened.Load())
	}
}
