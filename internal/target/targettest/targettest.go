// Package targettest makes fake target machines for tests: a fake host
// root (internal/host/hosttest) with the real static busybox installed as
// /bin/sh, cat, wc, find ..., reached with "cmd:chroot DIR" (as root).
package targettest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// Busybox returns the path of a statically linked busybox or skips.
func Busybox(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if out, err := exec.Command("file", "-L", p).Output(); err == nil && len(out) > 0 && contains(out, "statically linked") {
			return p
		}
	}
	t.Skip("no static busybox (Debian: busybox-static, scripts/install-deps.sh): cannot build a fake target root")
	return ""
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }

// RequireChroot skips unless this process may chroot (root).
func RequireChroot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("fake targets are reached with chroot, which needs root")
	}
}

// Make writes r as a fake target root with busybox and returns its
// directory (mode 0755, so that an unprivileged uid can use it).
func Make(t testing.TB, r hosttest.Root) string {
	t.Helper()
	RequireChroot(t)
	bb := Busybox(t)
	dir := hosttest.Make(t, r)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"sh", "cat", "wc", "find", "uname", "printf", "test", "[", "dd", "sleep", "head", "ls", "kill"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", n)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	// /tmp, and Android's /data/local/tmp, where --push puts kheaders.
	for _, d := range []string{"tmp", "data/local/tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, d), 0o777|os.ModeSticky); err != nil {
			t.Fatal(err)
		}
	}
	// /dev/null inside the fake root: a regular empty file is enough for
	// the "</dev/null" of the command wrapper (no device node needed).
	if err := os.WriteFile(filepath.Join(dir, "dev/null"), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "dev/null"), 0o666); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Spec returns the cmd: spec that runs the target's shell in dir as root.
func Spec(dir string) string { return "cmd:chroot '" + dir + "'" }

// UnprivilegedSpec runs it as uid/gid 65534, so that a file of mode 0400
// is unreadable as Android's SELinux makes the sysfs archive for the shell.
func UnprivilegedSpec(dir string) string { return "cmd:chroot --userspec=65534:65534 '" + dir + "'" }

// VDSOAddr is where AddVDSO maps the fake vDSO.
const VDSOAddr = 0x10000

// AddVDSO gives the fake root dir a /proc/self/maps with a [vdso] line and
// a /proc/self/mem holding, at that address, a vDSO image whose "Linux"
// note is code: what the identity script reads from a real procfs (the
// chroot's /proc is the fake root's directory).
func AddVDSO(t testing.TB, dir string, code uint32) {
	t.Helper()
	img := host.NoteImage(code)
	size := (len(img) + 4095) &^ 4095
	mem := make([]byte, VDSOAddr+size)
	copy(mem[VDSOAddr:], img)
	maps := fmt.Sprintf("%08x-%08x r--p 00000000 00:00 0 [vvar]\n%08x-%08x r-xp 00000000 00:00 0                          [vdso]\n",
		VDSOAddr-0x4000, VDSOAddr, VDSOAddr, VDSOAddr+size)
	p := filepath.Join(dir, "proc", "self")
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"maps": []byte(maps), "mem": mem} {
		if err := os.WriteFile(filepath.Join(p, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// StaticKheaders builds kheaders (CGO_ENABLED=0, for GOARCH, "" meaning
// this machine's) into a temporary directory and returns its path: the
// static binary --push copies to a target. It skips when go is missing.
func StaticKheaders(t testing.TB, goarch string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH: cannot build the static kheaders to push")
	}
	out := filepath.Join(t.TempDir(), "kheaders")
	cmd := exec.Command(gobin, "build", "-o", out, "github.com/kheaders/kheaders/cmd/kheaders")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if goarch != "" {
		cmd.Env = append(cmd.Env, "GOARCH="+goarch)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kheaders: %v\n%s", err, b)
	}
	return out
}

// PushDirs returns the kheaders-push-* directories left under dir/tmp and
// dir/data/local/tmp of a fake target root.
func PushDirs(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for _, d := range []string{"tmp", "data/local/tmp"} {
		m, _ := filepath.Glob(filepath.Join(dir, d, "kheaders-push-*"))
		out = append(out, m...)
	}
	return out
}
