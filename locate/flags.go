package locate

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/kheaders/kheaders/internal/karch"
	"github.com/kheaders/kheaders/internal/kconfig"
)

// Flags returns the compiler flags for the headers in Kbuild's order
// (LINUXINCLUDE then USERINCLUDE of the top Makefile): arch includes,
// generated, include, uapi, -include linux/kconfig.h, -D__KERNEL__ and the
// arch defines tracing compilers add (what bcc's kbuild_helper builds by
// hand). A BTF tree holds only vmlinux.h, usable for CO-RE BPF programs:
// its flags are -target bpf, -g -O2 (what CO-RE needs), the
// -D__TARGET_ARCH_A that libbpf's bpf_tracing.h needs, and -I of the
// directory.
func (h *Headers) Flags() []string {
	if h.Kind == KindBTF {
		// CO-RE needs the BTF of the program (-g: without it clang emits
		// no relocations and libbpf loads an object whose field accesses
		// are the build machine's offsets) and -O2 (BPF needs optimised
		// code; -O0 output is rejected by the verifier).
		return []string{"-target", "bpf", "-g", "-O2", "-D__TARGET_ARCH_" + h.Arch, "-I" + h.Dir}
	}
	// The arch's directories, defines and extra includes are Kbuild's
	// (internal/karch): after LINUXINCLUDE and -D__KERNEL__ come the arch
	// Makefile's flags every configuration gets (arm's __LINUX_ARM_ARCH__
	// from the headers' autoconf.h, mips' asm/mach-generic).
	src, obj := h.Dir, h.BuildDir
	t := h.target()
	in := t.Includes()
	j := func(base, dir string) string { return "-I" + filepath.Join(base, dir) }
	f := []string{j(src, in.Src), j(obj, in.Obj)}
	if obj != src {
		f = append(f, j(src, "include"))
	}
	f = append(f,
		j(obj, "include"),
		j(src, in.SrcUAPI),
		j(obj, in.ObjUAPI),
		j(src, "include/uapi"),
		j(obj, "include/generated/uapi"),
		"-include", filepath.Join(src, "include", "linux", "kconfig.h"),
		"-D__KERNEL__",
	)
	f = append(f, t.Defines(h.configured(t))...)
	for _, d := range in.Extra {
		f = append(f, j(src, d))
	}
	return f
}

// target is the kernel arch of the headers, in karch's terms.
func (h *Headers) target() karch.Target { return karch.Target{Arch: h.Arch, Machine: h.Machine} }

// configured returns what the headers' autoconf.h enables, for the arch
// defines that depend on the configuration (arm's __LINUX_ARM_ARCH__); nil
// for other arches or without a readable autoconf.h.
func (h *Headers) configured(t karch.Target) func(string) bool {
	if t.Arch != "arm" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(h.BuildDir, "include/generated/autoconf.h"))
	if err != nil {
		return nil
	}
	a, err := kconfig.ParseAutoconf(b)
	if err != nil {
		return nil
	}
	return a.Enabled
}

// BPFFlags returns Flags plus what tracing compilers add when they compile
// BPF programs against kernel headers (bcc's kbuild_helper, samples/bpf):
// -D__BPF_TRACING__, -D__TARGET_ARCH_A and the warnings kernel headers
// trigger outside Kbuild. Kernel-internal headers of most arches carry
// inline assembly that `clang -target bpf` rejects ("invalid output
// constraint"), so compile with the host target to LLVM IR and let llc emit
// BPF, as bcc does:
//
//	clang $(kheaders cflags --bpf) -O2 -emit-llvm -c prog.c -o - | llc -march=bpf -filetype=obj -o prog.o
func (h *Headers) BPFFlags() []string {
	f := h.Flags()
	if h.Kind == KindBTF {
		return f
	}
	f = append(f, "-D__BPF_TRACING__")
	// libbpf's name for the arch; none for arches bpf_tracing.h lacks.
	if a := h.target().BPFArch(); a != "" {
		f = append(f, "-D__TARGET_ARCH_"+a)
	}
	return append(f,
		"-Wno-unused-value", "-Wno-pointer-sign", "-Wno-address-of-packed-member",
		"-Wno-gnu-variable-sized-type-not-at-end", "-Wno-ignored-attributes",
		"-Wno-compare-distinct-pointer-types", "-Wno-unknown-warning-option",
		"-fno-stack-protector",
	)
}

// EnvVar is one environment variable for tracing tools.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Env returns the variables that point bcc, bpftrace and compilers at the
// headers: BCC_KERNEL_SOURCE (only for a non-split tree: bcc cannot
// describe split trees with it), BPFTRACE_KERNEL_SOURCE and
// BPFTRACE_KERNEL_BUILD, and KHEADERS_DIR, KHEADERS_BUILD_DIR,
// KHEADERS_RELEASE, KHEADERS_ARCH, KHEADERS_CFLAGS (flags joined by spaces;
// paths never contain spaces in the cache, but a host path might).
func (h *Headers) Env() []EnvVar {
	var out []EnvVar
	if h.Kind != KindBTF {
		if h.Dir == h.BuildDir {
			out = append(out, EnvVar{"BCC_KERNEL_SOURCE", h.Dir})
		}
		out = append(out, EnvVar{"BPFTRACE_KERNEL_SOURCE", h.Dir}, EnvVar{"BPFTRACE_KERNEL_BUILD", h.BuildDir})
	}
	out = append(out,
		EnvVar{"KHEADERS_DIR", h.Dir},
		EnvVar{"KHEADERS_BUILD_DIR", h.BuildDir},
		EnvVar{"KHEADERS_RELEASE", h.Release},
		EnvVar{"KHEADERS_ARCH", h.Arch},
		EnvVar{"KHEADERS_KIND", string(h.Kind)},
		EnvVar{"KHEADERS_CFLAGS", strings.Join(h.Flags(), " ")},
	)
	return out
}
