package host_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/host/hosttest"
)

func TestFakeRoot(t *testing.T) {
	root := hosttest.Make(t, hosttest.Root{
		Release: "6.12.117", Machine: "x86_64", Config: []byte("CONFIG_A=y\n"),
		VersionCode: host.VersionCodeOf(6, 12, 117),
		Files: map[string][]byte{
			"/lib/modules/6.12.117/kernel/kernel/kheaders.ko.xz": []byte("x"),
			"/lib/modules/6.12.117/build/kheaders.ko":            []byte("not a module of this kernel"),
			"/lib/modules/6.12.117/extra/other.ko":               []byte("x"),
		},
		Links: map[string]string{
			"/lib/modules/6.12.117/source": "/usr/src/linux-6.12",
			"/usr/src/linux-6.12":          "linux-real",
			"/usr/src/rel/x":               "../linux-real/include",
		},
	})
	os.MkdirAll(filepath.Join(root, "usr/src/linux-real/include"), 0o755)
	h := host.New(root)
	if h.IsReal() || h.Root() != root {
		t.Errorf("New(%s): IsReal %v Root %s", root, h.IsReal(), h.Root())
	}
	if r, err := h.Release(); err != nil || r != "6.12.117" {
		t.Errorf("Release = %q, %v", r, err)
	}
	if m, err := h.Machine(); err != nil || m != "x86_64" {
		t.Errorf("Machine = %q, %v", m, err)
	}
	if v, err := h.VersionCode(); err != nil || v != 396405 || host.FormatVersionCode(v) != "6.12.117" {
		t.Errorf("VersionCode = %d, %v; want 396405", v, err)
	}
	c, err := h.KernelConfig("6.12.117")
	if err != nil || string(c.Data) != "CONFIG_A=y\n" || c.Origin != "/proc/config.gz" {
		t.Errorf("KernelConfig = %+v, %v", c, err)
	}
	mods, err := h.ModuleFiles("6.12.117", "kheaders")
	if diff := cmp.Diff([]string{"/lib/modules/6.12.117/kernel/kernel/kheaders.ko.xz"}, mods); err != nil || diff != "" {
		t.Errorf("ModuleFiles (-want +got): %s %v", diff, err)
	}
	// Absolute symlink targets are re-rooted, relative ones joined.
	for in, want := range map[string]string{
		"/lib/modules/6.12.117/source":         "/usr/src/linux-real",
		"/lib/modules/6.12.117/source/include": "/usr/src/linux-real/include",
		"/usr/src/rel/x":                       "/usr/src/linux-real/include",
	} {
		if got, err := h.Resolve(in); err != nil || got != want {
			t.Errorf("Resolve(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
	if p := h.Path("/sys/../etc/passwd"); p != filepath.Join(root, "etc/passwd") {
		t.Errorf("Path escapes the root: %s", p)
	}
}

func TestFakeRootMissing(t *testing.T) {
	h := host.New(t.TempDir())
	if _, err := h.Release(); !errors.Is(err, host.ErrNotFound) {
		t.Errorf("Release on an empty root = %v, want ErrNotFound", err)
	}
	if _, err := h.VersionCode(); !errors.Is(err, host.ErrNotSupported) {
		t.Errorf("VersionCode on an empty root = %v, want ErrNotSupported", err)
	}
	if _, err := h.KernelConfig("1.2.3"); !errors.Is(err, host.ErrNotFound) || !strings.Contains(err.Error(), "/boot/config-1.2.3") {
		t.Errorf("KernelConfig on an empty root = %v", err)
	}
	if _, err := h.ModuleFiles("1.2.3", "kheaders"); !errors.Is(err, host.ErrNotFound) {
		t.Errorf("ModuleFiles on an empty root = %v", err)
	}
	// /boot/config-R, plain text, is the fallback.
	os.MkdirAll(filepath.Join(h.Root(), "boot"), 0o755)
	os.WriteFile(filepath.Join(h.Root(), "boot/config-1.2.3"), []byte("CONFIG_B=m\n"), 0o644)
	if c, err := h.KernelConfig("1.2.3"); err != nil || c.Origin != "/boot/config-1.2.3" {
		t.Errorf("KernelConfig(/boot) = %+v, %v", c, err)
	}
}

func TestVersionCodeOf(t *testing.T) {
	for _, tt := range []struct {
		a, b, c int
		want    uint32
	}{{6, 12, 117, 396405}, {4, 19, 300, 267263}, {5, 4, 255, 328959}} {
		if got := host.VersionCodeOf(tt.a, tt.b, tt.c); got != tt.want {
			t.Errorf("VersionCodeOf(%d,%d,%d) = %d, want %d", tt.a, tt.b, tt.c, got, tt.want)
		}
	}
}

func TestNoteImage(t *testing.T) {
	v, err := host.VersionNote(bytes.NewReader(host.NoteImage(0x060c75)))
	if err != nil || v != 0x060c75 {
		t.Fatalf("VersionNote(NoteImage) = %#x, %v", v, err)
	}
}

// TestRealVDSO reads the vDSO of this process and checks it against uname.
func TestRealVDSO(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("vDSO note is Linux only")
	}
	h := host.New("/")
	v, err := h.VersionCode()
	if errors.Is(err, host.ErrNotSupported) {
		t.Skipf("no vDSO note on this kernel: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	rel, err := h.Release()
	if err != nil {
		t.Fatal(err)
	}
	// The release starts with major.minor of the code (the sublevel may
	// differ on distro kernels, e.g. Debian 6.1.0-x vs 6.1.192).
	mm := host.FormatVersionCode(v)
	mm = mm[:strings.LastIndex(mm, ".")]
	if !strings.HasPrefix(rel, mm+".") && !strings.HasPrefix(rel, mm+"-") {
		t.Errorf("vDSO version %s does not match release %s", host.FormatVersionCode(v), rel)
	}
	if m, err := h.Machine(); err != nil || m == "" {
		t.Errorf("Machine = %q, %v", m, err)
	}
}

func FuzzVersionNote(f *testing.F) {
	f.Add(host.NoteImage(396405))
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := host.VersionNote(bytes.NewReader(b))
		if err == nil && !bytes.HasPrefix(b, []byte("\x7fELF")) {
			t.Fatalf("VersionNote accepted a non-ELF input: %d", v)
		}
	})
}

func TestExchange(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("renameat2 is Linux only")
	}
	d := t.TempDir()
	a, b := filepath.Join(d, "a"), filepath.Join(d, "b")
	os.Mkdir(a, 0o755)
	os.Mkdir(b, 0o755)
	os.WriteFile(filepath.Join(a, "f"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(b, "f"), []byte("b"), 0o644)
	err := host.Exchange(a, b)
	if errors.Is(err, host.ErrNotSupported) {
		t.Skipf("file system of %s cannot exchange: %v", d, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(a, "f")); string(got) != "b" {
		t.Errorf("after Exchange a/f = %q, want b", got)
	}
}

// TestKernelConfigFile: the config is read without being decompressed;
// Decode gives KernelConfig's text, also for a config larger than the
// gzip trailer's size hint lets the buffer start at.
func TestKernelConfigFile(t *testing.T) {
	big := bytes.Repeat([]byte("CONFIG_A=y\n# CONFIG_B is not set\n"), 100000) // 3.3 MB
	for _, cfg := range [][]byte{[]byte("CONFIG_A=y\n"), big} {
		h := host.New(hosttest.Make(t, hosttest.Root{Release: "6.12.117", Machine: "x86_64", Config: cfg}))
		c, err := h.KernelConfigFile("6.12.117")
		if err != nil || c.Data != nil || len(c.Raw) == 0 || c.Raw[0] != 0x1f || c.Origin != "/proc/config.gz" {
			t.Fatalf("KernelConfigFile = %v, %v; want the gzip bytes, no text yet", c, err)
		}
		if err := c.Decode(); err != nil || !bytes.Equal(c.Data, cfg) {
			t.Errorf("Decode = %d bytes, %v; want the %d-byte config", len(c.Data), err, len(cfg))
		}
		full, err := h.KernelConfig("6.12.117")
		if err != nil || !bytes.Equal(full.Data, cfg) || !bytes.Equal(full.Raw, c.Raw) {
			t.Errorf("KernelConfig = %d bytes, %v", len(full.Data), err)
		}
	}
	// A corrupt /proc/config.gz is an error of Decode (and of KernelConfig).
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "proc"), 0o755)
	os.WriteFile(filepath.Join(root, "proc/config.gz"), []byte("not gzip"), 0o644)
	h := host.New(root)
	c, err := h.KernelConfigFile("6.12.117")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Decode(); err == nil || !strings.Contains(err.Error(), "/proc/config.gz") {
		t.Errorf("Decode(corrupt) = %v, want an error naming /proc/config.gz", err)
	}
	if _, err := h.KernelConfig("6.12.117"); err == nil {
		t.Errorf("KernelConfig(corrupt) succeeded")
	}
}
