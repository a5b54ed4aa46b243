package cli

import (
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/internal/testbin"
)

// runCLI runs the CLI in-process and returns stdout, stderr and the exit code.
func runCLI(t testing.TB, environ map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return environ[k] },
		Environ: func() []string {
			var e []string
			for k, v := range environ {
				e = append(e, k+"="+v)
			}
			return append(e, "PATH="+os.Getenv("PATH"))
		},
	}
	code := Main(context.Background(), env, args)
	return out.String(), errb.String(), code
}

// locCache is a cache shared by the tests that do not inspect cache state.
var (
	locCacheOnce sync.Once
	locCacheDir  string
)

func sharedCacheDir(t testing.TB) string {
	locCacheOnce.Do(func() {
		d, err := os.MkdirTemp("", "kheaders-cli-test-")
		if err != nil {
			t.Fatal(err)
		}
		locCacheDir = filepath.Join(d, "cache")
	})
	return locCacheDir
}

func fixtureRoot(t testing.TB) string {
	return hosttest.Make(t, hosttest.Kernel612(t))
}

func TestLocateCommand(t *testing.T) {
	root := fixtureRoot(t)
	cache := sharedCacheDir(t)
	out, stderr, code := runCLI(t, nil, "locate", "--host-root", root, "--cache-dir", cache)
	if code != ExitOK {
		t.Fatalf("locate exit %d, stderr:\n%s", code, stderr)
	}
	dir := strings.TrimSpace(out)
	if _, err := os.Stat(filepath.Join(dir, "include/linux/sched.h")); err != nil {
		t.Fatalf("locate printed %q, which has no include/linux/sched.h", dir)
	}
	out, stderr, code = runCLI(t, map[string]string{"KHEADERS_HOST_ROOT": root, "KHEADERS_CACHE": cache}, "locate", "--json")
	if code != ExitOK {
		t.Fatalf("locate --json exit %d: %s", code, stderr)
	}
	var r struct {
		Schema, Dir, Release, Arch, Source string
		Verified                           bool
		Checks                             []struct{ Name, Status string }
		Attempts                           []struct{ Source, Outcome string }
		Flags                              []string
		Env                                []struct{ Name, Value string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("locate --json: %v\n%s", err, out)
	}
	if r.Schema != "kheaders.locate/v1" || r.Dir != dir || r.Release != "6.12.117" || r.Arch != "x86" || !r.Verified || r.Source != "cache" {
		t.Errorf("locate --json = %+v", r)
	}
	for _, c := range r.Checks {
		if c.Status != "ok" {
			t.Errorf("check %s = %s, want ok", c.Name, c.Status)
		}
	}
	if len(r.Checks) != 5 || len(r.Flags) == 0 || len(r.Env) == 0 || len(r.Attempts) < 2 {
		t.Errorf("locate --json lacks checks/flags/env/attempts: %+v", r)
	}
	// -v explains each decision on stderr.
	_, stderr, _ = runCLI(t, nil, "locate", "-v", "--host-root", root, "--cache-dir", cache)
	for _, s := range []string{"source=override", "source=cache"} {
		if !strings.Contains(stderr, s) {
			t.Errorf("locate -v stderr lacks %q:\n%s", s, stderr)
		}
	}
}

func TestLocateCommandMismatch(t *testing.T) {
	r := hosttest.Kernel612(t)
	r.Release = "6.12.117-other"
	root := hosttest.Make(t, r)
	cache := sharedCacheDir(t)
	_, stderr, code := runCLI(t, nil, "locate", "--host-root", root, "--cache-dir", cache)
	if code != ExitVerify {
		t.Fatalf("locate (other release) exit %d, want %d; stderr:\n%s", code, ExitVerify, stderr)
	}
	if !strings.Contains(stderr, "release: running kernel 6.12.117-other, headers 6.12.117") {
		t.Errorf("report does not name the release difference:\n%s", stderr)
	}
	out, stderr, code := runCLI(t, nil, "locate", "--no-verify", "--host-root", root, "--cache-dir", cache)
	if code != ExitOK || !strings.Contains(stderr, "WARNING") || strings.TrimSpace(out) == "" {
		t.Errorf("locate --no-verify exit %d out %q stderr %q; want the dir and a loud warning", code, out, stderr)
	}
}

func TestLocateCommandNotFound(t *testing.T) {
	root := hosttest.Make(t, hosttest.Root{Release: "6.18.44", Machine: "x86_64", Config: []byte("# CONFIG_IKHEADERS is not set\n")})
	out, stderr, code := runCLI(t, nil, "locate", "--json", "--sources", "-btf", "--host-root", root, "--cache-dir", filepath.Join(t.TempDir(), "c"))
	if code != ExitNotFound {
		t.Fatalf("locate exit %d, want %d; stderr %s", code, ExitNotFound, stderr)
	}
	var r struct {
		Schema   string
		Exit     int
		Attempts []struct{ Source, Outcome, Reason, Fix string }
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("failure JSON: %v\n%s", err, out)
	}
	if r.Exit != ExitNotFound || len(r.Attempts) < 7 {
		t.Errorf("failure JSON = %+v", r)
	}
	if !strings.Contains(stderr, "CONFIG_IKHEADERS is not set") || !strings.Contains(stderr, "fix:") {
		t.Errorf("stderr does not explain and give fixes:\n%s", stderr)
	}
	if _, _, code := runCLI(t, nil, "locate", "--sources", "nosuch"); code != ExitUsage {
		t.Errorf("--sources nosuch exit %d, want usage", code)
	}
}

// TestLocateRealHostCommand runs locate on the machine running the tests:
// headers (0), none (3) or mismatching ones (4), never another error.
func TestLocateRealHostCommand(t *testing.T) {
	out, stderr, code := runCLI(t, nil, "locate", "--load-module", "never", "--sources", "-btf", "--cache-dir", filepath.Join(t.TempDir(), "c"))
	switch code {
	case ExitOK, ExitNotFound, ExitVerify:
		t.Logf("this host: exit %d %s%s", code, out, stderr)
	default:
		t.Fatalf("locate on this host exit %d:\n%s", code, stderr)
	}
}

func TestCflagsEnvExec(t *testing.T) {
	root := fixtureRoot(t)
	cache := sharedCacheDir(t)
	base := []string{"--host-root", root, "--cache-dir", cache}
	out, stderr, code := runCLI(t, nil, append([]string{"locate"}, base...)...)
	if code != 0 {
		t.Fatal(stderr)
	}
	dir := strings.TrimSpace(out)
	out, _, code = runCLI(t, nil, append([]string{"cflags"}, base...)...)
	want := fmt.Sprintf("-I%[1]s/arch/x86/include -I%[1]s/arch/x86/include/generated -I%[1]s/include -I%[1]s/arch/x86/include/uapi -I%[1]s/arch/x86/include/generated/uapi -I%[1]s/include/uapi -I%[1]s/include/generated/uapi -include %[1]s/include/linux/kconfig.h -D__KERNEL__\n", dir)
	if code != 0 || out != want {
		t.Errorf("cflags = %q (exit %d)\nwant   %q", out, code, want)
	}
	out, _, _ = runCLI(t, nil, append([]string{"env"}, base...)...)
	for _, s := range []string{"BCC_KERNEL_SOURCE=" + dir + "\n", "BPFTRACE_KERNEL_SOURCE=" + dir + "\n", "BPFTRACE_KERNEL_BUILD=" + dir + "\n", "KHEADERS_RELEASE=6.12.117\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("env output lacks %q:\n%s", s, out)
		}
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	out, stderr, code = runCLI(t, map[string]string{"BCC_KERNEL_SOURCE": "/stale"}, append(append([]string{"exec"}, base...), "--", "sh", "-c", "echo $BCC_KERNEL_SOURCE; echo $BPFTRACE_KERNEL_BUILD")...)
	if code != 0 || out != dir+"\n"+dir+"\n" {
		t.Errorf("exec printed %q (exit %d, %s), want the dir twice", out, code, stderr)
	}
	_, _, code = runCLI(t, nil, append(append([]string{"exec"}, base...), "--", "sh", "-c", "exit 7")...)
	if code != 7 {
		t.Errorf("exec of 'exit 7' exit %d, want 7", code)
	}
}

// TestClangBPF is the acceptance check: a BPF program that includes
// <linux/sched.h> and reads task_struct fields compiles with the flags of
// 'kheaders cflags --bpf' over the 6.12 fixture headers.
func TestClangBPF(t *testing.T) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("clang not installed (Debian package clang)")
	}
	llc, err := exec.LookPath("llc")
	if err != nil {
		t.Skip("llc not installed (Debian package llvm)")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("the fixture headers are x86; the host-target front end must be x86_64")
	}
	t.Run("fixture-6.12", func(t *testing.T) { compileBPF(t, clang, llc, fixtureRoot(t)) })
	t.Run("debian-split", func(t *testing.T) {
		dir := hosttest.DebianHeaders.Need(t, "release")
		compileBPF(t, clang, llc, filepath.Join(dir, "root"))
	})
}

func compileBPF(t *testing.T, clang, llc, root string) {
	out, stderr, code := runCLI(t, nil, "cflags", "--bpf", "--json", "--host-root", root, "--cache-dir", sharedCacheDir(t))
	if code != 0 {
		t.Fatal(stderr)
	}
	var r struct{ Flags []string }
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "prog.c")
	os.WriteFile(src, []byte(`#include <linux/sched.h>
#include <linux/ptrace.h>

#define SEC(n) __attribute__((section(n), used))

SEC("kprobe/do_exit")
int probe(struct pt_regs *ctx)
{
	struct task_struct *t = (struct task_struct *)ctx->di;
	return t->pid + t->tgid + t->prio + (int)t->nr_cpus_allowed;
}

char _license[] SEC("license") = "GPL";
`), 0o644)
	bc := filepath.Join(dir, "prog.bc")
	obj := filepath.Join(dir, "prog.o")
	args := append(append([]string{}, r.Flags...), "-O2", "-emit-llvm", "-c", src, "-o", bc)
	if b, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
		t.Fatalf("clang %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	if b, err := exec.Command(llc, "-march=bpf", "-filetype=obj", bc, "-o", obj).CombinedOutput(); err != nil {
		t.Fatalf("llc: %v\n%s", err, b)
	}
	f, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_BPF {
		t.Fatalf("%s machine %v, want EM_BPF", obj, f.Machine)
	}
	sec := f.Section("kprobe/do_exit")
	if sec == nil || sec.Size < 8*4 {
		t.Fatalf("no BPF code in section kprobe/do_exit")
	}
	// 'clang -target bpf' in one step: reported, not required (x86 inline
	// asm constraints in kernel-internal headers are rejected by clang's
	// BPF target; see kheaders cflags --help).
	args = append(append([]string{"-target", "bpf"}, r.Flags...), "-O2", "-c", src, "-o", filepath.Join(dir, "direct.o"))
	if b, err := exec.Command(clang, args...).CombinedOutput(); err != nil {
		first, _, _ := strings.Cut(string(b[bytes.Index(b, []byte("error:")):]), "\n")
		t.Logf("clang -target bpf in one step fails as expected with x86 kernel-internal headers: %s", first)
	} else {
		t.Logf("clang -target bpf in one step also compiled")
	}
}

// TestConcurrentLocate16 starts 16 kheaders processes on one empty cache:
// one extraction, 16 identical answers, and no partial tree visible at any
// time.
func TestConcurrentLocate16(t *testing.T) {
	bin := testbin.Kheaders(t)
	root := fixtureRoot(t)
	cache := filepath.Join(t.TempDir(), "cache")
	const n = 16
	var wg sync.WaitGroup
	type result struct {
		out, errs string
		err       error
	}
	res := make([]result, n)
	stop := make(chan struct{})
	var partial atomic.Value
	var polls atomic.Int64
	go func() { // observer: every published object must be complete
		for {
			select {
			case <-stop:
				return
			default:
			}
			polls.Add(1)
			ents, _ := os.ReadDir(filepath.Join(cache, "objects"))
			for _, e := range ents {
				d := filepath.Join(cache, "objects", e.Name())
				for _, f := range []string{"manifest.json", "headers/include/linux/kconfig.h", "headers/include/generated/autoconf.h", "headers/include/linux/sched.h"} {
					if _, err := os.Stat(filepath.Join(d, f)); err != nil {
						partial.Store(fmt.Sprintf("%s visible without %s", d, f))
					}
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(bin, "locate", "--json", "--host-root", root, "--cache-dir", cache)
			var o, e bytes.Buffer
			cmd.Stdout, cmd.Stderr = &o, &e
			err := cmd.Run()
			res[i] = result{o.String(), e.String(), err}
		}()
	}
	wg.Wait()
	close(stop)
	if p := partial.Load(); p != nil {
		t.Errorf("partial tree observed: %s", p)
	}
	fresh := 0
	var dirs []string
	for i, r := range res {
		if r.err != nil {
			t.Fatalf("process %d: %v\n%s", i, r.err, r.errs)
		}
		var j struct {
			Dir      string
			Cached   bool
			Verified bool
		}
		if err := json.Unmarshal([]byte(r.out), &j); err != nil {
			t.Fatalf("process %d output: %v", i, err)
		}
		if !j.Cached {
			fresh++
		}
		if !j.Verified {
			t.Errorf("process %d: not verified", i)
		}
		dirs = append(dirs, j.Dir)
	}
	for i := range dirs {
		if dirs[i] != dirs[0] {
			t.Errorf("process %d answered %s, process 0 %s", i, dirs[i], dirs[0])
		}
	}
	if fresh != 1 {
		t.Errorf("%d processes extracted, want exactly 1", fresh)
	}
	objs, _ := os.ReadDir(filepath.Join(cache, "objects"))
	tmps, _ := os.ReadDir(filepath.Join(cache, "tmp"))
	if len(objs) != 1 || len(tmps) != 0 {
		t.Errorf("cache holds %d objects and %d temporary dirs, want 1 and 0", len(objs), len(tmps))
	}
	// The tree is complete: its file count equals the manifest's.
	var m struct{ Files int }
	b, _ := os.ReadFile(filepath.Join(cache, "objects", objs[0].Name(), "manifest.json"))
	json.Unmarshal(b, &m)
	files := 0
	filepath.WalkDir(dirs[0], func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files++
		}
		return nil
	})
	if files != m.Files || files < 6000 {
		t.Errorf("tree has %d files, manifest %d", files, m.Files)
	}
	t.Logf("16 processes: 1 extraction, %d files, observer polled %d times", files, polls.Load())
}

func TestCacheCommandTamper(t *testing.T) {
	root := fixtureRoot(t)
	cache := filepath.Join(t.TempDir(), "cache")
	base := []string{"--host-root", root, "--cache-dir", cache}
	out, stderr, code := runCLI(t, nil, append([]string{"locate"}, base...)...)
	if code != 0 {
		t.Fatal(stderr)
	}
	dir := strings.TrimSpace(out)
	out, _, code = runCLI(t, nil, "cache", "verify", "--cache-dir", cache)
	if code != 0 || !strings.Contains(out, " ok (6679 files)") {
		t.Fatalf("cache verify (clean) exit %d:\n%s", code, out)
	}
	victim := filepath.Join(dir, "include/linux/sched.h")
	orig, _ := os.ReadFile(victim)
	os.WriteFile(victim, append([]byte("#define task_struct evil\n"), orig...), 0o644)
	out, _, code = runCLI(t, nil, "cache", "verify", "--cache-dir", cache)
	if code != ExitVerify || !strings.Contains(out, "modified include/linux/sched.h") {
		t.Fatalf("cache verify (tampered) exit %d, want %d naming the file:\n%s", code, ExitVerify, out)
	}
	out, _, _ = runCLI(t, nil, "cache", "ls", "--cache-dir", cache)
	if !strings.Contains(out, "damaged") {
		t.Errorf("cache ls does not show the damaged object:\n%s", out)
	}
	// The next locate replaces it.
	out, stderr, code = runCLI(t, nil, append([]string{"locate", "--json"}, base...)...)
	if code != 0 {
		t.Fatal(stderr)
	}
	var j struct{ Cached bool }
	json.Unmarshal([]byte(out), &j)
	if j.Cached {
		t.Errorf("locate after tampering served the damaged tree from cache")
	}
	if b, _ := os.ReadFile(victim); !bytes.Equal(b, orig) {
		t.Errorf("tampered file not replaced")
	}
	if _, _, code := runCLI(t, nil, "cache", "verify", "--cache-dir", cache); code != 0 {
		t.Errorf("cache verify after replacement exit %d", code)
	}
	// gc and rm.
	if out, _, code := runCLI(t, nil, "cache", "gc", "--cache-dir", cache); code != 0 || !strings.HasPrefix(out, "removed 0 objects") {
		t.Errorf("cache gc = %q (exit %d)", out, code)
	}
	if out, _, code := runCLI(t, nil, "cache", "rm", "all", "--cache-dir", cache); code != 0 || !strings.HasPrefix(out, "removed ") {
		t.Errorf("cache rm all = %q (exit %d)", out, code)
	}
	if out, _, _ := runCLI(t, nil, "cache", "ls", "--json", "--cache-dir", cache); !strings.Contains(out, `"objects": []`) {
		t.Errorf("cache ls after rm = %s", out)
	}
}

func TestLocatePlantedCache(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to plant a directory owned by another user (os.Lchown)")
	}
	root := fixtureRoot(t)
	for _, tt := range []struct {
		name  string
		plant func(t *testing.T, dir string)
	}{
		{"symlink", func(t *testing.T, dir string) {
			target := t.TempDir()
			if err := os.Symlink(target, dir); err != nil {
				t.Fatal(err)
			}
			os.Lchown(dir, 65534, 65534)
		}},
		{"foreign directory", func(t *testing.T, dir string) {
			os.Mkdir(dir, 0o755)
			if err := os.Lchown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			tt.plant(t, dir)
			_, stderr, code := runCLI(t, nil, "locate", "--host-root", root, "--cache-dir", dir)
			if code != ExitError {
				t.Fatalf("locate with the planted cache %s exit %d, want %d (refused)", dir, code, ExitError)
			}
			if !strings.Contains(stderr, "unsafe cache location") || !strings.Contains(stderr, "--cache-dir") {
				t.Errorf("report does not explain the refusal:\n%s", stderr)
			}
			if fi, err := os.Lstat(dir); err != nil || host.Owner(fi) != 65534 && fi.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("planted path changed: %v %v", fi, err)
			}
		})
	}
}

// TestLocateAsUser runs the built CLI as uid 65534 (nobody): the default
// cache is $XDG_CACHE_HOME/kheaders, created 0755 and owned by that user.
func TestLocateAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as another user")
	}
	bin := testbin.Kheaders(t)
	base, err := os.MkdirTemp("", "kheaders-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	root := filepath.Join(base, "root")
	hosttest.MakeAt(t, root, hosttest.Kernel612(t))
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	home := filepath.Join(base, "home")
	os.Mkdir(home, 0o755)
	os.Chown(home, 65534, 65534)
	binCopy := filepath.Join(base, "kheaders")
	b, _ := os.ReadFile(bin)
	os.WriteFile(binCopy, b, 0o755)
	cmd := exec.Command(binCopy, "locate", "--host-root", root)
	cmd.Env = []string{"XDG_CACHE_HOME=" + filepath.Join(home, "xdg"), "HOME=" + home, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = userAttr(65534)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("locate as uid 65534: %v\n%s", err, e.String())
	}
	dir := strings.TrimSpace(o.String())
	cacheDir := filepath.Join(home, "xdg", "kheaders")
	if !strings.HasPrefix(dir, cacheDir+"/") {
		t.Errorf("locate as uid 65534 printed %s, want a tree under %s", dir, cacheDir)
	}
	for _, p := range []string{filepath.Join(home, "xdg"), cacheDir, filepath.Dir(dir)} {
		fi, err := os.Lstat(p)
		if err != nil || host.Owner(fi) != 65534 || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: owner %d mode %v (%v), want 65534 0755", p, host.Owner(fi), fi.Mode(), err)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Remove()
	os.Exit(code)
}
