package locate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// TestFlagsARMKernel locates the headers of the real arm32 test kernel
// (testdata/kernels/zImage-arm-gzip, ARMv7 with v6K) as that kernel runs
// (uname -m armv7l): they verify, and the flags carry arch/arm's include
// directories, the __LINUX_ARM_ARCH__ its autoconf.h gives (7) and libbpf's
// __TARGET_ARCH_arm.
func TestFlagsARMKernel(t *testing.T) {
	cfg, err := os.ReadFile(filepath.Join(hosttest.Kernels(t), "config-arm"))
	if err != nil {
		t.Fatal(err)
	}
	r := hosttest.Root{Release: "6.12.117", Machine: "armv7l", Config: cfg, VersionCode: host.VersionCodeOf(6, 12, 117)}
	opts := testOpts(t, hosttest.Make(t, r))
	opts.CacheDir = sharedCache
	opts.Override = filepath.Join(hosttest.Kernels(t), "zImage-arm-gzip")
	h, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("Locate(--source zImage-arm-gzip) on armv7l: %v", err)
	}
	checkStatus(t, h, allOK)
	if h.Arch != "arm" || h.Machine != "armv7l" {
		t.Errorf("Headers arch %q machine %q, want arm armv7l", h.Arch, h.Machine)
	}
	f := h.BPFFlags()
	for _, want := range []string{"-I" + filepath.Join(h.Dir, "arch/arm/include"), "-I" + filepath.Join(h.Dir, "arch/arm/include/generated/uapi"),
		"-D__LINUX_ARM_ARCH__=7", "-D__TARGET_ARCH_arm"} {
		if !slices.Contains(f, want) {
			t.Errorf("BPFFlags() lacks %s:\n%s", want, strings.Join(f, " "))
		}
	}
}

// TestFlagsArchDefines: the arch Makefile flags follow the headers'
// autoconf.h (arm), the arch's fixed include directories are added (mips),
// and __TARGET_ARCH_ is left out for an arch libbpf does not know.
func TestFlagsArchDefines(t *testing.T) {
	tree := func(autoconf string) string {
		d := t.TempDir()
		os.MkdirAll(filepath.Join(d, "include/generated"), 0o755)
		os.WriteFile(filepath.Join(d, "include/generated/autoconf.h"), []byte(autoconf), 0o644)
		return d
	}
	tests := []struct {
		name, arch, machine, autoconf string
		want, not                     []string
	}{
		{"arm v6+v7", "arm", "armv7l", "#define CONFIG_ARM 1\n#define CONFIG_CPU_32v6 1\n#define CONFIG_CPU_32v7 1\n",
			[]string{"-D__LINUX_ARM_ARCH__=6", "-D__TARGET_ARCH_arm"}, nil},
		{"arm v5", "arm", "armv5tel", "#define CONFIG_ARM 1\n#define CONFIG_CPU_32v5 1\n",
			[]string{"-D__LINUX_ARM_ARCH__=5"}, nil},
		{"mips", "mips", "mips64", "#define CONFIG_MIPS 1\n",
			[]string{"-I{dir}/arch/mips/include/asm/mach-generic", "-I{dir}/arch/mips/include", "-D__TARGET_ARCH_mips"}, []string{"-D__LINUX_ARM_ARCH__=7"}},
		{"sh", "sh", "sh4", "#define CONFIG_SUPERH 1\n",
			[]string{"-I{dir}/arch/sh/include"}, []string{"-D__TARGET_ARCH_sh"}},
		{"x86", "x86", "x86_64", "#define CONFIG_X86_64 1\n",
			[]string{"-D__TARGET_ARCH_x86"}, []string{"-D__LINUX_ARM_ARCH__=7"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tree(tt.autoconf)
			h := &Headers{Dir: d, BuildDir: d, Arch: tt.arch, Machine: tt.machine, Kind: KindTree}
			f := h.BPFFlags()
			for _, w := range tt.want {
				if w = strings.ReplaceAll(w, "{dir}", d); !slices.Contains(f, w) {
					t.Errorf("BPFFlags() lacks %s:\n%s", w, strings.Join(f, " "))
				}
			}
			for _, w := range tt.not {
				if slices.Contains(f, w) {
					t.Errorf("BPFFlags() has %s:\n%s", w, strings.Join(f, " "))
				}
			}
		})
	}
}
