package cli

import (
	"debug/elf"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/kheaders/kheaders/internal/target/targettest"
)

func TestSplitCC(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		own, clang []string
		file       string
	}{
		{[]string{"prog.c", "-o", "prog.o"}, []string{"-o", "prog.o"}, nil, "prog.c"},
		{[]string{"-v", "-I", "inc", "-DX=1", "prog.c", "-o", "p.o"}, []string{"-v", "-o", "p.o"}, []string{"-I", "inc", "-DX=1"}, "prog.c"},
		{[]string{"prog.c", "-I", "inc", "-o=p.o", "--source", "/k.ko"}, []string{"-o=p.o", "--source", "/k.ko"}, []string{"-I", "inc"}, "prog.c"},
		{[]string{"-x", "c", "-", "-o", "-", "--no-verify"}, []string{"-o", "-", "--no-verify"}, []string{"-x", "c"}, "-"},
		{[]string{"-O0", "-o", "p.o"}, []string{"-o", "p.o"}, []string{"-O0"}, ""},
		// --target is kheaders' remote target, clang's one-dash -target
		// stays clang's; every kheaders flag is recognised from the flag set.
		{[]string{"--target", "ssh://root@board", "prog.c", "-o", "p.o"}, []string{"--target", "ssh://root@board", "-o", "p.o"}, nil, "prog.c"},
		{[]string{"--target=adb:X", "-target", "aarch64-linux-gnu", "prog.c", "-o", "p.o"}, []string{"--target=adb:X", "-o", "p.o"}, []string{"-target", "aarch64-linux-gnu"}, "prog.c"},
		{[]string{"--registry", "r.example/k", "--plain-http", "--json", "prog.c", "-o", "p.o"}, []string{"--registry", "r.example/k", "--plain-http", "--json", "-o", "p.o"}, nil, "prog.c"},
		{[]string{"-h"}, []string{"-h"}, nil, ""},
	} {
		own, clang, file, err := splitCC(ccFlagSet(t), tc.args)
		if err != nil || !cmp.Equal(own, tc.own, cmpopts.EquateEmpty()) || !cmp.Equal(clang, tc.clang, cmpopts.EquateEmpty()) || file != tc.file {
			t.Errorf("splitCC(%q) = %q, %q, %q, %v; want %q, %q, %q", tc.args, own, clang, file, err, tc.own, tc.clang, tc.file)
		}
	}
	if _, _, _, err := splitCC(ccFlagSet(t), []string{"p.c", "-o"}); err == nil {
		t.Error("splitCC(p.c -o) = nil error, want a usage error")
	}
}

// ccFlagSet is cc's flag set, as runCC builds it.
func ccFlagSet(t *testing.T) *flag.FlagSet {
	t.Helper()
	fs, _ := ccFlags(&Env{})
	return fs
}

const ccProg = `#include <linux/sched.h>
#include <linux/ptrace.h>
#include <uapi/linux/bpf.h>

#define SEC(n) __attribute__((section(n), used))
static long (*probe_read)(void *dst, __u32 size, const void *src) = (void *)BPF_FUNC_probe_read_kernel;
static __u64 (*current_task)(void) = (void *)BPF_FUNC_get_current_task;

SEC("kprobe/do_nanosleep")
int kprobe_do_nanosleep(struct pt_regs *ctx)
{
	struct task_struct *t = (struct task_struct *)current_task();
	int pid = 0;
	probe_read(&pid, sizeof(pid), &t->pid);
	return pid;
}

char _license[] SEC("license") = "GPL";
`

func needClangLLC(t *testing.T) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skip("the fixture headers are x86; the host-target front end must be x86_64")
	}
	for _, n := range []string{"clang", "llc"} {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("skipping: %s not installed (Debian packages clang, llvm)", n)
		}
	}
}

// kheaders cc compiles a kprobe program against the fixture kernel's
// verified headers in one command.
func TestCCCommand(t *testing.T) {
	needClangLLC(t)
	root := fixtureRoot(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "prog.c")
	if err := os.WriteFile(src, []byte(ccProg), 0o644); err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(dir, "prog.o")
	base := []string{"cc", "--host-root", root, "--cache-dir", sharedCacheDir(t)}
	_, stderr, code := runCLI(t, nil, append(base, "-v", "-DUNUSED=1", src, "-o", obj)...)
	if code != 0 {
		t.Fatalf("cc exit %d:\n%s", code, stderr)
	}
	f, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_BPF || f.Section("kprobe/do_nanosleep") == nil {
		t.Fatalf("%s: machine %v, want EM_BPF with section kprobe/do_nanosleep", obj, f.Machine)
	}
	// -v shows the pipeline, the user's -D after kheaders' flags.
	var line string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "kheaders cc: ") && strings.Contains(l, " | ") {
			line = l
		}
	}
	if !strings.Contains(line, "-target x86_64-linux-gnu") || !strings.Contains(line, "-D__KERNEL__") ||
		!strings.Contains(line, "-DUNUSED=1 -emit-llvm -c "+src+" -o - | ") || !strings.Contains(line, "-march=bpf -filetype=obj") {
		t.Errorf("-v printed %q, want the clang | llc pipeline", line)
	}

	// -o - writes the object to stdout.
	out, stderr, code := runCLI(t, nil, append(base, src, "-o", "-")...)
	want, _ := os.ReadFile(obj)
	if code != 0 || out != string(want) {
		t.Errorf("cc -o -: exit %d, %d bytes on stdout, want %d (%s)", code, len(out), len(want), stderr)
	}

	// clang's error comes through unchanged, and nothing is written.
	bad := filepath.Join(dir, "bad.c")
	os.WriteFile(bad, []byte("#include <linux/sched.h>\nint f(struct task_struct *t) { return t->kheaders_nope; }\n"), 0o644)
	badObj := filepath.Join(dir, "bad.o")
	_, stderr, code = runCLI(t, nil, append(base, bad, "-o", badObj)...)
	if code != ExitError || !strings.Contains(stderr, "error: no member named 'kheaders_nope' in 'struct task_struct'") {
		t.Errorf("cc of a broken file: exit %d, stderr:\n%s\nwant exit 1 and clang's error", code, stderr)
	}
	if _, err := os.Stat(badObj); err == nil {
		t.Errorf("cc of a broken file wrote %s", badObj)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 3 {
		t.Errorf("dir holds %d entries after a failed cc, want 3 (prog.c, prog.o, bad.c): %v", len(ents), ents)
	}

	// -o DIR is refused.
	_, stderr, code = runCLI(t, nil, append(base, src, "-o", dir)...)
	if code != ExitError || !strings.Contains(stderr, "is a directory") {
		t.Errorf("cc -o DIR: exit %d, %s", code, stderr)
	}
}

func TestCCCommandErrors(t *testing.T) {
	root := fixtureRoot(t)
	base := []string{"cc", "--host-root", root, "--cache-dir", sharedCacheDir(t)}
	src := filepath.Join(t.TempDir(), "prog.c")
	os.WriteFile(src, []byte(ccProg), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{src}, ExitUsage, "cc needs -o OUT"},
		{[]string{"-o", "x.o"}, ExitUsage, "cc needs a C file"},
		{[]string{src, "-o", "x.o", "--load-module", "bogus"}, ExitUsage, "--load-module"},
	} {
		_, stderr, code := runCLI(t, nil, append(base, tc.args...)...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("cc %q: exit %d, stderr %q; want exit %d with %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	// No clang on $PATH: the error names the Debian package.
	t.Setenv("PATH", t.TempDir())
	out := filepath.Join(t.TempDir(), "x.o")
	_, stderr, code := runCLI(t, nil, append(base, src, "-o", out)...)
	if code != ExitError || !strings.Contains(stderr, "clang not found") || !strings.Contains(stderr, "Debian package clang (Debian 12: clang-14)") {
		t.Errorf("cc without clang: exit %d, stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("cc without clang wrote %s", out)
	}
}

// kheaders cc --target on a fake aarch64 target running the committed
// arm64 test kernel: examples/kprobe-pid's program is compiled on this host
// for the target's kernel (its verified headers, arm64 include dirs,
// __TARGET_ARCH_arm64, clang -target aarch64-linux-gnu); a second compile
// reads no archive from the target.
func TestCCTarget(t *testing.T) {
	for _, n := range []string{"clang", "llc"} {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("skipping: %s not installed (Debian packages clang, llvm)", n)
		}
	}
	if _, err := os.Stat("/usr/include/bpf/bpf_helpers.h"); err != nil {
		t.Skipf("skipping: no libbpf headers (Debian package libbpf-dev): %v", err)
	}
	spec := targettest.Spec(arm64Target(t))
	cache := t.TempDir()
	src := filepath.Join("..", "..", "examples", "kprobe-pid", "bpf", "kprobe.c")
	obj := filepath.Join(t.TempDir(), "prog.o")
	_, stderr, code := runCLI(t, nil, "cc", "-v", "--target", spec, "--cache-dir", cache, src, "-o", obj)
	if code != 0 {
		t.Fatalf("cc --target: exit %d:\n%s", code, stderr)
	}
	f, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_BPF || f.Section("kprobe/do_nanosleep") == nil || f.Section(".maps") == nil {
		t.Errorf("%s: machine %v, want EM_BPF with sections kprobe/do_nanosleep and .maps", obj, f.Machine)
	}
	var line string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(l, "kheaders cc: ") && strings.Contains(l, " | ") {
			line = l
		}
	}
	for _, want := range []string{"-target aarch64-linux-gnu ", "-D__TARGET_ARCH_arm64", "/arch/arm64/include ", "-march=bpf"} {
		if !strings.Contains(line, want) {
			t.Errorf("cc --target -v printed %q, want %q in it", line, want)
		}
	}
	if strings.Contains(line, "/arch/x86/") {
		t.Errorf("cc --target for an arm64 target used x86 headers: %q", line)
	}
	if !strings.Contains(stderr, "aarch64, headers ") || !strings.Contains(stderr, "of "+spec+")") {
		t.Errorf("cc -v does not name the target's machine and spec:\n%s", stderr)
	}
	// Warm: one remote command (the identity), no archive, the same object.
	obj2 := filepath.Join(t.TempDir(), "prog.o")
	_, stderr, code = runCLI(t, nil, "cc", "-v", "--target="+spec, "--cache-dir", cache, src, "-o", obj2)
	a, _ := os.ReadFile(obj)
	b, _ := os.ReadFile(obj2)
	if code != 0 || string(a) != string(b) || !strings.Contains(stderr, "commands=1") || strings.Contains(stderr, "cat '/sys/kernel/kheaders.tar.xz'") {
		t.Errorf("warm cc --target: exit %d, objects equal %v:\n%s", code, string(a) == string(b), stderr)
	}
	if !strings.Contains(stderr, "from cache of ") {
		t.Errorf("warm cc --target did not use the cache:\n%s", stderr)
	}
}
