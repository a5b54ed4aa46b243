package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/kheaders/kheaders/locate"
)

// guestSSH is the ssh part of a remote guest: a throwaway host key (in the
// guest's initramfs) and client key, made in a temp dir before the boot.
type guestSSH struct {
	keys    string // the temp dir: hostkey, id, id.pub, known_hosts, home
	hostPub string // "ssh-ed25519 AAAA..." of hostkey
	port    int    // the host's 127.0.0.1 port forwarded to the guest's 22
}

// prepareSSH makes the keys and puts the guest's half (host key,
// authorized_keys, /etc/passwd with busybox's /bin/sh for root) under
// root, the initramfs tree. It returns nil and the reason when the ssh
// part cannot run here.
func prepareSSH(t *testing.T, g remoteGuestSpec, root string) (*guestSSH, string) {
	t.Helper()
	if g.dropbearIn() == "" {
		return nil, "no " + g.sysrootWhy
	}
	for _, p := range []string{"dropbearkey", "ssh", "ssh-keygen"} {
		if _, err := exec.LookPath(p); err != nil {
			return nil, p + " not installed (Debian dropbear-bin, openssh-client; scripts/install-deps.sh)"
		}
	}
	s := &guestSSH{keys: t.TempDir()}
	run := func(name string, args ...string) []byte {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return out
	}
	hostKey := filepath.Join(s.keys, "hostkey")
	run("dropbearkey", "-t", "ed25519", "-f", hostKey)
	for _, l := range strings.Split(string(run("dropbearkey", "-y", "-f", hostKey)), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "ssh-ed25519" {
			s.hostPub = f[0] + " " + f[1]
		}
	}
	if s.hostPub == "" {
		t.Fatal("dropbearkey -y printed no ssh-ed25519 public key")
	}
	run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kheaders-e2e", "-f", filepath.Join(s.keys, "id"))
	pub, err := os.ReadFile(filepath.Join(s.keys, "id.pub"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(hostKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"etc/dropbear", "root/.ssh", "usr"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for name, f := range map[string]struct {
		data []byte
		mode os.FileMode
	}{
		"etc/dropbear/hostkey":      {key, 0o600},
		"root/.ssh/authorized_keys": {pub, 0o600},
		"etc/passwd":                {[]byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644},
		"etc/group":                 {[]byte("root:x:0:\n"), 0o644},
		"etc/shells":                {[]byte("/bin/sh\n"), 0o644},
	} {
		if err := os.WriteFile(filepath.Join(root, name), f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "usr"), 0o755); err != nil {
		t.Fatal(err)
	}
	return s, ""
}

// sshArgv is the host's real ssh with the test's key and known_hosts and
// nothing from the user's ~/.ssh (-F /dev/null, HOME in the temp dir).
func (s *guestSSH) sshArgv() []string {
	return []string{"ssh", "-F", "/dev/null", "-i", filepath.Join(s.keys, "id"), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
		"-o", "UserKnownHostsFile=" + filepath.Join(s.keys, "known_hosts"), "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=30"}
}

// env is the environment of the host's commands: no KHEADERS_* or agent
// of the caller, HOME in the temp dir, KHEADERS_SSH the test's ssh.
func (s *guestSSH) env() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "KHEADERS_") && !strings.HasPrefix(e, "HOME=") && !strings.HasPrefix(e, "SSH_AUTH_SOCK=") {
			env = append(env, e)
		}
	}
	q := make([]string, 0, len(s.sshArgv()))
	for _, a := range s.sshArgv() {
		q = append(q, shellQuote(a))
	}
	return append(env, "HOME="+filepath.Join(s.keys, "home"), "KHEADERS_SSH="+strings.Join(q, " "))
}

type cliRun struct {
	stdout, stderr string
	code           int
	wall, cpu      time.Duration
}

func (s *guestSSH) run(t *testing.T, argv ...string) cliRun {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = s.env()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	t0 := time.Now()
	err := cmd.Run()
	r := cliRun{stdout: out.String(), stderr: errb.String(), wall: time.Since(t0)}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
		r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	} else if err != nil {
		t.Fatalf("%v: %v", argv, err)
	}
	return r
}

// remote runs a shell command in the guest over ssh.
func (s *guestSSH) remote(t *testing.T, command string) cliRun {
	t.Helper()
	return s.run(t, append(s.sshArgv(), "-p", fmt.Sprint(s.port), "root@127.0.0.1", command)...)
}

// remoteSSH: the kheaders CLI on this host against the guest's dropbear.
func remoteSSH(t *testing.T, g remoteGuestSpec, s *guestSSH, release string) {
	if err := os.MkdirAll(filepath.Join(s.keys, "home"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.keys, "known_hosts"), []byte(fmt.Sprintf("[127.0.0.1]:%d %s\n", s.port, s.hostPub)), 0o600); err != nil {
		t.Fatal(err)
	}
	// dropbear started before READY; the first connection may still
	// race it.
	var up cliRun
	for deadline := time.Now().Add(2 * time.Minute); ; {
		if up = s.remote(t, "uname -r"); up.code == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if got := strings.TrimSpace(up.stdout); up.code != 0 || got != release {
		t.Fatalf("ssh root@127.0.0.1 -p %d uname -r: exit %d, %q, want %q\n%s", s.port, up.code, got, release, up.stderr)
	}
	t.Logf("ssh into the guest: %v", up.wall.Round(time.Millisecond))
	bin := buildKheaders(t, runtime.GOARCH, s.keys)
	spec := fmt.Sprintf("ssh://root@127.0.0.1:%d", s.port)
	cache := t.TempDir()
	type result struct {
		Schema string `json:"schema"`
		locate.Headers
	}
	loc := func(what string) (result, cliRun) {
		t.Helper()
		r := s.run(t, bin, "locate", "--json", "-v", "--target", spec, "--cache-dir", cache)
		var h result
		if r.code != 0 {
			t.Fatalf("%s kheaders locate --target %s: exit %d\n%s", what, spec, r.code, r.stderr)
		}
		if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
			t.Fatalf("%s locate --json: %v\n%s", what, err, r.stdout)
		}
		if h.Schema != "kheaders.locate/v1" || !h.Verified || h.Release != release || h.Release != g.release || h.Arch != g.arch || h.Target == nil || h.Target.Spec != spec {
			t.Fatalf("%s: schema %s verified %v release %s arch %s target %+v", what, h.Schema, h.Verified, h.Release, h.Arch, h.Target)
		}
		for _, c := range h.Checks {
			if (c.Name == "config" || c.Name == "release" || c.Name == "arch") && c.Status != locate.CheckOK {
				t.Errorf("%s: check %+v", what, c)
			}
		}
		return h, r
	}
	cold, cr := loc("cold")
	const archiveCmd = "cat '/sys/kernel/kheaders.tar.xz'"
	if cold.Source != "sysfs" || cold.Cached || cold.Target.Commands != 2 || !strings.Contains(cr.stderr, archiveCmd) {
		t.Errorf("cold: source %s cached %v, %d commands; -v:\n%s", cold.Source, cold.Cached, cold.Target.Commands, cr.stderr)
	}
	warm, wr := loc("warm")
	// The warm call reads the identity only: no archive (the cold call's
	// bytes minus the identity are the archive, over 4 MB).
	if !warm.Cached || warm.Dir != cold.Dir || warm.Key != cold.Key || warm.Target.Commands != 1 || warm.Target.Bytes*10 > cold.Target.Bytes ||
		cold.Target.Bytes-warm.Target.Bytes < 1<<20 || strings.Contains(wr.stderr, archiveCmd) {
		t.Errorf("warm: cached %v, %d bytes in %d commands (cold %d bytes)\n%s", warm.Cached, warm.Target.Bytes, warm.Target.Commands, cold.Target.Bytes, wr.stderr)
	}
	t.Logf("FIGURES ssh %s: cold %v wall %v cpu, %d bytes, %d commands (identity %s); warm %v wall %v cpu, %d bytes, %d commands",
		g.arch, cr.wall.Round(time.Millisecond), cr.cpu.Round(time.Millisecond), cold.Target.Bytes, cold.Target.Commands, cold.Target.Identity,
		wr.wall.Round(time.Millisecond), wr.cpu.Round(time.Millisecond), warm.Target.Bytes, warm.Target.Commands)
	targetCommands(t, g, s, bin, spec, cache, cold.Headers)
	remotePush(t, g, s, bin, spec, release)
	if g.mismatch != "" {
		// Another kernel's archive (for x86_64 the same tree built with
		// CONFIG_IKHEADERS=n, for arm64 an x86 one) is not this guest's:
		// exit 4, naming the difference.
		src := filepath.Join(repoRoot(t), "testdata", "kernels", g.mismatch)
		r := s.run(t, bin, "locate", "--target", spec, "--source", src, "--cache-dir", cache)
		if r.code != 4 || !strings.Contains(r.stderr, g.mismatchWhy) {
			t.Errorf("%s for the %s guest over ssh: exit %d, want 4 naming %s\n%s", g.mismatch, g.arch, r.code, g.mismatchWhy, r.stderr)
		}
		t.Logf("%s refused: %s", g.mismatch, firstLine(r.stderr))
	}
	if g.loadBPF {
		loadBPF(t, g, s, bin, spec, cache)
	}
}

// loadBPF builds examples/kprobe-pid's BPF object on this host with cc
// --target for the guest's kernel and loads it in the guest with the
// static kprobe-pid for the guest's arch, which attaches the kprobe on
// do_nanosleep and checks the pid it read from its child's task_struct.
// Both files reach the guest over the 9p share of the host's /.
func loadBPF(t *testing.T, g remoteGuestSpec, s *guestSSH, bin, spec, cache string) {
	xfer := t.TempDir()
	obj := filepath.Join(xfer, "kprobe.o")
	src := filepath.Join(repoRoot(t), "examples", "kprobe-pid", "bpf", "kprobe.c")
	for _, p := range []string{"clang", "llc"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed (Debian clang, llvm; scripts/install-deps.sh)", p)
		}
	}
	r := s.run(t, bin, "cc", "-v", "--target", spec, "--cache-dir", cache, src, "-o", obj)
	if r.code != 0 {
		t.Fatalf("kheaders cc --target %s: exit %d\n%s", spec, r.code, r.stderr)
	}
	for _, want := range []string{"-D__TARGET_ARCH_" + g.arch, "/arch/" + g.arch + "/include ", "from cache of " + spec} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("cc --target -v has no %q:\n%s", want, r.stderr)
		}
	}
	t.Logf("FIGURES cc --target %s (warm headers): %v wall, %v cpu", g.arch, r.wall.Round(time.Millisecond), r.cpu.Round(time.Millisecond))
	loader := filepath.Join(xfer, "kprobe-pid")
	t0 := time.Now()
	build := exec.Command("go", "build", "-trimpath", "-o", loader, "./examples/kprobe-pid")
	build.Dir = repoRoot(t)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+g.goarch)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 GOARCH=%s go build ./examples/kprobe-pid: %v\n%s", g.goarch, err, b)
	}
	t.Logf("go build kprobe-pid for %s: %v", g.goarch, time.Since(t0).Round(time.Millisecond))
	r = s.remote(t, fmt.Sprintf("/host%s -obj /host%s", shellQuote(loader), shellQuote(obj)))
	t.Logf("kprobe-pid -obj in the guest (%v):\n%s%s", r.wall.Round(time.Millisecond), r.stdout, r.stderr)
	if r.code != 0 || !strings.Contains(r.stdout, "kprobe-pid: match") {
		t.Errorf("kprobe-pid -obj in the %s guest: exit %d, want the pid read through the target's headers to match", g.arch, r.code)
	}
	// The control needs headers with another task_struct layout. The x86
	// guest's mismatch is the =n build of the same kernel, whose layout is
	// the same, so only the arm64 guest (refused the x86 archive) has one.
	if runtime.GOARCH != "amd64" || g.mismatch == "" || g.arch == "x86" {
		return
	}
	// The control: the same program built with another kernel's headers
	// (the x86 archive, forced with --no-verify, without --target) loads
	// too, but reads task_struct at that kernel's offsets (pid at 832 for
	// the x86 build, 1080 for the arm64 one) and gets a wrong pid.
	wrong := filepath.Join(xfer, "wrong.o")
	r = s.run(t, bin, "cc", "--no-verify", "--source", filepath.Join(repoRoot(t), "testdata", "kernels", g.mismatch), "--cache-dir", cache, src, "-o", wrong)
	if r.code != 0 || !strings.Contains(r.stderr, "NOT VERIFIED") {
		t.Fatalf("kheaders cc --no-verify --source %s: exit %d, want 0 and a NOT VERIFIED warning\n%s", g.mismatch, r.code, r.stderr)
	}
	r = s.remote(t, fmt.Sprintf("/host%s -obj /host%s", shellQuote(loader), shellQuote(wrong)))
	t.Logf("control, kprobe-pid -obj with %s's headers:\n%s%s", g.mismatch, r.stdout, r.stderr)
	if r.code != 1 || !strings.Contains(r.stderr, "WRONG") {
		t.Errorf("kprobe-pid -obj with another kernel's headers in the %s guest: exit %d, want 1 and WRONG", g.arch, r.code)
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// targetCommands: extract, inspect, config and btf --target over ssh
// against the booted guest, after locate made the cache warm: extract
// writes the archive locate verified (sha256 = its cache key) reading
// only the identity; inspect sees the sysfs archive and says the cache
// holds this kernel; config is the guest's /proc/config.gz; btf (when the
// guest has BTF) writes a vmlinux.h, cold two commands, warm one.
func targetCommands(t *testing.T, g remoteGuestSpec, s *guestSSH, bin, spec, cache string, h locate.Headers) {
	out := t.TempDir()
	type tgt struct{ Bytes, Commands int64 }
	r := s.run(t, bin, "extract", "--json", "--target", spec, "--cache-dir", cache, "-o", filepath.Join(out, "k.tar.xz"))
	var ex struct {
		Archive struct{ SHA256 string }
		Target  tgt
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &ex) != nil {
		t.Fatalf("extract --target %s: exit %d\n%s%s", spec, r.code, r.stdout, r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(out, "k.tar.xz"))
	sum := sha256.Sum256(data)
	if err != nil || hex.EncodeToString(sum[:]) != h.Key || ex.Archive.SHA256 != h.Key || ex.Target.Commands != 1 {
		t.Errorf("extract --target: %d bytes (%v), sha256 %s, want the cache key %s; %+v", len(data), err, ex.Archive.SHA256, h.Key, ex.Target)
	}
	t.Logf("FIGURES ssh %s extract --target (warm): %v wall %v cpu, %d bytes, %d commands, archive %d bytes",
		g.arch, r.wall.Round(time.Millisecond), r.cpu.Round(time.Millisecond), ex.Target.Bytes, ex.Target.Commands, len(data))

	r = s.run(t, bin, "inspect", "--json", "--target", spec, "--cache-dir", cache)
	var in locate.TargetReport
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &in) != nil {
		t.Fatalf("inspect --target %s: exit %d\n%s%s", spec, r.code, r.stdout, r.stderr)
	}
	sizes := map[string]int64{}
	for _, c := range in.Carriers {
		if c.State == "ok" {
			sizes[c.Name] = c.Size
		}
	}
	if in.Release != g.release || in.Arch != g.arch || !in.HasHeaders || !in.HasConfig || in.CacheKey != h.Key || sizes["sysfs"] != int64(len(data)) || in.Commands != 2 {
		t.Errorf("inspect --target: %+v", in)
	}
	t.Logf("FIGURES ssh %s inspect --target: %v wall, %d bytes, %d commands; carriers %v, btf %v", g.arch, r.wall.Round(time.Millisecond), in.Bytes, in.Commands, sizes, in.HasBTF)

	r = s.run(t, bin, "config", "-v", "--target", spec)
	if r.code != 0 || !strings.Contains(r.stdout, "\nCONFIG_IKHEADERS=y\n") || strings.Count(r.stderr, "remote command done") != 1 {
		t.Errorf("config --target: exit %d, %d bytes\n%s", r.code, len(r.stdout), r.stderr)
	}
	t.Logf("FIGURES ssh %s config --target: %v wall, .config %d bytes, 1 command", g.arch, r.wall.Round(time.Millisecond), len(r.stdout))

	if !in.HasBTF {
		t.Logf("btf --target: the %s guest has no readable /sys/kernel/btf/vmlinux; not checked", g.arch)
		return
	}
	for _, what := range []string{"cold", "warm"} {
		r = s.run(t, bin, "btf", "--json", "--target", spec, "--cache-dir", cache, "-o", filepath.Join(out, "vmlinux.h"))
		var bt struct {
			Types  int
			Target tgt
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &bt) != nil {
			t.Fatalf("%s btf --target %s: exit %d\n%s%s", what, spec, r.code, r.stdout, r.stderr)
		}
		hdr, _ := os.ReadFile(filepath.Join(out, "vmlinux.h"))
		want := int64(2)
		if what == "warm" {
			want = 1
		}
		if bt.Types == 0 || bt.Target.Commands != want || !bytes.Contains(hdr, []byte("struct task_struct {")) {
			t.Errorf("%s btf --target: %d types, %+v, want %d commands; vmlinux.h %d bytes", what, bt.Types, bt.Target, want, len(hdr))
		}
		t.Logf("FIGURES ssh %s btf --target (%s): %v wall %v cpu, %d bytes, %d commands, BTF %d bytes, vmlinux.h %d bytes",
			g.arch, what, r.wall.Round(time.Millisecond), r.cpu.Round(time.Millisecond), bt.Target.Bytes, bt.Target.Commands, sizes["btf"], len(hdr))
	}
}

// remotePush: locate --target --push into the booted guest: the static
// kheaders for the guest's arch (cross-built for arm64) is copied over ssh
// into a temporary directory there, runs the chain on the guest (its
// sysfs archive), and the host verifies what it sends against the
// identity it read itself; the directory is gone afterwards. Warm: the
// identity only, nothing pushed.
func remotePush(t *testing.T, g remoteGuestSpec, s *guestSSH, bin, spec, release string) {
	pushBin := bin
	if g.goarch != runtime.GOARCH {
		pushBin = buildKheaders(t, g.goarch, t.TempDir())
	}
	cache := t.TempDir()
	type result struct {
		locate.Headers
	}
	loc := func(what string) (result, cliRun) {
		t.Helper()
		// The pushed kheaders extracts and verifies the archive in the
		// guest under TCG (about 50 s for arm64 at load 7): more than the
		// default 1m per command leaves room on a loaded machine.
		r := s.run(t, bin, "locate", "--json", "-v", "--target", spec, "--target-timeout", "5m", "--push", "--push-binary", pushBin, "--cache-dir", cache)
		var h result
		if r.code != 0 {
			t.Fatalf("%s locate --target %s --push: exit %d\n%s", what, spec, r.code, r.stderr)
		}
		if err := json.Unmarshal([]byte(r.stdout), &h); err != nil {
			t.Fatalf("%s locate --push --json: %v\n%s", what, err, r.stdout)
		}
		if !h.Verified || h.Release != release || h.Arch != g.arch || h.Target == nil {
			t.Fatalf("%s --push: verified %v release %s arch %s target %+v", what, h.Verified, h.Release, h.Arch, h.Target)
		}
		return h, r
	}
	cold, cr := loc("cold")
	if cold.Source != "on-target" || cold.Target.Via != "pushed" || cold.Target.RemoteSource != "sysfs" || cold.Target.Commands != 3 || !strings.Contains(cr.stderr, "kheaders push: copy") {
		t.Errorf("cold --push: source %s, target %+v\n%s", cold.Source, cold.Target, cr.stderr)
	}
	warm, wr := loc("warm")
	if warm.Source != "cache" || warm.Dir != cold.Dir || warm.Target.Commands != 1 || strings.Contains(wr.stderr, "kheaders push") {
		t.Errorf("warm --push: source %s, %d commands\n%s", warm.Source, warm.Target.Commands, wr.stderr)
	}
	if left := s.remote(t, "ls -d /tmp/kheaders-push-* 2>/dev/null; true"); strings.TrimSpace(left.stdout) != "" {
		t.Errorf("the pushed kheaders was left in the guest: %q", left.stdout)
	}
	fi, _ := os.Stat(pushBin)
	t.Logf("FIGURES ssh %s --push: binary %d bytes; cold %v wall %v cpu, %d bytes, %d commands; warm %v wall %v cpu, %d bytes, %d commands",
		g.arch, fi.Size(), cr.wall.Round(time.Millisecond), cr.cpu.Round(time.Millisecond), cold.Target.Bytes, cold.Target.Commands,
		wr.wall.Round(time.Millisecond), wr.cpu.Round(time.Millisecond), warm.Target.Bytes, warm.Target.Commands)
}
