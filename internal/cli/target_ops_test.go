package cli

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/internal/target/targettest"
)

// noObjects fails when the cache at dir holds an object or an identity.
func noObjects(t *testing.T, dir string) {
	t.Helper()
	for _, sub := range []string{"objects", "keys"} {
		if des, _ := os.ReadDir(filepath.Join(dir, sub)); len(des) != 0 {
			t.Errorf("cache %s holds %d entries after a failure", sub, len(des))
		}
	}
}

// TestExtractTarget: extract --target writes the target's verified
// archive byte for byte (-o) or unpacks it (-C); the second call reads
// only the identity; JSON names the target.
func TestExtractTarget(t *testing.T) {
	r := hosttest.Kernel612(t)
	want := r.Files["/sys/kernel/kheaders.tar.xz"]
	dir := targettest.Make(t, r)
	spec := targettest.Spec(dir)
	cache := t.TempDir()
	out := filepath.Join(t.TempDir(), "k.tar.xz")
	stdout, stderr, code := runCLI(t, nil, "extract", "--target", spec, "--cache-dir", cache, "-o", out, "--json")
	if code != 0 {
		t.Fatalf("extract --target: exit %d: %s", code, stderr)
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("wrote %d bytes (%v), want the target's %d-byte archive", len(got), err, len(want))
	}
	var res struct {
		Source, Kind, Release string
		Archive               struct{ SHA256 string }
		Target                struct {
			Spec            string
			Bytes, Commands int64
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Source != spec || res.Kind != "target" || res.Release != "6.12.117" || res.Target.Spec != spec || res.Target.Commands != 2 {
		t.Errorf("cold JSON %+v", res)
	}
	cold := res.Target
	out2 := filepath.Join(t.TempDir(), "k2.tar.xz")
	stdout, stderr, code = runCLI(t, nil, "extract", "--target", spec, "--cache-dir", cache, "-o", out2, "--json")
	if code != 0 {
		t.Fatalf("warm extract --target: exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(out2); !bytes.Equal(got, want) {
		t.Fatalf("warm: wrote %d bytes, want %d", len(got), len(want))
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.Target.Commands != 1 || res.Target.Bytes >= int64(len(want))/10 {
		t.Errorf("warm: %+v, want one small command", res.Target)
	}
	t.Logf("extract --target -o: cold %d bytes / %d commands, warm %d bytes / %d commands", cold.Bytes, cold.Commands, res.Target.Bytes, res.Target.Commands)
	tree := filepath.Join(t.TempDir(), "tree")
	if _, stderr, code := runCLI(t, nil, "extract", "--target", spec, "--cache-dir", cache, "-C", tree); code != 0 || !strings.Contains(stderr, "extracted") {
		t.Fatalf("extract --target -C: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(tree, "include/generated/utsrelease.h")); err != nil {
		t.Error(err)
	}
	if _, _, code := runCLI(t, nil, "extract", "--target", spec, "/sys/kernel/kheaders.tar.xz", "-o", out); code != ExitUsage {
		t.Errorf("--target with SRC: exit %d, want %d", code, ExitUsage)
	}
}

// TestTargetCommandFaults: a dropped link, a hang (--target-timeout) and a
// denial: a clear error, a non-zero exit, nothing written, nothing cached.
func TestTargetCommandFaults(t *testing.T) {
	dir := targettest.Make(t, hosttest.Kernel612(t))
	q := "'" + dir + "'"
	denied := targettest.Make(t, hosttest.Kernel612(t))
	for _, p := range []string{"sys/kernel/kheaders.tar.xz", "proc/config.gz"} {
		if err := os.Chmod(filepath.Join(denied, p), 0o400); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name, cmd, spec, want string
		code                  int
		extra                 []string
	}{
		{"extract-disconnect", "extract", "cmd:sh -c 'chroot " + q + ` "$@" | head -c 100000' x`, "ended early", ExitError, nil},
		{"extract-hang", "extract", "cmd:sh -c 'case \"$3\" in *\"# identity\"*) ;; *kheaders.tar.xz*) sleep 60;; esac; exec chroot " + q + ` "$@"' x`, "hangs", ExitError, []string{"--target-timeout", "1s"}},
		{"extract-denied", "extract", targettest.UnprivilegedSpec(denied), "adb root", ExitError, nil},
		{"config-disconnect", "config", "cmd:sh -c 'chroot " + q + ` "$@" | head -c 3000' x`, "ended early", ExitError, nil},
		{"config-hang", "config", "cmd:sh -c 'sleep 60' x", "hangs", ExitError, []string{"--target-timeout", "1s"}},
		{"config-denied", "config", targettest.UnprivilegedSpec(denied), "permission denied", ExitError, nil},
		{"btf-absent", "btf", targettest.Spec(dir), "CONFIG_DEBUG_INFO_BTF", ExitNotFound, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			cache := t.TempDir()
			out := filepath.Join(t.TempDir(), "out")
			args := append([]string{c.cmd, "--target", c.spec, "--cache-dir", cache, "-o", out}, c.extra...)
			_, stderr, code := runCLI(t, nil, args...)
			if code != c.code || !strings.Contains(stderr, c.want) {
				t.Fatalf("%s: exit %d, want %d with %q: %s", c.name, code, c.code, c.want, stderr)
			}
			if _, err := os.Lstat(out); err == nil {
				t.Errorf("%s wrote %s after a failure", c.cmd, out)
			}
			if des, _ := os.ReadDir(filepath.Dir(out)); len(des) != 0 {
				t.Errorf("left %d files beside the output", len(des))
			}
			noObjects(t, cache)
		})
	}
	t.Run("inspect-disconnect", func(t *testing.T) {
		_, stderr, code := runCLI(t, nil, "inspect", "--target", "cmd:sh -c 'chroot "+q+` "$@" | head -c 3000' x`)
		if code == 0 || !strings.Contains(stderr, "ended early") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	})
}

// TestConfigTarget: config --target prints the target's /proc/config.gz
// decompressed (one remote command).
func TestConfigTarget(t *testing.T) {
	r := hosttest.Kernel612(t)
	dir := targettest.Make(t, r)
	out, stderr, code := runCLI(t, nil, "config", "-v", "--target", targettest.Spec(dir))
	if code != 0 || out != string(r.Config) {
		t.Fatalf("config --target: exit %d, %d bytes (want %d): %s", code, len(out), len(r.Config), stderr)
	}
	if n := strings.Count(stderr, "remote command done"); n != 1 {
		t.Errorf("%d remote commands, want 1:\n%s", n, stderr)
	}
	f := filepath.Join(t.TempDir(), "device.config")
	if _, stderr, code := runCLI(t, nil, "config", "--target", targettest.Spec(dir), "-o", f); code != 0 {
		t.Fatalf("config --target -o: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(f); !bytes.Equal(b, r.Config) {
		t.Errorf("-o wrote %d bytes, want %d", len(b), len(r.Config))
	}
	if err := os.Remove(filepath.Join(dir, "proc/config.gz")); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := runCLI(t, nil, "config", "--target", targettest.Spec(dir)); code != ExitNotFound || !strings.Contains(stderr, "CONFIG_IKCONFIG_PROC") {
		t.Errorf("no config.gz: exit %d, want %d: %s", code, ExitNotFound, stderr)
	}
}

// TestInspectTargetCLI: the text and JSON reports of an Android-like
// target (the sysfs archive denied, kheaders.ko in /system_dlkm); after a
// locate the report says the host cache has this kernel.
func TestInspectTargetCLI(t *testing.T) {
	r := hosttest.Kernel612(t)
	r.Config = hosttest.ReadFixture(t, "ikheaders-m/config")
	r.Files = map[string][]byte{
		"/sys/kernel/kheaders.tar.xz":          hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz"),
		"/system_dlkm/lib/modules/kheaders.ko": hosttest.ReadFixture(t, "ikheaders-m/kheaders.ko"),
	}
	dir := targettest.Make(t, r)
	if err := os.Chmod(filepath.Join(dir, "sys/kernel/kheaders.tar.xz"), 0o400); err != nil {
		t.Fatal(err)
	}
	spec := targettest.UnprivilegedSpec(dir)
	cache := t.TempDir()
	out, stderr, code := runCLI(t, nil, "inspect", "--target", spec, "--cache-dir", cache)
	if code != 0 {
		t.Fatalf("inspect --target: exit %d: %s", code, stderr)
	}
	for _, w := range []string{"release:  6.12.117", "headers:  yes", "btf:      no", "/sys/kernel/kheaders.tar.xz", "denied", "/system_dlkm/lib/modules/kheaders.ko", "readable, ", "cached:   no"} {
		if !strings.Contains(out, w) {
			t.Errorf("inspect --target text lacks %q:\n%s", w, out)
		}
	}
	if _, stderr, code := runCLI(t, nil, "locate", "--target", spec, "--cache-dir", cache); code != 0 {
		t.Fatalf("locate: exit %d: %s", code, stderr)
	}
	out, stderr, code = runCLI(t, nil, "inspect", "--target", spec, "--cache-dir", cache)
	if code != 0 || !strings.Contains(out, "(headers extracted from the target's archive: locate and extract --target transfer only the identity)") {
		t.Errorf("inspect --target after locate: exit %d, text does not say the cached object is the archive's tree:\n%s%s", code, out, stderr)
	}
	out, stderr, code = runCLI(t, nil, "inspect", "--json", "--target", spec, "--cache-dir", cache)
	if code != 0 {
		t.Fatalf("inspect --target --json: exit %d: %s", code, stderr)
	}
	var rep struct {
		Schema, Spec, Release, Arch, CacheKey string `json:"-"`
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	_ = rep
	if m["schema"] != "kheaders.inspect-target/v1" || m["spec"] != spec || m["arch"] != "x86" || m["cache_key"] == nil || m["cache_kind"] != "tree" || m["commands"] != float64(2) {
		t.Errorf("JSON %v", m)
	}
	cs, _ := m["carriers"].([]any)
	states := map[string]string{}
	for _, c := range cs {
		c := c.(map[string]any)
		states[c["path"].(string)] = c["state"].(string)
	}
	if states["/sys/kernel/kheaders.tar.xz"] != "denied" || states["/system_dlkm/lib/modules/kheaders.ko"] != "ok" || states["/sys/kernel/btf/vmlinux"] != "absent" {
		t.Errorf("carrier states %v", states)
	}
}

// TestBTFTarget: btf --target writes the same vmlinux.h as btf on the
// same BTF locally, with the output flags applied; the second call reads
// only the identity.
func TestBTFTarget(t *testing.T) {
	seedPath := filepath.Join("..", "..", "btfc", "testdata", "seeds", "basic.btf")
	seed, err := os.ReadFile(seedPath)
	if err != nil {
		t.Fatal(err)
	}
	r := hosttest.Kernel612(t)
	r.Files = map[string][]byte{"/sys/kernel/btf/vmlinux": seed}
	dir := targettest.Make(t, r)
	spec := targettest.Spec(dir)
	cache := t.TempDir()
	for _, flags := range [][]string{nil, {"--sort"}, {"--compat", "bpftool-7.1"}} {
		local, stderr, code := runCLI(t, nil, append([]string{"btf", seedPath}, flags...)...)
		if code != 0 {
			t.Fatalf("btf %s: exit %d: %s", seedPath, code, stderr)
		}
		remote, stderr, code := runCLI(t, nil, append([]string{"btf", "--target", spec, "--cache-dir", cache}, flags...)...)
		if code != 0 || remote != local {
			t.Fatalf("btf --target %v: exit %d, %d bytes, want the local %d bytes: %s", flags, code, len(remote), len(local), stderr)
		}
	}
	// JSON: warm (the cache has the BTF since the first call).
	out := filepath.Join(t.TempDir(), "vmlinux.h")
	js, stderr, code := runCLI(t, nil, "btf", "--target", spec, "--cache-dir", cache, "-o", out, "--json")
	if code != 0 {
		t.Fatalf("btf --target --json: exit %d: %s", code, stderr)
	}
	var sum struct {
		Source string
		Types  int
		Target struct{ Bytes, Commands int64 }
	}
	if err := json.Unmarshal([]byte(js), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Types == 0 || sum.Target.Commands != 1 || !strings.HasSuffix(sum.Source, ":/sys/kernel/btf/vmlinux") {
		t.Errorf("warm JSON %+v", sum)
	}
	coldCache := t.TempDir()
	js, stderr, code = runCLI(t, nil, "btf", "--target", spec, "--cache-dir", coldCache, "-o", out, "--json")
	if code != 0 {
		t.Fatalf("cold btf --target: exit %d: %s", code, stderr)
	}
	warm := sum.Target
	if err := json.Unmarshal([]byte(js), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Target.Commands != 2 || sum.Target.Bytes < int64(len(seed)) || sum.Types == 0 {
		t.Errorf("cold JSON %+v", sum)
	}
	// A cold call with the default options writes the vmlinux.h generated
	// for the host cache (once), byte for byte the local one; with other
	// options it generates its own.
	local, _, _ := runCLI(t, nil, "btf", seedPath)
	for _, flags := range [][]string{nil, {"--sort"}} {
		remote, stderr, code := runCLI(t, nil, append([]string{"btf", "-v", "--target", spec, "--cache-dir", t.TempDir()}, flags...)...)
		once := strings.Contains(stderr, "vmlinux.h as generated for the host cache")
		if code != 0 || once != (flags == nil) || flags == nil && remote != local {
			t.Errorf("cold btf --target %v: exit %d, generated once: %v, same as local: %v\n%s", flags, code, once, remote == local, stderr)
		}
	}
	t.Logf("btf --target: cold %d bytes / %d commands, warm %d bytes / %d commands (BTF %d bytes)", sum.Target.Bytes, sum.Target.Commands, warm.Bytes, warm.Commands, len(seed))
	// locate on this BTF-only target: kind btf, labelled as locally.
	lo, stderr, code := runCLI(t, nil, "locate", "--json", "--target", spec, "--cache-dir", cache)
	if code != 0 || !strings.Contains(lo, `"kind": "btf"`) || !strings.Contains(stderr, "BTF-derived") {
		t.Errorf("locate --target on a BTF-only target: exit %d\n%s%s", code, lo, stderr)
	}
}

// TestTargetOpsADB: Debian's adb client against the adb test server, on a
// fake Android device whose sysfs archive the shell may not read and whose
// kheaders.ko is in /system_dlkm: inspect names the denial, extract takes
// the archive out of the module (verified), warm with one exec:, config
// reads /proc/config.gz.
func TestTargetOpsADB(t *testing.T) {
	r := hosttest.Kernel612(t)
	r.Config = hosttest.ReadFixture(t, "ikheaders-m/config")
	want := hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz")
	r.Files = map[string][]byte{
		"/sys/kernel/kheaders.tar.xz":                                 want,
		"/system_dlkm/lib/modules/6.12.117/kernel/kernel/kheaders.ko": hosttest.ReadFixture(t, "ikheaders-m/kheaders.ko"),
	}
	dir := targettest.Make(t, r)
	if err := os.Chmod(filepath.Join(dir, "sys/kernel/kheaders.tar.xz"), 0o400); err != nil {
		t.Fatal(err)
	}
	srv := targettest.StartADB(t, dir, "fake-device-2")
	t.Setenv("ADB_SERVER_SOCKET", srv.Socket)
	t.Setenv("HOME", t.TempDir())
	spec := "adb:fake-device-2"
	cache := t.TempDir()
	out, stderr, code := runCLI(t, nil, "inspect", "--target", spec, "--cache-dir", cache)
	if code != 0 || !strings.Contains(out, "denied") || !strings.Contains(out, "/system_dlkm/lib/modules/6.12.117/kernel/kernel/kheaders.ko") {
		t.Fatalf("inspect --target adb: exit %d\n%s%s", code, out, stderr)
	}
	execs := func() int {
		n := 0
		for _, q := range srv.Seen() {
			if strings.HasPrefix(q, "exec:") {
				n++
			}
		}
		return n
	}
	before := execs()
	f := filepath.Join(t.TempDir(), "k.tar.xz")
	if _, stderr, code := runCLI(t, nil, "extract", "--target", spec, "--cache-dir", cache, "-o", f); code != 0 {
		t.Fatalf("extract --target adb: exit %d: %s", code, stderr)
	}
	if got, _ := os.ReadFile(f); !bytes.Equal(got, want) {
		t.Fatalf("extract --target adb wrote %d bytes, want the module's %d-byte archive", len(got), len(want))
	}
	cold := execs() - before
	before = execs()
	if _, stderr, code := runCLI(t, nil, "extract", "--target", spec, "--cache-dir", cache, "-o", f); code != 0 {
		t.Fatalf("warm extract --target adb: exit %d: %s", code, stderr)
	}
	if warm := execs() - before; cold != 2 || warm != 1 {
		t.Errorf("exec: requests cold %d, warm %d; want 2 and 1", cold, warm)
	}
	out, stderr, code = runCLI(t, nil, "config", "--target", spec)
	if code != 0 || out != string(r.Config) {
		t.Errorf("config --target adb: exit %d, %d bytes: %s", code, len(out), stderr)
	}
}

// TestCCTargetBTF: cc --target on a target that has BTF but no kheaders
// compiles a CO-RE program against the vmlinux.h derived from the
// target's BTF (one clang step, -target bpf), labelled BTF-derived; the
// second compile reads only the identity and gives the same object.
func TestCCTargetBTF(t *testing.T) {
	if _, err := exec.LookPath("clang"); err != nil {
		t.Skip("skipping: clang not installed (Debian package clang)")
	}
	seed, err := os.ReadFile(filepath.Join("..", "..", "btfc", "testdata", "seeds", "basic.btf"))
	if err != nil {
		t.Fatal(err)
	}
	r := hosttest.Kernel612(t)
	r.Files = map[string][]byte{"/sys/kernel/btf/vmlinux": seed}
	spec := targettest.Spec(targettest.Make(t, r))
	src := filepath.Join(t.TempDir(), "prog.c")
	prog := "#include \"vmlinux.h\"\n__attribute__((section(\"kprobe/do_nanosleep\"), used)) int prog(void *ctx) { return 0; }\nchar LICENSE[] __attribute__((section(\"license\"), used)) = \"GPL\";\n"
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	var objs [2][]byte
	for i, what := range []string{"cold", "warm"} {
		obj := filepath.Join(t.TempDir(), "prog.o")
		_, stderr, code := runCLI(t, nil, "cc", "-v", "--target", spec, "--cache-dir", cache, src, "-o", obj)
		if code != 0 {
			t.Fatalf("%s cc --target on a BTF-only target: exit %d:\n%s", what, code, stderr)
		}
		f, err := elf.Open(obj)
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != elf.EM_BPF || f.Section("kprobe/do_nanosleep") == nil {
			t.Errorf("%s: machine %v, want EM_BPF with section kprobe/do_nanosleep", what, f.Machine)
		}
		f.Close()
		objs[i], _ = os.ReadFile(obj)
		if !strings.Contains(stderr, "BTF-derived") {
			t.Errorf("%s: cc does not label the BTF-derived headers:\n%s", what, stderr)
		}
		if what == "warm" && (!strings.Contains(stderr, "commands=1") || strings.Contains(stderr, "cat '/sys/kernel/btf/vmlinux'")) {
			t.Errorf("warm cc --target read more than the identity:\n%s", stderr)
		}
	}
	if !bytes.Equal(objs[0], objs[1]) {
		t.Error("the warm compile gave another object")
	}
}
