package pack

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/internal/testbin"
)

// The tests in this file run on the real prepared 6.12 trees made by
// scripts/prepare-ktree.sh, in $KHEADERS_KTREE or /var/tmp/kheaders-ktree
// (scripts/setup-real-inputs.sh makes them; `make test` runs it).

type realTree struct{ src, build, srcarch string }

func realTrees(t *testing.T) map[string]realTree {
	t.Helper()
	k := hosttest.KernelTrees.Need(t, "linux-source-6.12/kernel/gen_kheaders.sh")
	src := filepath.Join(k, "linux-source-6.12")
	return map[string]realTree{
		"x86_64": {src, filepath.Join(k, "build-x86_64-y-xz"), "x86"},
		"arm64":  {src, filepath.Join(k, "build-arm64-y-xz"), "arm64"},
	}
}

func (r realTree) prepared(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(r.build, "include/generated/autoconf.h")); err != nil {
		t.Skipf("%s not prepared (run scripts/prepare-ktree.sh)", r.build)
	}
}

// TestRealGenKheaders runs the tree's own gen_kheaders.sh on a copy of the
// build tree's header directories and compares its archive with
// Write(StripKbuild): identical tar, and identical .tar.xz through xz.
func TestRealGenKheaders(t *testing.T) {
	trees := realTrees(t)
	for _, tool := range []string{"perl", "cpio", "xz", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found (gen_kheaders.sh needs it)", tool)
		}
	}
	const ts = "Thu, 01 Jan 2026 12:00:00 +0000"
	for arch, r := range trees {
		t.Run(arch, func(t *testing.T) {
			r.prepared(t)
			copyDir := t.TempDir()
			must(t, os.MkdirAll(filepath.Join(copyDir, "arch", r.srcarch), 0o755))
			must(t, os.MkdirAll(filepath.Join(copyDir, "kernel"), 0o755))
			run(t, "", "cp", "-a", filepath.Join(r.build, "include"), copyDir)
			run(t, "", "cp", "-a", filepath.Join(r.build, "arch", r.srcarch, "include"), filepath.Join(copyDir, "arch", r.srcarch))
			cmd := exec.Command("sh", filepath.Join(r.src, "kernel/gen_kheaders.sh"), "kernel/ref.tar.xz")
			cmd.Dir = copyDir
			cmd.Env = append(os.Environ(), "srctree="+r.src, "building_out_of_srctree=1", "SRCARCH="+r.srcarch,
				"KBUILD_BUILD_TIMESTAMP="+ts, "XZ=xz", "CONFIG_SHELL=sh")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("gen_kheaders.sh: %v: %s", err, out)
			}
			want, err := os.ReadFile(filepath.Join(copyDir, "kernel/ref.tar.xz"))
			must(t, err)
			var got bytes.Buffer
			st, err := Write(t.Context(), Options{SrcTree: r.src, ObjTree: r.build, Strip: StripKbuild, Timestamp: ts,
				XZ: XZOptions{Mode: XZExec, Threads: 1}}, &got)
			must(t, err)
			if !bytes.Equal(xzd(t, got.Bytes()), xzd(t, want)) {
				t.Errorf("%s: uncompressed archive differs from gen_kheaders.sh's", arch)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s: .tar.xz differs from gen_kheaders.sh's (sha256 %x vs %x)", arch, sha256.Sum256(got.Bytes()), sha256.Sum256(want))
			}
			t.Logf("%s: %d files, %d symlinks, %d dirs, %d -> %d bytes stripped, archive %d bytes", arch, st.Files, st.Symlinks, st.Dirs, st.BytesIn, st.BytesOut, st.ArchiveBytes)

			// The Kbuild drop-in (scripts/kbuild/gen_kheaders.sh), run the way
			// kernel/Makefile runs the script it replaces: in the build tree,
			// with Kbuild's environment, the output path as argument.
			dropIn := func() (string, []byte) {
				cmd := exec.Command("sh", filepath.Join(hosttest.RepoRoot(t), "scripts/kbuild/gen_kheaders.sh"), "kernel/dropin.tar.xz")
				cmd.Dir = copyDir
				cmd.Env = append(os.Environ(), "srctree="+r.src, "building_out_of_srctree=1", "SRCARCH="+r.srcarch,
					"KBUILD_BUILD_TIMESTAMP="+ts, "XZ=xz", "CONFIG_SHELL=sh", "KHEADERS="+testbin.Kheaders(t), "KHEADERS_STRIP=kbuild")
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("drop-in gen_kheaders.sh: %v: %s", err, out)
				}
				b, err := os.ReadFile(filepath.Join(copyDir, "kernel/dropin.tar.xz"))
				must(t, err)
				return string(out), b
			}
			out, b := dropIn()
			if !strings.Contains(out, "GEN") || !bytes.Equal(b, want) {
				t.Errorf("%s: drop-in first run printed %q and wrote %d bytes (sha256 %x); want GEN and gen_kheaders.sh's %d bytes", arch, out, len(b), sha256.Sum256(b), len(want))
			}
			if out, b = dropIn(); out != "" || !bytes.Equal(b, want) {
				t.Errorf("%s: drop-in second run printed %q; want a silent skip leaving the archive as it was", arch, out)
			}
		})
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Remove()
	os.Exit(code)
}

// TestRealTokens checks on the real trees that default stripping keeps
// every header's token stream and that Kbuild's regex damages the headers
// the reference names.
func TestRealTokens(t *testing.T) {
	trees := realTrees(t)
	known := map[string]string{"x86_64": "arch/x86/include/asm/asm.h", "arm64": "arch/arm64/include/asm/kexec.h"}
	for arch, r := range trees {
		t.Run(arch, func(t *testing.T) {
			r.prepared(t)
			for _, keep := range []bool{false, true} {
				res, err := Check(t.Context(), Options{SrcTree: r.src, ObjTree: r.build, KeepLines: keep})
				must(t, err)
				var kb []string
				for _, f := range res.Findings {
					if f.Mode == StripDefault {
						t.Errorf("KeepLines=%v: default stripping changed %s: %s", keep, f.Path, f.Reason)
					} else {
						kb = append(kb, f.Path)
					}
				}
				if !strings.Contains(strings.Join(kb, " "), known[arch]) {
					t.Errorf("Kbuild damage list %v lacks %s", kb, known[arch])
				}
				if res.Files < 1000 {
					t.Errorf("checked only %d headers", res.Files)
				}
			}
		})
	}
}

// TestRealArtifact compares Write(StripKbuild) with the kheaders_data.tar.xz
// a full kernel build made (scripts/build-test-artifacts.sh), member by
// member (that build had no KBUILD_BUILD_TIMESTAMP, so mtimes differ).
func TestRealArtifact(t *testing.T) {
	trees := realTrees(t)
	arts := filepath.Join(filepath.Dir(trees["x86_64"].src), "..", "kheaders-artifacts")
	if a := os.Getenv("KHEADERS_ARTIFACTS"); a != "" {
		arts = a
	}
	for arch, dir := range map[string]string{"x86_64": "x86_64-y-xz", "arm64": "arm64-y"} {
		t.Run(arch, func(t *testing.T) {
			r := trees[arch]
			r.prepared(t)
			ref, err := os.ReadFile(filepath.Join(arts, dir, "kheaders_data.tar.xz"))
			if err != nil {
				t.Skipf("no artifact: %v (set KHEADERS_ARTIFACTS)", err)
			}
			var got bytes.Buffer
			_, err = Write(t.Context(), Options{SrcTree: r.src, ObjTree: r.build, Strip: StripKbuild, Compress: CompressNone}, &got)
			must(t, err)
			a, b := members(t, xzd(t, ref)), members(t, got.Bytes())
			// In a full build gen_kheaders.sh runs before
			// include/generated/utsversion.h exists (6.14 removed it from
			// the archive for that reason); the prepared tree has it now.
			if !strings.Contains(strings.Join(a, "\n"), "./include/generated/utsversion.h ") {
				for i, m := range b {
					if strings.HasPrefix(m, "./include/generated/utsversion.h ") {
						b = append(b[:i], b[i+1:]...)
						break
					}
				}
			}
			if len(a) != len(b) {
				t.Errorf("%d members in the kernel's archive, %d in ours", len(a), len(b))
			}
			for i := 0; i < len(a) && i < len(b); i++ {
				if a[i] != b[i] {
					t.Errorf("member %d: kernel %s, ours %s", i, a[i], b[i])
					break
				}
			}
		})
	}
}

// members lists "name type mode size sha256 link" of every member.
func members(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		must(t, err)
		d, _ := io.ReadAll(tr)
		out = append(out, fmt.Sprintf("%s %c %o %d %x %s", h.Name, h.Typeflag, h.Mode, h.Size, sha256.Sum256(d), h.Linkname))
	}
}

func xzd(t *testing.T, b []byte) []byte {
	t.Helper()
	cmd := exec.Command("xz", "-dc")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz -dc: %v", err)
	}
	return out
}

func run(t *testing.T, dir string, argv ...string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v: %s", argv, err, out)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
