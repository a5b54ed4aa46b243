package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const release = "6.12.117"

// bootTimeout bounds every boot; KHEADERS_E2E_BOOT_TIMEOUT (a Go duration)
// overrides it for slow machines.
func bootTimeout(t *testing.T) time.Duration {
	if v := os.Getenv("KHEADERS_E2E_BOOT_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("KHEADERS_E2E_BOOT_TIMEOUT=%q: %v", v, err)
		}
		return d
	}
	return 180 * time.Second
}

// gate skips the booted-kernel tests unless e2e/run.sh (make e2e) asked for
// them: they take minutes and must not run twice in CI.
func gate(t *testing.T) {
	if os.Getenv("KHEADERS_E2E") != "1" {
		t.Skip("skipping booted-kernel tests under plain `go test`: run `make e2e` (e2e/run.sh, which sets KHEADERS_E2E=1)")
	}
}

// bootSpec is one boot: a kernel, extra initramfs members and guest steps.
type bootSpec struct {
	name    string
	machine Machine
	kernel  string
	extra   []Entry
	steps   []GuestStep
}

// timing is one line of the summary printed at the end.
type timing struct {
	boot, what string
	d          time.Duration
	note       string
}

type harness struct {
	t       *testing.T
	work    string
	logDir  string
	timings []timing
}

func newHarness(t *testing.T) *harness {
	h := &harness{t: t, work: t.TempDir()}
	h.logDir = os.Getenv("KHEADERS_E2E_LOGDIR")
	if h.logDir == "" {
		h.logDir = h.work
	}
	if err := os.MkdirAll(h.logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return h
}

// boot builds the initramfs for spec, boots it and returns the parsed
// console. It fails t when qemu times out, the guest did not reach the end
// of its script, or the console cannot be parsed.
func (h *harness) boot(t *testing.T, spec bootSpec, busybox, kheaders string) *Console {
	t.Helper()
	init, err := InitScript(spec.steps, spec.machine.Halt)
	if err != nil {
		t.Fatal(err)
	}
	entries := append(BaseEntries(busybox, kheaders, init), spec.extra...)
	initrd := filepath.Join(h.work, spec.name+".cpio")
	var buf bytes.Buffer
	if err := WriteInitramfs(&buf, entries); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(initrd, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("boot %s: %s %s, initramfs %d bytes (%d members)", spec.name, spec.machine.Qemu, spec.kernel, buf.Len(), len(entries))
	res := Boot(t.Context(), spec.machine, spec.kernel, initrd, "", bootTimeout(t), nil)
	logPath := filepath.Join(h.logDir, spec.name+".console.log")
	if err := os.WriteFile(logPath, res.Log, 0o644); err != nil {
		t.Error(err)
	}
	t.Logf("boot %s: console log %s (%d bytes); qemu start to /init %v, whole boot %v",
		spec.name, logPath, len(res.Log), res.ToInit.Round(time.Millisecond), res.Wall.Round(time.Millisecond))
	c, perr := ParseConsole(bytes.NewReader(res.Log))
	if res.Err != nil || perr != nil || !c.Done {
		t.Fatalf("boot %s failed: qemu: %v; console: %v; last console lines:\n%s", spec.name, res.Err, perr, tail(res.Log, 40))
	}
	h.timings = append(h.timings,
		timing{spec.name, "qemu start -> /init (host clock)", res.ToInit, ""},
		timing{spec.name, "kernel uptime at /init (guest clock)", c.InitUptime, ""},
		timing{spec.name, "whole boot, qemu start -> exit", res.Wall, ""})
	for _, s := range c.Steps {
		t.Logf("guest %s: %s rc=%d in %v", spec.name, s.Name, s.RC, s.Dur)
		for _, l := range strings.Split(s.Stdout, "\n") {
			if l != "" {
				t.Logf("    out| %s", l)
			}
		}
		for _, l := range strings.Split(s.Stderr, "\n") {
			if l != "" {
				t.Logf("    err| %s", l)
			}
		}
		h.timings = append(h.timings, timing{spec.name, "guest: " + s.Name, s.Dur, "rc=" + strconv.Itoa(s.RC)})
		if !s.Ended {
			t.Errorf("guest step %s: no END marker", s.Name)
		}
	}
	for _, want := range spec.steps {
		if c.Step(want.Name) == nil {
			t.Errorf("guest step %s: not reported on the console", want.Name)
		}
	}
	return c
}

func (h *harness) summary() {
	var b strings.Builder
	fmt.Fprintf(&b, "e2e timings (guest step times from /proc/uptime, 10 ms resolution):\n")
	for _, x := range h.timings {
		fmt.Fprintf(&b, "  %-22s %-42s %10v  %s\n", x.boot, x.what, x.d.Round(time.Millisecond), x.note)
	}
	h.t.Log(b.String())
}

func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestE2E(t *testing.T) {
	gate(t)
	fx := fixtures(t)
	h := newHarness(t)
	defer h.summary()
	if ok, pkg := HaveQemu(MachineX86); !ok {
		t.Skipf("skipping: %s not found (install Debian package %s)", MachineX86.Qemu, pkg)
	}
	bb, why := staticBusybox("x86_64")
	if bb == "" {
		t.Skip("skipping: " + why)
	}
	kh := buildKheaders(t, "amd64", h.work)
	cmds := commandsOf(t, kh)
	t.Logf("kheaders commands in this build: %v", keys(cmds))

	t.Run("x86_64-y-fastboot", func(t *testing.T) {
		c := h.boot(t, bootSpec{
			name:    "x86_64-y-fastboot",
			machine: MachineX86,
			kernel:  filepath.Join(fx, "ikheaders-y", "bzImage"),
			steps: []GuestStep{
				{"uname", "uname -r"},
				{"sysfs-sha256", "sha256sum /sys/kernel/kheaders.tar.xz"},
				{"version", "kheaders version"},
			},
		}, bb, kh)
		_ = c
	})
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
