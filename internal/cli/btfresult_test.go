package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/locate"
)

// TestBTFResultLabelled (issue 10 point 6): a BTF-only result is labelled
// on stderr by locate and env (which say which variables they leave out),
// its cflags carry -g -O2, and its JSON says "kind": "btf".
func TestBTFResultLabelled(t *testing.T) {
	btf, err := os.ReadFile("../../btfc/testdata/seeds/basic.btf")
	if err != nil {
		t.Skipf("btfc test seed: %v", err)
	}
	root := hosttest.Make(t, hosttest.Root{Release: "6.18.44", Machine: "x86_64", Config: []byte("CONFIG_DEBUG_INFO_BTF=y\n"),
		VersionCode: host.VersionCodeOf(6, 18, 44), Files: map[string][]byte{locate.SysfsBTF: btf}})
	base := []string{"--host-root", root, "--cache-dir", filepath.Join(t.TempDir(), "c")}
	out, stderr, code := runCLI(t, nil, append([]string{"locate"}, base...)...)
	if code != 0 {
		t.Fatalf("locate: exit %d\n%s", code, stderr)
	}
	dir := strings.TrimSpace(out)
	if !strings.Contains(stderr, dir+" is BTF-derived") || !strings.Contains(stderr, "BCC_KERNEL_SOURCE") {
		t.Errorf("locate of a BTF result does not label it on stderr:\n%s", stderr)
	}
	out, stderr, _ = runCLI(t, nil, append([]string{"env"}, base...)...)
	if strings.Contains(out, "BCC_KERNEL_SOURCE") || !strings.Contains(stderr, "left out") {
		t.Errorf("env of a BTF result: stdout %q, stderr %q; want no BCC_KERNEL_SOURCE and a note saying what is left out", out, stderr)
	}
	out, _, _ = runCLI(t, nil, append([]string{"cflags"}, base...)...)
	for _, f := range []string{"-target bpf", " -g ", " -O2 "} {
		if !strings.Contains(" "+out, f) {
			t.Errorf("BTF cflags %q lack %q", out, f)
		}
	}
	out, _, _ = runCLI(t, nil, append([]string{"locate", "--json"}, base...)...)
	if !strings.Contains(out, `"kind": "btf"`) {
		t.Errorf("locate --json of a BTF result lacks \"kind\": \"btf\":\n%s", out)
	}
	_, stderr, _ = runCLI(t, nil, append([]string{"locate", "-q"}, base...)...)
	if stderr != "" {
		t.Errorf("locate -q printed %q", stderr)
	}
}
