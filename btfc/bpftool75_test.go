package btfc

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// bpftool75 returns a bpftool 7.5 built by scripts/build-bpftool75.sh (or
// $KHEADERS_BPFTOOL75), or skips.
func bpftool75(t *testing.T) string {
	t.Helper()
	p := os.Getenv("KHEADERS_BPFTOOL75")
	if p == "" {
		p = "/var/tmp/kheaders-bpftool75/bpftool"
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no bpftool 7.5 at %s: run scripts/build-bpftool75.sh (or set KHEADERS_BPFTOOL75)", p)
	}
	return p
}

func dump75(t *testing.T, bpftool, path string, unsorted bool) []byte {
	t.Helper()
	args := []string{"btf", "dump", "file", path, "format", "c"}
	if unsorted {
		args = append(args, "unsorted")
	}
	out, err := exec.Command(bpftool, args...).Output()
	if err != nil {
		t.Fatalf("bpftool 7.5 %v: %v", args, err)
	}
	return out
}

// TestBpftool75 checks --compat bpftool-7.5, sorted and unsorted, against a
// real bpftool 7.5 on the snippets and the real kernels.
func TestBpftool75(t *testing.T) {
	bt := bpftool75(t)
	inputs := map[string]string{}
	dir := t.TempDir()
	for _, sn := range snippets {
		p := filepath.Join(dir, sn.name+".o")
		if err := os.WriteFile(p, compileBTF(t, sn.src), 0o644); err != nil {
			t.Fatal(err)
		}
		inputs[sn.name] = p
	}
	if _, err := os.Stat(hostBTF); err == nil {
		inputs["host"] = hostBTF
	}
	if deb := filepath.Join(os.Getenv("KHEADERS_DEBIAN_DIR"), "vmlinux"); os.Getenv("KHEADERS_DEBIAN_DIR") != "" {
		inputs["debian"] = deb
	} else if _, err := os.Stat("/var/tmp/debian-cloud/vmlinux"); err == nil {
		inputs["debian"] = "/var/tmp/debian-cloud/vmlinux"
	}
	for name, path := range inputs {
		t.Run(name, func(t *testing.T) {
			b := loadSpec(t, mustRead(t, path))
			for _, sorted := range []bool{true, false} {
				want := dump75(t, bt, path, !sorted)
				got := generateT(t, b, &Options{Compat: CompatBpftool75, Sort: sorted})
				if !bytes.Equal(got, want) {
					t.Errorf("--compat bpftool-7.5 (sorted %v) differs from bpftool 7.5 on %s:\n%s", sorted, path, lineDiff(want, got))
				}
			}
		})
	}
}
