package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/carrier"
	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/internal/target/targettest"
)

// arm64Target is a fake target running the committed arm64 test kernel
// (testdata/kernels/Image-arm64-net.gz, CONFIG_IKHEADERS=y): its config,
// its release and its archive at /sys/kernel/kheaders.tar.xz.
func arm64Target(t *testing.T) string {
	t.Helper()
	kdir := filepath.Join("..", "..", "testdata", "kernels")
	cfg, err := os.ReadFile(filepath.Join(kdir, "config-arm64-net"))
	if err != nil {
		t.Fatalf("testdata kernel: %v", err)
	}
	img, err := os.ReadFile(filepath.Join(kdir, "Image-arm64-net.gz"))
	if err != nil {
		t.Fatalf("testdata kernel: %v", err)
	}
	arch, _, err := carrier.Archive(context.Background(), img, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CONFIG_LOCALVERSION="([^"]*)"$`).FindSubmatch(cfg)
	if m == nil {
		t.Fatal("config-arm64-net has no CONFIG_LOCALVERSION")
	}
	return targettest.Make(t, hosttest.Root{
		Release: "6.12.117" + string(m[1]), Machine: "aarch64", Config: cfg,
		Files: map[string][]byte{"/sys/kernel/kheaders.tar.xz": arch},
	})
}

// TestTargetCommands: cflags, env and locate with --target give the
// target's kernel and arch (arm64 from this x86_64 host), JSON names the
// target, -v shows each remote command.
func TestTargetCommands(t *testing.T) {
	dir := arm64Target(t)
	spec := targettest.Spec(dir)
	cache := t.TempDir()
	out, stderr, code := runCLI(t, nil, "cflags", "--bpf", "--json", "-v", "--target", spec, "--cache-dir", cache)
	if code != 0 {
		t.Fatalf("cflags --target: exit %d: %s", code, stderr)
	}
	var cf struct {
		Flags    []string
		Arch     string
		Release  string
		Verified bool
		Target   struct {
			Spec     string
			Bytes    int64
			Commands int64
		}
	}
	if err := json.Unmarshal([]byte(out), &cf); err != nil {
		t.Fatal(err)
	}
	flags := strings.Join(cf.Flags, " ")
	if cf.Arch != "arm64" || !cf.Verified || !strings.Contains(flags, "-D__TARGET_ARCH_arm64") || !strings.Contains(flags, "/arch/arm64/include ") || cf.Target.Spec != spec {
		t.Errorf("cflags: arch %s verified %v target %+v flags %s", cf.Arch, cf.Verified, cf.Target, flags)
	}
	if !strings.Contains(stderr, "remote command") || !strings.Contains(stderr, "cat '/sys/kernel/kheaders.tar.xz'") {
		t.Errorf("-v does not show the remote commands:\n%s", stderr)
	}
	out, stderr, code = runCLI(t, nil, "env", "--target", spec, "--cache-dir", cache)
	if code != 0 || !strings.Contains(out, "KHEADERS_ARCH=arm64") || !strings.Contains(out, "KHEADERS_RELEASE=6.12.117-net-arm64") {
		t.Errorf("env --target: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code = runCLI(t, nil, "locate", "--json", "--target", spec, "--cache-dir", cache)
	if code != 0 || !strings.Contains(out, `"cached": true`) || !strings.Contains(out, `"commands": 1`) {
		t.Errorf("warm locate --target: exit %d\n%s%s", code, out, stderr)
	}
	if _, _, code := runCLI(t, nil, "locate", "--target", spec, "--host-root", dir); code != ExitUsage {
		t.Errorf("--target with --host-root: exit %d, want %d", code, ExitUsage)
	}
	if _, stderr, code := runCLI(t, nil, "locate", "--target", "ftp://x"); code == 0 || !strings.Contains(stderr, "ssh://") {
		t.Errorf("bad spec: exit %d: %s", code, stderr)
	}
}

// TestTargetCommandMismatch: the x86_64 fixture kernel's target carrying
// the =m kernel's archive is refused with exit 4.
func TestTargetCommandMismatch(t *testing.T) {
	r := hosttest.Kernel612(t)
	r.Files["/sys/kernel/kheaders.tar.xz"] = hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz")
	dir := targettest.Make(t, r)
	_, stderr, code := runCLI(t, nil, "locate", "--target", targettest.Spec(dir), "--cache-dir", t.TempDir())
	if code != ExitVerify || !strings.Contains(stderr, "CONFIG_IKHEADERS") {
		t.Errorf("exit %d, want %d: %s", code, ExitVerify, stderr)
	}
}
