package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// seedBTF is a raw BTF blob clang made from btfc's "basic" test snippet.
const seedBTF = "../../btfc/testdata/seeds/basic.btf"

func runBTFCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader("")}
	code = Main(context.Background(), env, args)
	return out.String(), errb.String(), code
}

func TestBTFCommand(t *testing.T) {
	if _, err := os.Stat(seedBTF); err != nil {
		t.Fatalf("seed BTF missing: %v", err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "vmlinux.h")

	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string // substring expected on stdout
		stderr   string // substring expected on stderr
		wantFile bool
	}{
		{"stdout", []string{"btf", seedBTF}, ExitOK, "struct nested {", "", false},
		{"types", []string{"btf", seedBTF, "--types", "struct bits"}, ExitOK, "struct bits {", "", false},
		{"asserts", []string{"btf", seedBTF, "--asserts"}, ExitOK, "_Static_assert(sizeof(struct nested) ==", "", false},
		{"json", []string{"btf", seedBTF, "-o", out, "--json", "--sort"}, ExitOK, `"schema": "kheaders.btf/v1"`, "", true},
		{"unknown type", []string{"btf", seedBTF, "--types", "no_such_type"}, ExitNotFound, "", "no_such_type", false},
		{"missing src", []string{"btf", filepath.Join(dir, "nope")}, ExitNotFound, "", "no such file", false},
		{"not btf", []string{"btf", "btf_test.go"}, ExitNotFound, "", "neither BTF", false},
		{"json needs -o", []string{"btf", seedBTF, "--json"}, ExitUsage, "", "needs -o", false},
		{"bad compat", []string{"btf", seedBTF, "--compat", "bogus"}, ExitUsage, "", "unknown compat", false},
		{"two srcs", []string{"btf", seedBTF, seedBTF}, ExitUsage, "", "at most one SRC", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(out)
			stdout, stderr, code := runBTFCLI(t, tt.args...)
			if code != tt.code {
				t.Fatalf("kheaders %v: exit %d, want %d\nstderr: %s", tt.args, code, tt.code, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("kheaders %v: stdout lacks %q:\n%.500s", tt.args, tt.stdout, stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("kheaders %v: stderr lacks %q: %s", tt.args, tt.stderr, stderr)
			}
			if tt.wantFile {
				b, err := os.ReadFile(out)
				if err != nil || !bytes.Contains(b, []byte("#endif /* __VMLINUX_H__ */")) {
					t.Errorf("kheaders %v: %s not written as a header (%v)", tt.args, out, err)
				}
				var sum btfSummary
				if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
					t.Fatalf("--json output: %v", err)
				}
				if sum.Bytes != int64(len(b)) || sum.Types == 0 || !sum.Sorted || sum.Format != "raw" {
					t.Errorf("--json summary = %+v, want bytes %d, types > 0, sorted, format raw", sum, len(b))
				}
			}
		})
	}
}

// TestBTFWritesDevicesInPlace guards against renaming a temporary file over
// a device given as -o.
func TestBTFWritesDevicesInPlace(t *testing.T) {
	fi, err := os.Stat(os.DevNull)
	if err != nil || fi.Mode().IsRegular() {
		t.Skipf("%s is not a device here", os.DevNull)
	}
	if _, stderr, code := runBTFCLI(t, "btf", seedBTF, "-o", os.DevNull); code != ExitOK {
		t.Fatalf("btf -o %s: exit %d: %s", os.DevNull, code, stderr)
	}
	fi, err = os.Stat(os.DevNull)
	if err != nil || fi.Mode()&os.ModeDevice == 0 {
		t.Fatalf("%s is no longer a device after btf -o %s: %v %v", os.DevNull, os.DevNull, fi.Mode(), err)
	}
}

// TestBTFFromELF reads the .BTF section of an object clang built.
func TestBTFFromELF(t *testing.T) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("clang not found: install the Debian package clang")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "x.c")
	obj := filepath.Join(dir, "x.o")
	if err := os.WriteFile(src, []byte("struct from_elf { int a; long b; } g;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(clang, "-g", "-target", "bpf", "-c", src, "-o", obj).CombinedOutput(); err != nil {
		t.Fatalf("clang: %v\n%s", err, b)
	}
	stdout, stderr, code := runBTFCLI(t, "btf", obj, "-o", filepath.Join(dir, "h.h"), "--json")
	if code != ExitOK {
		t.Fatalf("btf %s: exit %d: %s", obj, code, stderr)
	}
	if !strings.Contains(stdout, `"format": "elf"`) {
		t.Errorf("btf %s --json: format is not elf: %s", obj, stdout)
	}
	h, _ := os.ReadFile(filepath.Join(dir, "h.h"))
	if !bytes.Contains(h, []byte("struct from_elf {\n\tint a;\n\tlong b;\n};")) {
		t.Errorf("header from ELF lacks struct from_elf:\n%s", h)
	}
}

// TestBTFFromBootImage peels real boot images: the repository's test bzImage
// (built without BTF: exit 3 and a hint) and, when fetched by
// scripts/fetch-debian-btf.sh, Debian's 6.1 cloud vmlinuz (lz4 bzImage).
func TestBTFFromBootImage(t *testing.T) {
	noBTF := filepath.Join(hosttest.Kernels(t), "bzImage-x86_64-gzip")
	if _, stderr, code := runBTFCLI(t, "btf", noBTF); code != ExitNotFound || !strings.Contains(stderr, "CONFIG_DEBUG_INFO_BTF") {
		t.Errorf("btf %s: exit %d (%s), want %d and a CONFIG_DEBUG_INFO_BTF hint", noBTF, code, stderr, ExitNotFound)
	}
	vmlinuz, _ := filepath.Glob(filepath.Join(hosttest.DebianCloud.Path(), "root/boot/vmlinuz-6.1.0-*-cloud-amd64"))
	if len(vmlinuz) == 0 {
		t.Skip("Debian 6.1 cloud vmlinuz absent: run scripts/fetch-debian-btf.sh")
	}
	out := filepath.Join(t.TempDir(), "vmlinux.h")
	stdout, stderr, code := runBTFCLI(t, "btf", vmlinuz[0], "-o", out, "--json")
	if code != ExitOK {
		t.Fatalf("btf %s: exit %d: %s", vmlinuz[0], code, stderr)
	}
	var sum btfSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Format != "image+elf" || len(sum.Chain) == 0 || sum.Chain[0] != "bzimage" || sum.Types < 50000 {
		t.Errorf("btf %s: summary %+v, want format image+elf from a bzimage with > 50000 types", vmlinuz[0], sum)
	}
}
