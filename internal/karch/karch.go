// Package karch is kheaders' one notion of a kernel architecture. An
// architecture shows up in several forms, and every string kheaders prints
// says which one it holds:
//
//   - machine: the uname -m form (x86_64, aarch64, ppc64le, armv7l), what a
//     running kernel reports and what the arch Makefiles set as UTS_MACHINE;
//     JSON fields and variables holding it are called "machine".
//   - arch: the kernel's SRCARCH (x86, arm64, powerpc), the directory under
//     arch/ of a kernel tree; JSON fields holding it are called "arch".
//   - the ELF machine number (e_machine) of a vmlinux or module,
//   - the clang -target triple (x86_64-linux-gnu),
//   - libbpf's __TARGET_ARCH_ name (x86, arm64),
//   - the include directories Kbuild adds for the arch.
//
// Everything here is a pure function of the strings or numbers given: the
// machine is a target's (the device headers are for), never read from the
// host, so a host can work for a device of another arch. The tables follow
// Linux 6.12: scripts/subarch.include and the top Makefile (machine ->
// SRCARCH), arch/*/Makefile (UTS_MACHINE), arch/*/include/asm/elf.h
// (ELF_ARCH), scripts/Makefile.clang (triples) and tools/lib/bpf/bpf_tracing.h
// (__TARGET_ARCH_ names); the tests check them against that source tree.
package karch

import (
	"debug/elf"
	"slices"
	"strings"
	"unicode/utf8"
)

// Target is one kernel architecture in both of its string forms.
type Target struct {
	// Arch is the kernel's SRCARCH: the directory under arch/ ("x86",
	// "arm64", "powerpc"). Never empty in a Target returned by this package.
	Arch string
	// Machine is the uname -m form ("x86_64", "aarch64", "ppc64le"), ""
	// when the source of the Target does not tell it (an arch name alone).
	// From a kernel image or config it is the kernel's UTS_MACHINE: 32-bit
	// x86 and arm kernels report a CPU-specific variant of it at run time
	// (i686 for i386, armv7l for arm).
	Machine string
}

// arch is what this package knows of one SRCARCH.
type arch struct {
	name    string        // SRCARCH
	kconfig string        // the symbol arch/NAME/Kconfig defines for it (without CONFIG_)
	elf     []elf.Machine // ELF_ARCH of arch/NAME/include/asm/elf.h (and its variants)
	clang   string        // scripts/Makefile.clang's triple; "" when the kernel has none
	bpf     bool          // libbpf's bpf_tracing.h knows __TARGET_ARCH_NAME
	// uts returns UTS_MACHINE as arch/NAME/Makefile sets it for a config
	// (nil: UTS_MACHINE is the arch name, the top Makefile's default).
	uts func(enabled func(string) bool) string
	// extra are source-tree include directories the arch Makefile adds for
	// every configuration (after LINUXINCLUDE).
	extra []string
}

// emCSKY is EM_CSKY (include/uapi/linux/elf-em.h), which debug/elf lacks.
const emCSKY elf.Machine = 252

// arches lists every directory of arch/ in Linux 6.12.
var arches = []arch{
	{name: "alpha", kconfig: "ALPHA", elf: []elf.Machine{elf.EM_ALPHA, elf.EM_ALPHA_STD}},
	{name: "arc", kconfig: "ARC", elf: []elf.Machine{elf.EM_ARC_COMPACT, elf.EM_ARC_COMPACT2}, bpf: true},
	{name: "arm", kconfig: "ARM", elf: []elf.Machine{elf.EM_ARM}, clang: "arm-linux-gnueabi", bpf: true},
	{name: "arm64", kconfig: "ARM64", elf: []elf.Machine{elf.EM_AARCH64}, clang: "aarch64-linux-gnu", bpf: true,
		uts: func(on func(string) bool) string {
			if on("CPU_BIG_ENDIAN") {
				return "aarch64_be"
			}
			return "aarch64"
		}},
	{name: "csky", kconfig: "CSKY", elf: []elf.Machine{emCSKY}},
	{name: "hexagon", kconfig: "HEXAGON", elf: []elf.Machine{elf.EM_QDSP6}, clang: "hexagon-linux-musl"},
	{name: "loongarch", kconfig: "LOONGARCH", elf: []elf.Machine{elf.EM_LOONGARCH}, clang: "loongarch64-linux-gnusf", bpf: true,
		uts: func(func(string) bool) string { return "loongarch64" }},
	{name: "m68k", kconfig: "M68K", elf: []elf.Machine{elf.EM_68K}, clang: "m68k-linux-gnu"},
	{name: "microblaze", kconfig: "MICROBLAZE", elf: []elf.Machine{elf.EM_MICROBLAZE}},
	{name: "mips", kconfig: "MIPS", elf: []elf.Machine{elf.EM_MIPS, elf.EM_MIPS_RS3_LE}, clang: "mipsel-linux-gnu", bpf: true,
		uts: func(on func(string) bool) string {
			if on("64BIT") {
				return "mips64"
			}
			return "mips"
		},
		extra: []string{"arch/mips/include/asm/mach-generic"}},
	{name: "nios2", kconfig: "NIOS2", elf: []elf.Machine{elf.EM_ALTERA_NIOS2}},
	{name: "openrisc", kconfig: "OPENRISC", elf: []elf.Machine{elf.EM_OPENRISC}},
	{name: "parisc", kconfig: "PARISC", elf: []elf.Machine{elf.EM_PARISC},
		uts: func(on func(string) bool) string {
			if on("64BIT") {
				return "parisc64"
			}
			return "parisc"
		}},
	{name: "powerpc", kconfig: "PPC", elf: []elf.Machine{elf.EM_PPC, elf.EM_PPC64}, clang: "powerpc64le-linux-gnu", bpf: true,
		uts: func(on func(string) bool) string {
			m := "ppc"
			if on("PPC64") {
				m += "64"
			}
			if on("CPU_LITTLE_ENDIAN") {
				m += "le"
			}
			return m
		}},
	{name: "riscv", kconfig: "RISCV", elf: []elf.Machine{elf.EM_RISCV}, clang: "riscv64-linux-gnu", bpf: true,
		uts: func(on func(string) bool) string {
			if on("ARCH_RV32I") {
				return "riscv32"
			}
			return "riscv64"
		}},
	{name: "s390", kconfig: "S390", elf: []elf.Machine{elf.EM_S390}, clang: "s390x-linux-gnu", bpf: true,
		uts: func(func(string) bool) string { return "s390x" }},
	{name: "sh", kconfig: "SUPERH", elf: []elf.Machine{elf.EM_SH}},
	{name: "sparc", kconfig: "SPARC", elf: []elf.Machine{elf.EM_SPARC, elf.EM_SPARC32PLUS, elf.EM_SPARCV9}, bpf: true,
		uts: func(on func(string) bool) string {
			if on("SPARC32") {
				return "sparc"
			}
			return "sparc64"
		}},
	// User-mode Linux runs on a host arch: its ELF machine and clang
	// target are the host's (SUBARCH), which nothing here can know.
	{name: "um", kconfig: "UML"},
	{name: "x86", kconfig: "X86", elf: []elf.Machine{elf.EM_386, elf.EM_X86_64}, clang: "x86_64-linux-gnu", bpf: true,
		uts: func(on func(string) bool) string {
			if on("X86_32") {
				return "i386"
			}
			return "x86_64"
		}},
	{name: "xtensa", kconfig: "XTENSA", elf: []elf.Machine{elf.EM_XTENSA}},
}

func lookup(name string) *arch {
	for i := range arches {
		if arches[i].name == name {
			return &arches[i]
		}
	}
	return nil
}

// Arches returns every SRCARCH of the kernel (the directories of arch/).
func Arches() []string {
	out := make([]string, len(arches))
	for i, a := range arches {
		out[i] = a.name
	}
	return out
}

// Known reports whether arch is a SRCARCH of the kernel.
func Known(arch string) bool { return lookup(arch) != nil }

// subarch is scripts/subarch.include's sed over uname -m, in its order.
// Each pattern is matched by match below rather than by package regexp
// (compiling twelve regexps at start-up cost every kheaders call ~50 us):
// '.' is any character but a newline, [...] one of the bytes listed, and a
// trailing ".*" the rest of the line.
var subarch = []struct{ pat, repl string }{
	{`i.86`, "x86"},
	{`x86_64`, "x86"},
	{`sun4u`, "sparc64"},
	{`arm.*`, "arm"}, // not for "arm64" (the sed's /^arm64$/! address)
	{`sa110`, "arm"},
	{`s390x`, "s390"},
	{`ppc.*`, "powerpc"},
	{`mips.*`, "mips"},
	{`sh[234].*`, "sh"},
	{`aarch64.*`, "arm64"},
	{`riscv.*`, "riscv"},
	{`loongarch.*`, "loongarch"},
}

// match returns the leftmost match of pat (the syntax of subarch) in s, as
// regexp.FindStringIndex would.
func match(pat, s string) []int {
	body, star := strings.CutSuffix(pat, ".*")
	for start := 0; start <= len(s); start++ {
		if end, ok := matchAt(body, s, start); ok {
			if star {
				if nl := strings.IndexByte(s[end:], '\n'); nl >= 0 {
					end += nl
				} else {
					end = len(s)
				}
			}
			return []int{start, end}
		}
	}
	return nil
}

// matchAt matches pat (no ".*") at s[i:] and returns the end of the match.
func matchAt(pat, s string, i int) (int, bool) {
	for p := 0; p < len(pat); {
		if i >= len(s) {
			return 0, false
		}
		switch c := pat[p]; c {
		case '.':
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == '\n' {
				return 0, false
			}
			i += n
			p++
		case '[':
			end := p + strings.IndexByte(pat[p:], ']')
			if strings.IndexByte(pat[p+1:end], s[i]) < 0 {
				return 0, false
			}
			i++
			p = end + 1
		default:
			if s[i] != c {
				return 0, false
			}
			i++
			p++
		}
	}
	return i, true
}

// archOf is the top Makefile's ARCH -> SRCARCH ("Additional ARCH settings").
var archOf = map[string]string{"i386": "x86", "x86_64": "x86", "sparc64": "sparc", "parisc64": "parisc", "sh64": "sh"}

// SrcArch returns the SRCARCH for a machine (uname -m) or an ARCH= value,
// computed as the kernel's build does: scripts/subarch.include's sed, then
// the top Makefile's ARCH -> SRCARCH settings (x86_64, i686 -> x86; aarch64
// -> arm64; ppc64le -> powerpc; sparc64 -> sparc; armv7l -> arm; arm64 stays
// arm64). Like the Makefile it returns other names unchanged, so the result
// is a SRCARCH only when Known says so; it is idempotent on SRCARCH names.
func SrcArch(machine string) string {
	m := machine
	// sed -e s/X/Y/ replaces the first match, and every expression sees
	// the result of the ones before.
	for _, s := range subarch {
		if s.repl == "arm" && m == "arm64" {
			continue
		}
		if loc := match(s.pat, m); loc != nil {
			m = m[:loc[0]] + s.repl + m[loc[1]:]
		}
	}
	if a, ok := archOf[m]; ok {
		return a
	}
	return m
}

// FromMachine returns the Target of a machine (uname -m) or ARCH= value;
// ok is false when it names no kernel arch. Machine is kept as given.
func FromMachine(machine string) (t Target, ok bool) {
	t = Target{Arch: SrcArch(machine), Machine: machine}
	return t, Known(t.Arch)
}

// FromELF returns the Target of a kernel or module ELF file from its header:
// e_machine, the class and the byte order (EI_CLASS, EI_DATA). Machine is
// UTS_MACHINE for what the header tells (x86_64, i386, aarch64_be, ppc64le,
// mips64, riscv32, sparc64 ...). ok is false for a machine no kernel arch
// uses.
func FromELF(m elf.Machine, class elf.Class, data elf.Data) (t Target, ok bool) {
	for _, a := range arches {
		if !slices.Contains(a.elf, m) {
			continue
		}
		is64 := class == elf.ELFCLASS64
		on := func(sym string) bool {
			switch sym {
			case "64BIT", "PPC64":
				return is64
			case "X86_32", "ARCH_RV32I":
				return !is64
			case "SPARC32":
				return m != elf.EM_SPARCV9
			case "CPU_BIG_ENDIAN":
				return data == elf.ELFDATA2MSB
			case "CPU_LITTLE_ENDIAN":
				return data == elf.ELFDATA2LSB
			}
			return false
		}
		return Target{Arch: a.name, Machine: a.machine(on)}, true
	}
	return Target{}, false
}

// FromConfig returns the Target of a kernel configuration: enabled(SYM)
// reports whether CONFIG_SYM is y (SYM without the CONFIG_ prefix, e.g. from
// a .config or an autoconf.h). The arch is the one whose arch/A/Kconfig
// symbol is set (X86, ARM64, PPC, SUPERH, UML ...); Machine is UTS_MACHINE
// as arch/A/Makefile derives it from the config. ok is false when no arch
// symbol is set.
func FromConfig(enabled func(sym string) bool) (t Target, ok bool) {
	for _, a := range arches {
		if enabled(a.kconfig) {
			return Target{Arch: a.name, Machine: a.machine(enabled)}, true
		}
	}
	return Target{}, false
}

func (a *arch) machine(on func(string) bool) string {
	if a.uts == nil {
		return a.name
	}
	return a.uts(on)
}

// ClangTriple returns the clang -target triple for compiling against this
// target's kernel headers, "" when the kernel has none for the arch (it
// builds only with GCC there, scripts/Makefile.clang). Without a Machine it
// is Makefile.clang's triple for the arch; a Machine refines the word size
// and the byte order where uname -m tells them (i686 -> i386-linux-gnu,
// aarch64_be, ppc64 big-endian, riscv32, armv7b). uname -m does not tell a
// MIPS kernel's byte order: mips and mips64 get the kernel's little-endian
// default.
func (t Target) ClangTriple() string {
	a := lookup(t.Arch)
	if a == nil || a.clang == "" {
		return ""
	}
	m := t.Machine
	switch t.Arch {
	case "x86":
		if len(m) == 4 && m[0] == 'i' && m[2:] == "86" {
			return "i386-linux-gnu"
		}
	case "arm64":
		if strings.HasSuffix(m, "_be") {
			return "aarch64_be-linux-gnu"
		}
	case "arm":
		// armv7l, armv6l, armv5tel: the last letter is the byte order.
		if strings.HasSuffix(m, "b") {
			return "armeb-linux-gnueabi"
		}
	case "powerpc":
		switch m {
		case "ppc64":
			return "powerpc64-linux-gnu"
		case "ppc":
			return "powerpc-linux-gnu"
		case "ppcle":
			return "powerpcle-linux-gnu"
		}
	case "mips":
		if strings.HasPrefix(m, "mips64") {
			return "mips64el-linux-gnuabi64"
		}
	case "riscv":
		if m == "riscv32" {
			return "riscv32-linux-gnu"
		}
	}
	return a.clang
}

// BPFArch returns libbpf's name for the target in -D__TARGET_ARCH_<name>
// (bpf_tracing.h: x86, s390, arm, arm64, mips, powerpc, sparc, riscv, arc,
// loongarch), "" for an arch libbpf has no register layout for.
func (t Target) BPFArch() string {
	if a := lookup(t.Arch); a != nil && a.bpf {
		return a.name
	}
	return ""
}

// Includes are an arch's include directories as Kbuild names them,
// relative to the kernel's source tree (Src, SrcUAPI, Extra) and object
// tree (Obj, ObjUAPI). The top Makefile's LINUXINCLUDE and USERINCLUDE put
// them in this order around the generic ones:
//
//	Src, Obj, [srctree/include], objtree/include, SrcUAPI, ObjUAPI,
//	srctree/include/uapi, objtree/include/generated/uapi, then Extra
//
// Extra are the directories arch/A/Makefile adds for every configuration
// (mips: asm/mach-generic); those it adds per platform are not known here.
type Includes struct {
	Src, Obj         string
	SrcUAPI, ObjUAPI string
	Extra            []string
}

// Includes returns the include directories of the target's arch.
func (t Target) Includes() Includes {
	d := "arch/" + t.Arch + "/include"
	in := Includes{Src: d, Obj: d + "/generated", SrcUAPI: d + "/uapi", ObjUAPI: d + "/generated/uapi"}
	if a := lookup(t.Arch); a != nil {
		in.Extra = slices.Clone(a.extra)
	}
	return in
}

// armArch is arch/arm/Makefile's __LINUX_ARM_ARCH__ assignments, in its
// order: each later line that is enabled wins, so a kernel for v6 and v7
// CPUs gets 6. The v6K line applies only with CPU_32v6 (ARMv7 has the v6K
// extensions).
var armArch = []struct{ sym, v, only string }{
	{"CPU_32v7M", "7", ""}, {"CPU_32v7", "7", ""}, {"CPU_32v6", "6", ""}, {"CPU_32v6K", "6", "CPU_32v6"},
	{"CPU_32v5", "5", ""}, {"CPU_32v4T", "4", ""}, {"CPU_32v4", "4", ""}, {"CPU_32v3", "3", ""},
}

// Defines returns the -D flags the arch Makefile adds to every compile that
// kernel headers need, for the configuration enabled describes (as in
// FromConfig; nil when unknown). Only arm has one: -D__LINUX_ARM_ARCH__=N
// from its CPU_32vN symbols, 7 (what bcc assumes) without a config.
func (t Target) Defines(enabled func(sym string) bool) []string {
	if t.Arch != "arm" {
		return nil
	}
	v := ""
	if enabled != nil {
		for _, a := range armArch {
			if enabled(a.sym) && (a.only == "" || enabled(a.only)) {
				v = a.v
			}
		}
	}
	if v == "" {
		v = "7"
	}
	return []string{"-D__LINUX_ARM_ARCH__=" + v}
}
