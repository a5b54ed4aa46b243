package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/kheaders/kheaders/btfc"
	"github.com/kheaders/kheaders/carrier"
	"github.com/kheaders/kheaders/internal/output"
	"github.com/kheaders/kheaders/locate"
)

const btfDefaultSrc = "/sys/kernel/btf/vmlinux"

// btfCmd is the btf command (listed in root.go).
var btfCmd = &Command{
	Name:  "btf",
	Short: "write vmlinux.h (C types) from a kernel's BTF",
	Usage: `Usage: kheaders btf [SRC] [-o FILE] [flags]
       kheaders btf --target SPEC [-o FILE] [flags]

Derives a vmlinux.h header from BTF type information, for CO-RE BPF programs
on kernels that ship BTF but no headers. SRC defaults to
/sys/kernel/btf/vmlinux and may be:
  - a raw BTF file (/sys/kernel/btf/vmlinux, or /sys/kernel/btf/MODULE, which
    is split BTF on top of /sys/kernel/btf/vmlinux),
  - an ELF file with a .BTF section (vmlinux, stripped or not; a module .ko
    with --base),
  - a boot image holding such a vmlinux (bzImage/vmlinuz with any kernel
    compressor, arm64 Image.*, EFI zboot, ...).

Output modes:
  (default)              correct layouts, bpftool's classic order; enums of
                         size 1 and 8 get __attribute__((mode(byte|word)))
  --compat bpftool-7.1   byte-identical to Debian 12's bpftool 7.1
                         ("bpftool btf dump file SRC format c"), which omits
                         those attributes and so mis-sizes 1-byte enums
  --compat bpftool-7.5   byte-identical to bpftool 7.5 (Linux 6.12 tools/):
                         sorted (--sort=false: its "unsorted"), with kfunc
                         prototypes; it loses the first sorted type (an
                         anonymous enum), and so does this mode
  --sort                 the sorted order of bpftool 7.5+
  --kfuncs               add extern __ksym prototypes of the kernel's kfuncs
                         (bpf_kfunc decl tags), guarded by
                         BPF_NO_KFUNC_PROTOTYPES
  --types a,b,c          only these types and what they need
  --asserts              instead of the header, print _Static_assert checks
                         of every struct's sizeof/offsetof as BTF records them
                         (compile after #include "vmlinux.h" for the
                         kernel's own target, e.g. clang
                         --target=x86_64-linux-gnu -Wno-unknown-attributes
                         -fsyntax-only: under -target bpf va_list is one
                         pointer, not x86_64's 24 bytes, so structs holding
                         a va_list, such as warn_args, fail their sizeof)

Examples:
  kheaders btf -o vmlinux.h
  kheaders btf /boot/vmlinuz-$(uname -r) --types task_struct,sk_buff -o small.h
  kheaders btf /sys/kernel/btf/nf_tables -o nf_tables.h
  kheaders btf --compat bpftool-7.1 | cmp - <(bpftool btf dump file /sys/kernel/btf/vmlinux format c)
  kheaders btf --target adb:emulator-5554 -o device-vmlinux.h
  kheaders btf --target ssh://root@board --types task_struct -o task.h

--target SPEC (docs/remote.md) reads the BTF of the kernel running on the
target (its /sys/kernel/btf/vmlinux, at most the size the target reports and
64 MiB) instead of SRC, keeps it in the host cache (--cache-dir) under its
sha256, and remembers the target kernel's identity: a second call for the
same target kernel reads only the identity (one small command). Every
output flag applies as for a local SRC. Exit 3 when the target has no BTF,
1 when its user may not read it or the transfer failed; nothing is written
then.

Exit codes: 3 when SRC carries no BTF or a --types name is unknown.`,
	Run: runBTF,
}

type btfSummary struct {
	Schema   string   `json:"schema"`
	Source   string   `json:"source"`
	Format   string   `json:"format"`
	Chain    []string `json:"chain,omitempty"`
	Base     string   `json:"base,omitempty"`
	Output   string   `json:"output"`
	Mode     string   `json:"mode"`
	Sorted   bool     `json:"sorted"`
	Types    int      `json:"types"`
	Roots    int      `json:"roots"`
	Kfuncs   int      `json:"kfuncs"`
	Bytes    int64    `json:"bytes"`
	ReadMS   float64  `json:"read_ms"`     // read SRC, find its BTF and parse every type (btfc's reader)
	GenMS    float64  `json:"generate_ms"` // emit C from the parsed types and write it
	Asserts  int      `json:"asserts,omitempty"`
	PtrSize  int      `json:"ptr_size"`
	Filtered []string `json:"filtered_types,omitempty"`
	// With --target: what this call read from the target.
	Target *locate.RemoteTarget `json:"target,omitempty"`
}

func runBTF(ctx context.Context, env *Env, args []string) error {
	c := commands["btf"]
	fs := newFlagSet(env, c)
	common := addCommon(fs)
	out := fs.String("o", "", "write the header to `FILE` (atomically) instead of stdout")
	compat := fs.String("compat", "", "output flavour: `bpftool-7.1` (Debian 12) or bpftool-7.5 (Linux 6.12), byte-identical")
	sorted := fs.Bool("sort", false, "emit types in bpftool 7.5+ sorted order")
	kfuncs := fs.Bool("kfuncs", false, "append kfunc __ksym prototypes (from bpf_kfunc decl tags)")
	types := fs.String("types", "", "comma-separated `NAMES` (task_struct, \"struct sk_buff\", ...): emit only these and their dependencies")
	base := fs.String("base", "", "base BTF `FILE` for split (module) BTF; default /sys/kernel/btf/vmlinux for /sys/kernel/btf/MODULE and .ko files")
	asserts := fs.Bool("asserts", false, "print sizeof/offsetof _Static_assert checks instead of the header")
	tf := addTargetFlags(fs, env, "the BTF")
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return UsageErr("at most one SRC, got %d", len(pos))
	}
	if tf.target != "" && (len(pos) != 0 || *base != "") {
		return UsageErr("--target reads the BTF of the target's running kernel (/sys/kernel/btf/vmlinux): give no SRC and no --base")
	}
	if common.JSON && *out == "" {
		return UsageErr("--json prints a summary on stdout and needs -o FILE for the header")
	}
	mode, err := btfc.ParseCompat(*compat)
	if err != nil {
		return UsageErr("--compat: %v", err)
	}
	if mode == btfc.CompatBpftool75 {
		// bpftool 7.5 sorts unless told "unsorted": so does its compat
		// mode unless --sort=false.
		sortSet := false
		fs.Visit(func(f *flag.Flag) { sortSet = sortSet || f.Name == "sort" })
		if !sortSet {
			*sorted = true
		}
	}
	log := common.logger(env)
	src := btfDefaultSrc
	if len(pos) == 1 {
		src = pos[0]
	}
	opts := &btfc.Options{Compat: mode, Sort: *sorted, Kfuncs: *kfuncs}
	if *types != "" {
		opts.Types = strings.Split(*types, ",")
	}

	// A short-lived process whose data stays live until it exits: no
	// garbage collection (the sorted mode's one cycle cost 10-15% of its
	// CPU), unless the heap nears 1 GiB (only a huge or crafted input).
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(1 << 30)

	t0 := time.Now()
	var (
		spec *btfc.BTF
		sum  *btfSummary
		// gen: the vmlinux.h a cold --target call generated for the host
		// cache, with the default options; written as it is when this
		// call asks for those (generated once, not twice).
		gen   []byte
		genSt btfc.Stats
	)
	plain := !*asserts && mode == btfc.CompatNone && !*sorted && !*kfuncs && *types == ""
	if tf.target != "" {
		src = tf.target + ":" + btfDefaultSrc
		spec, sum, gen, genSt, err = loadTargetBTF(ctx, env, common, tf, plain)
	} else {
		spec, sum, err = loadBTFSource(ctx, src, *base)
	}
	if err != nil {
		return err
	}
	t1 := time.Now()
	log.Debug("loaded BTF", "source", src, "format", sum.Format, "chain", sum.Chain, "base", sum.Base, "took", t1.Sub(t0))

	dst := *out
	if dst == "" {
		dst = "-"
	}
	// The header is written as it is generated (btfc.Write streams it).
	var st btfc.Stats
	var genErr error
	err = output.WriteFile(dst, 0o644, env.Stdout, func(w io.Writer) error {
		if gen != nil {
			st = genSt
			_, err := w.Write(gen)
			return err
		}
		if *asserts {
			data, ast, err := spec.LayoutAsserts(opts)
			if err != nil {
				genErr = err
				return err
			}
			sum.Asserts = ast.Sizeof + ast.Offsetof
			st.Bytes = int64(len(data))
			_, err = w.Write(data)
			return err
		}
		st, genErr = spec.Write(w, opts)
		return genErr
	})
	if genErr != nil {
		if errors.Is(genErr, btfc.ErrNotFound) {
			return Fail(ExitNotFound, fmt.Errorf("%w; names are matched exactly (see 'bpftool btf dump file %s' for what exists)", genErr, src))
		}
		if errors.Is(genErr, btfc.ErrCycle) || errors.Is(genErr, btfc.ErrMalformed) {
			return fmt.Errorf("generate C from BTF of %s: %w", src, genErr)
		}
	}
	if err != nil {
		return err
	}
	t2 := time.Now()
	if !common.JSON {
		return nil
	}
	sum.Schema = "kheaders.btf/v1"
	sum.Output = *out
	sum.Mode = string(mode)
	if sum.Mode == "" {
		sum.Mode = "default"
	}
	sum.Sorted = *sorted
	sum.Types = st.Types
	sum.Roots = st.Roots
	sum.Kfuncs = st.Kfuncs
	sum.Bytes = st.Bytes
	sum.PtrSize = st.PtrSize
	sum.ReadMS = float64(t1.Sub(t0).Microseconds()) / 1000
	sum.GenMS = float64(t2.Sub(t1).Microseconds()) / 1000
	sum.Filtered = opts.Types
	return writeJSON(env.Stdout, sum)
}

// loadBTFSource reads BTF from src through carrier.BTFFile (raw BTF, an
// ELF .BTF section, or the vmlinux inside a boot image). Module BTF is
// loaded as split BTF on base (default /sys/kernel/btf/vmlinux).
func loadBTFSource(ctx context.Context, src, basePath string) (*btfc.BTF, *btfSummary, error) {
	sum := &btfSummary{Source: src}
	in, err := carrier.BTFFile(src)
	if in != nil {
		sum.Chain = in.Chain
	}
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			hint := ""
			if src == btfDefaultSrc {
				hint = " (this kernel was built without CONFIG_DEBUG_INFO_BTF; pass a vmlinux or boot image as SRC)"
			}
			return nil, nil, Fail(ExitNotFound, fmt.Errorf("read BTF: %w%s", err, hint))
		case errors.Is(err, btfc.ErrNoBTF), errors.Is(err, carrier.ErrNotSupported):
			return nil, nil, Fail(ExitNotFound, fmt.Errorf("%s: %w", src, err))
		}
		return nil, nil, fmt.Errorf("read BTF from %s: %w", src, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	sum.Format = string(in.Format)

	// Split BTF: an explicit --base, a /sys/kernel/btf module, or a module
	// object (.ko).
	useBase := basePath
	if useBase == "" {
		abs, _ := filepath.Abs(src)
		if (strings.HasPrefix(abs, "/sys/kernel/btf/") && abs != btfDefaultSrc) || in.Split {
			useBase = btfDefaultSrc
		}
	}
	var baseSpec *btfc.BTF
	if useBase != "" {
		bin, err := carrier.BTFFile(useBase)
		if err != nil {
			return nil, nil, Fail(ExitNotFound, fmt.Errorf("read base BTF for split BTF %s: %w (pass the kernel's BTF with --base)", src, err))
		}
		if baseSpec, _, err = btfc.Load(bin.Raw, nil); err != nil {
			return nil, nil, fmt.Errorf("base BTF %s: %w", useBase, err)
		}
		sum.Base = useBase
	}
	spec, _, err := btfc.Load(in.Raw, baseSpec)
	if err != nil {
		hint := ""
		if baseSpec == nil {
			hint = " (if this is a module's split BTF, pass its kernel's BTF with --base)"
		}
		return nil, nil, fmt.Errorf("%s: %w%s", src, err, hint)
	}
	return spec, sum, nil
}

// loadTargetBTF reads the BTF of the kernel running on a target
// (/sys/kernel/btf/vmlinux there), from the host cache after the first
// call.
//
// With plain (the default options), a cold call returns the vmlinux.h it
// generated for the cache (gen, with its stats) and no parsed BTF.
func loadTargetBTF(ctx context.Context, env *Env, common *Common, tf *targetFlags, plain bool) (spec *btfc.BTF, sum *btfSummary, gen []byte, st btfc.Stats, err error) {
	raw, h, err := locate.TargetBTF(ctx, tf.options(env, common))
	if err != nil {
		return nil, nil, nil, st, Fail(locateCode(err), err)
	}
	sum = &btfSummary{Source: tf.target + ":" + btfDefaultSrc, Format: "raw", Target: h.Target}
	if plain {
		if gen, st, ok := h.GeneratedVMLinuxH(); ok {
			common.logger(env).Debug("vmlinux.h as generated for the host cache", "dir", h.Dir, "bytes", len(gen))
			return nil, sum, gen, st, nil
		}
	}
	spec, _, err = btfc.Load(raw, nil)
	if err != nil {
		return nil, nil, nil, st, fmt.Errorf("BTF of %s (%s): %w", tf.target, h.Origin, err)
	}
	return spec, sum, nil, st, nil
}
