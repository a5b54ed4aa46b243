package locate

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/internal/target"
	"github.com/kheaders/kheaders/internal/target/targettest"
)

// pushRoot makes a fake target root for --push: the pushed kheaders runs
// in a chroot, where uname still says this machine's kernel, so it reads
// the fake kernel's files through KHEADERS_HOST_ROOT=/host, a link to the
// chroot's own "/" (the environment crosses chroot).
func pushRoot(t *testing.T, r hosttest.Root) string {
	t.Helper()
	dir := targettest.Make(t, r)
	if err := os.Symlink("/", filepath.Join(dir, "host")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KHEADERS_HOST_ROOT", "/host")
	return dir
}

func checkNoPushDirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if left := targettest.PushDirs(t, d); len(left) > 0 {
			t.Errorf("the pushed kheaders was not removed: %v", left)
		}
	}
}

// TestTargetPush: --push copies a static kheaders to the fake target,
// which runs its own chain there (sysfs) and streams the archive back;
// the host verifies it against the identity it read and caches it. The
// warm call is the identity only: nothing pushed. An installed kheaders
// on the target's PATH is run instead of pushing.
func TestTargetPush(t *testing.T) {
	r := hosttest.Kernel612(t)
	dir := pushRoot(t, r)
	bin := targettest.StaticKheaders(t, "")
	cacheDir := t.TempDir()
	opts := &Options{Target: targettest.Spec(dir), CacheDir: cacheDir, Push: true, PushBinary: bin}
	h, err := Locate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verified || h.Release != "6.12.117" || h.Source != "on-target" || h.Target == nil || h.Target.Via != "pushed" || h.Target.RemoteSource != "sysfs" || h.Target.RemoteOrigin != target.SysfsArchive {
		t.Fatalf("cold: %+v %+v", h, h.Target)
	}
	arch := int64(len(r.Files[target.SysfsArchive]))
	if h.Target.Commands != 3 || h.Target.Bytes < arch {
		t.Errorf("cold: %d bytes in %d commands, want > %d in 3 (identity, copy, run)", h.Target.Bytes, h.Target.Commands, arch)
	}
	checkNoPushDirs(t, dir)
	w, err := Locate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if w.Source != "cache" || w.Dir != h.Dir || w.Target.Commands != 1 || w.Target.Bytes >= arch/10 || w.Target.Via != "" {
		t.Errorf("warm: source %s, %d bytes in %d commands, via %q", w.Source, w.Target.Bytes, w.Target.Commands, w.Target.Via)
	}
	t.Logf("cold %d bytes / %d commands, warm %d bytes / %d commands", h.Target.Bytes, h.Target.Commands, w.Target.Bytes, w.Target.Commands)

	// Installed on the target's PATH: run, not pushed (2 commands).
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/kheaders"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	i, err := Locate(context.Background(), &Options{Target: targettest.Spec(dir), CacheDir: t.TempDir(), Push: true, PushBinary: "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	if i.Source != "on-target" || i.Target.Via != "installed at /bin/kheaders" || i.Target.Commands != 2 || i.Dir == "" {
		t.Errorf("installed: source %s via %q, %d commands", i.Source, i.Target.Via, i.Target.Commands)
	}
	// An installed program that does not speak the stream (busybox in
	// its place): kheaders is pushed after all.
	if err := os.Remove(filepath.Join(dir, "bin/kheaders")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("busybox", filepath.Join(dir, "bin/kheaders")); err != nil {
		t.Fatal(err)
	}
	o, err := Locate(context.Background(), &Options{Target: targettest.Spec(dir), CacheDir: t.TempDir(), Push: true, PushBinary: bin})
	if err != nil {
		t.Fatal(err)
	}
	if o.Source != "on-target" || o.Target.Via != "pushed" || o.Target.Commands != 4 {
		t.Errorf("old installed: source %s via %q, %d commands", o.Source, o.Target.Via, o.Target.Commands)
	}
	checkNoPushDirs(t, dir)
}

// TestTargetPushMismatch: a target whose kheaders sends another kernel's
// archive (the pushed program runs in a root whose kernel is the
// ikheaders-m build, the identity comes from the 6.12 root) is refused
// with ErrMismatch and nothing is cached.
func TestTargetPushMismatch(t *testing.T) {
	a := hosttest.Kernel612(t)
	delete(a.Files, target.SysfsArchive)
	ad := pushRoot(t, a)
	b := hosttest.Kernel612(t)
	b.Config = hosttest.ReadFixture(t, "ikheaders-m/config")
	b.Files[target.SysfsArchive] = hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz")
	bd := pushRoot(t, b)
	bin := targettest.StaticKheaders(t, "")
	spec := "cmd:sh -c 'case \"$3\" in *\"kheaders push\"*) exec chroot " + target.Quote(bd) + ` "$@";; esac; exec chroot ` + target.Quote(ad) + ` "$@"' x`
	cacheDir := t.TempDir()
	_, err := Locate(context.Background(), &Options{Target: spec, CacheDir: cacheDir, Push: true, PushBinary: bin})
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "CONFIG_IKHEADERS") || !strings.Contains(err.Error(), "on-target") {
		t.Fatalf("err %v", err)
	}
	checkNoObjects(t, cacheDir)
	checkNoPushDirs(t, ad, bd)
}

// TestTargetPushFaults: the stream cut short, a hang past the timeout and
// a pushed program that dies each give a clear error, nothing in the
// cache and no pushed directory left on the target. (Only the on-target
// source runs: the sysfs source after it would read the archive itself.)
func TestTargetPushFaults(t *testing.T) {
	r := hosttest.Kernel612(t)
	dir := pushRoot(t, r)
	q := target.Quote(dir)
	bin := targettest.StaticKheaders(t, "")
	bb := targettest.Busybox(t)
	for _, c := range []struct {
		name, spec, bin, want string
		timeout               time.Duration
	}{
		{"truncated", "cmd:sh -c 'case \"$3\" in *\"run serve-target\"*) chroot " + q + ` "$@" | head -c 100000; exit;; esac; exec chroot ` + q + ` "$@"' x`, bin, "ended early", 0},
		{"hang", "cmd:sh -c 'case \"$3\" in *\"run serve-target\"*) sleep 60;; esac; exec chroot " + q + ` "$@"' x`, bin, "hangs", 3 * time.Second},
		{"dies", targettest.Spec(dir), bb, "exit status 127", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			cacheDir := t.TempDir()
			_, err := Locate(context.Background(), &Options{Target: c.spec, CacheDir: cacheDir, Push: true, PushBinary: c.bin, TargetTimeout: c.timeout, Only: []string{"on-target"}})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want %q", err, c.want)
			}
			t.Log(err)
			checkNoObjects(t, cacheDir)
			checkNoPushDirs(t, dir)
		})
	}
}

// TestPushBinary: only a static ELF executable of the target's machine is
// pushed; the error says how to build one.
func TestPushBinary(t *testing.T) {
	ctx := context.Background()
	bb := targettest.Busybox(t)
	if _, err := pushBinary(ctx, bb, "x86_64"); runtime.GOARCH == "amd64" && err != nil {
		t.Errorf("static busybox refused: %v", err)
	}
	_, err := pushBinary(ctx, bb, "aarch64")
	if runtime.GOARCH == "amd64" && (!errors.Is(err, ErrPushBinary) || !strings.Contains(err.Error(), "GOARCH=arm64 go build ./cmd/kheaders")) {
		t.Errorf("wrong machine: %v", err)
	}
	if _, err := pushBinary(ctx, "/bin/true", "x86_64"); !errors.Is(err, ErrPushBinary) || !strings.Contains(err.Error(), "dynamically linked") && !strings.Contains(err.Error(), "is for") {
		t.Errorf("dynamic: %v", err)
	}
	sh := filepath.Join(t.TempDir(), "x.sh")
	os.WriteFile(sh, []byte("#!/bin/sh\n"), 0o755)
	if _, err := pushBinary(ctx, sh, "x86_64"); !errors.Is(err, ErrPushBinary) || !strings.Contains(err.Error(), "not an ELF") {
		t.Errorf("script: %v", err)
	}
}

// TestTargetPushADB: --push through Debian's real adb client and the test
// adb server: the binary goes over exec-in into /data/local/tmp, runs as
// the shell user, and the warm call is one exec: request.
func TestTargetPushADB(t *testing.T) {
	r := hosttest.Kernel612(t)
	dir := pushRoot(t, r)
	bin := targettest.StaticKheaders(t, "")
	srv := targettest.StartADB(t, dir, "fake-device-2")
	t.Setenv("ADB_SERVER_SOCKET", srv.Socket)
	t.Setenv("HOME", t.TempDir())
	opts := &Options{Target: "adb:fake-device-2", CacheDir: t.TempDir(), Push: true, PushBinary: bin}
	h, err := Locate(context.Background(), opts)
	if err != nil {
		t.Fatalf("%v\nrequests: %q", err, srv.Seen())
	}
	if h.Source != "on-target" || h.Target.Via != "pushed" || h.Target.RemoteSource != "sysfs" || !h.Verified {
		t.Errorf("cold: source %s target %+v", h.Source, h.Target)
	}
	execs := func() (n int) {
		for _, q := range srv.Seen() {
			if strings.HasPrefix(q, "exec:") {
				n++
			}
		}
		return n
	}
	// identity, copy (exec-in), run
	if n := execs(); n != 3 {
		t.Errorf("cold: %d exec: requests, want 3", n)
	}
	checkNoPushDirs(t, dir)
	w, err := Locate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if w.Source != "cache" || w.Target.Commands != 1 {
		t.Errorf("warm: source %s, %d commands", w.Source, w.Target.Commands)
	}
	if n := execs(); n != 4 {
		t.Errorf("warm: %d exec: requests in all, want 4", n)
	}
	t.Logf("cold %d bytes / %d commands, warm %d bytes / %d commands", h.Target.Bytes, h.Target.Commands, w.Target.Bytes, w.Target.Commands)
}
