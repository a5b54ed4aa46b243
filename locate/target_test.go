package locate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/internal/target"
	"github.com/kheaders/kheaders/internal/target/targettest"
)

func checkNoObjects(t *testing.T, cacheDir string) {
	t.Helper()
	des, _ := os.ReadDir(filepath.Join(cacheDir, "objects"))
	if len(des) != 0 {
		t.Errorf("cache holds %d objects after a failed transfer", len(des))
	}
	keys, _ := os.ReadDir(filepath.Join(cacheDir, "keys"))
	if len(keys) != 0 {
		t.Errorf("cache holds %d keys after a failed transfer", len(keys))
	}
}

// TestTargetColdWarm: the fake target's archive is fetched, verified
// against the target's kernel (not this machine's) and cached; the second
// call reads only the identity (one command, no archive).
func TestTargetColdWarm(t *testing.T) {
	r := hosttest.Kernel612(t)
	dir := targettest.Make(t, r)
	cacheDir := t.TempDir()
	opts := &Options{Target: targettest.Spec(dir), CacheDir: cacheDir}
	h, err := Locate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verified || h.Release != "6.12.117" || h.Source != "sysfs" || h.Cached || h.Target == nil {
		t.Fatalf("cold: %+v", h)
	}
	for _, c := range h.Checks {
		if c.Name == "config" && c.Status != CheckOK || c.Name == "release" && c.Status != CheckOK {
			t.Errorf("check %v", c)
		}
	}
	arch := int64(len(r.Files[target.SysfsArchive]))
	if h.Target.Bytes < arch || h.Target.Commands != 2 {
		t.Errorf("cold: %d bytes in %d commands, want > %d in 2", h.Target.Bytes, h.Target.Commands, arch)
	}
	w, err := Locate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if w.Dir != h.Dir || !w.Cached || w.Source != "cache" || w.Target.Commands != 1 || w.Target.Bytes >= arch/10 {
		t.Errorf("warm: dir %s cached %v source %s, %d bytes in %d commands", w.Dir, w.Cached, w.Source, w.Target.Bytes, w.Target.Commands)
	}
	t.Logf("cold %d bytes / %d commands, warm %d bytes / %d commands", h.Target.Bytes, h.Target.Commands, w.Target.Bytes, w.Target.Commands)
}

// TestTargetAndroid: the sysfs archive exists but is unreadable (as under
// SELinux for the shell user): the denial is reported with its fixes and
// the headers come from kheaders.ko in /system_dlkm.
func TestTargetAndroid(t *testing.T) {
	r := hosttest.Kernel612(t)
	r.Config = hosttest.ReadFixture(t, "ikheaders-m/config")
	r.Files = map[string][]byte{
		target.SysfsArchive:                    hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz"),
		"/system_dlkm/lib/modules/kheaders.ko": hosttest.ReadFixture(t, "ikheaders-m/kheaders.ko"),
	}
	dir := targettest.Make(t, r)
	if err := os.Chmod(filepath.Join(dir, "sys/kernel/kheaders.tar.xz"), 0o400); err != nil {
		t.Fatal(err)
	}
	h, err := Locate(context.Background(), &Options{Target: targettest.UnprivilegedSpec(dir), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if h.Source != "module-file" || !strings.HasSuffix(h.Origin, ":/system_dlkm/lib/modules/kheaders.ko") || !h.Verified {
		t.Errorf("source %s origin %s verified %v", h.Source, h.Origin, h.Verified)
	}
	var denied *Attempt
	for i, a := range h.Attempts {
		if a.Source == "sysfs" {
			denied = &h.Attempts[i]
		}
	}
	if denied == nil || denied.Outcome != OutcomeFailed || !strings.Contains(denied.Reason, "permission denied") || !strings.Contains(denied.Reason, "SELinux") || !strings.Contains(denied.Fix, "adb root") {
		t.Errorf("sysfs attempt %+v", denied)
	}
}

// TestTargetMismatch: a target whose archive is another kernel's is refused.
func TestTargetMismatch(t *testing.T) {
	r := hosttest.Kernel612(t)
	r.Files[target.SysfsArchive] = hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz")
	dir := targettest.Make(t, r)
	_, err := Locate(context.Background(), &Options{Target: targettest.Spec(dir), CacheDir: t.TempDir()})
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "CONFIG_IKHEADERS") {
		t.Fatalf("err %v", err)
	}
}

// TestTargetFaults: a transfer cut short, a truncated archive and a hang
// each fail with a clear error and leave nothing in the cache.
func TestTargetFaults(t *testing.T) {
	r := hosttest.Kernel612(t)
	full := r.Files[target.SysfsArchive]
	dir := targettest.Make(t, r)
	q := target.Quote(dir)
	for _, c := range []struct {
		name, spec, want string
		timeout          time.Duration
	}{
		// The link drops after 100 kB of the archive.
		{"disconnect", "cmd:sh -c 'chroot " + q + ` "$@" | head -c 100000' x`, "ended early", 0},
		// The target hangs when asked for the archive.
		{"hang", "cmd:sh -c 'case \"$3\" in *kheaders.tar.xz*) sleep 60;; esac; exec chroot " + q + ` "$@"' x`, "hangs", time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			cacheDir := t.TempDir()
			_, err := Locate(context.Background(), &Options{Target: c.spec, CacheDir: cacheDir, TargetTimeout: c.timeout})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
			checkNoObjects(t, cacheDir)
		})
	}
	t.Run("truncated", func(t *testing.T) {
		tr := hosttest.Kernel612(t)
		tr.Files[target.SysfsArchive] = full[:len(full)/2]
		d := targettest.Make(t, tr)
		cacheDir := t.TempDir()
		_, err := Locate(context.Background(), &Options{Target: targettest.Spec(d), CacheDir: cacheDir})
		if err == nil {
			t.Fatal("a truncated archive was accepted")
		}
		t.Log(err)
		checkNoObjects(t, cacheDir)
	})
}

// TestTargetExplicit: --source with --target verifies a local archive
// against the target's kernel.
func TestTargetExplicit(t *testing.T) {
	dir := targettest.Make(t, hosttest.Kernel612(t))
	fx := hosttest.Fixtures(t)
	opts := &Options{Target: targettest.Spec(dir), CacheDir: t.TempDir(), Override: filepath.Join(fx, "ikheaders-y/kheaders_data.tar.xz")}
	if h, err := Locate(context.Background(), opts); err != nil || !h.Verified || h.Target.Bytes > 100000 {
		t.Fatalf("%v %+v", err, h)
	}
	opts.Override = filepath.Join(fx, "ikheaders-m/kheaders_data.tar.xz")
	if _, err := Locate(context.Background(), opts); !errors.Is(err, ErrMismatch) {
		t.Fatalf("another kernel's archive for the target: %v", err)
	}
}

// TestTargetVersion: the identity script copies the target's vDSO, so the
// version check runs against the target's LINUX_VERSION_CODE as it does
// locally: ok for the right kernel, a refusal (ErrMismatch) for an archive
// whose version.h says another version.
func TestTargetVersion(t *testing.T) {
	for _, c := range []struct {
		name string
		code uint32
	}{{"match", host.VersionCodeOf(6, 12, 117)}, {"mismatch", host.VersionCodeOf(6, 12, 118)}} {
		t.Run(c.name, func(t *testing.T) {
			dir := targettest.Make(t, hosttest.Kernel612(t))
			targettest.AddVDSO(t, dir, c.code)
			h, err := Locate(context.Background(), &Options{Target: targettest.Spec(dir), CacheDir: t.TempDir()})
			if c.name == "mismatch" {
				if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "LINUX_VERSION_CODE") {
					t.Fatalf("Locate = %v, want a version mismatch", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var v *Check
			for i := range h.Checks {
				if h.Checks[i].Name == "version" {
					v = &h.Checks[i]
				}
			}
			if v == nil || v.Status != CheckOK || v.Want != "6.12.117" {
				t.Errorf("version check %+v", v)
			}
		})
	}
}

// TestTargetDenied: the only source is the sysfs archive and the target's
// user may not read it: an error with the fixes (ErrDenied, not
// ErrNotFound).
func TestTargetDenied(t *testing.T) {
	dir := targettest.Make(t, hosttest.Kernel612(t))
	if err := os.Chmod(filepath.Join(dir, "sys/kernel/kheaders.tar.xz"), 0o400); err != nil {
		t.Fatal(err)
	}
	_, err := Locate(context.Background(), &Options{Target: targettest.UnprivilegedSpec(dir), CacheDir: t.TempDir()})
	if !errors.Is(err, ErrDenied) || errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "adb root") {
		t.Fatalf("Locate = %v, want ErrDenied with its fixes", err)
	}
}
