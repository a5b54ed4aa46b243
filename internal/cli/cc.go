package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kheaders/kheaders/compile"
	"github.com/kheaders/kheaders/internal/output"
)

func init() {
	register(&Command{
		Name:  "cc",
		Short: "compile a kprobe/BPF C program against the running kernel's verified headers",
		Usage: `Usage: kheaders cc [flags] [CLANG_ARGS] FILE -o OUT

Locates the headers like 'kheaders locate' (same flags and exit codes) and
compiles FILE into the BPF object OUT in one command, whichever kind of
headers the kernel has:

  a kernel header tree (kheaders archive, kheaders.ko, /lib/modules/R/build):
    clang -target TRIPLE $(kheaders cflags --bpf) -fno-asynchronous-unwind-tables \
      -fno-unwind-tables -O2 -g CLANG_ARGS -emit-llvm -c FILE -o - |
    llc -march=bpf -filetype=obj
    (kernel headers' inline assembly stops one-step 'clang -target bpf'; bcc
    and samples/bpf use this pipeline too)
  a vmlinux.h derived from BTF (source btf, for CO-RE programs):
    clang -target bpf -g -O2 -D__TARGET_ARCH_A -IDIR CLANG_ARGS -c FILE -o -

Every argument that is not one of the flags below goes to clang, in order;
FILE is the last argument that is neither an option nor the value of one
(-I DIR, -D X, -include F, -x LANG ...). clang's and llc's messages are
shown unchanged; OUT is written only when the compile succeeded (atomically;
- is stdout). -v prints the commands on stderr (and locate's decisions).

Examples:
  kheaders cc prog.c -o prog.o
  kheaders cc -v -DDEBUG -I include prog.c -o prog.o && bpftool prog load prog.o /sys/fs/bpf/prog
  kheaders cc --source /var/tmp/kheaders.ko prog.c -o prog.o

Needs clang and, for header trees, llc: Debian packages clang and llvm
(Debian 12: clang-14 and llvm-14, binaries clang-14, llc-14).

Exit codes: as locate (3 no headers, 4 headers do not match the kernel),
1 when clang or llc is missing or fails, 2 usage.`,
		Run: runCC,
	})
}

// ccValueFlags are kheaders cc's own flags that take a value; ccBoolFlags
// those that do not. Everything else goes to clang.
var (
	ccValueFlags = map[string]bool{"host-root": true, "source": true, "sources": true, "cache-dir": true, "load-module": true, "o": true, "clang": true, "llc": true}
	ccBoolFlags  = map[string]bool{"no-verify": true, "v": true, "quiet": true, "h": true, "help": true}
	// clangValueOpts are clang options whose value is the next argument:
	// the value is not FILE.
	clangValueOpts = map[string]bool{"-I": true, "-D": true, "-U": true, "-include": true, "-imacros": true, "-isystem": true,
		"-idirafter": true, "-iquote": true, "-x": true, "-target": true, "-MF": true, "-MT": true, "-MQ": true,
		"-Xclang": true, "-mllvm": true, "-arch": true, "-isysroot": true}
)

// splitCC separates kheaders' flags (returned for the flag set) from
// clang's arguments and FILE.
func splitCC(args []string) (own, clang []string, file string, err error) {
	var pos []int // indexes in clang of candidates for FILE
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case a == "--":
			return nil, nil, "", UsageErr("cc: -- is not used; give clang's arguments and FILE directly")
		case strings.HasPrefix(a, "-") && a != "-" && ccValueFlags[name]:
			own = append(own, a)
			if !hasVal {
				if i+1 >= len(args) {
					return nil, nil, "", UsageErr("cc: flag %s needs a value", a)
				}
				i++
				own = append(own, args[i])
			}
		case strings.HasPrefix(a, "-") && a != "-" && ccBoolFlags[name]:
			own = append(own, a)
		case clangValueOpts[a]:
			clang = append(clang, a)
			if i+1 < len(args) {
				i++
				clang = append(clang, args[i])
			}
		default:
			if !strings.HasPrefix(a, "-") || a == "-" {
				pos = append(pos, len(clang))
			}
			clang = append(clang, a)
		}
	}
	if len(pos) == 0 {
		return own, clang, "", nil
	}
	last := pos[len(pos)-1]
	file = clang[last]
	clang = append(clang[:last:last], clang[last+1:]...)
	return own, clang, file, nil
}

func runCC(ctx context.Context, env *Env, args []string) error {
	c := commands["cc"]
	fs := newFlagSet(env, c)
	lf := addLocateFlags(fs, env)
	out := fs.String("o", "", "write the object to `OUT` (- for stdout)")
	clang := fs.String("clang", "", "clang binary (`NAME` on $PATH or a path; default clang, then clang-N)")
	llc := fs.String("llc", "", "llc binary (`NAME` or path; default llc-N matching clang-N, then llc, then llc-N)")
	common := addCommon(fs)
	own, clangArgs, file, err := splitCC(args)
	if err != nil {
		return err
	}
	pos, err := parse(env, c, fs, own)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return UsageErr("cc: unexpected %q", pos)
	}
	if file == "" {
		return UsageErr("cc needs a C file: kheaders cc [CLANG_ARGS] FILE -o OUT")
	}
	if *out == "" {
		return UsageErr("cc needs -o OUT (the object file, or - for stdout)")
	}
	common.JSON = false
	h, err := doLocate(ctx, env, common, lf, "kheaders.cc/v1")
	if err != nil {
		return err
	}
	opts := &compile.Options{Args: clangArgs, Clang: *clang, LLC: *llc, Stdin: env.Stdin, Stderr: env.Stderr}
	if common.Verbose {
		opts.Trace = func(cmds [][]string) {
			var parts []string
			for _, cmd := range cmds {
				q := make([]string, len(cmd))
				for i, a := range cmd {
					q[i] = shellQuote(a)
				}
				parts = append(parts, strings.Join(q, " "))
			}
			fmt.Fprintf(env.Stderr, "kheaders cc: %s\n", strings.Join(parts, " | "))
		}
	}
	obj, err := compile.Compile(ctx, h, file, opts)
	if err != nil {
		if errors.Is(err, compile.ErrNotSupported) {
			return Fail(ExitNotSupported, err)
		}
		return err
	}
	if err := output.WriteFile(*out, 0o644, env.Stdout, func(w io.Writer) error {
		_, err := w.Write(obj)
		return err
	}); err != nil {
		return err
	}
	if common.Verbose {
		fmt.Fprintf(env.Stderr, "kheaders cc: wrote %s (%d bytes, headers %s from %s)\n", *out, len(obj), h.Dir, h.Source)
	}
	return nil
}
