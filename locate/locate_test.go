package locate

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/host/hosttest"
)

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testOpts(t testing.TB, root string) *Options {
	return &Options{
		HostRoot: root,
		CacheDir: filepath.Join(t.TempDir(), "cache"),
		Load:     LoadNever,
		Logger:   slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func checkStatus(t *testing.T, h *Headers, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, c := range h.Checks {
		got[c.Name] = c.Status
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("check %s = %q, want %q (checks %+v)", k, got[k], v, h.Checks)
		}
	}
}

var allOK = map[string]string{"files": CheckOK, "release": CheckOK, "version": CheckOK, "config": CheckOK, "arch": CheckOK}

func TestLocateSysfs(t *testing.T) {
	root := hosttest.Make(t, hosttest.Kernel612(t))
	opts := testOpts(t, root)
	// The shared cache may hold this archive already (tests share it to
	// save extractions; a fresh extraction is checked by the CLI and cache
	// tests): restrict to sysfs for the first call.
	opts.CacheDir = sharedCache
	opts.Only = []string{"sysfs"}
	h, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("Locate: %v", err)
	}
	opts.Only = nil
	if h.Source != "sysfs" || !h.Verified || h.Release != "6.12.117" || h.Arch != "x86" {
		t.Errorf("Locate = source %s verified %v release %s arch %s; want sysfs, verified, 6.12.117, x86", h.Source, h.Verified, h.Release, h.Arch)
	}
	checkStatus(t, h, allOK)
	if _, err := os.Stat(filepath.Join(h.Dir, "include/linux/sched.h")); err != nil {
		t.Errorf("no include/linux/sched.h in %s: %v", h.Dir, err)
	}
	if b, err := fsReadFile(h, "include/generated/utsrelease.h"); err != nil || !strings.Contains(string(b), "6.12.117") {
		t.Errorf("FS utsrelease.h = %q, %v", b, err)
	}
	// Warm: the cache source answers by identity, without reading sysfs.
	h2, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("warm Locate: %v", err)
	}
	if h2.Source != "cache" || !h2.Cached || h2.Dir != h.Dir || h2.Key != h.Key {
		t.Errorf("warm Locate = %s %v %s %s, want cache hit of %s", h2.Source, h2.Cached, h2.Dir, h2.Key, h.Dir)
	}
	checkStatus(t, h2, allOK)
	// The archive changes (the =m build under the same path): the identity
	// changes, the cached tree is not served, the new one is refused.
	if err := os.Remove(filepath.Join(root, "sys/kernel/kheaders.tar.xz")); err != nil {
		t.Fatal(err)
	}
	b := hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz")
	os.WriteFile(filepath.Join(root, "sys/kernel/kheaders.tar.xz"), b, 0o444)
	_, err = Locate(t.Context(), opts)
	var le *Error
	if !errors.Is(err, ErrMismatch) || !errors.As(err, &le) {
		t.Fatalf("Locate after the archive changed = %v, want ErrMismatch", err)
	}
	if !strings.Contains(err.Error(), "CONFIG_IKHEADERS=y, headers CONFIG_IKHEADERS=m") {
		t.Errorf("report does not name the first differing symbol:\n%v", err)
	}
}

func fsReadFile(h *Headers, name string) ([]byte, error) {
	f, err := h.FS.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, _ := f.Stat()
	b := make([]byte, st.Size())
	_, err = f.Read(b)
	return b, err
}

// sharedCache is one cache for tests that do not inspect cache state: the
// cache is content-addressed, so sharing is safe and saves extractions.
var sharedCache string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "kheaders-locate-test-")
	if err != nil {
		panic(err)
	}
	sharedCache = filepath.Join(d, "cache")
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

func TestLocateMismatch(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(r *hosttest.Root)
		reason string // substring of the rejection
	}{
		{"release", func(r *hosttest.Root) { r.Release = "6.12.118" }, "release: running kernel 6.12.118, headers 6.12.117"},
		{"version code", func(r *hosttest.Root) { r.VersionCode = host.VersionCodeOf(6, 12, 116) }, "version: running kernel 6.12.116 (396404), headers 6.12.117 (396405)"},
		{"config", func(r *hosttest.Root) { r.Config = hosttest.ReadFixture(t, "ikheaders-m/config") }, "config: running kernel CONFIG_IKHEADERS=m, headers CONFIG_IKHEADERS=y"},
		{"arch", func(r *hosttest.Root) { r.Machine = "aarch64" }, "arch: running kernel arm64, headers x86"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hosttest.Kernel612(t)
			tt.edit(&r)
			opts := testOpts(t, hosttest.Make(t, r))
			opts.CacheDir = sharedCache
			_, err := Locate(t.Context(), opts)
			var le *Error
			if !errors.Is(err, ErrMismatch) || !errors.As(err, &le) {
				t.Fatalf("Locate = %v, want ErrMismatch", err)
			}
			i := slices.IndexFunc(le.Attempts, func(a Attempt) bool { return a.Outcome == OutcomeRejected })
			if i < 0 || !strings.Contains(le.Attempts[i].Reason, tt.reason) {
				t.Fatalf("rejection does not name %q:\n%v", tt.reason, err)
			}
			// Only the tested field differs: it is the first difference.
			if !strings.HasPrefix(le.Attempts[i].Reason, "does not match the running kernel: "+tt.reason[:strings.Index(tt.reason, ":")]) {
				t.Errorf("first difference is not %s: %s", tt.name, le.Attempts[i].Reason)
			}
			// --no-verify hands them out with warnings.
			opts.NoVerify = true
			h, err := Locate(t.Context(), opts)
			if err != nil {
				t.Fatalf("Locate(NoVerify) = %v", err)
			}
			if h.Verified || len(h.Warnings) == 0 || !strings.Contains(h.Warnings[0], tt.reason) {
				t.Errorf("Locate(NoVerify) verified=%v warnings=%q, want a warning naming %q", h.Verified, h.Warnings, tt.reason)
			}
		})
	}
}

func TestLocateNotFound(t *testing.T) {
	root := hosttest.Make(t, hosttest.Root{Release: "6.18.44", Machine: "x86_64", Config: []byte("# CONFIG_IKHEADERS is not set\nCONFIG_BPF=y\n"), VersionCode: host.VersionCodeOf(6, 18, 44)})
	opts := testOpts(t, root)
	opts.Disable = []string{"btf"}
	_, err := Locate(t.Context(), opts)
	var le *Error
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &le) {
		t.Fatalf("Locate = %v, want ErrNotFound", err)
	}
	var names []string
	for _, a := range le.Attempts {
		names = append(names, a.Source)
		if a.Outcome != OutcomeSkipped {
			t.Errorf("attempt %+v, want skipped", a)
		}
	}
	want := []string{"override", "cache", "modules-dir", "distro", "sysfs", "initramfs", "module-file", "module-load", "registry"}
	if !slices.Equal(names, want) {
		t.Errorf("attempts %v, want %v", names, want)
	}
	if len(le.Hints) != 0 {
		t.Errorf("hints %q without /sys/kernel/btf/vmlinux", le.Hints)
	}
	// With BTF present, the report points at it.
	os.MkdirAll(filepath.Join(root, "sys/kernel/btf"), 0o755)
	os.WriteFile(filepath.Join(root, "sys/kernel/btf/vmlinux"), []byte("BTF"), 0o444)
	_, err = Locate(t.Context(), opts)
	msg := err.Error()
	for _, s := range []string{"hint: this kernel has BTF", "CONFIG_IKHEADERS", "apt install linux-headers", "/lib/modules/6.18.44/build: does not exist"} {
		if !strings.Contains(msg, s) {
			t.Errorf("report lacks %q:\n%s", s, msg)
		}
	}
}

func TestLocateModuleFile(t *testing.T) {
	ko := hosttest.ReadFixture(t, "ikheaders-m/kheaders.ko")
	variants := map[string][]byte{"kheaders.ko": ko}
	if _, err := exec.LookPath("xz"); err == nil {
		cmd := exec.Command("xz", "-c", "--check=crc32")
		cmd.Stdin = strings.NewReader(string(ko))
		if out, err := cmd.Output(); err == nil {
			variants["kheaders.ko.xz"] = out
		}
	} else {
		t.Log("xz not installed (xz-utils): testing the plain .ko only")
	}
	for name, data := range variants {
		t.Run(name, func(t *testing.T) {
			r := hosttest.Kernel612(t)
			r.Config = hosttest.ReadFixture(t, "ikheaders-m/config")
			r.Files = map[string][]byte{"/lib/modules/6.12.117/kernel/kernel/" + name: data}
			opts := testOpts(t, hosttest.Make(t, r))
			opts.CacheDir = sharedCache
			h, err := Locate(t.Context(), opts)
			if err != nil {
				t.Fatalf("Locate: %v", err)
			}
			if h.Source != "module-file" && h.Source != "cache" {
				t.Errorf("source %s, want module-file (or cache)", h.Source)
			}
			checkStatus(t, h, allOK)
			// With modules.dep the file is found without walking.
			r2 := r
			r2.Files = map[string][]byte{
				"/lib/modules/6.12.117/kernel/kernel/" + name: data,
				"/lib/modules/6.12.117/modules.dep":           []byte("kernel/kernel/" + name + ":\n"),
			}
			opts.HostRoot = hosttest.Make(t, r2)
			if h, err := Locate(t.Context(), opts); err != nil || h.Origin == "" {
				t.Fatalf("Locate with modules.dep: %v", err)
			}
		})
	}
}

func TestLocateOverride(t *testing.T) {
	r := hosttest.Kernel612(t)
	archive := r.Files["/sys/kernel/kheaders.tar.xz"]
	delete(r.Files, "/sys/kernel/kheaders.tar.xz")
	root := hosttest.Make(t, r)
	f := filepath.Join(t.TempDir(), "kheaders.tar.xz")
	os.WriteFile(f, archive, 0o644)
	opts := testOpts(t, root)
	opts.CacheDir = sharedCache
	opts.Override = f
	h, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("Locate(--source archive): %v", err)
	}
	if h.Source != "override" {
		t.Errorf("source %s, want override", h.Source)
	}
	// Any artifact carrying the archive works: here the =y kernel's
	// bzImage (carrier finds the archive inside the compressed payload).
	opts.Override = filepath.Join(hosttest.Fixtures(t), "ikheaders-y", "bzImage")
	hb, err := Locate(t.Context(), opts)
	if err != nil || hb.Key != h.Key {
		t.Fatalf("Locate(--source bzImage) = %+v, %v; want the same archive (key %s)", hb, err, h.Key)
	}
	// A directory override is used in place (and verified).
	opts.Override = h.Dir
	h2, err := Locate(t.Context(), opts)
	if err != nil || h2.Dir != h.Dir || h2.Source != "override" {
		t.Fatalf("Locate(--source dir) = %+v, %v", h2, err)
	}
}

// TestLocateExplicitIsExclusive: headers the user named (Options.Override:
// --source, KHEADERS_SOURCE) are used alone. Whatever is wrong with them,
// Locate fails with that reason, in one attempt, and never hands out other
// headers, although here the chain would find the running kernel's own
// (sysfs, and its warm cache).
func TestLocateExplicitIsExclusive(t *testing.T) {
	root := hosttest.Make(t, hosttest.Kernel612(t))
	opts := testOpts(t, root)
	opts.CacheDir = sharedCache
	own, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("Locate without an explicit source: %v", err)
	}

	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	notHeaders := filepath.Join(dir, "photos")
	os.MkdirAll(filepath.Join(notHeaders, "2024"), 0o755)
	unconfigured := filepath.Join(dir, "linux")
	os.MkdirAll(filepath.Join(unconfigured, "include/linux"), 0o755)
	os.WriteFile(filepath.Join(unconfigured, "include/linux/kconfig.h"), []byte("\n"), 0o644)
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("not a kernel artifact\n"), 0o644)
	broken := filepath.Join(dir, "broken")
	os.Symlink(filepath.Join(dir, "gone"), broken)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	mismatched := filepath.Join(hosttest.Fixtures(t), "ikheaders-m", "kheaders_data.tar.xz") // the running kernel is the =y build
	corrupt := filepath.Join(dir, "corrupt.tar.xz")
	a := hosttest.ReadFixture(t, "ikheaders-y/kheaders_data.tar.xz")
	a = slices.Clone(a)
	a[len(a)/2] ^= 0x55
	os.WriteFile(corrupt, a, 0o644)

	tests := []struct {
		name, source string
		want         error  // ErrNotFound, ErrMismatch, ErrUnusable
		outcome      string // of the one attempt
		reason       string // in the attempt's reason
	}{
		{"does not exist", filepath.Join(dir, "typo"), ErrNotFound, OutcomeFailed, "does not exist"},
		{"broken symlink", broken, ErrNotFound, OutcomeFailed, "a broken symlink to " + filepath.Join(dir, "gone")},
		{"empty directory", empty, ErrNotFound, OutcomeFailed, "holds no kernel headers (an empty directory)"},
		{"directory of other things", notHeaders, ErrNotFound, OutcomeFailed, "holds no kernel headers"},
		{"unconfigured source tree", unconfigured, ErrNotFound, OutcomeFailed, "no include/generated/autoconf.h"},
		{"kernel without IKHEADERS", filepath.Join("..", "testdata", "kernels", "bzImage-x86_64-net-n"), ErrNotFound, OutcomeFailed, "bzImage-x86_64-net-n"},
		{"not a kernel artifact", text, ErrUnusable, OutcomeFailed, "notes.txt"},
		{"FIFO", fifo, ErrUnusable, OutcomeFailed, "a FIFO, not a header tree or a file"},
		{"corrupt archive", corrupt, ErrUnusable, OutcomeFailed, ""},
		{"another kernel's archive", mismatched, ErrMismatch, OutcomeRejected, "config: running kernel CONFIG_IKHEADERS=y, headers CONFIG_IKHEADERS=m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts.Override = tt.source
			h, err := Locate(t.Context(), opts)
			var le *Error
			if !errors.As(err, &le) || !errors.Is(err, tt.want) {
				t.Fatalf("Locate(--source %s) = %+v, %v; want an *Error wrapping %v", tt.source, h, err, tt.want)
			}
			for _, other := range []error{ErrNotFound, ErrMismatch, ErrUnusable} {
				if other != tt.want && errors.Is(err, other) {
					t.Errorf("error also wraps %v: %v", other, err)
				}
			}
			if len(le.Attempts) != 1 {
				t.Fatalf("attempts %+v, want only the explicit source's", le.Attempts)
			}
			at := le.Attempts[0]
			if at.Source != "override" || at.Outcome != tt.outcome || !strings.Contains(at.Reason, tt.reason) || at.Fix == "" {
				t.Errorf("attempt %+v, want override %s naming %q, with a fix", at, tt.outcome, tt.reason)
			}
			if !strings.Contains(err.Error(), at.Reason) {
				t.Errorf("error text lacks the reason:\n%v", err)
			}
		})
	}
	if !errors.Is(func() error {
		opts.Override = filepath.Join(dir, "typo")
		_, err := Locate(t.Context(), opts)
		return err
	}(), fs.ErrNotExist) {
		t.Error("the error for a missing explicit source does not wrap fs.ErrNotExist")
	}

	// --no-verify hands out the named headers, loudly, and still no other.
	opts.Override, opts.NoVerify = mismatched, true
	h, err := Locate(t.Context(), opts)
	if err != nil || h.Source != "override" || h.Verified || h.Key == own.Key || len(h.Attempts) != 1 {
		t.Errorf("Locate(--no-verify --source mismatched) = %+v, %v; want the named headers, unverified", h, err)
	}
}

// TestLocateSplitTree builds a Debian-style split layout: /lib/modules/R/build
// -> /usr/src/linux-headers-R (generated headers, Makefile including the
// -common tree) and linux-headers-R-common (sources).
func TestLocateSplitTree(t *testing.T) {
	const rel = "6.1.0-99-amd64"
	cfg := "CONFIG_X86_64=y\nCONFIG_BPF=y\nCONFIG_HZ=250\n# CONFIG_IKHEADERS is not set\n"
	obj := "/usr/src/linux-headers-" + rel
	src := "/usr/src/linux-headers-6.1.0-99-common"
	r := hosttest.Root{
		Release: rel, Machine: "x86_64", Config: []byte(cfg), VersionCode: host.VersionCodeOf(6, 1, 300),
		Files: map[string][]byte{
			obj + "/Makefile":                                  []byte("include " + src + "/Makefile\n"),
			obj + "/include/generated/autoconf.h":              []byte("#define CONFIG_X86_64 1\n#define CONFIG_BPF 1\n#define CONFIG_HZ 250\n"),
			obj + "/include/generated/utsrelease.h":            []byte("#define UTS_RELEASE \"" + rel + "\"\n"),
			obj + "/include/generated/uapi/linux/version.h":    []byte("#define LINUX_VERSION_CODE 393727\n"),
			obj + "/arch/x86/include/generated/asm/rwonce.h":   []byte("\n"),
			src + "/include/linux/kconfig.h":                   []byte("\n"),
			src + "/include/linux/types.h":                     []byte("\n"),
			src + "/arch/x86/include/asm/ptrace.h":             []byte("\n"),
			"/lib/modules/" + rel + "/kernel/drivers/dummy.ko": []byte("x"),
		},
		Links: map[string]string{"/lib/modules/" + rel + "/build": obj},
	}
	opts := testOpts(t, hosttest.Make(t, r))
	h, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("Locate: %v", err)
	}
	if h.Source != "modules-dir" || !strings.HasSuffix(h.Dir, src) || !strings.HasSuffix(h.BuildDir, obj) {
		t.Errorf("Locate = %s dir %s build %s, want modules-dir split %s / %s", h.Source, h.Dir, h.BuildDir, src, obj)
	}
	checkStatus(t, h, allOK)
	flags := strings.Join(h.Flags(), " ")
	for _, want := range []string{"-I" + h.Dir + "/arch/x86/include -I" + h.BuildDir + "/arch/x86/include/generated -I" + h.Dir + "/include -I" + h.BuildDir + "/include ", "-include " + h.Dir + "/include/linux/kconfig.h"} {
		if !strings.Contains(flags, want) {
			t.Errorf("Flags() = %s\nwant it to contain %s", flags, want)
		}
	}
	// The same tree with a leftover build dir (no generated headers) is skipped.
	os.RemoveAll(filepath.Join(opts.HostRoot, obj, "include"))
	_, err = Locate(t.Context(), opts)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "leftover") {
		t.Errorf("Locate(leftover build) = %v, want ErrNotFound naming the leftover directory", err)
	}
}

// TestLocateRealHost runs the default chain on the machine running the
// test: either verified headers or a not-found/mismatch report listing
// every source with its reason.
func TestLocateRealHost(t *testing.T) {
	opts := &Options{CacheDir: filepath.Join(t.TempDir(), "cache"), Load: LoadNever}
	h, err := Locate(t.Context(), opts)
	if err == nil {
		if !h.Verified || h.Dir == "" {
			t.Errorf("Locate on this host = %+v, want verified headers", h)
		}
		t.Logf("this host: headers from %s at %s", h.Source, h.Dir)
		return
	}
	var le *Error
	if !errors.As(err, &le) {
		t.Fatalf("Locate on this host = %v, want headers or a *Error report", err)
	}
	if len(le.Attempts) < len(DefaultSources()) {
		t.Errorf("report has %d attempts, want one per source (%d)", len(le.Attempts), len(DefaultSources()))
	}
	t.Logf("this host: %v", err)
}
