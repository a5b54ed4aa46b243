package locate

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/internal/target"
	"github.com/kheaders/kheaders/internal/target/targettest"
)

// TestTargetArchive: the target's verified archive, byte for byte; the
// second call reads only the identity (the archive is kept in the host
// cache); an object made without the kept archive reads it again.
func TestTargetArchive(t *testing.T) {
	r := hosttest.Kernel612(t)
	want := r.Files[target.SysfsArchive]
	dir := targettest.Make(t, r)
	cacheDir := t.TempDir()
	opts := &Options{Target: targettest.Spec(dir), CacheDir: cacheDir}
	data, h, err := TargetArchive(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) || !h.Verified || h.Source != "sysfs" || h.Target.Commands != 2 || h.Target.Bytes < int64(len(want)) {
		t.Fatalf("cold: %d bytes (want %d), source %s verified %v target %+v", len(data), len(want), h.Source, h.Verified, h.Target)
	}
	cold := *h.Target
	data, h, err = TargetArchive(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) || h.Source != "cache" || h.Target.Commands != 1 || h.Target.Bytes >= int64(len(want))/10 {
		t.Fatalf("warm: %d bytes, source %s, target %+v", len(data), h.Source, h.Target)
	}
	t.Logf("extract --target: cold %d bytes / %d commands, warm %d bytes / %d commands", cold.Bytes, cold.Commands, h.Target.Bytes, h.Target.Commands)
	// The cold call hands out the archive it read (hashed once, for its
	// key); only a warm one reads the kept copy back and hashes it.
	for i, wantRead := range []bool{false, true} {
		var log bytes.Buffer
		o := &Options{Target: opts.Target, CacheDir: filepath.Join(t.TempDir(), "c"), Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
		if i == 1 {
			o.CacheDir = cacheDir
		}
		if data, _, err := TargetArchive(context.Background(), o); err != nil || !bytes.Equal(data, want) {
			t.Fatalf("TargetArchive #%d: %d bytes, %v", i, len(data), err)
		}
		if got := strings.Contains(log.String(), "reading the kept source back"); got != wantRead {
			t.Errorf("TargetArchive (%s cache) read the kept source back: %v, want %v", []string{"empty", "warm"}[i], got, wantRead)
		}
	}
	// An object of this kernel that keeps no archive (made by an older
	// kheaders): read from the target again, and kept this time.
	if err := os.Remove(filepath.Join(cacheDir, "objects", h.Key, "source")); err != nil {
		t.Fatal(err)
	}
	data, h, err = TargetArchive(context.Background(), opts)
	if err != nil || !bytes.Equal(data, want) || h.Target.Commands != 3 {
		t.Fatalf("refetch: %v, %d bytes, target %+v", err, len(data), h.Target)
	}
	if _, h, err = TargetArchive(context.Background(), opts); err != nil || h.Target.Commands != 1 {
		t.Fatalf("warm after refetch: %v, target %+v", err, h.Target)
	}
	if _, _, err := TargetArchive(context.Background(), &Options{}); !errors.Is(err, ErrNoTarget) {
		t.Errorf("no target: %v", err)
	}
}

// TestTargetArchiveFaults: a dropped link, a hang and a denial each fail
// clearly and leave the cache empty.
func TestTargetArchiveFaults(t *testing.T) {
	dir := targettest.Make(t, hosttest.Kernel612(t))
	q := target.Quote(dir)
	for _, c := range []struct {
		name, spec, want string
		timeout          time.Duration
	}{
		{"disconnect", "cmd:sh -c 'chroot " + q + ` "$@" | head -c 100000' x`, "ended early", 0},
		// The identity answers; the target hangs when asked for the archive.
		{"hang", "cmd:sh -c 'case \"$3\" in *\"# identity\"*) ;; *kheaders.tar.xz*) sleep 60;; esac; exec chroot " + q + ` "$@"' x`, "hangs", time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			cacheDir := t.TempDir()
			_, _, err := TargetArchive(context.Background(), &Options{Target: c.spec, CacheDir: cacheDir, TargetTimeout: c.timeout})
			if !errors.Is(err, ErrTransfer) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want ErrTransfer saying %q", err, c.want)
			}
			checkNoObjects(t, cacheDir)
		})
	}
	t.Run("denied", func(t *testing.T) {
		d := targettest.Make(t, hosttest.Kernel612(t))
		if err := os.Chmod(filepath.Join(d, "sys/kernel/kheaders.tar.xz"), 0o400); err != nil {
			t.Fatal(err)
		}
		cacheDir := t.TempDir()
		_, _, err := TargetArchive(context.Background(), &Options{Target: targettest.UnprivilegedSpec(d), CacheDir: cacheDir})
		if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "adb root") {
			t.Fatalf("err %v, want ErrDenied with its fixes", err)
		}
		checkNoObjects(t, cacheDir)
	})
}

// btfTarget is a fake target with no kheaders archive and btfc's seed BTF
// at /sys/kernel/btf/vmlinux.
func btfTarget(t *testing.T) (dir string, btf []byte) {
	t.Helper()
	seed, err := os.ReadFile(btfSeed)
	if err != nil {
		t.Fatal(err)
	}
	r := hosttest.Kernel612(t)
	r.Files = map[string][]byte{SysfsBTF: seed}
	return targettest.Make(t, r), seed
}

// TestTargetBTFFallback: a target with no kheaders carrier but with BTF
// gets the BTF-derived vmlinux.h (kind btf, labelled as locally); the
// second call reads only the identity; TargetBTF hands out the raw BTF
// from the cache.
func TestTargetBTFFallback(t *testing.T) {
	dir, seed := btfTarget(t)
	cacheDir := t.TempDir()
	opts := &Options{Target: targettest.Spec(dir), CacheDir: cacheDir}
	h, err := Locate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if h.Kind != KindBTF || h.Source != "btf" || !h.Verified || h.Cached || h.Target.Commands != 2 || !strings.HasPrefix(h.Key, "btf-v"+btfGenVersion+"-") {
		t.Fatalf("cold: kind %s source %s verified %v cached %v key %s target %+v", h.Kind, h.Source, h.Verified, h.Cached, h.Key, h.Target)
	}
	if len(h.Checks) != 1 || h.Checks[0].Name != "trust" || !strings.Contains(h.Checks[0].Got, "target's own "+SysfsBTF) {
		t.Errorf("checks %+v", h.Checks)
	}
	readme, err := os.ReadFile(filepath.Join(h.Dir, btfReadme))
	if err != nil || !strings.Contains(string(readme), "DERIVED FROM BTF") || !strings.Contains(string(readme), "6.12.117") || !strings.Contains(string(readme), opts.Target) {
		t.Errorf("%s: %v\n%s", btfReadme, err, readme)
	}
	if _, err := os.Stat(filepath.Join(h.Dir, "vmlinux.h")); err != nil {
		t.Error(err)
	}
	cold := *h.Target
	w, err := Locate(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if w.Dir != h.Dir || !w.Cached || w.Kind != KindBTF || w.Target.Commands != 1 {
		t.Fatalf("warm: dir %s cached %v kind %s target %+v", w.Dir, w.Cached, w.Kind, w.Target)
	}
	t.Logf("locate --target (BTF): cold %d bytes / %d commands, warm %d bytes / %d commands (BTF %d bytes)", cold.Bytes, cold.Commands, w.Target.Bytes, w.Target.Commands, len(seed))
	raw, b, err := TargetBTF(context.Background(), opts)
	if err != nil || !bytes.Equal(raw, seed) || b.Target.Commands != 1 {
		t.Fatalf("TargetBTF warm: %v, %d bytes, target %+v", err, len(raw), b.Target)
	}
	// The archive sources alone find nothing: extract --target says so.
	if _, _, err := TargetArchive(context.Background(), opts); !errors.Is(err, ErrNotFound) {
		t.Errorf("TargetArchive on a BTF-only target: %v, want ErrNotFound", err)
	}
}

// TestTargetBTFCold: TargetBTF on an empty cache transfers the BTF once;
// a BTF cut short (fewer bytes than the identity recorded) is refused and
// nothing is cached; a target without BTF is ErrNotFound.
func TestTargetBTFCold(t *testing.T) {
	dir, seed := btfTarget(t)
	cacheDir := t.TempDir()
	opts := &Options{Target: targettest.Spec(dir), CacheDir: cacheDir}
	raw, h, err := TargetBTF(context.Background(), opts)
	if err != nil || !bytes.Equal(raw, seed) || h.Target.Commands != 2 || h.Target.Bytes < int64(len(seed)) {
		t.Fatalf("cold: %v, %d bytes, target %+v", err, len(raw), h.Target)
	}
	t.Run("truncated", func(t *testing.T) {
		cacheDir := t.TempDir()
		// The identity passes; the BTF transfer stops after 1000 bytes.
		q := target.Quote(dir)
		spec := "cmd:sh -c 'case \"$3\" in *\"# identity\"*) exec chroot " + q + ` "$@";; *btf/vmlinux*) chroot ` + q + ` "$@" | head -c 1000;; *) exec chroot ` + q + ` "$@";; esac' x`
		_, _, err := TargetBTF(context.Background(), &Options{Target: spec, CacheDir: cacheDir})
		if !errors.Is(err, ErrTransfer) || !strings.Contains(err.Error(), "ended early") {
			t.Fatalf("err %v, want a truncated transfer (ErrTransfer)", err)
		}
		checkNoObjects(t, cacheDir)
	})
	t.Run("absent", func(t *testing.T) {
		d := targettest.Make(t, hosttest.Kernel612(t))
		_, _, err := TargetBTF(context.Background(), &Options{Target: targettest.Spec(d), CacheDir: t.TempDir()})
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "CONFIG_DEBUG_INFO_BTF") {
			t.Fatalf("err %v, want ErrNotFound naming CONFIG_DEBUG_INFO_BTF", err)
		}
	})
}

// TestTargetConfig: the target's /proc/config.gz, decompressed, with the
// identity command only; denied and absent are told apart.
func TestTargetConfig(t *testing.T) {
	r := hosttest.Kernel612(t)
	dir := targettest.Make(t, r)
	cfg, rt, err := TargetConfig(context.Background(), &Options{Target: targettest.Spec(dir)})
	if err != nil || !bytes.Equal(cfg, r.Config) || rt.Commands != 1 {
		t.Fatalf("TargetConfig = %d bytes, %v, %+v; want the fixture's %d bytes in 1 command", len(cfg), err, rt, len(r.Config))
	}
	if err := os.Chmod(filepath.Join(dir, "proc/config.gz"), 0o400); err != nil {
		t.Fatal(err)
	}
	if _, _, err := TargetConfig(context.Background(), &Options{Target: targettest.UnprivilegedSpec(dir)}); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("denied: %v, want fs.ErrPermission", err)
	}
	if err := os.Remove(filepath.Join(dir, "proc/config.gz")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := TargetConfig(context.Background(), &Options{Target: targettest.Spec(dir)}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "CONFIG_IKCONFIG_PROC") {
		t.Errorf("absent: %v, want fs.ErrNotExist naming CONFIG_IKCONFIG_PROC", err)
	}
}

// TestInspectTarget: an Android-like target (sysfs archive denied,
// kheaders.ko in /system_dlkm, BTF) reported file by file.
func TestInspectTarget(t *testing.T) {
	r := hosttest.Kernel612(t)
	ko := hosttest.ReadFixture(t, "ikheaders-m/kheaders.ko")
	r.Files["/system_dlkm/lib/modules/kheaders.ko"] = ko
	seed, err := os.ReadFile(btfSeed)
	if err != nil {
		t.Fatal(err)
	}
	r.Files[SysfsBTF] = seed
	dir := targettest.Make(t, r)
	if err := os.Chmod(filepath.Join(dir, "sys/kernel/kheaders.tar.xz"), 0o400); err != nil {
		t.Fatal(err)
	}
	rep, err := InspectTarget(context.Background(), &Options{Target: targettest.UnprivilegedSpec(dir), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Release != "6.12.117" || rep.Machine != "x86_64" || rep.Arch != "x86" || !rep.HasHeaders || !rep.HasConfig || !rep.HasBTF || rep.Commands != 2 || rep.CacheKey != "" {
		t.Errorf("report %+v", rep)
	}
	want := map[string]TargetFile{
		"sysfs":       {Name: "sysfs", Path: SysfsArchive, State: "denied"},
		"module-file": {Name: "module-file", Path: "/system_dlkm/lib/modules/kheaders.ko", State: "ok", Size: int64(len(ko))},
		"btf":         {Name: "btf", Path: SysfsBTF, State: "ok", Size: int64(len(seed))},
		"notes":       {Name: "notes", Path: "/sys/kernel/notes", State: "absent"},
	}
	for _, f := range rep.Carriers {
		if w, ok := want[f.Name]; ok && f != w {
			t.Errorf("carrier %+v, want %+v", f, w)
		}
		delete(want, f.Name)
	}
	if len(want) != 0 {
		t.Errorf("carriers missing: %v", want)
	}
	// Less than the archive crossed the link.
	if rep.Bytes >= int64(len(ko))/10 {
		t.Errorf("inspect read %d bytes", rep.Bytes)
	}
}

// TestInspectTargetFromSnapshot: what the identity snapshot read (the
// BTF's size, config, version, notes, the sysfs archive's absence) is not
// probed again: a target with no kheaders.ko and no sysfs archive is
// inspected in the identity's one command, with the same sizes.
func TestInspectTargetFromSnapshot(t *testing.T) {
	dir, seed := btfTarget(t)
	rep, err := InspectTarget(context.Background(), &Options{Target: targettest.Spec(dir), CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Commands != 1 || rep.HasHeaders || !rep.HasConfig || !rep.HasBTF {
		t.Errorf("report %+v, want 1 command, config and BTF, no headers", rep)
	}
	cfg, err := os.ReadFile(filepath.Join(dir, "proc/config.gz"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]TargetFile{
		"sysfs":  {Name: "sysfs", Path: SysfsArchive, State: "absent"},
		"btf":    {Name: "btf", Path: SysfsBTF, State: "ok", Size: int64(len(seed))},
		"config": {Name: "config", Path: "/proc/config.gz", State: "ok", Size: int64(len(cfg))},
	}
	for _, f := range rep.Carriers {
		if w, ok := want[f.Name]; ok && f != w {
			t.Errorf("carrier %+v, want %+v", f, w)
		}
		delete(want, f.Name)
	}
	if len(want) != 0 {
		t.Errorf("carriers missing: %v", want)
	}
	// After a locate the report names the cached vmlinux.h as such.
	opts := &Options{Target: targettest.Spec(dir), CacheDir: t.TempDir()}
	h, err := Locate(context.Background(), opts)
	if err != nil || h.Kind != KindBTF {
		t.Fatalf("Locate = %v, %v; want the BTF", h, err)
	}
	rep, err = InspectTarget(context.Background(), opts)
	if err != nil || rep.CacheKey != h.Key || rep.CacheKind != KindBTF {
		t.Errorf("InspectTarget after Locate: key %q kind %q (%v), want %q btf", rep.CacheKey, rep.CacheKind, err, h.Key)
	}
}

// TestTargetBTFRebuilt: the target kernel rebuilt with the same release
// and /proc/version (Kleaf pins both) and no readable notes, but another
// BTF: the identity alone would match the old object, so the BTF's size
// is part of the key and the new BTF is read, not the old one served.
func TestTargetBTFRebuilt(t *testing.T) {
	dir, seed := btfTarget(t)
	opts := &Options{Target: targettest.Spec(dir), CacheDir: t.TempDir()}
	raw, _, err := TargetBTF(context.Background(), opts)
	if err != nil || !bytes.Equal(raw, seed) {
		t.Fatalf("first TargetBTF: %v, %d bytes", err, len(raw))
	}
	other, err := os.ReadFile("../btfc/testdata/seeds/enums.btf")
	if err != nil {
		t.Fatal(err)
	}
	if len(other) == len(seed) {
		t.Fatalf("the two seeds have the same size (%d): the test needs BTFs of different sizes", len(seed))
	}
	if err := os.WriteFile(filepath.Join(dir, SysfsBTF), other, 0o644); err != nil {
		t.Fatal(err)
	}
	raw, h, err := TargetBTF(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, other) || h.Target.Commands != 2 {
		t.Fatalf("TargetBTF after the rebuild: %d bytes (want the new %d, the old was %d), target %+v", len(raw), len(other), len(seed), h.Target)
	}
}

// TestOnTargetBTFSizeMismatchKeepsTargetBTF: an on-target kheaders that
// sends a BTF of the wrong size is refused, but that refusal is about a
// BTF, not about headers: the host's own btf source for the target still
// runs and reads the right BTF itself (found by review: it was skipped,
// and the call ended in exit 4 with a wrong reason).
func TestOnTargetBTFSizeMismatchKeepsTargetBTF(t *testing.T) {
	dir, seed := btfTarget(t)
	var stream bytes.Buffer
	payload := append(append([]byte(nil), seed...), 0, 0, 0, 0) // raw BTF, 4 bytes too long
	if err := target.WriteStream(&stream, target.StreamReport{Kind: target.PayloadBTF, Release: "6.12.117", Source: "btf", Origin: SysfsBTF}, payload); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stream"), stream.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/kheaders"), []byte("#!/bin/sh\ncat /stream\n"), 0o755); err != nil { // an "installed" kheaders
		t.Fatal(err)
	}
	h, err := Locate(context.Background(), &Options{Target: targettest.Spec(dir), CacheDir: t.TempDir(), Push: true, PushBinary: "/nonexistent"})
	if err != nil {
		t.Fatalf("Locate --push with a bad on-target BTF: %v", err)
	}
	if h.Kind != KindBTF || h.Source != "btf" {
		t.Errorf("Headers kind %q source %q, want the target's BTF read by the host", h.Kind, h.Source)
	}
	i := slices.IndexFunc(h.Attempts, func(a Attempt) bool { return a.Source == "on-target" })
	if i < 0 || h.Attempts[i].Outcome != OutcomeRejected {
		t.Errorf("attempts %+v: want on-target rejected", h.Attempts)
	}
}

// TestTargetBTFNotReadAfterRejection: when the target's header archive is
// refused, the call ends in exit 4 without transferring the target's BTF
// (up to 64 MiB over ssh or adb) only to skip it: the skip is decided
// before the btf source runs. With --sources naming btf it is read.
func TestTargetBTFNotReadAfterRejection(t *testing.T) {
	dir := targettest.Make(t, rejectedWithBTF(t))
	// run returns the "bytes=N commands=N" of the "remote target done" log line.
	run := func(disable []string) (transfer string, err error) {
		var log bytes.Buffer
		opts := &Options{Target: targettest.Spec(dir), CacheDir: t.TempDir(), Disable: disable,
			Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
		_, err = Locate(context.Background(), opts)
		for _, line := range strings.Split(log.String(), "\n") {
			if i := strings.Index(line, "bytes="); i >= 0 && strings.Contains(line, "remote target done") {
				return line[i:], err
			}
		}
		t.Fatalf("Locate = %v: no \"remote target done\" line in its log:\n%s", err, log.String())
		return "", err
	}
	with, err := run(nil)
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("Locate after a rejected target archive = %v, want ErrMismatch", err)
	}
	without, _ := run([]string{"btf"})
	if with != without {
		t.Errorf("transfer with the btf source in the chain: %s; with it disabled: %s: the skipped BTF was transferred", with, without)
	}
}
