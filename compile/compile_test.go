package compile_test

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"

	"github.com/kheaders/kheaders/archive"
	"github.com/kheaders/kheaders/btfc"
	"github.com/kheaders/kheaders/compile"
	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/locate"
)

// needCompilers skips unless clang, llc and libbpf's headers are installed.
func needCompilers(t *testing.T, llc bool) {
	t.Helper()
	if _, err := compile.Commands(&locate.Headers{Kind: locate.KindBTF, Arch: "x86"}, "x.c", nil); err != nil {
		t.Skipf("skipping: %v (scripts/install-deps.sh installs clang and llvm)", err)
	}
	if llc {
		if _, err := compile.Commands(&locate.Headers{Kind: locate.KindTree, Arch: "x86", Machine: "x86_64"}, "x.c", nil); err != nil {
			t.Skipf("skipping: %v (scripts/install-deps.sh installs clang and llvm)", err)
		}
	}
	if _, err := os.Stat("/usr/include/bpf/bpf_helpers.h"); err != nil {
		t.Skipf("skipping: no libbpf headers (Debian package libbpf-dev): %v", err)
	}
}

// fixtureTree extracts the bpf-y fixture kernel's kheaders archive with the
// repo's own extraction and returns it as located headers.
func fixtureTree(t *testing.T) *locate.Headers {
	t.Helper()
	p := filepath.Join(hosttest.RepoRoot(t), "..", "shared", "fixtures", "linux-6.12.117-x86_64-bpf", "bpf-y", "kheaders_data.tar.xz")
	f, err := os.Open(p)
	if err != nil {
		t.Skipf("skipping: the bpf fixture kernels are not in ../shared (relative to the repo root): %v", err)
	}
	defer f.Close()
	dir := filepath.Join(t.TempDir(), "headers")
	if _, err := archive.Extract(t.Context(), f, dir, nil); err != nil {
		t.Fatalf("extract %s: %v", p, err)
	}
	return &locate.Headers{Dir: dir, BuildDir: dir, Release: "6.12.117-bpf-y", Machine: "x86_64", Arch: "x86", Kind: locate.KindTree}
}

// checkKprobe checks obj is a BPF object with the kprobe program in its
// section and that cilium/ebpf reads it as such.
func checkKprobe(t *testing.T, obj []byte, mapName string) {
	t.Helper()
	if err := compile.CheckObject(obj); err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		t.Fatal(err)
	}
	var secs []string
	for _, s := range f.Sections {
		secs = append(secs, s.Name)
	}
	for _, want := range []string{"kprobe/do_nanosleep", ".maps", "license", ".BTF"} {
		if !slices.Contains(secs, want) {
			t.Errorf("object sections %v: no %s", secs, want)
		}
	}
	if slices.Contains(secs, ".eh_frame") {
		t.Errorf("object has .eh_frame (libbpf warns about it): sections %v", secs)
	}
	spec, err := ebpf.LoadCollectionSpecFromReader(bytes.NewReader(obj))
	if err != nil {
		t.Fatalf("cilium/ebpf cannot read the object: %v", err)
	}
	p := spec.Programs["kprobe_do_nanosleep"]
	if p == nil || p.Type != ebpf.Kprobe || p.AttachTo != "do_nanosleep" {
		t.Errorf("program kprobe_do_nanosleep = %+v, want a kprobe on do_nanosleep", p)
	}
	if spec.Maps[mapName] == nil {
		t.Errorf("no map %s in %v", mapName, spec.Maps)
	}
}

// exampleTreeProg is examples/kprobe-pid's program for a full header tree:
// the tests compile what the example ships rather than a copy of it.
const exampleTreeProg = "../examples/kprobe-pid/bpf/kprobe.c"

func TestCompileTree(t *testing.T) {
	needCompilers(t, true)
	h := fixtureTree(t)
	var stderr bytes.Buffer
	var traced [][]string
	obj, err := compile.Compile(t.Context(), h, exampleTreeProg, &compile.Options{
		Stderr: &stderr,
		Trace:  func(c [][]string) { traced = c },
	})
	if err != nil {
		t.Fatalf("Compile(%s) = %v\nstderr:\n%s", exampleTreeProg, err, stderr.String())
	}
	checkKprobe(t, obj, "seen")
	if len(traced) != 2 || !strings.HasPrefix(filepath.Base(traced[0][0]), "clang") || !strings.HasPrefix(filepath.Base(traced[1][0]), "llc") {
		t.Fatalf("traced commands %q, want clang then llc", traced)
	}
	c := strings.Join(traced[0], " ")
	for _, want := range []string{"-target x86_64-linux-gnu", "-emit-llvm", "-D__KERNEL__", "-D__TARGET_ARCH_x86", "-I" + h.Dir + "/arch/x86/include", "-include " + h.Dir + "/include/linux/kconfig.h"} {
		if !strings.Contains(c, want) {
			t.Errorf("clang command %q lacks %q", c, want)
		}
	}
	if l := strings.Join(traced[1][1:], " "); l != "-march=bpf -filetype=obj -o -" {
		t.Errorf("llc args %q", l)
	}
}

// The source can come on stdin ("-"), so a Go tool can compile an embedded
// program without writing it anywhere.
func TestCompileStdin(t *testing.T) {
	needCompilers(t, true)
	h := fixtureTree(t)
	src, err := os.ReadFile(exampleTreeProg)
	if err != nil {
		t.Fatal(err)
	}
	// -x c tells clang the language of "-".
	obj, err := compile.Compile(t.Context(), h, "-", &compile.Options{Stdin: bytes.NewReader(src), Args: []string{"-x", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	checkKprobe(t, obj, "seen")
}

func TestCompileBTF(t *testing.T) {
	needCompilers(t, false)
	data, err := os.ReadFile(locate.SysfsBTF)
	if err != nil {
		t.Skipf("skipping: this machine's kernel has no BTF: %v", err)
	}
	arch := map[string]string{"amd64": "x86", "arm64": "arm64"}[runtime.GOARCH]
	if arch == "" {
		t.Skipf("skipping: no __TARGET_ARCH_ mapping here for GOARCH %s", runtime.GOARCH)
	}
	b, _, err := btfc.Load(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	hdr, _, err := b.Generate(&btfc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "vmlinux.h"), hdr, 0o644); err != nil {
		t.Fatal(err)
	}
	h := &locate.Headers{Dir: dir, BuildDir: dir, Arch: arch, Kind: locate.KindBTF}
	var traced [][]string
	var stderr bytes.Buffer
	obj, err := compile.Compile(t.Context(), h, "testdata/kprobe_btf.c", &compile.Options{Stderr: &stderr, Trace: func(c [][]string) { traced = c }})
	if err != nil {
		t.Fatalf("Compile(kprobe_btf.c) = %v\nstderr:\n%s", err, stderr.String())
	}
	checkKprobe(t, obj, "last_pid")
	if len(traced) != 1 {
		t.Fatalf("traced %q, want one clang command", traced)
	}
	c := strings.Join(traced[0][1:], " ")
	if want := "-target bpf -g -O2 -D__TARGET_ARCH_" + arch + " -I" + dir + " -c testdata/kprobe_btf.c -o -"; c != want {
		t.Errorf("clang args %q, want %q", c, want)
	}
}

// clang's diagnostics reach Options.Stderr byte for byte as clang printed
// them, and the error says which command failed.
func TestClangErrorUnchanged(t *testing.T) {
	needCompilers(t, true)
	h := fixtureTree(t)
	cmds, err := compile.Commands(h, "testdata/broken.c", nil)
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := exec.Command(cmds[0][0], cmds[0][1:]...).CombinedOutput()
	if !bytes.Contains(direct, []byte("no_such_field_kheaders")) {
		t.Fatalf("clang run directly did not complain about the field:\n%s", direct)
	}
	var stderr bytes.Buffer
	_, err = compile.Compile(t.Context(), h, "testdata/broken.c", &compile.Options{Stderr: &stderr})
	if !errors.Is(err, compile.ErrFailed) {
		t.Fatalf("Compile(broken.c) = %v, want ErrFailed", err)
	}
	if !bytes.Equal(stderr.Bytes(), direct) {
		t.Errorf("stderr through Compile:\n%s\nclang directly:\n%s", stderr.Bytes(), direct)
	}
	if s := err.Error(); !strings.HasPrefix(s, "clang") || !strings.Contains(s, "exit status") {
		t.Errorf("error %q: want clang's exit status", s)
	}
	// Without Options.Stderr the diagnostics are in the error.
	_, err = compile.Compile(t.Context(), h, "testdata/broken.c", nil)
	var ee *compile.ExitError
	if !errors.As(err, &ee) || !strings.Contains(ee.Stderr, "no member named 'no_such_field_kheaders'") || !strings.Contains(err.Error(), "no_such_field_kheaders") {
		t.Errorf("Compile(broken.c, nil) = %v, want an *ExitError holding clang's message", err)
	}
}

// linkTools makes a directory holding symlinks to the named tools of the
// machine (or nothing), to be the whole $PATH.
func linkTools(t *testing.T, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		p, err := exec.LookPath(n)
		if err != nil {
			t.Skipf("skipping: %s not installed: %v", n, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestMissingTools(t *testing.T) {
	tree := &locate.Headers{Dir: "/h", BuildDir: "/h", Arch: "x86", Machine: "x86_64", Kind: locate.KindTree}
	btf := &locate.Headers{Dir: "/h", BuildDir: "/h", Arch: "x86", Kind: locate.KindBTF}
	t.Run("no-clang", func(t *testing.T) {
		t.Setenv("PATH", linkTools(t))
		for _, h := range []*locate.Headers{tree, btf} {
			_, err := compile.Commands(h, "p.c", nil)
			var te *compile.ToolError
			if !errors.Is(err, compile.ErrNoTool) || !errors.As(err, &te) || te.Tool != "clang" {
				t.Fatalf("Commands(%s) with empty PATH = %v, want a clang ToolError", h.Kind, err)
			}
			for _, want := range []string{"clang not found", "clang-14", "Debian package clang (Debian 12: clang-14)"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		}
	})
	t.Run("no-llc", func(t *testing.T) {
		t.Setenv("PATH", linkTools(t, "clang-14"))
		_, err := compile.Commands(tree, "p.c", nil)
		var te *compile.ToolError
		if !errors.As(err, &te) || te.Tool != "llc" || !strings.Contains(err.Error(), "Debian package llvm (Debian 12: llvm-14)") || !slices.Contains(te.Tried, "llc-14") {
			t.Fatalf("Commands(tree) without llc = %v, want an llc ToolError naming llvm", err)
		}
		// A BTF tree needs clang alone.
		c, err := compile.Commands(btf, "p.c", nil)
		if err != nil || filepath.Base(c[0][0]) != "clang-14" {
			t.Fatalf("Commands(btf) with clang-14 only = %q, %v", c, err)
		}
	})
	t.Run("llc-matches-clang", func(t *testing.T) {
		t.Setenv("PATH", linkTools(t, "clang-14", "llc", "llc-14"))
		c, err := compile.Commands(tree, "p.c", nil)
		if err != nil || filepath.Base(c[0][0]) != "clang-14" || filepath.Base(c[1][0]) != "llc-14" {
			t.Fatalf("Commands = %q, %v; want clang-14 | llc-14", c, err)
		}
	})
	t.Run("missing-in-compile", func(t *testing.T) {
		t.Setenv("PATH", linkTools(t))
		src := filepath.Join(t.TempDir(), "p.c")
		if err := os.WriteFile(src, []byte("int x;\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := compile.Compile(t.Context(), tree, src, nil); !errors.Is(err, compile.ErrNoTool) {
			t.Fatalf("Compile with empty PATH = %v, want ErrNoTool", err)
		}
	})
}

func TestCommandsArgsOrder(t *testing.T) {
	t.Setenv("PATH", linkTools(t, "clang", "llc"))
	h := &locate.Headers{Dir: "/h", BuildDir: "/h", Arch: "arm64", Machine: "aarch64", Kind: locate.KindTree}
	c, err := compile.Commands(h, "p.c", &compile.Options{Args: []string{"-O0", "-DX=1"}})
	if err != nil {
		t.Fatal(err)
	}
	a := strings.Join(c[0][1:], " ")
	if !strings.HasPrefix(a, "-target aarch64-linux-gnu -I/h/arch/arm64/include") ||
		!strings.HasSuffix(a, "-O2 -g -O0 -DX=1 -emit-llvm -c p.c -o -") ||
		!strings.Contains(a, "-D__TARGET_ARCH_arm64") {
		t.Errorf("clang args %q: want the arch's triple first, the user's args after -O2 -g, the file last", a)
	}
	if _, err := compile.Commands(&locate.Headers{Arch: "sh", Machine: "sh4", Kind: locate.KindTree}, "p.c", nil); !errors.Is(err, compile.ErrNotSupported) {
		t.Errorf("Commands(sh) = %v, want ErrNotSupported (no clang triple)", err)
	}
}

func TestCheckObject(t *testing.T) {
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Skip(err)
	}
	for name, b := range map[string][]byte{"empty": nil, "text": []byte("not elf"), "host-binary": self} {
		if err := compile.CheckObject(b); !errors.Is(err, compile.ErrBadObject) {
			t.Errorf("CheckObject(%s) = %v, want ErrBadObject", name, err)
		}
	}
}

// CheckObject reads compiler output with debug/elf: it must never panic,
// and accept only BPF relocatable objects.
func FuzzCheckObject(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00\xf7\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := compile.CheckObject(b); err != nil && !errors.Is(err, compile.ErrBadObject) {
			t.Fatalf("CheckObject: %v does not wrap ErrBadObject", err)
		}
	})
}
