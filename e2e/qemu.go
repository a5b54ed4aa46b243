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
	cmd := exec.CommandContext(ctx, m.Qemu, args...)
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	res := &BootResult{}
	start := time.Now()
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		br := bufio.NewReader(pr)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 {
				if res.ToInit == 0 && bytes.Contains(line, []byte(marker+"INIT ")) {
					res.ToInit = time.Since(start)
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
