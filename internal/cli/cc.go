package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/kheaders/kheaders/compile"
	"github.com/kheaders/kheaders/internal/output"
)

// ccCmd is the cc command (listed in root.go).
var ccCmd = &Command{
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

With --target SPEC (ssh://[user@]host[:port], adb[:SERIAL], cmd:PREFIX; see
'kheaders help locate') the object is for the kernel running on SPEC: its
verified headers (fetched once, then from the host cache), its arch's
include dirs and -D__TARGET_ARCH_A, and clang's -target for its machine
(aarch64-linux-gnu for an arm64 device on an x86_64 host). Copy the object
there and load it. --target is kheaders'; clang's own one-dash "-target
TRIPLE" still goes to clang (and then replaces the triple kheaders chose).

Examples:
  kheaders cc prog.c -o prog.o
  kheaders cc -v -DDEBUG -I include prog.c -o prog.o && bpftool prog load prog.o /sys/fs/bpf/prog
  kheaders cc --source /var/tmp/kheaders.ko prog.c -o prog.o
  kheaders cc --target ssh://root@board prog.c -o prog.o && scp prog.o root@board:/tmp/

Needs clang and, for header trees, llc: Debian packages clang and llvm
(Debian 12: clang-14 and llvm-14, binaries clang-14, llc-14).

Exit codes: as locate (3 no headers, 4 headers do not match the kernel),
1 when clang or llc is missing or fails, 2 usage.`,
	Run: runCC,
}

// clangValueOpts are clang options whose value is the next argument: the
// value is not FILE.
var clangValueOpts = map[string]bool{"-I": true, "-D": true, "-U": true, "-include": true, "-imacros": true, "-isystem": true,
	"-idirafter": true, "-iquote": true, "-x": true, "-target": true, "-MF": true, "-MT": true, "-MQ": true,
	"-Xclang": true, "-mllvm": true, "-arch": true, "-isysroot": true}

// boolFlag is what flag.Value a bool flag has.
type boolFlag interface{ IsBoolFlag() bool }

// splitCC separates kheaders' flags (those defined in fs, returned for it to
// parse) from clang's arguments and FILE. clang's own spelling "-target
// TRIPLE" (one dash, value apart) stays clang's; --target SPEC and
// --target=SPEC are kheaders' remote target.
func splitCC(fs *flag.FlagSet, args []string) (own, clang []string, file string, err error) {
	var pos []int // indexes in clang of candidates for FILE
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, _, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var f *flag.Flag
		if strings.HasPrefix(a, "-") && a != "-" && a != "-target" {
			f = fs.Lookup(name)
		}
		switch {
		case a == "--":
			return nil, nil, "", UsageErr("cc: -- is not used; give clang's arguments and FILE directly")
		case strings.HasPrefix(a, "-") && (name == "h" || name == "help"):
			own = append(own, a) // the flag package's own -h
		case f != nil:
			own = append(own, a)
			if b, ok := f.Value.(boolFlag); (!ok || !b.IsBoolFlag()) && !hasVal {
				if i+1 >= len(args) {
					return nil, nil, "", UsageErr("cc: flag %s needs a value", a)
				}
				i++
				own = append(own, args[i])
			}
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

// ccOpts are cc's parsed flags.
type ccOpts struct {
	lf              *locFlags
	out, clang, llc *string
	common          *Common
}

// ccFlags builds cc's flag set and its values.
func ccFlags(env *Env) (*flag.FlagSet, *ccOpts) {
	fs := newFlagSet(env, commands["cc"])
	return fs, &ccOpts{
		lf:     addLocateFlags(fs, env),
		out:    fs.String("o", "", "write the object to `OUT` (- for stdout)"),
		clang:  fs.String("clang", "", "clang binary (`NAME` on $PATH or a path; default clang, then clang-N)"),
		llc:    fs.String("llc", "", "llc binary (`NAME` or path; default llc-N matching clang-N, then llc, then llc-N)"),
		common: addCommon(fs),
	}
}

func runCC(ctx context.Context, env *Env, args []string) error {
	c := commands["cc"]
	fs, o := ccFlags(env)
	lf, out, clang, llc, common := o.lf, o.out, o.clang, o.llc, o.common
	own, clangArgs, file, err := splitCC(fs, args)
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
		on := ""
		if h.Target != nil {
			on = " of " + h.Target.Spec
		}
		fmt.Fprintf(env.Stderr, "kheaders cc: wrote %s (%d bytes, %s, headers %s from %s%s)\n", *out, len(obj), h.Machine, h.Dir, h.Source, on)
	}
	return nil
}
