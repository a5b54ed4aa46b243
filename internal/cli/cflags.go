package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/kheaders/kheaders/locate"
)

// cflagsCmd is the cflags command (listed in root.go).
var cflagsCmd = &Command{
	Name:  "cflags",
	Short: "print compiler flags for the running kernel's verified headers",
	Usage: `Usage: kheaders cflags [--bpf] [flags]

Locates the headers like 'kheaders locate' (same flags and exit codes) and
prints compiler flags in Kbuild's include order (LINUXINCLUDE, USERINCLUDE):
  -Iarch/A/include -Iarch/A/include/generated [-I<src>/include] -Iinclude
  -Iarch/A/include/uapi -Iarch/A/include/generated/uapi -Iinclude/uapi
  -Iinclude/generated/uapi -include include/linux/kconfig.h -D__KERNEL__
with absolute paths (source and build trees of split layouts in place).
--bpf adds what tracing compilers add for BPF programs (as bcc does):
-D__BPF_TRACING__, -D__TARGET_ARCH_A and warning switches.

Kernel-internal headers carry inline assembly that 'clang -target bpf'
rejects on x86 and others; compile to LLVM IR for the host and let llc
emit BPF, as bcc and samples/bpf do:

  clang $(kheaders cflags --bpf) -O2 -emit-llvm -c prog.c -o - | llc -march=bpf -filetype=obj -o prog.o

For a BTF-derived result (only vmlinux.h, see 'kheaders locate') the flags
are -target bpf -g -O2 -D__TARGET_ARCH_A -IDIR: what a CO-RE program needs
(-g gives the relocations libbpf applies at load time).

With --target SPEC the flags are for the target's kernel and arch (an arm64
device from an x86_64 host: arch/arm64 include dirs, -D__TARGET_ARCH_arm64).

Paths are shell-quoted when needed. --json prints
{"schema":"kheaders.cflags/v1","flags":[...],...}.`,
	Run: runCflags,
}

type cflagsResult struct {
	Schema   string   `json:"schema"`
	Flags    []string `json:"flags"`
	Dir      string   `json:"dir"`
	BuildDir string   `json:"build_dir"`
	Release  string   `json:"release"`
	Arch     string   `json:"arch"`
	Source   string   `json:"source"`
	Verified bool     `json:"verified"`
	// Target is the remote target (--target) the flags are for.
	Target *locate.RemoteTarget `json:"target,omitempty"`
}

func runCflags(ctx context.Context, env *Env, args []string) error {
	var bpf *bool
	h, common, err := locateCommand(ctx, env, args, "cflags", "kheaders.cflags/v1", func(fs *flag.FlagSet) {
		bpf = fs.Bool("bpf", false, "add the defines and warning switches for compiling BPF programs")
	})
	if err != nil {
		return err
	}
	flags := h.Flags()
	if *bpf {
		flags = h.BPFFlags()
	}
	if common.JSON {
		return writeJSON(env.Stdout, cflagsResult{Schema: "kheaders.cflags/v1", Flags: flags, Dir: h.Dir, BuildDir: h.BuildDir, Release: h.Release, Arch: h.Arch, Source: h.Source, Verified: h.Verified, Target: h.Target})
	}
	q := make([]string, len(flags))
	for i, f := range flags {
		q[i] = shellQuote(f)
	}
	fmt.Fprintln(env.Stdout, strings.Join(q, " "))
	return nil
}

// shellQuote quotes s for POSIX shells when it holds anything but safe
// characters.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
