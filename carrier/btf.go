package carrier

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"

	"github.com/kheaders/kheaders/btfc"
	"github.com/kheaders/kheaders/internal/kimage"
)

// BTFInput is the BTF a kernel artifact carries, ready for btfc.Load.
type BTFInput struct {
	// Raw is the raw BTF: header, type and string sections.
	Raw []byte
	// Format says where Raw came from: btfc.FormatRaw (the artifact is raw
	// BTF), btfc.FormatELF (an ELF's .BTF section) or "image+elf" (the
	// .BTF of the vmlinux inside a boot image).
	Format btfc.Format
	// Chain lists the image formats peeled to reach the vmlinux, outermost
	// first (empty unless Format is "image+elf").
	Chain []string
	// Split is set for a kernel module object (.ko): its BTF is split BTF
	// and needs its kernel's BTF as base (btfc.Load(in.Raw, base)). Raw
	// module BTF (/sys/kernel/btf/MODULE) cannot be told apart by its bytes;
	// callers know it by its path.
	Split bool
}

// BTF returns the BTF of a kernel artifact held in data: raw BTF as is, the
// .BTF section of an ELF file (vmlinux, stripped or not, or a module .ko,
// which gives split BTF), or the .BTF of the vmlinux inside a boot image
// (bzImage/vmlinuz with any kernel compressor, arm64 Image.*, EFI zboot,
// Android boot image), peeled as Inspect peels it.
//
// Errors wrap ErrNotFound and btfc.ErrNoBTF when the artifact carries no
// BTF (the message says how to get some), ErrNotSupported when data is
// neither BTF, ELF nor a kernel image.
func BTF(data []byte) (*BTFInput, error) {
	if btfc.IsRawBTF(data) {
		return &BTFInput{Raw: data, Format: btfc.FormatRaw}, nil
	}
	if isELFBytes(data) {
		raw, err := btfc.SectionBTF(data)
		if err != nil {
			return nil, noBTF(err)
		}
		return &BTFInput{Raw: raw, Format: btfc.FormatELF, Split: isModule(data)}, nil
	}
	kernel, chain, err := kimage.Kernel(data)
	names := make([]string, len(chain))
	for i, f := range chain {
		names[i] = string(f)
	}
	if err != nil {
		return &BTFInput{Chain: names}, fmt.Errorf("neither BTF, ELF nor a kernel image that can be opened: %w: %w", ErrNotSupported, err)
	}
	raw, f, err := btfc.RawBTF(kernel)
	if err != nil {
		return &BTFInput{Chain: names}, noBTF(err)
	}
	return &BTFInput{Raw: raw, Format: btfc.Format("image+" + string(f)), Chain: names}, nil
}

// BTFFile is BTF for the file at path. For an ELF vmlinux only the ELF
// headers and the .BTF section are read (a vmlinux is tens of megabytes);
// anything else is read whole through internal/input (capped at 4 GiB for
// a file, 512 MiB for a stream: ErrFormat wrapping input.ErrTooLarge past
// it). Errors also wrap the fs errors of opening path (fs.ErrNotExist).
func BTFFile(path string) (*BTFInput, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var magic [4]byte
	if n, _ := f.ReadAt(magic[:], 0); n == 4 && isELFBytes(magic[:]) {
		if ef, err := elf.NewFile(f); err == nil {
			sec := ef.Section(".BTF")
			if ef.Type != elf.ET_REL && ef.Section(".modinfo") == nil && sec != nil && sec.Type != elf.SHT_NOBITS {
				raw, err := sec.Data()
				if err != nil {
					return nil, fmt.Errorf("read .BTF section of %s: %w", path, err)
				}
				return &BTFInput{Raw: raw, Format: btfc.FormatELF}, nil
			}
		}
		// A module, or not a readable ELF: the byte-level path decides.
	}
	// Read through internal/input's caps (a FIFO or /dev/zero stops at
	// 512 MiB instead of growing without bound).
	data, err := readWhole(context.Background(), path, f, nil)
	if err != nil {
		return nil, err
	}
	return BTF(data)
}

func noBTF(err error) error {
	if errors.Is(err, btfc.ErrNoBTF) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

func isELFBytes(data []byte) bool { return len(data) >= 4 && string(data[:4]) == elf.ELFMAG }

// isModule reports whether data is a relocatable ELF with a .modinfo
// section: a kernel module, whose .BTF is split BTF.
func isModule(data []byte) bool {
	ef, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return false
	}
	defer ef.Close()
	return ef.Type == elf.ET_REL && ef.Section(".modinfo") != nil
}
