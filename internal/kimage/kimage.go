// Package kimage identifies kernel image containers and peels them down to
// the kernel they carry.
//
// Formats: x86 bzImage (boot protocol setup header, payload_offset/length,
// any kernel compressor, EFI-stub and signed images), arm64 Image (raw
// kernel), whole-file compressed kernels (Image.gz, .bz2, .lzma, .xz, .lzo,
// .lz4, .zst), arm64 EFI zboot (vmlinuz.efi: a PE with the "zimg" header),
// arm zImage (compressed payload found inside the decompressor), Android boot
// images v0-v4 (kernel and ramdisk sections) and vendor_boot v3/v4 (no kernel:
// ErrNoKernel), initramfs cpio (newc, compressed, several archives
// concatenated with padding, as the kernel's init/initramfs.c accepts).
//
// API:
//
//   - Peel(data) identifies data's outer container and returns what it holds
//     as Parts. A raw kernel (ELF vmlinux, arm64 Image) is not a container:
//     Peel returns its Format, a single Part "kernel" holding data itself (with
//     Meta "arch"), and ErrNotContainer.
//   - Kernel(data) peels repeatedly down to the innermost kernel (an ELF
//     vmlinux or a raw Image) and returns it with the chain of formats, outer
//     first.
//   - Release(data) finds the kernel release in a "Linux version X ..." banner
//     or a bzImage's kernel_version string.
//
// Every function is a pure function of its input bytes; decompression output
// is capped at MaxDecoded bytes.
package kimage

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"

	"github.com/kheaders/kheaders/internal/codec"
	"github.com/kheaders/kheaders/internal/karch"
)

// Format names a container (or raw kernel) format. Whole-file compressed
// streams use the codec kind as their Format ("gzip", "xz", ...).
type Format string

// Formats.
const (
	BzImage     Format = "bzimage"
	ARM64Image  Format = "arm64-image"
	Zboot       Format = "zboot"
	ZImage      Format = "zimage"
	AndroidBoot Format = "android-boot"
	VendorBoot  Format = "vendor-boot"
	CPIO        Format = "cpio"
	ELF         Format = "elf" // a vmlinux (raw kernel)
)

// Part is one thing a container holds.
type Part struct {
	Name string // "kernel", "ramdisk", "vmlinux", a cpio path, ...
	Data []byte
	// Meta carries what the container says about the part: "arch" (the
	// SRCARCH: x86, arm64 ...) and "machine" (UTS_MACHINE: x86_64,
	// aarch64 ...; see internal/karch), "release", "version", "os_version", "header_version", "compression",
	// "cmdline", "mode" ...
	Meta map[string]string
}

// MaxDecoded caps every decompression (decompression bombs), and so the
// memory one peeled layer can take: real decompressed kernels are 20-80 MB,
// an initramfs a few hundred MB at most.
const MaxDecoded = 512 << 20

// Sentinel errors.
var (
	// ErrNotContainer: data is a raw kernel (ELF, arm64 Image), nothing to peel.
	ErrNotContainer = errors.New("not a container: a raw kernel")
	// ErrUnknownFormat: data is no format this package knows.
	ErrUnknownFormat = errors.New("unknown kernel image format")
	// ErrCorrupt: the container's header or layout is invalid or truncated.
	ErrCorrupt = errors.New("corrupt kernel image")
	// ErrNoKernel: the container holds no kernel (vendor_boot, an initramfs).
	ErrNoKernel = errors.New("image holds no kernel")
)

// Peel identifies data's outer container and returns what it holds.
//
// Errors: ErrNotContainer (with the raw kernel as the only Part),
// ErrUnknownFormat, ErrCorrupt, and codec errors from a payload.
func Peel(data []byte) (Format, []Part, error) {
	switch {
	case bytes.HasPrefix(data, []byte("\x7fELF")):
		meta := map[string]string{}
		if t, ok := elfTarget(data); ok {
			setTarget(meta, t)
		}
		return ELF, []Part{{Name: "kernel", Data: data, Meta: meta}}, ErrNotContainer
	case bytes.HasPrefix(data, []byte(bootMagic)):
		parts, err := peelBoot(data)
		return AndroidBoot, parts, err
	case bytes.HasPrefix(data, []byte(vendorBootMagic)):
		parts, err := peelVendorBoot(data)
		return VendorBoot, parts, err
	case isZboot(data):
		parts, err := peelZboot(data)
		return Zboot, parts, err
	case isBzImage(data):
		parts, err := peelBzImage(data)
		return BzImage, parts, err
	case isARM64Image(data):
		return ARM64Image, []Part{{Name: "kernel", Data: data, Meta: arm64Meta(data)}}, ErrNotContainer
	case isZImage(data):
		parts, err := peelZImage(data)
		return ZImage, parts, err
	case isCPIO(data):
		parts, err := peelInitramfs(data)
		return CPIO, parts, err
	}
	if kind, ok := codec.Detect(data); ok {
		out, n, err := codec.DecompressPrefix(kind, data, MaxDecoded)
		if err != nil {
			return Format(kind), nil, fmt.Errorf("peel %s stream: %w", kind, err)
		}
		if isCPIO(out) {
			// A compressed initramfs: the kernel accepts more archives
			// (compressed or not) after this one.
			parts, err := peelInitramfsAfter(data, out, n, kind)
			return CPIO, parts, err
		}
		return Format(kind), []Part{{Name: "data", Data: out, Meta: map[string]string{
			"compression": string(kind), "compressed_size": fmt.Sprint(n)}}}, nil
	}
	return "", nil, ErrUnknownFormat
}

// Kernel peels data repeatedly down to the innermost kernel (an ELF vmlinux
// or a raw arm64 Image) and returns it with the chain of formats, outermost
// first (the last one is ELF or ARM64Image, or a compressed stream's kind
// when it held an unrecognised raw kernel with a Linux banner).
//
// Errors: ErrNoKernel (vendor_boot, initramfs), ErrUnknownFormat, ErrCorrupt,
// codec errors.
func Kernel(data []byte) ([]byte, []Format, error) {
	var chain []Format
	for depth := 0; depth < 8; depth++ {
		f, parts, err := Peel(data)
		if f != "" {
			chain = append(chain, f)
		}
		switch {
		case errors.Is(err, ErrNotContainer):
			return data, chain, nil
		case errors.Is(err, ErrUnknownFormat) && depth > 0 && bytes.Contains(data, []byte("Linux version ")):
			// A raw kernel of an architecture without a header we parse
			// (arm32 Image, riscv...): the banner says it is a kernel.
			return data, chain, nil
		case err != nil:
			return nil, chain, fmt.Errorf("find kernel in %s: %w", describe(chain), err)
		}
		switch f {
		case VendorBoot:
			return nil, chain, fmt.Errorf("find kernel: %w: a vendor_boot image carries ramdisks and DTBs only; use the device's boot image (boot.img) instead", ErrNoKernel)
		case CPIO:
			return nil, chain, fmt.Errorf("find kernel: %w: an initramfs holds files, not a kernel", ErrNoKernel)
		}
		next := -1
		for i, p := range parts {
			if p.Name == "kernel" || p.Name == "vmlinux" || p.Name == "data" {
				next = i
				break
			}
		}
		if next < 0 || len(parts[next].Data) == 0 {
			return nil, chain, fmt.Errorf("find kernel in %s: %w", describe(chain), ErrNoKernel)
		}
		data = parts[next].Data
	}
	return nil, chain, fmt.Errorf("find kernel: %w: containers nested too deep (%s)", ErrCorrupt, describe(chain))
}

func describe(chain []Format) string {
	if len(chain) == 0 {
		return "data"
	}
	var b bytes.Buffer
	for i, f := range chain {
		if i > 0 {
			b.WriteString(" > ")
		}
		b.WriteString(string(f))
	}
	return b.String()
}

// Release returns the kernel release from the first "Linux version X" banner
// in data, or from a bzImage's kernel_version string.
func Release(data []byte) (string, bool) {
	if isBzImage(data) {
		if v := bzKernelVersion(data); v != "" {
			if r, _, _ := bytes.Cut([]byte(v), []byte(" ")); len(r) > 0 {
				return string(r), true
			}
		}
	}
	const banner = "Linux version "
	for off := 0; ; {
		i := bytes.Index(data[off:], []byte(banner))
		if i < 0 {
			return "", false
		}
		s := data[off+i+len(banner):]
		off += i + len(banner)
		end := bytes.IndexAny(s, " \x00\n")
		if end <= 0 || end > 64 {
			continue
		}
		r := s[:end]
		// A release starts with a digit and is printable (skip the format
		// string "Linux version %s").
		if r[0] < '0' || r[0] > '9' || !printable(r) {
			continue
		}
		return string(r), true
	}
}

// Banner returns the whole "Linux version ..." line, or "".
func Banner(data []byte) string {
	for off := 0; ; {
		i := bytes.Index(data[off:], []byte("Linux version "))
		if i < 0 {
			return ""
		}
		s := data[off+i:]
		off += i + 1
		end := bytes.IndexAny(s, "\x00\n")
		if end < 0 || end > 512 {
			continue
		}
		line := s[:end]
		if len(line) > 14 && line[14] >= '0' && line[14] <= '9' && printable(line) {
			return string(line)
		}
	}
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// elfTarget is the kernel arch an ELF header tells (machine, class, byte
// order).
func elfTarget(data []byte) (karch.Target, bool) {
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return karch.Target{}, false
	}
	return karch.FromELF(f.Machine, f.Class, f.Data)
}

// setTarget records an arch in a part's Meta: "arch" is the SRCARCH,
// "machine" the UTS_MACHINE when known.
func setTarget(meta map[string]string, t karch.Target) {
	meta["arch"] = t.Arch
	if t.Machine != "" {
		meta["machine"] = t.Machine
	}
}
