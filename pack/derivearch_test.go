package pack

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDeriveArchFromConfig: without a generated arch directory, SRCARCH
// comes from the "# Linux/ARCH" line of .config, where ARCH is the make
// ARCH= of the build, mapped as the kernel's top Makefile does.
func TestDeriveArchFromConfig(t *testing.T) {
	for _, tt := range []struct{ arch, want string }{
		{"x86_64", "x86"}, {"i386", "x86"}, {"x86", "x86"}, {"arm64", "arm64"},
		{"sparc64", "sparc"}, {"parisc64", "parisc"}, {"sh64", "sh"}, {"um", "um"}, {"riscv", "riscv"},
	} {
		obj := t.TempDir()
		os.MkdirAll(filepath.Join(obj, "arch", tt.want), 0o755)
		os.WriteFile(filepath.Join(obj, ".config"), []byte("#\n# Automatically generated file; DO NOT EDIT.\n# Linux/"+tt.arch+" 6.12.117 Kernel Configuration\n#\n"), 0o644)
		if got, err := deriveArch(obj); err != nil || got != tt.want {
			t.Errorf("deriveArch(.config of ARCH=%s) = %q, %v; want %q", tt.arch, got, err, tt.want)
		}
	}
}
