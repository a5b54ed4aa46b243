package locate

import (
	"path/filepath"
	"strings"
)

// SrcArch maps a machine (uname -m) to the kernel's SRCARCH as the kernel
// Makefile does (x86_64 and i?86 -> x86, aarch64 -> arm64, ...).
func SrcArch(machine string) string {
	m := machine
	switch {
	case m == "x86_64" || m == "amd64" || len(m) == 4 && m[0] == 'i' && strings.HasSuffix(m, "86") || m == "x86":
		return "x86"
	case m == "aarch64" || m == "arm64" || strings.HasPrefix(m, "aarch64"):
		return "arm64"
	case strings.HasPrefix(m, "arm") || m == "sa110":
		return "arm"
	case m == "s390x" || m == "s390":
		return "s390"
	case strings.HasPrefix(m, "parisc"):
		return "parisc"
	case strings.HasPrefix(m, "ppc") || strings.HasPrefix(m, "powerpc"):
		return "powerpc"
	case strings.HasPrefix(m, "mips"):
		return "mips"
	case strings.HasPrefix(m, "riscv"):
		return "riscv"
	case strings.HasPrefix(m, "loongarch"):
		return "loongarch"
	case strings.HasPrefix(m, "sh"):
		return "sh"
	case strings.HasPrefix(m, "sparc"):
		return "sparc"
	}
	return m
}

// Flags returns the compiler flags for the headers in Kbuild's order
// (LINUXINCLUDE then USERINCLUDE of the top Makefile): arch includes,
// generated, include, uapi, -include linux/kconfig.h, -D__KERNEL__ and the
// arch defines tracing compilers add (what bcc's kbuild_helper builds by
// hand). A BTF tree holds only vmlinux.h, usable for CO-RE BPF programs:
// its flags are -target bpf, the -D__TARGET_ARCH_A that libbpf's
// bpf_tracing.h needs, and -I of the directory.
func (h *Headers) Flags() []string {
	if h.Kind == KindBTF {
		return []string{"-target", "bpf", "-D__TARGET_ARCH_" + h.Arch, "-I" + h.Dir}
	}
	src, obj, a := h.Dir, h.BuildDir, h.Arch
	j := func(base string, parts ...string) string {
		return "-I" + filepath.Join(append([]string{base}, parts...)...)
	}
	f := []string{
		j(src, "arch", a, "include"),
		j(obj, "arch", a, "include", "generated"),
	}
	if obj != src {
		f = append(f, j(src, "include"))
	}
	f = append(f,
		j(obj, "include"),
		j(src, "arch", a, "include", "uapi"),
		j(obj, "arch", a, "include", "generated", "uapi"),
		j(src, "include", "uapi"),
		j(obj, "include", "generated", "uapi"),
		"-include", filepath.Join(src, "include", "linux", "kconfig.h"),
		"-D__KERNEL__",
	)
	switch a {
	case "arm":
		f = append(f, "-D__LINUX_ARM_ARCH__=7")
	case "mips":
		f = append(f, j(src, "arch", "mips", "include", "asm", "mach-include", "generic"))
	}
	return f
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
	return append(f,
		"-D__BPF_TRACING__",
		"-D__TARGET_ARCH_"+h.Arch,
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
