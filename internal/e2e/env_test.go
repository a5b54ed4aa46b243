package e2e

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// repoRoot is the repository root (the directory with go.mod).
func repoRoot(t testing.TB) string { return hosttest.RepoRoot(t) }

// fixtures returns ../shared/fixtures/linux-6.12.117-x86_64 relative to the
// repo root, skipping the test when it is absent.
func fixtures(t testing.TB) string {
	t.Helper()
	return hosttest.Fixtures(t)
}

// staticBusybox finds a statically linked busybox for arch ("x86_64" or
// "arm64"): $KHEADERS_E2E_BUSYBOX_<ARCH> first, then /bin/busybox for the
// host arch. It returns "" with the reason when there is none.
func staticBusybox(arch string) (string, string) {
	envName := "KHEADERS_E2E_BUSYBOX_" + strings.ToUpper(arch)
	cands := []string{os.Getenv(envName)}
	if arch == "x86_64" {
		cands = append(cands, "/bin/busybox", "/usr/bin/busybox")
	}
	want := elf.EM_X86_64
	if arch == "arm64" {
		want = elf.EM_AARCH64
	}
	var why []string
	for _, c := range cands {
		if c == "" {
			continue
		}
		f, err := elf.Open(c)
		if err != nil {
			why = append(why, c+": "+err.Error())
			continue
		}
		interp := false
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				interp = true
			}
		}
		mach := f.Machine
		f.Close()
		switch {
		case mach != want:
			why = append(why, c+": built for "+mach.String())
		case interp:
			why = append(why, c+": dynamically linked")
		default:
			return c, ""
		}
	}
	pkg := "busybox-static"
	if arch == "arm64" {
		pkg = "busybox-static:arm64 (or set " + envName + ")"
	}
	return "", "no static " + arch + " busybox (install Debian package " + pkg + "; tried " + strings.Join(why, "; ") + ")"
}

// buildKheaders builds a static kheaders for goarch into dir.
func buildKheaders(t testing.TB, goarch, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "kheaders-"+goarch)
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./cmd/kheaders")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 GOARCH=%s go build ./cmd/kheaders: %v\n%s", goarch, err, b)
	}
	return out
}

// commandsOf lists the subcommands a kheaders binary knows, from `kheaders help`.
func commandsOf(t testing.TB, bin string) map[string]bool {
	t.Helper()
	b, err := exec.Command(bin, "help").Output()
	if err != nil {
		t.Fatalf("%s help: %v", bin, err)
	}
	cmds := map[string]bool{}
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "Commands:"):
			in = true
		case in && strings.HasPrefix(l, "  "):
			if f := strings.Fields(l); len(f) > 0 {
				cmds[f[0]] = true
			}
		case in && strings.TrimSpace(l) == "":
			if len(cmds) > 0 {
				in = false
			}
		}
	}
	return cmds
}
