package cli

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

func init() {
	register(&Command{
		Name:  "exec",
		Short: "run a command with the headers' environment (BCC_KERNEL_SOURCE ...)",
		Usage: `Usage: kheaders exec [flags] -- CMD [ARGS...]

Locates the headers like 'kheaders locate' (same flags and exit codes) and
runs CMD with the variables of 'kheaders env' added to the environment.
CMD's exit status becomes kheaders' exit status.

Examples:
  kheaders exec -- /usr/share/bcc/tools/opensnoop
  kheaders exec -- bpftrace -e 'kprobe:do_nanosleep { printf("%d\n", ((struct task_struct *)curtask)->pid); }'
  kheaders exec -- sh -c 'clang $KHEADERS_CFLAGS -O2 -emit-llvm -c prog.c -o - | llc -march=bpf -filetype=obj -o prog.o'`,
		Run: runExec,
	})
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
	cmd := exec.CommandContext(ctx, pos[0], pos[1:]...)
	cmd.Env = append(out, add...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = env.Stdin, env.Stdout, env.Stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if code < 0 {
			code = 128 + 9
		}
		return Fail(code, fmt.Errorf("%s: %v", pos[0], ee))
	}
	if err != nil {
		return Fail(127, fmt.Errorf("run %s: %w", pos[0], err))
	}
	return nil
}
