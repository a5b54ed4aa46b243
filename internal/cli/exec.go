package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
)

// execCmd is the exec command (listed in root.go).
var execCmd = &Command{
	Name:  "exec",
	Short: "run a command with the headers' environment (BCC_KERNEL_SOURCE ...)",
	Usage: `Usage: kheaders exec [flags] -- CMD [ARGS...]

Locates the headers like 'kheaders locate' (same flags and exit codes) and
runs CMD with the variables of 'kheaders env' added to the environment.
CMD's exit status becomes kheaders' exit status (128+N when it died of
signal N, as shells report it); kheaders adds nothing to CMD's output.
SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to kheaders are passed on to CMD,
and kheaders waits for it (Ctrl-C lets bpftrace print its maps).

Examples:
  kheaders exec -- python3 prog.py      (a bcc program: BCC_KERNEL_SOURCE is set;
      bcc's tools run the same way, e.g. Debian's opensnoop-bpfcc)
  kheaders exec -- bpftrace -e '#include <linux/sched.h>
    kprobe:do_nanosleep { printf("%d\n", ((struct task_struct *)curtask)->pid); }'
      (on a kernel whose only source is BTF, drop the #include: bpftrace then
      takes struct task_struct from the kernel's BTF itself)
  kheaders cc prog.c -o prog.o           (compiling a BPF program: see 'kheaders help cc')`,
	Run: runExec,
}

func runExec(ctx context.Context, env *Env, args []string) error {
	c := commands["exec"]
	fs := newFlagSet(env, c)
	lf := addLocateFlags(fs, env)
	common := addCommon(fs)
	// Everything after the first "--" is the command, untouched.
	var cmdline []string
	for i, a := range args {
		if a == "--" {
			args, cmdline = args[:i], args[i+1:]
			break
		}
	}
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	pos = append(pos, cmdline...)
	if len(pos) == 0 {
		return UsageErr("exec needs a command: kheaders exec -- CMD [ARGS...]")
	}
	common.JSON = false
	h, err := doLocate(ctx, env, common, lf, "kheaders.exec/v1")
	if err != nil {
		return err
	}
	var environ []string
	if env.Environ != nil {
		environ = env.Environ()
	}
	set := map[string]bool{}
	var add []string
	for _, v := range h.Env() {
		set[v.Name] = true
		add = append(add, v.Name+"="+v.Value)
	}
	var out []string
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); !set[k] {
			out = append(out, kv)
		}
	}
	return runChild(env, pos, append(out, add...))
}

// forwarded are the signals exec passes on to its child, waiting for it
// to exit rather than killing it: bpftrace prints its maps on SIGINT.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// runChild runs argv with environ, forwards signals to it and returns its
// exit status: the child's code, 128+N when it died of signal N (as shells
// report it), 127 when it could not be started. The child speaks for
// itself: nothing is added on stderr for a non-zero status.
func runChild(env *Env, argv, environ []string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = environ
	cmd.Stdin, cmd.Stdout, cmd.Stderr = env.Stdin, rawStdout(env), env.Stderr
	// Catch the signals before the child exists, so none is lost between
	// Start and Notify (and none kills kheaders with the child left behind).
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, forwarded...)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return Fail(127, fmt.Errorf("run %s: %w", argv[0], err))
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
wait:
	for {
		select {
		case s := <-sigs:
			cmd.Process.Signal(s)
		case err = <-done:
			break wait
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		return Fail(code, errReported)
	}
	if err != nil {
		return fmt.Errorf("wait for %s: %w", argv[0], err)
	}
	return nil
}
