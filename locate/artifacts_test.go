package locate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// artifactsDir returns the real kernels built by
// scripts/build-test-artifacts.sh, or skips.
func artifactsDir(t *testing.T, name string) string {
	return filepath.Join(hosttest.Artifacts.Need(t, name+"/kheaders_data.tar.xz"), name)
}

func readArtifact(t *testing.T, dir, name string) []byte {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLocateArm64 locates the headers of a real arm64 6.12 kernel (=y):
// from its sysfs archive, and from its compressed Image given as --source;
// and refuses them on an x86_64 kernel of the same release.
func TestLocateArm64(t *testing.T) {
	d := artifactsDir(t, "arm64-y")
	r := hosttest.Root{
		Release: "6.12.117", Machine: "aarch64",
		Config:      readArtifact(t, d, "config"),
		VersionCode: host.VersionCodeOf(6, 12, 117),
		Files:       map[string][]byte{"/sys/kernel/kheaders.tar.xz": readArtifact(t, d, "kheaders_data.tar.xz")},
	}
	opts := testOpts(t, hosttest.Make(t, r))
	opts.CacheDir = sharedCache
	h, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("Locate(arm64): %v", err)
	}
	checkStatus(t, h, allOK)
	if h.Arch != "arm64" || !slices.Contains(h.Flags(), "-I"+filepath.Join(h.Dir, "arch/arm64/include/generated/uapi")) {
		t.Errorf("arm64 flags = %v", h.Flags())
	}
	if img := filepath.Join(d, "Image.zst"); fileExists(img) {
		opts.Override = img
		h2, err := Locate(t.Context(), opts)
		if err != nil || h2.Key != h.Key {
			t.Errorf("Locate(--source Image.zst) = %v; want the sysfs archive's key %s", err, h.Key)
		}
		opts.Override = ""
	}
	// The same headers on an x86_64 kernel of the same release are refused;
	// the report names config (the first differing check) and arch.
	r.Machine = "x86_64"
	r.Config = hosttest.ReadFixture(t, "ikheaders-y/config")
	opts.HostRoot = hosttest.Make(t, r)
	_, err = Locate(t.Context(), opts)
	if err == nil || !strings.Contains(err.Error(), "arch: running kernel x86, headers arm64") || !strings.Contains(err.Error(), "config: running kernel CONFIG_") {
		t.Errorf("Locate(arm64 headers on x86_64) = %v, want a refusal naming config and arch", err)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
