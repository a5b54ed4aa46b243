package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Machine says how to boot one architecture under qemu (TCG).
type Machine struct {
	Arch    string   // "x86_64" or "arm64"
	Qemu    string   // qemu binary name
	Args    []string // machine arguments before -kernel
	Console string   // console device for the kernel command line
	Halt    string   // guest command that ends the machine
	// Extra are qemu arguments after the harness's own (-m 512 ...): a
	// later -m wins, devices such as HostRootArgs' 9p share are added.
	Extra []string
}

// HostRootArgs are the qemu arguments that share the host's / with the
// guest read-only over virtio-9p (mount tag "hostroot"): the guest mounts it
// with `mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot DIR` and
// gets the host's real tools (bpftrace, bcc, clang) without a root
// filesystem image. The guest kernel needs NET_9P_VIRTIO and 9P_FS.
var HostRootArgs = []string{
	"-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
	"-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
}

// Machines known to the harness. x86 tinyconfig kernels have no ACPI, so
// poweroff cannot turn the machine off; reboot -f with qemu's -no-reboot
// ends qemu. arm64 virt powers off through PSCI.
var (
	MachineX86 = Machine{
		Arch: "x86_64", Qemu: "qemu-system-x86_64",
		Args:    []string{"-accel", "tcg", "-cpu", "qemu64", "-smp", "1"},
		Console: "ttyS0", Halt: "reboot -f",
	}
	MachineARM64 = Machine{
		Arch: "arm64", Qemu: "qemu-system-aarch64",
		Args:    []string{"-M", "virt", "-cpu", "cortex-a57", "-accel", "tcg", "-smp", "1"},
		Console: "ttyAMA0", Halt: "poweroff -f",
	}
)

// BootResult is one finished boot.
type BootResult struct {
	Log      []byte        // the whole console output
	Wall     time.Duration // qemu start to qemu exit
	ToInit   time.Duration // qemu start to the guest's INIT marker (host clock)
	TimedOut bool
	Err      error // qemu's exit error, if any
	// Stamps maps each marker line's "BEGIN NAME" / "END NAME" to when the
	// host read it (since qemu start): step times by the host clock, which
	// stays right when a loaded host slows the TCG guest's clock.
	Stamps map[string]time.Duration
}

// HostDur is the host-clock time between a step's BEGIN and END lines.
func (r *BootResult) HostDur(step string) (time.Duration, bool) {
	b, ok1 := r.Stamps["BEGIN "+step]
	e, ok2 := r.Stamps["END "+step]
	return e - b, ok1 && ok2 && e >= b
}

// Boot runs qemu on kernel and initrd until the guest ends the machine or
// timeout passes. The console output is also copied to tee when not nil.
func Boot(ctx context.Context, m Machine, kernel, initrd, extraAppend string, timeout time.Duration, tee io.Writer) *BootResult {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	appendLine := strings.TrimSpace("console=" + m.Console + " panic=-1 loglevel=6 " + extraAppend)
	args := append([]string{}, m.Args...)
	args = append(args, "-nographic", "-no-reboot", "-m", "512",
		"-kernel", kernel, "-initrd", initrd, "-append", appendLine)
	args = append(args, m.Extra...)
	cmd := exec.CommandContext(ctx, m.Qemu, args...)
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	res := &BootResult{Stamps: map[string]time.Duration{}}
	start := time.Now()
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		br := bufio.NewReader(pr)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				if i := bytes.Index(line, []byte(marker)); i >= 0 {
					at := time.Since(start)
					f := strings.Fields(string(line[i+len(marker):]))
					switch {
					case len(f) > 0 && f[0] == "INIT" && res.ToInit == 0:
						res.ToInit = at
					case len(f) > 1 && (f[0] == "BEGIN" || f[0] == "END"):
						res.Stamps[f[0]+" "+f[1]] = at
					}
				}
				buf.Write(line)
				if tee != nil {
					tee.Write(line)
				}
			}
			if err != nil {
				return
			}
		}
	}()
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	pw.Close()
	<-done
	res.Wall = time.Since(start)
	res.Log = buf.Bytes()
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		res.TimedOut = true
		err = fmt.Errorf("qemu did not finish within %v: %w", timeout, ctx.Err())
	}
	res.Err = err
	return res
}

// HaveQemu reports whether the qemu binary for m is on PATH, with the Debian
// package that provides it.
func HaveQemu(m Machine) (ok bool, pkg string) {
	pkg = "qemu-system-x86"
	if m.Arch == "arm64" {
		pkg = "qemu-system-arm"
	}
	_, err := exec.LookPath(m.Qemu)
	return err == nil, pkg
}

// fileExists reports whether p is an existing regular file.
func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
