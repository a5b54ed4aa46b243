// Command kprobe-pid is the smallest Go BPF tool built on kheaders as a
// library: it locates the running kernel's verified headers (locate.Locate),
// compiles its kprobe program against them (compile.Compile), loads and
// attaches it with cilium/ebpf, starts a child process and prints the pid
// the program read from the child's task_struct next to the child's real pid.
//
//	CGO_ENABLED=0 go build ./examples/kprobe-pid && sudo ./kprobe-pid
//
// It needs root (or CAP_BPF + CAP_PERFMON), a kernel with kprobes and BPF,
// clang and llc (Debian packages clang, llvm) and libbpf's headers
// (libbpf-dev). It exits 1 when the pid read through the headers is wrong.
//
// With -obj it loads an object compiled elsewhere instead, e.g. on a
// workstation for a device's kernel, and then needs neither headers nor a
// compiler on the device:
//
//	kheaders cc --target ssh://root@board examples/kprobe-pid/bpf/kprobe.c -o kprobe.o
//	CGO_ENABLED=0 GOARCH=arm64 go build ./examples/kprobe-pid
//	scp kprobe-pid kprobe.o root@board: && ssh root@board ./kprobe-pid -obj kprobe.o
package main

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"

	"github.com/kheaders/kheaders/compile"
	"github.com/kheaders/kheaders/locate"
)

// The program for a kernel header tree, and its CO-RE form for a vmlinux.h
// derived from BTF (what locate gives on a kernel with BTF and no headers).
var (
	//go:embed bpf/kprobe.c
	program []byte
	//go:embed bpf/kprobe_btf.c
	programBTF []byte
)

// seen is the map value of bpf/kprobe.c.
type seen struct {
	Pid, Tgid uint32
}

func main() {
	source := flag.String("source", "", "use only these headers (as kheaders --source)")
	child := flag.String("child", "sleep", "`CMD` run (with argument 0.2) while the kprobe on do_nanosleep is attached")
	objFile := flag.String("obj", "", "load the BPF object `FILE` (bpf/kprobe.c compiled for this kernel, e.g. by kheaders cc --target) instead of locating headers and compiling")
	flag.Parse()
	if err := run(context.Background(), *source, *objFile, *child); err != nil {
		fmt.Fprintln(os.Stderr, "kprobe-pid:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, source, objFile, child string) error {
	var obj []byte
	var err error
	if objFile != "" {
		if obj, err = os.ReadFile(objFile); err != nil {
			return err
		}
		fmt.Printf("object %s (%d bytes)\n", objFile, len(obj))
	} else if obj, err = compileHere(ctx, source); err != nil {
		return err
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		return err
	}
	var objs struct {
		Prog *ebpf.Program `ebpf:"kprobe_do_nanosleep"`
		Seen *ebpf.Map     `ebpf:"seen"`
	}
	if err := spec.LoadAndAssign(&objs, nil); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer objs.Prog.Close()
	defer objs.Seen.Close()
	kp, err := link.Kprobe("do_nanosleep", objs.Prog, nil)
	if err != nil {
		return fmt.Errorf("attach kprobe do_nanosleep: %w", err)
	}
	defer kp.Close()
	cmd := exec.CommandContext(ctx, child, "0.2")
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("child %s: %w", child, err)
	}
	pid := uint32(cmd.Process.Pid)
	var v seen
	if err := objs.Seen.Lookup(pid, &v); err != nil {
		if errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("the kprobe did not see child %s (pid %d) in do_nanosleep", child, pid)
		}
		return err
	}
	fmt.Printf("kprobe-pid: child %s pid %d: task_struct pid %d tgid %d\n", child, pid, v.Pid, v.Tgid)
	if v.Pid != pid || v.Tgid != pid {
		return fmt.Errorf("WRONG: task_struct read through the headers says pid %d tgid %d, the child is %d", v.Pid, v.Tgid, pid)
	}
	fmt.Println("kprobe-pid: match")
	return nil
}

// compileHere locates the running kernel's headers and compiles the program
// against them.
func compileHere(ctx context.Context, source string) ([]byte, error) {
	t0 := time.Now()
	h, err := locate.Locate(ctx, &locate.Options{Override: source})
	if err != nil {
		return nil, err
	}
	fmt.Printf("headers %s (source %s, verified %v) in %v\n", h.Dir, h.Source, h.Verified, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	// The program comes on clang's stdin: nothing is written to disk.
	src := program
	if h.Kind == locate.KindBTF {
		src = programBTF
	}
	obj, err := compile.Compile(ctx, h, "-", &compile.Options{Args: []string{"-x", "c"}, Stdin: bytes.NewReader(src), Stderr: os.Stderr})
	if err != nil {
		return nil, err
	}
	fmt.Printf("compiled %d bytes in %v\n", len(obj), time.Since(t0).Round(time.Millisecond))
	return obj, nil
}
