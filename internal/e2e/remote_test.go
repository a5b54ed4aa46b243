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

// TestE2ERemoteGuest boots the networked x86_64 test kernel
// (testdata/kernels/bzImage-x86_64-net-y, CONFIG_IKHEADERS=y) under qemu
// user networking with a shell service on a hostfwd port, and locates its
// headers from the host with --target: verified against the guest's own
// kernel (release 6.12.117-net-y, its /proc/config.gz), a warm call that
// reads no archive, and the =n kernel's archive refused for it.
func TestE2ERemoteGuest(t *testing.T) {
	gate(t)
	t.Run("x86_64", func(t *testing.T) {
		remoteGuest(t, remoteGuestSpec{kernel: "bzImage-x86_64-net-y", release: "6.12.117-net-y", arch: "x86", busybox: "/bin/busybox",
			qemu: []string{"qemu-system-x86_64", "-accel", "tcg", "-cpu", "qemu64"}, console: "ttyS0", mismatch: "kheaders-x86_64-net-n.tar.xz"})
	})
	// The arm64 guest (IKHEADERS=y) from this x86_64 host: cross-arch flags.
	t.Run("arm64", func(t *testing.T) {
		bb := os.Getenv("KHEADERS_E2E_BUSYBOX_ARM64")
		if bb == "" {
			t.Skip("no arm64 busybox (KHEADERS_E2E_BUSYBOX_ARM64, set by internal/e2e/run.sh)")
		}
		remoteGuest(t, remoteGuestSpec{kernel: "Image-arm64-net.gz", release: "6.12.117-net-arm64", arch: "arm64", busybox: bb,
			qemu: []string{"qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a57", "-accel", "tcg"}, console: "ttyAMA0"})
	})
}

type remoteGuestSpec struct {
	kernel, release, arch, busybox, console, mismatch string
	qemu                                              []string
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
	init := `#!/bin/busybox sh
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo 1 > /proc/sys/kernel/printk
ip link set lo up; ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0
echo "@@ READY $(uname -r)"
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	args := append(g.qemu[1:], "-smp", "1", "-m", "512", "-nographic", "-no-reboot",
		"-kernel", kernel, "-initrd", initrd,
		"-netdev", fmt.Sprintf("user,id=n0,hostfwd=tcp:127.0.0.1:%d-:2222", port), "-device", "virtio-net-pci,netdev=n0",
		"-append", "console="+g.console+" panic=-1 loglevel=4")
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
	go func() {
		sc := bufio.NewScanner(con)
		for sc.Scan() {
			line := sc.Text()
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
	case <-time.After(3 * time.Minute):
		t.Fatal("the guest did not reach /init in 3 minutes (console: " + logPath + ")")
	}
	t.Logf("guest %s up after %v", release, time.Since(start).Round(time.Millisecond))
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
	// The archive of the same tree built with CONFIG_IKHEADERS=n is not
	// this guest's.
	opts.Override = filepath.Join(kdir, g.mismatch)
	if _, err := locate.Locate(ctx, opts); !errors.Is(err, locate.ErrMismatch) {
		t.Errorf("the =n kernel's archive for the =y guest: %v", err)
	}
}
