package target

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/internal/target/targettest"
)

func TestParse(t *testing.T) {
	env := func(k string) string {
		if k == "KHEADERS_SSH" {
			return "ssh -i '/tmp/my key'"
		}
		return ""
	}
	for _, c := range []struct {
		spec string
		want []string
	}{
		{"ssh://host", []string{"ssh", "-i", "/tmp/my key", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-T", "--", "host"}},
		{"ssh://me@10.0.0.2:2222", []string{"ssh", "-i", "/tmp/my key", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-T", "-p", "2222", "-l", "me", "--", "10.0.0.2"}},
		{"ssh://[::1]:22", []string{"ssh", "-i", "/tmp/my key", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-T", "-p", "22", "--", "::1"}},
		{"adb", []string{"adb", "exec-out"}},
		{"adb:emulator-5554", []string{"adb", "-s", "emulator-5554", "exec-out"}},
		{`cmd:docker exec -i "my c"`, []string{"docker", "exec", "-i", "my c", "sh", "-c"}},
		{"cmd:chroot /srv/root", []string{"chroot", "/srv/root", "sh", "-c"}},
	} {
		tg, err := Parse(c.spec, env)
		if err != nil {
			t.Fatalf("%s: %v", c.spec, err)
		}
		if strings.Join(tg.prefix, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: argv %q, want %q", c.spec, tg.prefix, c.want)
		}
	}
	for _, bad := range []string{"", "ssh://", "ssh://-oProxyCommand=x", "ssh://h:0", "ssh://h:99999", "ssh://@h", "adb:", "cmd:", "cmd:'open", "http://x", "ssh://[::1"} {
		if _, err := Parse(bad, env); !errors.Is(err, ErrSpec) {
			t.Errorf("%q: err %v, want ErrSpec", bad, err)
		}
	}
}

func TestSplitStatus(t *testing.T) {
	m := "KHEADERS-STATUS-00:"
	for _, c := range []struct {
		in     string
		data   string
		status int
		ok     bool
	}{
		{"abc\n" + m + "0\n", "abc", 0, true},
		{"\n" + m + "3\n", "", 3, true},
		{"x\n" + m + "0\ny\n" + m + "1\n", "x\n" + m + "0\ny", 1, true},
		{"abc", "", 0, false},
		{"abc\n" + m + "0", "", 0, false},
		{"abc\n" + m + "\n", "", 0, false},
		{"abc\n" + m + "999\n", "", 0, false},
	} {
		d, s, err := SplitStatus([]byte(c.in), m)
		if (err == nil) != c.ok || c.ok && (string(d) != c.data || s != c.status) {
			t.Errorf("%q: %q %d %v", c.in, d, s, err)
		}
	}
}

// fakeTarget returns a cmd: target chrooting into a fake root of the 6.12
// fixture kernel.
func fakeTarget(t *testing.T, r hosttest.Root) (*Target, string) {
	dir := targettest.Make(t, r)
	tg, err := Parse("cmd:chroot "+Quote(dir), nil)
	if err != nil {
		t.Fatal(err)
	}
	tg.Timeout = 20 * time.Second
	return tg, dir
}

func TestRunChroot(t *testing.T) {
	r := hosttest.Kernel612(t)
	tg, _ := fakeTarget(t, r)
	ctx := context.Background()
	// Binary-safe: the archive comes back byte for byte.
	got, err := tg.ReadFile(ctx, SysfsArchive, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, r.Files[SysfsArchive]) {
		t.Fatalf("archive: %d bytes, want %d identical", len(got), len(r.Files[SysfsArchive]))
	}
	if n, c := tg.Received(); n < int64(len(got)) || c != 1 {
		t.Errorf("received %d bytes in %d commands", n, c)
	}
	if _, err := tg.ReadFile(ctx, "/nonexistent", 1<<20); !errors.Is(err, ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := tg.ReadFile(ctx, SysfsArchive, 1000); !errors.Is(err, ErrTooLarge) {
		t.Errorf("limit: %v", err)
	}
	if _, err := tg.Run(ctx, "exit 7", 10); err == nil || !strings.Contains(err.Error(), "exit status 7") {
		t.Errorf("status: %v", err)
	}
	// A command cut short (the shell killed mid-output) is a truncation.
	_, err = tg.Run(ctx, "cat /sys/kernel/kheaders.tar.xz | head -c 1000; kill -9 $$", 64<<20)
	if !errors.Is(err, ErrTruncated) {
		t.Errorf("killed shell: %v", err)
	}
	// A hang hits the timeout.
	tg.Timeout = 500 * time.Millisecond
	_, err = tg.Run(ctx, "sleep 30", 10)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "hangs") {
		t.Errorf("hang: %v", err)
	}
}

func TestFetch(t *testing.T) {
	r := hosttest.Kernel612(t)
	ko := hosttest.ReadFixture(t, "ikheaders-m/kheaders.ko")
	r.Files["/system_dlkm/lib/modules/kheaders.ko"] = ko
	r.Files["/proc/version"] = []byte("Linux version 6.12.117 (b@h) (gcc) #1 SMP\n")
	tg, root := fakeTarget(t, r)
	// The sysfs file unreadable, as under Android's SELinux policy: run
	// the target's shell as an unprivileged uid.
	if err := os.Chmod(filepath.Join(root, "sys/kernel/kheaders.tar.xz"), 0o400); err != nil {
		t.Fatal(err)
	}
	tg.prefix = []string{"chroot", "--userspec=65534:65534", root, "sh", "-c"}
	snap := t.TempDir()
	s, err := Fetch(context.Background(), tg, snap)
	if err != nil {
		t.Fatal(err)
	}
	if s.Release != "6.12.117" || s.Machine != "x86_64" {
		t.Errorf("release %q machine %q", s.Release, s.Machine)
	}
	if s.States["sysfs"] != StateDenied || s.States["config"] != StateOK || s.States["notes"] != StateAbsent {
		t.Errorf("states %v", s.States)
	}
	if len(s.Modules) != 1 || s.Modules[0] != "/system_dlkm/lib/modules/kheaders.ko" {
		t.Errorf("modules %q", s.Modules)
	}
	if !strings.HasPrefix(s.Identity, "release:6.12.117|version:") {
		t.Errorf("identity %q", s.Identity)
	}
	// The snapshot is a host root: the normal host code reads it.
	h := host.New(snap)
	if rel, _ := h.Release(); rel != "6.12.117" {
		t.Errorf("snapshot release %q", rel)
	}
	cfg, err := h.KernelConfig("6.12.117")
	if err != nil || !bytes.Equal(cfg.Data, r.Config) {
		t.Errorf("snapshot config: %v", err)
	}
}

func TestBuildID(t *testing.T) {
	// A note as the kernel lays out .notes: Xen-style filler, then GNU.
	var b bytes.Buffer
	note := func(name string, typ uint32, desc []byte) {
		le := func(v uint32) { b.Write([]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)}) }
		le(uint32(len(name) + 1))
		le(uint32(len(desc)))
		le(typ)
		b.WriteString(name + "\x00")
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.Write(desc)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	note("Linux", 0, []byte{1, 2, 3, 4})
	id := bytes.Repeat([]byte{0xab}, 20)
	note("GNU", 3, id)
	if got := BuildID(b.Bytes()); got != strings.Repeat("ab", 20) {
		t.Errorf("build-id %q", got)
	}
	if got := BuildID(b.Bytes()[:30]); got != "" {
		t.Errorf("truncated: %q", got)
	}
}

func TestFakeRunner(t *testing.T) {
	// The Runner seam: a transport that dies after some bytes.
	tg, _ := Parse("adb:X", nil)
	tg.Runner = func(ctx context.Context, argv []string, stdout, stderr io.Writer) error {
		stdout.Write([]byte("partial"))
		io.WriteString(stderr, "error: device offline")
		return errors.New("exit status 1")
	}
	_, err := tg.ReadFile(context.Background(), "/x", 100)
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "device offline") {
		t.Errorf("err %v", err)
	}
}

// TestFetchVDSO: this machine as its own target (cmd:env, the real /proc):
// the vDSO image the identity script copies from a subshell's own memory
// gives the LINUX_VERSION_CODE that this process reads from its own vDSO,
// through the same host code, under each shell the machine has.
func TestFetchVDSO(t *testing.T) {
	want, err := host.New("").VersionCode()
	if err != nil {
		t.Skipf("no vDSO note on this machine: %v", err)
	}
	shells := 0
	for _, sh := range []string{"/bin/sh", "/bin/dash", "/bin/bash", "/bin/busybox"} {
		if _, err := os.Stat(sh); err != nil {
			continue
		}
		shells++
		t.Run(filepath.Base(sh), func(t *testing.T) {
			spec := "cmd:env"
			if filepath.Base(sh) == "busybox" {
				spec = "cmd:busybox"
			}
			tg, err := Parse(spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(sh) != "busybox" {
				tg.prefix = []string{"env", sh, "-c"}
			}
			snap := t.TempDir()
			s, err := Fetch(t.Context(), tg, snap)
			if err != nil {
				t.Fatal(err)
			}
			if s.States["vdso"] != StateOK {
				t.Fatalf("vdso state %q (states %v)", s.States["vdso"], s.States)
			}
			got, err := host.New(snap).VersionCode()
			if err != nil || got != want {
				t.Errorf("target VersionCode = %d, %v; want %d (this process's vDSO)", got, err, want)
			}
			if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err == nil && (s.States["btf"] != StateOK || s.BTFSize <= 0) {
				t.Errorf("btf state %q size %d", s.States["btf"], s.BTFSize)
			}
		})
	}
	if shells == 0 {
		t.Skip("no shell found")
	}
}

// TestProbe: one command tells readable files with their sizes, a file the
// target's user may not read, and an absent one.
func TestProbe(t *testing.T) {
	r := hosttest.Kernel612(t)
	tg, root := fakeTarget(t, r)
	if err := os.Chmod(filepath.Join(root, "sys/kernel/kheaders.tar.xz"), 0o400); err != nil {
		t.Fatal(err)
	}
	tg.prefix = []string{"chroot", "--userspec=65534:65534", root, "sh", "-c"}
	st, err := Probe(context.Background(), tg, []string{"/proc/config.gz", SysfsArchive, SysfsBTF})
	if err != nil {
		t.Fatal(err)
	}
	want := []FileState{
		{Path: "/proc/config.gz", State: StateOK, Size: int64(len(r.Files["/proc/config.gz"]))},
		{Path: SysfsArchive, State: StateDenied},
		{Path: SysfsBTF, State: StateAbsent},
	}
	if len(r.Files["/proc/config.gz"]) == 0 {
		fi, err := os.Stat(filepath.Join(root, "proc/config.gz"))
		if err != nil {
			t.Fatal(err)
		}
		want[0].Size = fi.Size()
	}
	for i := range want {
		if st[i] != want[i] {
			t.Errorf("Probe[%d] = %+v, want %+v", i, st[i], want[i])
		}
	}
	if _, c := tg.Received(); c != 1 {
		t.Errorf("%d commands, want 1", c)
	}
}
