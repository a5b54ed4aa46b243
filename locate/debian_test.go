package locate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// TestLocateDebianHeaders runs Locate on Debian's real split header
// packages (linux-headers-R-amd64 + linux-headers-R-common), unpacked with
// their /lib/modules/R/{build,source} links and a running-kernel side by
// scripts/fetch-debian-headers.sh.
func TestLocateDebianHeaders(t *testing.T) {
	dir := hosttest.DebianHeaders.Need(t, "release")
	relb, err := os.ReadFile(filepath.Join(dir, "release"))
	if err != nil {
		t.Fatal(err)
	}
	rel := strings.TrimSpace(string(relb))
	root := filepath.Join(dir, "root")
	opts := testOpts(t, root)
	h, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("Locate(Debian %s): %v", rel, err)
	}
	common := strings.TrimSuffix(rel, "-amd64") + "-common"
	if h.Source != "modules-dir" || h.Dir != filepath.Join(root, "usr/src/linux-headers-"+common) || h.BuildDir != filepath.Join(root, "usr/src/linux-headers-"+rel) {
		t.Errorf("Locate = %s dir %s build %s; want modules-dir with the -common/-amd64 split", h.Source, h.Dir, h.BuildDir)
	}
	checkStatus(t, h, allOK)
	for _, c := range h.Checks {
		t.Logf("check %s: %s (%s / %s) %s", c.Name, c.Status, c.Want, c.Got, c.Detail)
	}
	// Without the source link, the tree is found through the Makefile's
	// include of the -common tree (distro source, /usr/src/linux-headers-R).
	opts.Only = []string{"distro"}
	h, err = Locate(t.Context(), opts)
	if err != nil || h.Dir != filepath.Join(root, "usr/src/linux-headers-"+common) {
		t.Fatalf("Locate(distro only) = %+v, %v", h, err)
	}
}
