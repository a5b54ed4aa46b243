package karch

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"

	"github.com/google/go-cmp/cmp"
	"github.com/kheaders/kheaders/internal/kconfig"
)

// machines are uname -m values (and ARCH= values) with the SRCARCH the
// kernel's build gives them.
var machines = []struct{ machine, arch string }{
	{"x86_64", "x86"}, {"i386", "x86"}, {"i486", "x86"}, {"i586", "x86"}, {"i686", "x86"}, {"x86", "x86"},
	{"aarch64", "arm64"}, {"aarch64_be", "arm64"}, {"arm64", "arm64"},
	{"arm", "arm"}, {"armv5tel", "arm"}, {"armv6l", "arm"}, {"armv7l", "arm"}, {"armv7b", "arm"}, {"armv8l", "arm"}, {"sa110", "arm"},
	{"ppc", "powerpc"}, {"ppcle", "powerpc"}, {"ppc64", "powerpc"}, {"ppc64le", "powerpc"}, {"powerpc", "powerpc"},
	{"mips", "mips"}, {"mips64", "mips"}, {"mipsel", "mips"},
	{"riscv32", "riscv"}, {"riscv64", "riscv"}, {"riscv", "riscv"},
	{"s390x", "s390"}, {"s390", "s390"},
	{"loongarch64", "loongarch"}, {"loongarch", "loongarch"},
	{"sparc", "sparc"}, {"sparc64", "sparc"}, {"sun4u", "sparc"},
	{"parisc", "parisc"}, {"parisc64", "parisc"},
	{"sh", "sh"}, {"sh4", "sh"}, {"sh4a", "sh"}, {"sh3", "sh"}, {"sh64", "sh"},
	{"alpha", "alpha"}, {"arc", "arc"}, {"csky", "csky"}, {"hexagon", "hexagon"}, {"m68k", "m68k"},
	{"microblaze", "microblaze"}, {"nios2", "nios2"}, {"openrisc", "openrisc"}, {"xtensa", "xtensa"}, {"um", "um"},
	// Not kernel machines: the Makefile passes them through unchanged.
	{"amd64", "amd64"}, {"", ""},
}

func TestSrcArch(t *testing.T) {
	for _, m := range machines {
		if got := SrcArch(m.machine); got != m.arch {
			t.Errorf("SrcArch(%q) = %q, want %q", m.machine, got, m.arch)
		}
		tg, ok := FromMachine(m.machine)
		if tg.Arch != m.arch || tg.Machine != m.machine || ok != Known(m.arch) {
			t.Errorf("FromMachine(%q) = %+v, %v; want {%s %s}, %v", m.machine, tg, ok, m.arch, m.machine, Known(m.arch))
		}
	}
	for _, a := range Arches() {
		if got := SrcArch(a); got != a {
			t.Errorf("SrcArch(%q) = %q, want it unchanged (a SRCARCH)", a, got)
		}
	}
	if Known("amd64") || Known("") || Known("x86_64") {
		t.Error("Known accepts a name that is no directory of arch/")
	}
}

// ktree returns the real 6.12 source tree (scripts/setup-real-inputs.sh).
func ktree(t *testing.T) string {
	t.Helper()
	src := filepath.Join(hosttest.KernelTrees.Need(t, "linux-source-6.12/scripts/subarch.include"), "linux-source-6.12")
	return src
}

func readTree(t *testing.T, src, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(src, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestArchesAreTheKernels: Arches is the list of arch/ directories and each
// arch's Kconfig symbol is the one its arch/A/Kconfig defines.
func TestArchesAreTheKernels(t *testing.T) {
	src := ktree(t)
	ents, err := os.ReadDir(filepath.Join(src, "arch"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range ents {
		if e.IsDir() {
			dirs = append(dirs, e.Name())
		}
	}
	if diff := cmp.Diff(dirs, Arches()); diff != "" {
		t.Errorf("Arches() differs from %s/arch (-kernel +karch):\n%s", src, diff)
	}
	for _, a := range arches {
		kc := readTree(t, src, "arch/"+a.name+"/Kconfig")
		if !regexp.MustCompile(`(?m)^config ` + a.kconfig + `$`).MatchString(kc) {
			t.Errorf("arch/%s/Kconfig defines no config %s", a.name, a.kconfig)
		}
		in := Target{Arch: a.name}.Includes()
		for _, d := range append([]string{in.Src, in.SrcUAPI}, in.Extra...) {
			if fi, err := os.Stat(filepath.Join(src, d)); err != nil || !fi.IsDir() {
				t.Errorf("Includes of %s: %s is no directory of the source tree", a.name, d)
			}
		}
	}
}

// TestSrcArchIsKbuilds runs the kernel's own sed (scripts/subarch.include)
// and the top Makefile's ARCH -> SRCARCH settings on every machine of the
// table and compares with SrcArch.
func TestSrcArchIsKbuilds(t *testing.T) {
	src := ktree(t)
	inc := readTree(t, src, "scripts/subarch.include")
	m := regexp.MustCompile(`(?s)uname -m \| (sed .*)\)\s*$`).FindStringSubmatch(inc)
	if m == nil {
		t.Fatalf("no `uname -m | sed ...` in scripts/subarch.include:\n%s", inc)
	}
	sed := strings.ReplaceAll(strings.ReplaceAll(m[1], "\\\n", " "), "$$", "$")
	var in []string
	for _, mc := range machines {
		if mc.machine != "" {
			in = append(in, mc.machine)
		}
	}
	cmd := exec.Command("sh", "-c", sed)
	cmd.Dir = t.TempDir() // the unquoted .* globs of the Makefile match nothing here
	cmd.Stdin = strings.NewReader(strings.Join(in, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sh -c %q: %v", sed, err)
	}
	subarch := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(subarch) != len(in) {
		t.Fatalf("sed gave %d lines for %d machines", len(subarch), len(in))
	}
	mk := readTree(t, src, "Makefile")
	srcarch := map[string]string{}
	for _, s := range regexp.MustCompile(`ifeq \(\$\(ARCH\),(\w+)\)\s+SRCARCH\s*:=\s*(\w+)`).FindAllStringSubmatch(mk, -1) {
		srcarch[s[1]] = s[2]
	}
	if len(srcarch) < 4 {
		t.Fatalf("found only %v ARCH -> SRCARCH settings in the top Makefile", srcarch)
	}
	if diff := cmp.Diff(srcarch, archOf); diff != "" {
		t.Errorf("ARCH -> SRCARCH settings differ from the top Makefile's (-kernel +karch):\n%s", diff)
	}
	for i, mc := range in {
		want := subarch[i]
		if a, ok := srcarch[want]; ok {
			want = a
		}
		if got := SrcArch(mc); got != want {
			t.Errorf("SrcArch(%q) = %q, the kernel's build gives %q", mc, got, want)
		}
	}
}

// allConfigs enumerates the configurations the UTS_MACHINE choices of the
// arch Makefiles depend on.
func allConfigs() []func(string) bool {
	syms := []string{"64BIT", "PPC64", "X86_32", "ARCH_RV32I", "SPARC32", "CPU_BIG_ENDIAN", "CPU_LITTLE_ENDIAN"}
	var out []func(string) bool
	for mask := 0; mask < 1<<len(syms); mask++ {
		out = append(out, func(s string) bool {
			i := slices.Index(syms, s)
			return i >= 0 && mask&(1<<i) != 0
		})
	}
	return out
}

// TestUTSMachine: every UTS_MACHINE an arch Makefile sets is one that
// FromConfig derives for some configuration of that arch, and every
// machine FromConfig derives maps back to its arch.
func TestUTSMachine(t *testing.T) {
	src := ktree(t)
	utsRE := regexp.MustCompile(`(?m)^\s*UTS_MACHINE\s*:=\s*(\S+)`)
	for _, a := range arches {
		got := map[string]bool{}
		for _, cfg := range allConfigs() {
			tg, ok := FromConfig(func(s string) bool { return s == a.kconfig || cfg(s) })
			if !ok || tg.Arch != a.name {
				t.Fatalf("FromConfig(CONFIG_%s) = %+v, %v; want arch %s", a.kconfig, tg, ok, a.name)
			}
			got[tg.Machine] = true
			if a.name != "um" && SrcArch(tg.Machine) != a.name {
				t.Errorf("SrcArch(%q) = %q, want %q (the machine FromConfig gives %s)", tg.Machine, SrcArch(tg.Machine), a.name, a.name)
			}
		}
		mk := readTree(t, src, "arch/"+a.name+"/Makefile")
		var want []string
		for _, s := range utsRE.FindAllStringSubmatch(mk, -1) {
			want = append(want, s[1])
		}
		if a.name == "powerpc" {
			// UTS_MACHINE := $(subst $(space),,$(machine-y)): ppc, 64, le.
			want = []string{"ppc", "ppc64", "ppcle", "ppc64le"}
		}
		if len(want) == 0 {
			want = []string{a.name} // the top Makefile's UTS_MACHINE := $(ARCH)
		}
		for _, w := range want {
			if !got[w] {
				t.Errorf("arch/%s/Makefile sets UTS_MACHINE %s; FromConfig gives only %v", a.name, w, keys(got))
			}
		}
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestELFArch: ELF_ARCH of every arch/*/include/asm/elf.h that defines it
// as an EM_ constant (numbers from include/uapi/linux/elf-em.h) is one
// that FromELF maps to that arch.
func TestELFArch(t *testing.T) {
	src := ktree(t)
	em := map[string]uint64{}
	for _, s := range regexp.MustCompile(`(?m)^#define\s+(EM_\w+)\s+(0x[0-9a-fA-F]+|\d+)`).FindAllStringSubmatch(readTree(t, src, "include/uapi/linux/elf-em.h"), -1) {
		v, _ := strconv.ParseUint(s[2], 0, 32)
		em[s[1]] = v
	}
	defRE := regexp.MustCompile(`(?m)^#define\s+(ELF_ARCH|EM_ARC_INUSE)\s+(.*(?:\\\n.*)*)`)
	nameRE := regexp.MustCompile(`EM_\w+`)
	checked := 0
	for _, a := range arches {
		h, err := os.ReadFile(filepath.Join(src, "arch", a.name, "include/asm/elf.h"))
		if err != nil {
			continue
		}
		for _, d := range defRE.FindAllStringSubmatch(string(h), -1) {
			for _, n := range nameRE.FindAllString(d[2], -1) {
				v, ok := em[n]
				if !ok {
					continue // EM_ARC_INUSE itself
				}
				tg, ok := FromELF(elf.Machine(v), elf.ELFCLASS64, elf.ELFDATA2LSB)
				if !ok || tg.Arch != a.name {
					t.Errorf("arch/%s/include/asm/elf.h: ELF_ARCH %s (%d): FromELF = %+v, %v", a.name, n, v, tg, ok)
				}
				checked++
			}
		}
	}
	if checked < 15 {
		t.Errorf("checked only %d ELF_ARCH definitions", checked)
	}
	if tg, ok := FromELF(elf.EM_BPF, elf.ELFCLASS64, elf.ELFDATA2LSB); ok {
		t.Errorf("FromELF(EM_BPF) = %+v, want no kernel arch", tg)
	}
}

// TestClangTriple: without a machine, the triple is scripts/Makefile.clang's
// for the arch, and "" for arches it has none for.
func TestClangTriple(t *testing.T) {
	src := ktree(t)
	want := map[string]string{}
	for _, s := range regexp.MustCompile(`(?m)^CLANG_TARGET_FLAGS_(\w+)\s*:=\s*([\w-]+)\s*$`).FindAllStringSubmatch(readTree(t, src, "scripts/Makefile.clang"), -1) {
		want[s[1]] = s[2]
	}
	if len(want) < 8 {
		t.Fatalf("found only %v in scripts/Makefile.clang", want)
	}
	for _, a := range Arches() {
		if got := (Target{Arch: a}).ClangTriple(); got != want[a] {
			t.Errorf("Target{Arch: %q}.ClangTriple() = %q, scripts/Makefile.clang says %q", a, got, want[a])
		}
	}
}

// TestBPFArch: the __TARGET_ARCH_ names are those libbpf's bpf_tracing.h
// tests, and each is the SRCARCH.
func TestBPFArch(t *testing.T) {
	src := ktree(t)
	var want []string
	for _, s := range regexp.MustCompile(`defined\(__TARGET_ARCH_(\w+)\)`).FindAllStringSubmatch(readTree(t, src, "tools/lib/bpf/bpf_tracing.h"), -1) {
		want = append(want, s[1])
	}
	sort.Strings(want)
	var got []string
	for _, a := range Arches() {
		if b := (Target{Arch: a}).BPFArch(); b != "" {
			if b != a {
				t.Errorf("BPFArch of %s = %q, want the SRCARCH", a, b)
			}
			got = append(got, b)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BPFArch names differ from tools/lib/bpf/bpf_tracing.h (-libbpf +karch):\n%s", diff)
	}
}

// TestTriplesRoundTrip compiles an empty C file with clang for each triple
// a Target can give (and a few the kernel does not use), reads the object's
// ELF header back with FromELF, and checks the arch, the machine and that
// the machine gives the same triple again.
func TestTriplesRoundTrip(t *testing.T) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("clang not installed (Debian package clang)")
	}
	c := filepath.Join(t.TempDir(), "empty.c")
	os.WriteFile(c, []byte("int kheaders_karch;\n"), 0o644)
	tests := []struct {
		triple, arch, machine string
		roundTrip             bool // the machine gives this triple back
	}{
		{"x86_64-linux-gnu", "x86", "x86_64", true},
		{"i386-linux-gnu", "x86", "i386", true},
		{"aarch64-linux-gnu", "arm64", "aarch64", true},
		{"aarch64_be-linux-gnu", "arm64", "aarch64_be", true},
		{"arm-linux-gnueabi", "arm", "arm", true},
		{"armeb-linux-gnueabi", "arm", "arm", false}, // UTS_MACHINE "arm"; armv7b only at run time
		{"powerpc64le-linux-gnu", "powerpc", "ppc64le", true},
		{"powerpc64-linux-gnu", "powerpc", "ppc64", true},
		{"powerpc-linux-gnu", "powerpc", "ppc", true},
		{"powerpcle-linux-gnu", "powerpc", "ppcle", true},
		{"mipsel-linux-gnu", "mips", "mips", true},
		{"mips64el-linux-gnuabi64", "mips", "mips64", true},
		{"mips-linux-gnu", "mips", "mips", false}, // uname -m has no byte order for MIPS
		{"riscv64-linux-gnu", "riscv", "riscv64", true},
		{"riscv32-linux-gnu", "riscv", "riscv32", true},
		{"s390x-linux-gnu", "s390", "s390x", true},
		{"loongarch64-linux-gnusf", "loongarch", "loongarch64", true},
		{"m68k-linux-gnu", "m68k", "m68k", true},
		{"hexagon-linux-musl", "hexagon", "hexagon", true},
		{"sparc64-linux-gnu", "sparc", "sparc64", false}, // no clang triple in the kernel
		{"sparc-linux-gnu", "sparc", "sparc", false},
	}
	for _, tt := range tests {
		t.Run(tt.triple, func(t *testing.T) {
			o := filepath.Join(t.TempDir(), "o")
			var stderr bytes.Buffer
			cmd := exec.Command(clang, "-target", tt.triple, "-fintegrated-as", "-c", c, "-o", o)
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				if strings.Contains(stderr.String(), "unknown target") || strings.Contains(stderr.String(), "No available targets") {
					t.Skipf("this clang has no %s target: %s", tt.triple, strings.TrimSpace(stderr.String()))
				}
				t.Fatalf("clang -target %s: %v\n%s", tt.triple, err, stderr.String())
			}
			f, err := elf.Open(o)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tg, ok := FromELF(f.Machine, f.Class, f.Data)
			if !ok || tg.Arch != tt.arch || tg.Machine != tt.machine {
				t.Fatalf("FromELF(%v, %v, %v) = %+v, %v; want {%s %s}", f.Machine, f.Class, f.Data, tg, ok, tt.arch, tt.machine)
			}
			if got := tg.ClangTriple(); tt.roundTrip && got != tt.triple {
				t.Errorf("ClangTriple of %+v = %q, want %q", tg, got, tt.triple)
			}
		})
	}
}

// TestFromReal: real kernels give their target: the .config of the test
// kernels (testdata/kernels), the autoconf.h of the prepared 6.12 build
// trees, and the ELF header of the shared fixture's vmlinux and kheaders.ko.
func TestFromReal(t *testing.T) {
	enabled := func(t *testing.T, path string) func(string) bool {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Skipf("%s: %v (testdata/kernels, or scripts/setup-real-inputs.sh for the build trees)", path, err)
		}
		if strings.HasSuffix(path, ".h") {
			a, err := kconfig.ParseAutoconf(b)
			if err != nil {
				t.Fatal(err)
			}
			return a.Enabled
		}
		c, err := kconfig.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		return func(s string) bool { v, _ := c.Get("CONFIG_" + s); return v == "y" }
	}
	k := hosttest.KernelTrees.Path()
	kernels := hosttest.Kernels(t)
	configs := []struct {
		path, arch, machine string
		defines             []string
	}{
		{filepath.Join(kernels, "config-x86_64-gzip"), "x86", "x86_64", nil},
		{filepath.Join(kernels, "config-arm64"), "arm64", "aarch64", nil},
		{filepath.Join(kernels, "config-arm"), "arm", "arm", []string{"-D__LINUX_ARM_ARCH__=7"}},
		{filepath.Join(k, "build-x86_64-y-xz/include/generated/autoconf.h"), "x86", "x86_64", nil},
		{filepath.Join(k, "build-arm64-y-xz/include/generated/autoconf.h"), "arm64", "aarch64", nil},
	}
	for _, tt := range configs {
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(tt.path)))+"/"+filepath.Base(tt.path), func(t *testing.T) {
			on := enabled(t, tt.path)
			tg, ok := FromConfig(on)
			if !ok || tg.Arch != tt.arch || tg.Machine != tt.machine {
				t.Errorf("FromConfig(%s) = %+v, %v; want {%s %s}", tt.path, tg, ok, tt.arch, tt.machine)
			}
			if got := tg.Defines(on); !slices.Equal(got, tt.defines) {
				t.Errorf("Defines(%s) = %q, want %q", tt.path, got, tt.defines)
			}
		})
	}
	for _, f := range []string{"ikheaders-y/vmlinux", "ikheaders-m/kheaders.ko"} {
		t.Run(f, func(t *testing.T) {
			p := hosttest.Fixture(t, f)
			ef, err := elf.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer ef.Close()
			if tg, ok := FromELF(ef.Machine, ef.Class, ef.Data); !ok || tg.Arch != "x86" || tg.Machine != "x86_64" {
				t.Errorf("FromELF(%s) = %+v, %v; want {x86 x86_64}", f, tg, ok)
			}
		})
	}
}

func TestDefines(t *testing.T) {
	set := func(syms ...string) func(string) bool {
		return func(s string) bool { return slices.Contains(syms, s) }
	}
	tests := []struct {
		arch string
		cfg  func(string) bool
		want []string
	}{
		{"x86", nil, nil},
		{"arm", nil, []string{"-D__LINUX_ARM_ARCH__=7"}},
		{"arm", set("CPU_32v7"), []string{"-D__LINUX_ARM_ARCH__=7"}},
		{"arm", set("CPU_32v6", "CPU_32v7"), []string{"-D__LINUX_ARM_ARCH__=6"}},  // multi-v6/v7: the Makefile's later line wins
		{"arm", set("CPU_32v6K", "CPU_32v7"), []string{"-D__LINUX_ARM_ARCH__=7"}}, // v6K counts only with v6
		{"arm", set("CPU_32v6", "CPU_32v6K"), []string{"-D__LINUX_ARM_ARCH__=6"}},
		{"arm", set("CPU_32v5"), []string{"-D__LINUX_ARM_ARCH__=5"}},
		{"arm", set("CPU_32v4T"), []string{"-D__LINUX_ARM_ARCH__=4"}},
	}
	for _, tt := range tests {
		if got := (Target{Arch: tt.arch}).Defines(tt.cfg); !slices.Equal(got, tt.want) {
			t.Errorf("Defines(%s) = %q, want %q", tt.arch, got, tt.want)
		}
	}
}

// TestARMDefinesAreTheMakefiles: armArch is arch/arm/Makefile's
// cpp-$(CONFIG_CPU_32vN) list, in its order.
func TestARMDefinesAreTheMakefiles(t *testing.T) {
	src := ktree(t)
	mk := readTree(t, src, "arch/arm/Makefile")
	var want []string
	for _, s := range regexp.MustCompile(`(?m)^cpp-\$\(CONFIG_(CPU_32v\w+)\)\s*:=\s*-D__LINUX_ARM_ARCH__=(\d+)`).FindAllStringSubmatch(mk, -1) {
		want = append(want, s[1]+"="+s[2])
	}
	var got []string
	for _, a := range armArch {
		got = append(got, a.sym+"="+a.v)
		if a.only != "" && !strings.Contains(mk, "ifeq ($(CONFIG_"+a.only+"),y)\ncpp-$(CONFIG_"+a.sym+")") {
			t.Errorf("arch/arm/Makefile does not set %s only under CONFIG_%s", a.sym, a.only)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("armArch differs from arch/arm/Makefile (-kernel +karch):\n%s", diff)
	}
}

func TestIncludes(t *testing.T) {
	got := Target{Arch: "mips"}.Includes()
	want := Includes{Src: "arch/mips/include", Obj: "arch/mips/include/generated", SrcUAPI: "arch/mips/include/uapi",
		ObjUAPI: "arch/mips/include/generated/uapi", Extra: []string{"arch/mips/include/asm/mach-generic"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Includes(mips) (-want +got):\n%s", diff)
	}
}
