package carrier

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"

	"github.com/kheaders/kheaders/btfc"
)

func TestBTF(t *testing.T) {
	seed, err := os.ReadFile("../btfc/testdata/seeds/basic.btf")
	if err != nil {
		t.Fatal(err)
	}
	in, err := BTF(seed)
	if err != nil || in.Format != btfc.FormatRaw || !bytes.Equal(in.Raw, seed) || in.Split {
		t.Fatalf("BTF(raw) = %+v, %v, want the raw bytes as is", in, err)
	}
	if _, err := BTF([]byte("not a kernel")); !errors.Is(err, ErrNotSupported) {
		t.Errorf("BTF(text) = %v, want ErrNotSupported", err)
	}
	if runtime.GOOS == "linux" {
		// The test binary is an ELF without .BTF.
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(exe)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := BTF(data); !errors.Is(err, ErrNotFound) || !errors.Is(err, btfc.ErrNoBTF) {
			t.Errorf("BTF(ELF without .BTF) = %v, want ErrNotFound and btfc.ErrNoBTF", err)
		}
		if _, err := BTFFile(exe); !errors.Is(err, ErrNotFound) {
			t.Errorf("BTFFile(ELF without .BTF) = %v, want ErrNotFound", err)
		}
	}
	p := filepath.Join(t.TempDir(), "vmlinux.btf")
	if err := os.WriteFile(p, seed, 0o644); err != nil {
		t.Fatal(err)
	}
	if in, err := BTFFile(p); err != nil || !bytes.Equal(in.Raw, seed) {
		t.Errorf("BTFFile(raw) = %v, want the raw bytes", err)
	}
	if _, err := BTFFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("BTFFile(missing) = %v, want fs.ErrNotExist", err)
	}
}

// TestBTFDebian peels Debian's 6.1 vmlinuz (scripts/fetch-debian-btf.sh) and
// checks that its BTF is the one of the vmlinux ELF, and that a module is
// split BTF.
func TestBTFDebian(t *testing.T) {
	dir := hosttest.DebianCloud.Path()
	images, _ := filepath.Glob(filepath.Join(dir, "root/boot/vmlinuz-*"))
	if len(images) == 0 {
		t.Skipf("no Debian vmlinuz under %s/root/boot: run scripts/fetch-debian-btf.sh", dir)
	}
	elfIn, err := BTFFile(filepath.Join(dir, "vmlinux"))
	if err != nil || elfIn.Format != btfc.FormatELF {
		t.Fatalf("BTFFile(vmlinux) = %+v, %v", elfIn, err)
	}
	img, err := os.ReadFile(images[0])
	if err != nil {
		t.Fatal(err)
	}
	in, err := BTF(img)
	if err != nil || in.Format != "image+elf" || len(in.Chain) == 0 || !bytes.Equal(in.Raw, elfIn.Raw) {
		t.Fatalf("BTF(%s) = format %q chain %v, %v; want image+elf with the vmlinux's .BTF", images[0], in.Format, in.Chain, err)
	}
	mods, _ := filepath.Glob(filepath.Join(dir, "root/lib/modules/*/kernel/fs/autofs/autofs4.ko"))
	if len(mods) == 0 {
		t.Skip("no autofs4.ko in the Debian tree")
	}
	m, err := BTFFile(mods[0])
	if err != nil || !m.Split || m.Format != btfc.FormatELF {
		t.Errorf("BTFFile(%s) = %+v, %v, want split ELF BTF", mods[0], m, err)
	}
}
