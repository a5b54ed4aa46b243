package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kheaders/kheaders/locate"
)

// remoteClient is the host side of the booted guest's shell service: it
// sends the script and "exit" to 127.0.0.1:PORT (qemu hostfwd to a busybox
// "nc -ll -e /bin/sh" in the guest) and copies the answer to stdout until
// the guest closes the connection. Used as a cmd: target prefix, which
// appends "sh -c SCRIPT": the script is argv[3].
const remoteClient = `import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=120)
s.sendall(sys.argv[4].encode() + b"\nexit\n")
s.shutdown(socket.SHUT_WR)
while True:
    b = s.recv(65536)
    if not b:
        break
    sys.stdout.buffer.write(b)
`

// TestE2ERemoteGuest boots the networked test kernels
// (testdata/kernels/bzImage-x86_64-net-y and Image-arm64-net.gz, both
// CONFIG_IKHEADERS=y, BPF and kprobes) under qemu user networking, one boot
// each, and reaches each guest from the host two ways:
//
//   - cmd: a busybox "nc -ll -e /bin/sh" shell service on a hostfwd port;
//   - ssh: Debian's dropbear in the guest (the host's own, read over 9p, for
//     x86_64; dropbear-bin:arm64 unpacked by run.sh for arm64) on another
//     hostfwd port, with a throwaway host key and client key, and the
//     host's real ssh with a throwaway known_hosts and no user config,
//     through the kheaders CLI (locate --json --target ssh://...).
//
// Each: headers verified against the guest's own kernel (its release, its
// /proc/config.gz, its machine), a warm call that reads no archive, another
// kernel's archive refused (the =n build's for x86_64, an x86 one for
// arm64). For each guest, cc --target on this host builds
// examples/kprobe-pid's BPF object and the static kprobe-pid of the
// guest's arch loads and attaches it in the guest.
func TestE2ERemoteGuest(t *testing.T) {
	gate(t)
	t.Run("x86_64", func(t *testing.T) {
		remoteGuest(t, remoteGuestSpec{kernel: "bzImage-x86_64-net-y", release: "6.12.117-net-y", arch: "x86", goarch: "amd64", busybox: "/bin/busybox",
			qemu: []string{"qemu-system-x86_64", "-accel", "tcg", "-cpu", "qemu64"}, console: "ttyS0", mismatch: "kheaders-x86_64-net-n.tar.xz", mismatchWhy: "CONFIG_IKHEADERS",
			sysroot: "/", sysrootWhy: "the host's dropbear (/usr/sbin/dropbear, Debian dropbear-bin)",
			loadBPF: true})
	})
	// The arm64 guest (IKHEADERS=y) from this x86_64 host: cross-arch flags,
	// and a BPF object built here that loads there.
	t.Run("arm64", func(t *testing.T) {
		bb := os.Getenv("KHEADERS_E2E_BUSYBOX_ARM64")
		if bb == "" {
			t.Skip("no arm64 busybox (KHEADERS_E2E_BUSYBOX_ARM64, set by internal/e2e/run.sh)")
		}
		remoteGuest(t, remoteGuestSpec{kernel: "Image-arm64-net.gz", release: "6.12.117-net-arm64", arch: "arm64", goarch: "arm64", busybox: bb,
			qemu: []string{"qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57", "-accel", "tcg"}, console: "ttyAMA0",
			mismatch: "kheaders-x86_64-net-n.tar.xz", mismatchWhy: "arch: running kernel arm64, headers x86",
			sysroot: os.Getenv("KHEADERS_E2E_DROPBEAR_ARM64"), sysrootWhy: "dropbear-bin:arm64 unpacked (KHEADERS_E2E_DROPBEAR_ARM64, set by internal/e2e/run.sh)",
			loadBPF: true})
	})
}

type remoteGuestSpec struct {
	kernel, release, arch, goarch, busybox, console string
	qemu                                            []string
	// mismatch is another kernel's archive (testdata/kernels), refused
	// for this guest with an error naming mismatchWhy.
	mismatch, mismatchWhy string
	// sysroot is the host directory holding the guest arch's dropbear
	// (usr/sbin/dropbear) and the libraries it links (lib, lib64,
	// usr/lib): the guest reads it over 9p and links its /lib there.
	// Empty or missing: the ssh part skips, saying sysrootWhy is missing.
	sysroot, sysrootWhy string
	// loadBPF: cc --target builds kprobe-pid's object on the host and the
	// guest loads it with a static kprobe-pid built for goarch.
	loadBPF bool
}

// dropbearIn is the sysroot's dropbear, or "" when there is none.
func (g remoteGuestSpec) dropbearIn() string {
	if g.sysroot == "" {
		return ""
	}
	p := filepath.Join(g.sysroot, "usr", "sbin", "dropbear")
	if !fileExists(p) {
		return ""
	}
	return p
}

func remoteGuest(t *testing.T, g remoteGuestSpec) {
	for _, p := range []string{g.qemu[0], "python3", "cpio"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed (scripts/install-deps.sh)", p)
		}
	}
	kdir := filepath.Join("..", "..", "testdata", "kernels")
	kernel := filepath.Join(kdir, g.kernel)
	if _, err := os.Stat(kernel); err != nil {
		t.Skipf("no %s", kernel)
	}
	bb := g.busybox
	if _, err := os.Stat(bb); err != nil {
		t.Skipf("no static busybox %s", bb)
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for _, d := range []string{"bin", "dev", "proc", "sys", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("busybox", filepath.Join(root, "bin/sh")); err != nil {
		t.Fatal(err)
	}
	if g.sysroot != "" {
		// The guest reads it at /host + the host's absolute path.
		if g.sysroot, err = filepath.Abs(g.sysroot); err != nil {
			t.Fatal(err)
		}
	}
	ssh, noSSH := prepareSSH(t, g, root)
	sshd := ""
	if ssh != nil {
		// The sysroot (over 9p) gives dropbear its ld.so and libraries
		// at their own paths: /lib, /lib64, /usr/lib link into it
		// (dropbear re-executes its own binary per connection, so it runs
		// as itself, not through ld.so). Its sessions run busybox's
		// /bin/sh of /etc/passwd.
		sshd = `mkdir -p /host && mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot /host
S=` + shellQuote("/host"+g.sysroot) + `
for d in lib lib64 usr/lib; do [ -e "$S/$d" ] && ln -s "$S/$d" "/$d"; done
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
"$S/usr/sbin/dropbear" -r /etc/dropbear/hostkey -p 22 -s -m -j -k -E -P /tmp/dropbear.pid || echo "@@ SSHD FAILED exit $?"
`
	}
	init := `#!/bin/busybox sh
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo 1 > /proc/sys/kernel/printk
ip link set lo up; ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0
` + sshd + `echo "@@ READY $(uname -r)"
nc -ll -p 2222 -e /bin/sh
poweroff -f
`
	if err := os.WriteFile(filepath.Join(root, "init"), []byte(init), 0o755); err != nil {
		t.Fatal(err)
	}
	initrd := filepath.Join(dir, "initrd.cpio")
	mk := exec.Command("sh", "-c", `cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 > "$2"`, "x", root, initrd)
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("cpio: %v %s", err, out)
	}
	port := freePort(t)
	netdev := fmt.Sprintf("user,id=n0,hostfwd=tcp:127.0.0.1:%d-:2222", port)
	if ssh != nil {
		ssh.port = freePort(t)
		netdev += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:22", ssh.port)
	}
	args := append(g.qemu[1:], "-smp", "1", "-m", "512", "-nographic", "-no-reboot",
		"-kernel", kernel, "-initrd", initrd,
		"-netdev", netdev, "-device", "virtio-net-pci,netdev=n0",
		"-append", "console="+g.console+" panic=-1 loglevel=4")
	if ssh != nil {
		args = append(args, HostRootArgs...)
	}
	qemu := exec.Command(g.qemu[0], args...)
	con, err := qemu.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	qemu.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := qemu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-qemu.Process.Pid, syscall.SIGKILL)
		qemu.Wait()
	})
	logDir := os.Getenv("KHEADERS_E2E_LOGDIR")
	if logDir == "" {
		logDir = t.TempDir()
	}
	logPath := filepath.Join(logDir, "remote-guest-"+g.arch+".log")
	log, _ := os.Create(logPath)
	defer log.Close()
	ready := make(chan string, 1)
	var sshdFailed atomic.Bool
	go func() {
		sc := bufio.NewScanner(con)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "@@ SSHD FAILED") {
				sshdFailed.Store(true)
			}
			if i := strings.Index(line, "@@ READY "); i >= 0 {
				ready <- strings.TrimSpace(line[i+len("@@ READY "):])
			}
			if log != nil {
				fmt.Fprintln(log, line)
			}
		}
	}()
	var release string
	select {
	case release = <-ready:
	case <-time.After(bootTimeout(t)):
		t.Fatalf("the guest did not reach /init in %v (KHEADERS_E2E_BOOT_TIMEOUT; console: %s)", bootTimeout(t), logPath)
	}
	t.Logf("guest %s up after %v", release, time.Since(start).Round(time.Millisecond))
	t.Run("cmd", func(t *testing.T) { remoteCmd(t, g, dir, port, release) })
	t.Run("ssh", func(t *testing.T) {
		if ssh == nil {
			t.Skipf("no ssh part: %s", noSSH)
		}
		if sshdFailed.Load() {
			t.Fatalf("dropbear did not start in the guest (console: %s)", logPath)
		}
		remoteSSH(t, g, ssh, release)
	})
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// remoteCmd: locate over the guest's nc shell service as a cmd: target.
func remoteCmd(t *testing.T, g remoteGuestSpec, dir string, port int, release string) {
	kdir := filepath.Join("..", "..", "testdata", "kernels")
	client := filepath.Join(dir, "client.py")
	if err := os.WriteFile(client, []byte(remoteClient), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := fmt.Sprintf("cmd:python3 %s %d", client, port)
	ctx := context.Background()
	cacheDir := t.TempDir()
	opts := &locate.Options{Target: spec, CacheDir: cacheDir, TargetTimeout: 3 * time.Minute}
	t0 := time.Now()
	h, err := locate.Locate(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	cold := time.Since(t0)
	if !h.Verified || h.Release != release || h.Release != g.release || h.Arch != g.arch || h.Source != "sysfs" || h.Cached {
		t.Fatalf("cold: verified %v release %s source %s cached %v", h.Verified, h.Release, h.Source, h.Cached)
	}
	for _, c := range h.Checks {
		if (c.Name == "config" || c.Name == "release" || c.Name == "arch") && c.Status != locate.CheckOK {
			t.Errorf("check %+v", c)
		}
	}
	t0 = time.Now()
	w, err := locate.Locate(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	warm := time.Since(t0)
	if !w.Cached || w.Dir != h.Dir || w.Target.Commands != 1 || w.Target.Bytes*10 > h.Target.Bytes {
		t.Errorf("warm: cached %v, %d bytes in %d commands (cold %d)", w.Cached, w.Target.Bytes, w.Target.Commands, h.Target.Bytes)
	}
	t.Logf("booted guest: cold %v %d bytes %d commands (identity %s); warm %v %d bytes %d commands",
		cold.Round(time.Millisecond), h.Target.Bytes, h.Target.Commands, h.Target.Identity, warm.Round(time.Millisecond), w.Target.Bytes, w.Target.Commands)
	if flags := strings.Join(h.BPFFlags(), " "); !strings.Contains(flags, "-D__TARGET_ARCH_"+g.arch) || !strings.Contains(flags, "/arch/"+g.arch+"/include ") {
		t.Errorf("flags for the %s guest: %s", g.arch, flags)
	}
	if g.mismatch == "" {
		return
	}
	// Another kernel's archive is not this guest's.
	opts.Override = filepath.Join(kdir, g.mismatch)
	if _, err := locate.Locate(ctx, opts); !errors.Is(err, locate.ErrMismatch) || !strings.Contains(err.Error(), g.mismatchWhy) {
		t.Errorf("%s for the %s guest: %v, want a mismatch naming %s", g.mismatch, g.arch, err, g.mismatchWhy)
	}
}
