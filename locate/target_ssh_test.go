package locate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/internal/target"
	"github.com/kheaders/kheaders/internal/target/targettest"
)

// TestTargetSSH: the real ssh client against Debian's dropbear on
// 127.0.0.1 serving fake target roots: verified headers for the target's
// kernel, a warm call without the archive, a mismatching archive refused,
// and a disconnect, a truncated archive and a hang each a clear error with
// nothing in the cache.
func TestTargetSSH(t *testing.T) {
	r := hosttest.Kernel612(t)
	good := targettest.Make(t, r)
	srv := targettest.StartSSH(t, good)
	t.Setenv("KHEADERS_SSH", srv.SSH)
	ctx := context.Background()
	cacheDir := t.TempDir()
	opts := &Options{Target: srv.Spec, CacheDir: cacheDir, TargetTimeout: 30 * time.Second}

	start := time.Now()
	h, err := Locate(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	cold := time.Since(start)
	archive := int64(len(r.Files[target.SysfsArchive]))
	if !h.Verified || h.Release != "6.12.117" || h.Source != "sysfs" || h.Target.Bytes < archive {
		t.Fatalf("cold: verified %v release %s source %s bytes %d", h.Verified, h.Release, h.Source, h.Target.Bytes)
	}
	start = time.Now()
	w, err := Locate(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	warm := time.Since(start)
	if !w.Cached || w.Dir != h.Dir || w.Target.Commands != 1 || w.Target.Bytes >= archive/10 {
		t.Errorf("warm: cached %v, %d bytes in %d commands", w.Cached, w.Target.Bytes, w.Target.Commands)
	}
	t.Logf("ssh: cold %v %d bytes %d commands; warm %v %d bytes %d commands", cold.Round(time.Millisecond), h.Target.Bytes, h.Target.Commands, warm.Round(time.Millisecond), w.Target.Bytes, w.Target.Commands)

	bad := hosttest.Kernel612(t)
	bad.Files[target.SysfsArchive] = hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz")
	srv.Set(t, targettest.ModeOK, targettest.Make(t, bad))
	if _, err := Locate(ctx, &Options{Target: srv.Spec, CacheDir: t.TempDir()}); !errors.Is(err, ErrMismatch) {
		t.Errorf("mismatching archive: %v", err)
	}

	trunc := hosttest.Kernel612(t)
	trunc.Files[target.SysfsArchive] = r.Files[target.SysfsArchive][:archive/2]
	for _, c := range []struct {
		mode, root, want string
		timeout          time.Duration
	}{
		{targettest.ModeDisconnect, good, "ended early", 30 * time.Second},
		{targettest.ModeOK, targettest.Make(t, trunc), "corrupt or truncated", 30 * time.Second},
		{targettest.ModeHang, good, "hangs", 2 * time.Second},
	} {
		srv.Set(t, c.mode, c.root)
		cd := t.TempDir()
		_, err := Locate(ctx, &Options{Target: srv.Spec, CacheDir: cd, TargetTimeout: c.timeout})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.mode, err, c.want)
		} else {
			for _, l := range strings.Split(err.Error(), "\n") {
				if strings.Contains(l, c.want) {
					t.Logf("%s: %s", c.mode, strings.TrimSpace(l))
				}
			}
		}
		checkNoObjects(t, cd)
	}
}
