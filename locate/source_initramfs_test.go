package locate

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/initramfs"
	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// netNRoot is a fake root of the running bzImage-x86_64-net-n (no
// CONFIG_IKHEADERS) with files.
func netNRoot(t *testing.T, files map[string][]byte) string {
	cfg := readTestKernel(t, "config-x86_64-net-n")
	return hosttest.Make(t, hosttest.Root{Release: "6.12.117-net-n", Machine: "x86_64", Config: cfg,
		VersionCode: host.VersionCodeOf(6, 12, 117), Files: files})
}

func manifestOf(t *testing.T, archive []byte) []byte {
	m, err := initramfs.NewManifest(t.Context(), archive)
	if err != nil {
		t.Fatal(err)
	}
	return m.JSON()
}

func TestLocateInitramfs(t *testing.T) {
	self := readTestKernel(t, "kheaders-x86_64-net-n.tar.xz")
	for _, place := range [][2]string{
		{initramfs.ArchivePath, initramfs.ManifestPath},       // rootfs, before switch_root
		{initramfs.RunArchivePath, initramfs.RunManifestPath}, // the hook's copy after it
	} {
		t.Run(place[0], func(t *testing.T) {
			root := netNRoot(t, map[string][]byte{place[0]: self, place[1]: manifestOf(t, self)})
			opts := testOpts(t, root)
			h, err := Locate(t.Context(), opts)
			if err != nil {
				t.Fatalf("Locate = %v", err)
			}
			if h.Source != "initramfs" || h.Origin != place[0] || !h.Verified {
				t.Errorf("Locate: source %q origin %q verified %v, want initramfs, %s, true", h.Source, h.Origin, h.Verified, place[0])
			}
			checkStatus(t, h, map[string]string{"release": "ok", "version": "ok", "config": "ok", "arch": "ok"})
			// Warm: the cache answers by the archive's identity.
			h2, err := Locate(t.Context(), opts)
			if err != nil || !h2.Cached || h2.Key != h.Key {
				t.Errorf("warm Locate = %+v, %v; want cached with key %s", h2, err, h.Key)
			}
		})
	}
}

func TestLocateInitramfsRefused(t *testing.T) {
	self := readTestKernel(t, "kheaders-x86_64-net-n.tar.xz")
	other := hosttest.ReadFixture(t, "ikheaders-y/kheaders_data.tar.xz") // 6.12.117, another kernel
	tests := []struct {
		name  string
		files map[string][]byte
		want  error
		msg   string
	}{
		// The manifest names another release: the source refuses by itself.
		{"other manifest", map[string][]byte{initramfs.ArchivePath: other, initramfs.ManifestPath: manifestOf(t, other)}, ErrMismatch, "6.12.117, the running kernel is 6.12.117-net-n"},
		// No manifest: verification refuses the other kernel's headers.
		{"other, no manifest", map[string][]byte{initramfs.ArchivePath: other}, ErrMismatch, "release"},
		// The manifest does not describe the archive beside it.
		{"swapped archive", map[string][]byte{initramfs.RunArchivePath: other, initramfs.RunManifestPath: manifestOf(t, self)}, nil, "the archive was changed"},
		{"bad manifest", map[string][]byte{initramfs.ArchivePath: self, initramfs.ManifestPath: []byte("{")}, nil, "manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOpts(t, netNRoot(t, tt.files))
			opts.Sources = []Source{initramfsSource{}}
			_, err := Locate(t.Context(), opts)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Locate = %v, want an error (%v) naming %q", err, tt.want, tt.msg)
			}
		})
	}
	// Nothing there: skipped with the fix.
	opts := testOpts(t, netNRoot(t, nil))
	opts.Sources = []Source{initramfsSource{}}
	if _, err := Locate(t.Context(), opts); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "kheaders initramfs") {
		t.Errorf("Locate without a segment = %v, want ErrNotFound with the fix", err)
	}
}

// TestContribHooks: the initramfs-tools and dracut hooks are valid shell
// and use the documented paths.
func TestContribHooks(t *testing.T) {
	dir := filepath.Join("..", "contrib")
	want := map[string][]string{
		"initramfs-tools/hooks/kheaders":               {initramfs.ArchivePath, initramfs.ManifestPath, "kheaders initramfs"},
		"initramfs-tools/scripts/init-bottom/kheaders": {initramfs.ArchivePath, initramfs.RunDir},
		"dracut/90kheaders/module-setup.sh":            {initramfs.ArchivePath, initramfs.ManifestPath, "inst_hook pre-pivot"},
		"dracut/90kheaders/kheaders-copy.sh":           {initramfs.ArchivePath, initramfs.RunDir},
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("skipping: no sh")
	}
	for f, needles := range want {
		p := filepath.Join(dir, f)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("hook %s: %v", f, err)
			continue
		}
		if out, err := exec.Command(sh, "-n", p).CombinedOutput(); err != nil {
			t.Errorf("sh -n %s: %v\n%s", f, err, out)
		}
		for _, n := range needles {
			if !strings.Contains(string(b), n) {
				t.Errorf("hook %s does not mention %q", f, n)
			}
		}
	}
}
