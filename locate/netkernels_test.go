package locate

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// netKernel is one of the networked kernels of testdata/kernels
// (scripts/build-net-kernels.sh) and the file that carries its headers.
type netKernel struct {
	config, headers, machine string
}

var netKernels = []netKernel{
	// CONFIG_IKHEADERS is not set: the archive was made by kheaders pack
	// --strip=kbuild from the build tree.
	{"config-x86_64-net-n", "kheaders-x86_64-net-n.tar.xz", "x86_64"},
	// =y: the archive is the one Kbuild embedded in the image.
	{"config-x86_64-net-y", "bzImage-x86_64-net-y", "x86_64"},
	{"config-arm64-net", "Image-arm64-net.gz", "aarch64"},
}

var localVersionRE = regexp.MustCompile(`(?m)^CONFIG_LOCALVERSION="([^"]*)"$`)

func readTestKernel(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "kernels", name))
	if err != nil {
		t.Fatalf("testdata kernel: %v", err)
	}
	return b
}

// TestNetKernelHeaders: the headers committed with (or inside) each
// networked test kernel pass locate's verification against that kernel as
// it runs (release with LOCALVERSION, version code, every CONFIG_ symbol of
// its config, arch), and are refused for the kernel built from the same
// tree with the other CONFIG_IKHEADERS.
func TestNetKernelHeaders(t *testing.T) {
	for _, k := range netKernels {
		t.Run(k.headers, func(t *testing.T) {
			cfg := readTestKernel(t, k.config)
			m := localVersionRE.FindSubmatch(cfg)
			if m == nil {
				t.Fatalf("%s has no CONFIG_LOCALVERSION", k.config)
			}
			r := hosttest.Root{
				Release: "6.12.117" + string(m[1]), Machine: k.machine, Config: cfg,
				VersionCode: host.VersionCodeOf(6, 12, 117),
			}
			opts := testOpts(t, hosttest.Make(t, r))
			opts.Override = filepath.Join("..", "testdata", "kernels", k.headers)
			h, err := Locate(t.Context(), opts)
			if err != nil {
				t.Fatalf("Locate(--source %s) on %s: %v", k.headers, r.Release, err)
			}
			checkStatus(t, h, allOK)
		})
	}
	// The =n kernel's archive on the =y kernel (same tree, same options but
	// CONFIG_IKHEADERS and LOCALVERSION) is refused, naming both.
	cfg := readTestKernel(t, "config-x86_64-net-y")
	r := hosttest.Root{Release: "6.12.117-net-y", Machine: "x86_64", Config: cfg, VersionCode: host.VersionCodeOf(6, 12, 117)}
	opts := testOpts(t, hosttest.Make(t, r))
	opts.Override = filepath.Join("..", "testdata", "kernels", "kheaders-x86_64-net-n.tar.xz")
	_, err := Locate(t.Context(), opts)
	if err == nil || !strings.Contains(err.Error(), "release: running kernel 6.12.117-net-y, headers 6.12.117-net-n") ||
		!strings.Contains(err.Error(), "CONFIG_IKHEADERS") {
		t.Errorf("Locate(-net-n archive on the -net-y kernel) = %v, want a refusal naming the release and CONFIG_IKHEADERS", err)
	}
}
