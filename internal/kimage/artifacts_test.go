package kimage

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"

	"github.com/google/go-cmp/cmp"
	"github.com/kheaders/kheaders/internal/karch"
)

// artifact is one row of testdata/kernels/kheaders.tsv.
type artifact struct {
	file, arch, release, config string
	chain                       []Format
	sha                         string
	size                        int
	head                        []byte
}

func loadArtifacts(t testing.TB) []artifact {
	t.Helper()
	f, err := os.Open(filepath.Join(hosttest.Kernels(t), "kheaders.tsv"))
	if err != nil {
		t.Fatalf("open manifest: %v", err)
	}
	defer f.Close()
	var out []artifact
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c := strings.Split(line, "\t")
		if len(c) != 8 {
			t.Fatalf("manifest line %q: %d columns, want 8", line, len(c))
		}
		a := artifact{file: c[0], arch: c[1], release: c[3], config: c[4], sha: c[5]}
		for _, s := range strings.Split(c[2], ",") {
			a.chain = append(a.chain, Format(s))
		}
		if a.size, err = strconv.Atoi(c[6]); err != nil {
			t.Fatal(err)
		}
		if a.head, err = hex.DecodeString(c[7]); err != nil || len(a.head) != 64 {
			t.Fatalf("manifest head of %s: %v (%d bytes)", a.file, err, len(a.head))
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// findArchive locates the kheaders archive (head64, size, sha256) in kernel.
func findArchive(kernel, head []byte, size int, sha string) (int, bool) {
	for off := 0; ; {
		i := bytes.Index(kernel[off:], head)
		if i < 0 {
			return -1, false
		}
		p := off + i
		if p+size <= len(kernel) {
			sum := sha256.Sum256(kernel[p : p+size])
			if hex.EncodeToString(sum[:]) == sha {
				return p, true
			}
		}
		off = p + 1
	}
}

// TestKernelCarriesArchive peels every committed real artifact down to its
// kernel and checks the build's kheaders archive is inside, byte-exact.
func TestKernelCarriesArchive(t *testing.T) {
	arts := loadArtifacts(t)
	if len(arts) == 0 {
		t.Fatal("no artifacts in testdata/kernels/kheaders.tsv")
	}
	for _, a := range arts {
		t.Run(a.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(hosttest.Kernels(t), a.file))
			if err != nil {
				t.Fatal(err)
			}
			k, chain, err := Kernel(data)
			if err != nil {
				t.Fatalf("Kernel(%s): %v", a.file, err)
			}
			if diff := cmp.Diff(a.chain, chain); diff != "" {
				t.Errorf("Kernel(%s) chain (-want +got):\n%s", a.file, diff)
			}
			if r, ok := Release(k); !ok || r != a.release {
				t.Errorf("Release(kernel of %s) = %q, %v, want %q", a.file, r, ok, a.release)
			}
			if last := a.chain[len(a.chain)-1]; last == ZImage {
				// A raw arm32 Image has no header: the zImage tells the arch.
				_, parts, err := Peel(data)
				if err != nil || partArch(parts) != karch.SrcArch(a.arch) || parts[0].Meta["machine"] != "arm" {
					t.Errorf("Peel(%s) = meta %v, %v, want arch %q, machine arm", a.file, parts[0].Meta, err, karch.SrcArch(a.arch))
				}
			} else {
				f, parts, _ := Peel(k)
				// The manifest's arch column is x86_64 (a machine) or
				// arm64 (a SRCARCH): either form names the kernel's arch.
				if f != last || len(parts) != 1 || parts[0].Meta["arch"] != karch.SrcArch(a.arch) || karch.SrcArch(parts[0].Meta["machine"]) != parts[0].Meta["arch"] {
					t.Errorf("Peel(kernel of %s) = %q, %v parts (meta %v), want %q, arch %q and its machine", a.file, f, len(parts), parts[0].Meta, last, karch.SrcArch(a.arch))
				}
			}
			if _, ok := findArchive(k, a.head, a.size, a.sha); !ok {
				t.Errorf("kernel of %s (%d bytes) does not hold the build's kheaders_data.tar.xz (sha256 %s)", a.file, len(k), a.sha)
			}
			if strings.HasPrefix(a.file, "bzImage") {
				if r, ok := Release(data); !ok || r != a.release {
					t.Errorf("Release(%s) = %q, %v, want %q (setup header kernel_version)", a.file, r, ok, a.release)
				}
			}
		})
	}
}

func partArch(parts []Part) string {
	if len(parts) == 0 {
		return ""
	}
	return parts[0].Meta["arch"]
}

// TestFixtureBzImages: the shared fixtures' bzImages (=y holds the archive,
// =m has it in the module only).
func TestFixtureBzImages(t *testing.T) {
	fx := hosttest.Fixtures(t)
	for _, v := range []string{"ikheaders-y", "ikheaders-m"} {
		t.Run(v, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(fx, v, "bzImage"))
			if err != nil {
				t.Fatal(err)
			}
			k, chain, err := Kernel(data)
			if err != nil {
				t.Fatalf("Kernel: %v", err)
			}
			if diff := cmp.Diff([]Format{BzImage, ELF}, chain); diff != "" {
				t.Errorf("chain (-want +got):\n%s", diff)
			}
			f, parts, err := Peel(data)
			if f != BzImage || err != nil || parts[0].Meta["compression"] != "xz" || parts[0].Meta["arch"] != "x86" || parts[0].Meta["machine"] != "x86_64" || parts[0].Meta["release"] != "6.12.117" {
				t.Errorf("Peel = %q, %v, meta %v", f, err, parts[0].Meta)
			}
			arch, err := os.ReadFile(filepath.Join(fx, v, "kheaders_data.tar.xz"))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(arch)
			_, found := findArchive(k, arch[:64], len(arch), hex.EncodeToString(sum[:]))
			if want := v == "ikheaders-y"; found != want {
				t.Errorf("archive in vmlinux: %v, want %v", found, want)
			}
			if v == "ikheaders-y" {
				vm, err := os.ReadFile(filepath.Join(fx, v, "vmlinux"))
				if err != nil {
					t.Fatal(err)
				}
				// The bzImage holds the same vmlinux, stripped: same banner.
				if Banner(vm) == "" || Banner(vm) != Banner(k) {
					t.Errorf("banner of bzImage's kernel %q, vmlinux %q", Banner(k), Banner(vm))
				}
			}
		})
	}
}
