// Package carrier finds the kernel header archive (kheaders_data.tar.xz),
// the embedded kernel configuration (IKCONFIG) and BTF in whatever carries a
// kernel: /sys/kernel/kheaders.tar.xz or a plain .tar.xz, kheaders.ko (also
// .ko.xz, .ko.zst, .ko.gz), vmlinux (by symbols, or by scanning when
// stripped), raw and compressed kernel images, and the containers of
// internal/kimage (bzImage, arm64 Image and zboot, zImage, Android boot
// images, initramfs cpio) recursively. Detection is by content, never by file
// name.
//
// The archive has no marker of its own: it is found between the symbols
// kernel_headers_data and kernel_headers_data_end, or, without symbols, as
// the xz stream with a CRC64 check whose decoded start is a tar of "./"
// members, with its exact end taken from the xz index. The bytes returned are
// the build's kheaders_data.tar.xz, byte for byte.
package carrier

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/kheaders/kheaders/archive"
	"github.com/kheaders/kheaders/btfc"
	"github.com/kheaders/kheaders/internal/codec"
	"github.com/kheaders/kheaders/internal/elfsym"
	"github.com/kheaders/kheaders/internal/karch"
	"github.com/kheaders/kheaders/internal/kconfig"
	"github.com/kheaders/kheaders/internal/kimage"
	"github.com/kheaders/kheaders/internal/xz"
)

// Sentinel errors.
var (
	// ErrNotFound: the artifact does not carry what was asked (no header
	// archive, no IKCONFIG). The message says what was looked for.
	ErrNotFound = errors.New("not found in this artifact")
	// ErrFormat: the artifact is not a format this package recognises, or it
	// is corrupt.
	ErrFormat = errors.New("unrecognised or corrupt artifact")
	// ErrNotSupported: the artifact cannot provide what was asked in this
	// form (a directory of extracted headers has no archive bytes).
	ErrNotSupported = errors.New("not supported for this artifact")
	// ErrChanged: the file was truncated, rewritten or replaced between
	// OpenPath and reading it, or while it was read.
	ErrChanged = errors.New("the file changed while it was read")
)

// Symbols the kernel defines around its embedded data.
const (
	symHeaders    = "kernel_headers_data"
	symHeadersEnd = "kernel_headers_data_end"
	symConfig     = "kernel_config_data"
	symConfigEnd  = "kernel_config_data_end"
)

// maxDepth bounds container nesting.
const maxDepth = 8

// MaxInspectBytes is the default cap on the file data Inspect holds in
// memory while it decodes an archive (archive.Load keeps the tree);
// Options.Archive.Limits.MaxBytes sets another.
const MaxInspectBytes = 512 << 20

// maxConfig caps a decoded IKCONFIG (real ones are ~300 KB).
const maxConfig = 64 << 20

// Options tunes the search. The zero value (or nil) works.
type Options struct {
	// Logger receives the decisions (debug) and degraded paths (warn); nil
	// discards.
	Logger *slog.Logger
	// MaxInput caps how much OpenPath reads: from a regular file (0 means
	// 4 GiB) and from a device or FIFO (0 means 512 MiB).
	MaxInput int64
	// InputFlag names the setting that raises MaxInput in the error for an
	// input past it ("--max-input"); empty names this field.
	InputFlag string
	// Archive is passed to archive.Inspect when Inspect decodes the archive.
	Archive *archive.Options
	// NoSHA256 leaves ArchiveInfo.SHA256 empty: for a caller that hashes
	// the archive anyway while it reads it (archive.Extract reports the
	// sha256 of its input in Manifest.ArchiveSHA256), so that the bytes
	// are not hashed twice, once before the work starts.
	NoSHA256 bool
}

func (o *Options) noSum() bool { return o != nil && o.NoSHA256 }

func (o *Options) logger() *slog.Logger {
	if o == nil || o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Layer is one step from the artifact down to what carried the archive (or
// the kernel): its format and, inside a container, which part it was.
//
// Its JSON is a `layers` element of kheaders.inspect/v1 and
// kheaders.extract/v1 (docs/json.md): a stable schema, fields are only added
// within v1.
type Layer struct {
	Format      string `json:"format"`                // "bzimage", "xz", "vmlinux", "module", "archive", "cpio", ...
	Part        string `json:"part,omitempty"`        // the part of the enclosing container ("kernel", "ramdisk", a cpio path)
	Compression string `json:"compression,omitempty"` // a container's payload compression
	Size        int64  `json:"size"`                  // bytes of this layer
}

// ArchiveInfo describes a found header archive.
//
// Its JSON is the `archive` object of kheaders.inspect/v1 and
// kheaders.extract/v1 (docs/json.md): a stable schema, fields are only added
// within v1.
type ArchiveInfo struct {
	// How is "file" (the input is the archive), "symbols" (between
	// kernel_headers_data and _end) or "scan" (an xz stream found by content).
	How    string `json:"how"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Set by Inspect, which decodes the archive:
	Format  string `json:"format,omitempty"` // "xz", ...
	Members int    `json:"members,omitempty"`
	Files   int    `json:"files,omitempty"`
	Bytes   int64  `json:"bytes,omitempty"` // bytes of file data
	Release string `json:"release,omitempty"`
	// VersionCode is the LINUX_VERSION_CODE of the archive's version.h.
	VersionCode uint32 `json:"version_code,omitempty"`
}

// Info is what an artifact is and carries.
//
// Its JSON is the body of kheaders.inspect/v1 (docs/json.md): a stable
// schema, fields are only added within v1.
type Info struct {
	// Kind is the outermost format ("archive", "module", "vmlinux",
	// "bzimage", "arm64-image", "android-boot", "cpio", "xz", "directory" ...).
	Kind string `json:"kind"`
	// Layers is the chain from the artifact down to the layer that holds
	// the archive, or else the kernel; outermost first.
	Layers []Layer `json:"layers"`
	// Arch is the kernel's SRCARCH ("x86", "arm64", "arm", "riscv" ...):
	// the directory under arch/. Machine is its uname -m form, the
	// kernel's UTS_MACHINE ("x86_64", "aarch64", "i386", "arm" ...), when
	// the artifact tells it (an ELF header, a boot header, a config); a
	// running 32-bit x86 or arm kernel reports a CPU variant (i686,
	// armv7l). See internal/karch.
	Machine string `json:"machine,omitempty"`
	Arch    string `json:"arch,omitempty"`
	// Release is the kernel release; ReleaseFrom says where it came from:
	// "utsrelease.h", "banner", "vermagic", or the container ("bzimage").
	Release     string       `json:"release,omitempty"`
	ReleaseFrom string       `json:"release_from,omitempty"`
	HasHeaders  bool         `json:"has_headers"`
	HasConfig   bool         `json:"has_config"`
	HasBTF      bool         `json:"has_btf"`
	Archive     *ArchiveInfo `json:"archive,omitempty"`
	// BTF describes the BTF found (set by Inspect): raw BTF
	// (/sys/kernel/btf/vmlinux, Kind "btf") or a vmlinux's .BTF section.
	BTF *BTFInfo `json:"btf,omitempty"`
	// ConfigHow is "symbols", "marker" (IKCFG_ST) or "file"; ConfigSize is
	// the size of the decoded .config.
	ConfigHow  string `json:"config_how,omitempty"`
	ConfigSize int    `json:"config_size,omitempty"`
	// Notes are remarks on what was skipped (a vendor_boot image, a part
	// that could not be decoded).
	Notes []string `json:"notes,omitempty"`
}

// Chain renders Layers as "bzimage(xz) > vmlinux" or
// "cpio(gzip)[lib/modules/R/kernel/kernel/kheaders.ko.xz] > xz > module":
// a container's payload compression in parentheses, and in brackets the part
// of the container that the next layer is (when it is not the kernel).
func (i *Info) Chain() string {
	var b strings.Builder
	for n, l := range i.Layers {
		if n > 0 {
			b.WriteString(" > ")
		}
		b.WriteString(l.Format)
		if l.Compression != "" && l.Compression != "none" && l.Compression != l.Format {
			b.WriteString("(" + l.Compression + ")")
		}
		if n+1 < len(i.Layers) {
			switch p := i.Layers[n+1].Part; p {
			case "", "kernel", "vmlinux", "data":
			default:
				b.WriteString("[" + p + "]")
			}
		}
	}
	return b.String()
}

// BTFInfo describes the BTF an artifact carries.
type BTFInfo struct {
	Format string `json:"format"` // "raw" (the artifact is BTF) or "elf" (a .BTF section)
	Size   int64  `json:"size"`   // bytes of raw BTF
	Types  int    `json:"types"`  // types defined (void not counted)
}

// result accumulates what a search found.
type result struct {
	log   *slog.Logger
	ctx   context.Context
	noSum bool // Options.NoSHA256

	kind string

	archive      []byte
	archiveHow   string
	archiveChain []Layer

	config    []byte
	configHow string

	kernelChain []Layer
	arch        string // SRCARCH
	machine     string // UTS_MACHINE, "" when unknown
	release     string
	relFrom     string
	relRank     int
	btf         bool
	btfRaw      []byte                 // the artifact (or a part) is raw BTF
	btfELF      func() ([]byte, error) // reads the kernel ELF's .BTF
	btfChain    []Layer
	notes       []string
	firstErr    error
}

func (r *result) setRelease(rel, from string, rank int) {
	if rel == "" || (r.release != "" && rank >= r.relRank) {
		return
	}
	r.release, r.relFrom, r.relRank = rel, from, rank
}

func (r *result) note(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	r.log.Debug(msg)
	r.notes = append(r.notes, msg)
}

// done reports whether nothing more can be learned by searching further.
func (r *result) done() bool {
	return r.archive != nil && r.config != nil && r.arch != "" && r.release != ""
}

func with(chain []Layer, l Layer) []Layer {
	return append(chain[:len(chain):len(chain)], l)
}

// search looks at data, the last layer of chain being its container's part
// (or nothing at the top).
func (r *result) search(data []byte, chain []Layer, part string, depth int) {
	if r.ctx.Err() != nil || r.done() {
		return
	}
	if depth > maxDepth {
		r.note("containers nested deeper than %d levels; stopped at %s", maxDepth, (&Info{Layers: chain}).Chain())
		return
	}
	// The archive itself (sysfs file, kheaders_data.tar.xz, a plain tar).
	if a, ok := asArchive(data); ok {
		l := Layer{Format: "archive", Part: part, Size: int64(len(a))}
		r.top(l.Format)
		if r.archive == nil {
			r.archive, r.archiveHow, r.archiveChain = a, "file", with(chain, l)
		}
		return
	}
	if btfc.IsRawBTF(data) {
		if _, err := btfc.CountTypes(data); err == nil {
			l := Layer{Format: "btf", Part: part, Size: int64(len(data))}
			r.top(l.Format)
			r.btf = true
			if r.btfRaw == nil && r.btfELF == nil {
				r.btfRaw, r.btfChain = data, with(chain, l)
			}
			return
		}
	}
	if isConfigText(data) {
		r.top("config")
		if r.config == nil {
			r.config, r.configHow = data, "file"
		}
		return
	}
	if bytes.HasPrefix(data, elfsym.Magic) {
		r.searchELF(data, chain, part)
		return
	}
	f, parts, err := kimage.Peel(data)
	switch {
	case errors.Is(err, kimage.ErrNotContainer):
		l := Layer{Format: string(f), Part: part, Size: int64(len(data))}
		r.top(l.Format)
		var arch karch.Target
		if len(parts) > 0 {
			arch = metaTarget(parts[0].Meta)
		}
		r.searchRaw(data, with(chain, l), arch)
		return
	case errors.Is(err, kimage.ErrUnknownFormat):
		if depth == 0 {
			r.top("raw")
		}
		l := Layer{Format: "raw", Part: part, Size: int64(len(data))}
		r.searchRaw(data, with(chain, l), karch.Target{})
		return
	case err != nil && len(parts) == 0:
		r.top(string(f))
		r.note("%s: %v", describe(chain, string(f)), err)
		if r.firstErr == nil {
			r.firstErr = fmt.Errorf("%s: %w", describe(chain, string(f)), err)
		}
		return
	case err != nil:
		r.note("%s: %v (using the %d parts read)", describe(chain, string(f)), err, len(parts))
	}
	r.top(string(f))
	if f == kimage.VendorBoot {
		r.note("a vendor_boot image has no kernel (only ramdisks and DTBs); searching its ramdisks, but the kernel is in the device's boot image (boot.img)")
	}
	for _, p := range parts {
		if !worthSearching(f, p) {
			continue
		}
		l := Layer{Format: string(f), Part: part, Compression: p.Meta["compression"], Size: int64(len(data))}
		if t := metaTarget(p.Meta); t.Arch != "" && r.arch == "" && (p.Name == "kernel" || p.Name == "vmlinux") {
			r.setArch(t)
		}
		if rel := p.Meta["release"]; rel != "" {
			r.setRelease(rel, string(f), 3)
		}
		r.search(p.Data, with(chain, l), p.Name, depth+1)
		if r.done() {
			return
		}
	}
}

// top records the outermost kind (the first call wins).
func (r *result) top(kind string) {
	if r.kind == "" {
		r.kind = kind
	}
}

func describe(chain []Layer, last string) string {
	c := (&Info{Layers: with(chain, Layer{Format: last})}).Chain()
	return c
}

// worthSearching skips container parts that cannot carry a kernel or an
// archive (DTBs, signatures), and cpio members that are not ELF, compressed
// or tar data.
func worthSearching(f kimage.Format, p kimage.Part) bool {
	switch p.Name {
	case "dtb", "second", "signature", "recovery_dtbo", "bootconfig", "vendor_ramdisk_table":
		return false
	}
	if f != kimage.CPIO {
		return true
	}
	if p.Meta["type"] == "symlink" || len(p.Data) < 512 {
		return false
	}
	if bytes.HasPrefix(p.Data, elfsym.Magic) {
		return true
	}
	if _, ok := codec.Detect(p.Data); ok {
		return true
	}
	return archive.Format(p.Data) != ""
}

// asArchive reports whether data is the header archive itself: an xz stream
// decoding to a "./" tar (trailing padding cut off by the index), or several
// concatenated ones, as xz -dc reads them, or a plain "./" tar.
func asArchive(data []byte) ([]byte, bool) {
	if bytes.HasPrefix(data, xz.Magic) {
		streams, end := xz.Streams(data)
		if len(streams) == 0 {
			return nil, false
		}
		first := streams[0].Bytes(data)
		if _, err := xz.FindArchive(first); err != nil {
			return nil, false
		}
		// Bytes after the run of streams that start another stream (one
		// that does not parse: truncated or damaged) stay, for the decoder
		// to report; other trailing bytes are cut off.
		switch {
		case bytes.HasPrefix(data[end:], xz.Magic):
			return data, true
		case len(streams) > 1:
			return data[:end], true
		}
		return first, true
	}
	if xz.IsTarStart(data) {
		return data, true
	}
	return nil, false
}

// isConfigText reports whether data is a kernel .config (e.g. the decoded
// /proc/config.gz).
func isConfigText(data []byte) bool {
	head := data[:min(len(data), 4096)]
	if !bytes.HasPrefix(head, []byte("#\n# Automatically generated file; DO NOT EDIT.")) &&
		!bytes.HasPrefix(head, []byte("CONFIG_")) {
		return false
	}
	return bytes.IndexByte(head, 0) < 0
}

func (r *result) searchELF(data []byte, chain []Layer, part string) {
	f, err := elfsym.Open(data)
	if err != nil {
		r.note("%s: %v", describe(chain, "elf"), err)
		if r.firstErr == nil {
			r.firstErr = err
		}
		return
	}
	kind := "vmlinux"
	isModule := f.Type() == elf.ET_REL
	if isModule {
		kind = "module"
	}
	l := Layer{Format: kind, Part: part, Size: int64(len(data))}
	chain = with(chain, l)
	r.top(kind)
	kernelish := false
	if isModule {
		if vm := vermagic(f.Section(".modinfo")); vm != "" {
			kernelish = true
			r.setRelease(vm, "vermagic", 2)
		}
	} else if rel, ok := kimage.Release(data); ok {
		kernelish = true
		r.setRelease(rel, "banner", 1)
	}
	if r.archive == nil {
		a, err := f.Range(symHeaders, symHeadersEnd)
		switch {
		case err == nil && bytes.HasPrefix(a, xz.Magic):
			r.archive, r.archiveHow, r.archiveChain = a, "symbols", chain
		case err == nil:
			r.log.Warn("bytes between the kheaders symbols are not an xz stream; scanning instead", "layer", (&Info{Layers: chain}).Chain(), "start", fmt.Sprintf("% x", a[:min(len(a), 8)]))
			fallthrough
		case errors.Is(err, elfsym.ErrNoSymbols) || errors.Is(err, elfsym.ErrNotFound):
			if !isModule || errors.Is(err, elfsym.ErrNoSymbols) || err == nil {
				r.log.Debug("no kheaders symbols; scanning for the archive's xz stream", "layer", (&Info{Layers: chain}).Chain(), "reason", err)
				if s, serr := xz.FindArchive(data); serr == nil {
					r.archive, r.archiveHow, r.archiveChain = s.Bytes(data), "scan", chain
				}
			}
		default:
			r.note("%s: %v", (&Info{Layers: chain}).Chain(), err)
		}
	}
	if r.config == nil {
		if c, how := findConfigELF(f, data); c != nil {
			r.config, r.configHow = c, how
		}
	}
	if r.archive != nil || r.config != nil {
		kernelish = true
	}
	if kernelish {
		if r.arch == "" || r.kernelChain == nil {
			t, _ := karch.FromELF(f.Machine(), f.Class(), f.Data())
			r.setArch(t)
		}
		if !isModule && !r.btf {
			if b := f.Section(".BTF"); b != nil {
				r.btf = true
				r.btfELF = func() ([]byte, error) { return b, nil }
			}
		}
		if r.kernelChain == nil {
			r.kernelChain = chain
		}
	}
}

// searchRaw looks into a raw kernel (an arm64 Image, a decompressed payload
// without ELF headers).
func (r *result) searchRaw(data []byte, chain []Layer, arch karch.Target) {
	kernelish := false
	if rel, ok := kimage.Release(data); ok {
		kernelish = true
		r.setRelease(rel, "banner", 1)
	}
	if r.archive == nil {
		if s, err := xz.FindArchive(data); err == nil {
			r.archive, r.archiveHow, r.archiveChain = s.Bytes(data), "scan", chain
			kernelish = true
		}
	}
	if r.config == nil {
		if c := findConfigMarker(data); c != nil {
			r.config, r.configHow = c, "marker"
			kernelish = true
		}
	}
	if kernelish || arch.Arch != "" {
		if arch.Arch != "" && (r.arch == "" || r.kernelChain == nil) {
			r.setArch(arch) // the innermost kernel knows best
		}
		if r.kernelChain == nil {
			r.kernelChain = chain
		}
	}
}

// vermagic returns the release from a module's .modinfo "vermagic=".
func vermagic(modinfo []byte) string {
	for _, kv := range bytes.Split(modinfo, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("vermagic=")); ok {
			rel, _, _ := bytes.Cut(v, []byte(" "))
			return string(rel)
		}
	}
	return ""
}

var ikcfgStart = []byte("IKCFG_ST\x1f\x8b\x08")

// findConfigMarker finds IKCONFIG the way scripts/extract-ikconfig does: the
// "IKCFG_ST" marker followed by a gzip stream.
func findConfigMarker(data []byte) []byte {
	for off := 0; ; {
		i := bytes.Index(data[off:], ikcfgStart)
		if i < 0 {
			return nil
		}
		start := off + i + 8
		if c, err := codec.Decompress(codec.Gzip, data[start:], maxConfig); err == nil {
			return c
		}
		off = start
	}
}

func findConfigELF(f *elfsym.File, data []byte) ([]byte, string) {
	if gz, err := f.Range(symConfig, symConfigEnd); err == nil {
		if c, err := codec.Decompress(codec.Gzip, gz, maxConfig); err == nil {
			return c, "symbols"
		}
	}
	if c := findConfigMarker(data); c != nil {
		return c, "marker"
	}
	return nil, ""
}

// setArch records the kernel's arch (an empty Target clears it: a kernel
// of no arch the kernel has).
func (r *result) setArch(t karch.Target) { r.arch, r.machine = t.Arch, t.Machine }

// metaTarget reads the arch kimage found in a container ("arch": SRCARCH,
// "machine": UTS_MACHINE).
func metaTarget(meta map[string]string) karch.Target {
	return karch.Target{Arch: meta["arch"], Machine: meta["machine"]}
}

// archOfTree names the architecture of an extracted header tree from
// include/generated/autoconf.h (karch.FromConfig: the arch and its
// UTS_MACHINE), else from its single arch/ directory.
func archOfTree(t fs.FS) karch.Target {
	if b, err := fs.ReadFile(t, "include/generated/autoconf.h"); err == nil {
		if a, err := kconfig.ParseAutoconf(b); err == nil {
			if tg, ok := karch.FromConfig(a.Enabled); ok {
				return tg
			}
		}
	}
	ents, err := fs.ReadDir(t, "arch")
	if err != nil {
		return karch.Target{}
	}
	var dirs []string
	for _, e := range ents {
		if e.IsDir() && karch.Known(e.Name()) {
			dirs = append(dirs, e.Name())
		}
	}
	if len(dirs) == 1 {
		return karch.Target{Arch: dirs[0]}
	}
	return karch.Target{}
}

func (o *Options) run(ctx context.Context, data []byte) *result {
	r := &result{log: o.logger(), ctx: ctx, noSum: o.noSum()}
	r.search(data, nil, "", 0)
	return r
}

func (r *result) info() *Info {
	in := &Info{Kind: r.kind, Arch: r.arch, Release: r.release, ReleaseFrom: r.relFrom, HasBTF: r.btf, Notes: r.notes}
	switch {
	case r.archiveChain != nil:
		in.Layers = r.archiveChain
	case r.kernelChain != nil:
		in.Layers = r.kernelChain
	case r.btfChain != nil:
		in.Layers = r.btfChain
	}
	in.Machine = r.machine
	if r.archive != nil {
		in.HasHeaders = true
		in.Archive = &ArchiveInfo{How: r.archiveHow, Size: int64(len(r.archive))}
		if !r.noSum {
			in.Archive.SHA256 = sha256Hex(r.archive)
		}
	}
	if r.config != nil {
		in.HasConfig = true
		in.ConfigHow = r.configHow
		in.ConfigSize = len(r.config)
	}
	return in
}

// notFound builds the ErrNotFound error for what.
func (r *result) notFound(what string) error {
	chain := (&Info{Layers: r.kernelChain}).Chain()
	if chain == "" {
		chain = r.kind
	}
	if chain == "" {
		chain = "the input"
	}
	var hint string
	switch what {
	case "archive":
		hint = "looked for the symbols kernel_headers_data/kernel_headers_data_end and for an xz stream (CRC64 check) holding a tar of ./ members; " +
			"the kernel was built without CONFIG_IKHEADERS=y (with =m the archive is in kheaders.ko: run 'modprobe kheaders' and read /sys/kernel/kheaders.tar.xz, or pass /lib/modules/RELEASE/kernel/kernel/kheaders.ko*)"
	case "config":
		hint = "looked for the symbols kernel_config_data/kernel_config_data_end and the IKCFG_ST marker followed by gzip; " +
			"the kernel was built without CONFIG_IKCONFIG (with =m it is in configs.ko; a running kernel with CONFIG_IKCONFIG_PROC has /proc/config.gz)"
	}
	err := fmt.Errorf("no %s in %s: %w; %s", map[string]string{"archive": "kernel header archive", "config": "kernel config (IKCONFIG)"}[what], chain, ErrNotFound, hint)
	if r.firstErr != nil {
		// A layer was recognised but could not be read: the artifact is
		// damaged, which says nothing about CONFIG_IKHEADERS.
		return r.corrupt()
	}
	if r.kind == "btf" {
		return fmt.Errorf("no %s in %s: %w; it is raw BTF (type information only, as in /sys/kernel/btf/vmlinux), which carries no headers or config: 'kheaders btf SRC -o vmlinux.h' generates vmlinux.h from it for CO-RE programs",
			map[string]string{"archive": "kernel header archive", "config": "kernel config (IKCONFIG)"}[what], chain, ErrNotFound)
	}
	if r.kind == "raw" && r.kernelChain == nil {
		return fmt.Errorf("%w: no known kernel artifact format and no %s found by scanning (not a kernel image, module, vmlinux, boot image, cpio or archive?)", ErrFormat, what)
	}
	return err
}

// corrupt is the error for an artifact with a layer that was recognised
// but could not be decoded (truncated, bit-flipped).
func (r *result) corrupt() error {
	return fmt.Errorf("%w: corrupt or truncated input: %w; the file is damaged (a partial download or copy?): get it again, e.g. from the package that installed it", ErrFormat, r.firstErr)
}

// Found is what one search of an artifact found.
type Found struct {
	Archive []byte // the header archive, byte-exact, or nil
	Config  []byte // the decoded .config, or nil
	Info    *Info  // without the fields that need decoding the archive
	r       *result
}

// Search looks through data once for the archive, the config, the release,
// the architecture and BTF. Not finding them is not an error here; see
// Archive and Config for errors that explain what is missing.
//
// Errors: a context error only.
func Search(ctx context.Context, data []byte, opts *Options) (*Found, error) {
	return found(ctx, opts.run(ctx, data))
}

func found(ctx context.Context, r *result) (*Found, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &Found{Archive: r.archive, Config: r.config, Info: r.info(), r: r}, nil
}

// ArchiveErr returns the error explaining a missing archive (nil if found).
func (f *Found) ArchiveErr() error {
	if f.Archive != nil {
		return nil
	}
	return f.r.notFound("archive")
}

// ConfigErr returns the error explaining a missing config (nil if found).
func (f *Found) ConfigErr() error {
	if f.Config != nil {
		return nil
	}
	return f.r.notFound("config")
}

// Archive returns the kernel header archive carried by data, byte-exact
// (it aliases data or a decompressed copy of it), with what was learned on
// the way. The archive is not decoded; Inspect does that.
//
// Errors: ErrNotFound (with what was looked for and what to do), ErrFormat,
// a context error.
func Archive(ctx context.Context, data []byte, opts *Options) ([]byte, *Info, error) {
	f, err := Search(ctx, data, opts)
	if err != nil {
		return nil, nil, err
	}
	return f.Archive, f.Info, f.ArchiveErr()
}

// Config returns the kernel .config embedded in data (IKCONFIG), decoded.
//
// Errors: ErrNotFound, ErrFormat, a context error.
func Config(ctx context.Context, data []byte, opts *Options) ([]byte, error) {
	f, err := Search(ctx, data, opts)
	if err != nil {
		return nil, err
	}
	return f.Config, f.ConfigErr()
}

// Inspect reports what data is and what it carries. When it carries an
// archive, Inspect decodes it (verifying it) to count members and read the
// release from include/generated/utsrelease.h. An artifact without headers
// is not an error: HasHeaders is false.
//
// Errors: ErrFormat (nothing recognisable), archive errors when the archive
// found is corrupt, a context error.
func Inspect(ctx context.Context, data []byte, opts *Options) (*Info, error) {
	return inspect(ctx, opts.run(ctx, data), opts)
}

func inspect(ctx context.Context, r *result, opts *Options) (*Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	in := r.info()
	if err := r.btfInfo(in); err != nil {
		return in, err
	}
	if r.kind == "" || (r.kind == "raw" && r.kernelChain == nil && r.archive == nil && r.config == nil) {
		return in, r.notFound("archive")
	}
	if r.archive == nil && r.firstErr != nil {
		return in, r.corrupt()
	}
	if r.archive != nil {
		var aopts archive.Options
		if opts != nil && opts.Archive != nil {
			aopts = *opts.Archive
		}
		// Load keeps every file in memory: cap the file data it holds
		// (real archives hold 30-60 MB) unless the caller set a cap.
		if aopts.Limits.MaxBytes <= 0 {
			aopts.Limits.MaxBytes = MaxInspectBytes
		}
		// Hashed once: by info() above, or (NoSHA256) while decoding.
		if aopts.ArchiveSHA256 == "" {
			aopts.ArchiveSHA256 = in.Archive.SHA256
		}
		t, err := archive.Load(ctx, bytes.NewBuffer(r.archive), &aopts)
		if err != nil {
			return in, fmt.Errorf("inspect the archive found in %s: %w", in.Chain(), err)
		}
		m := t.Manifest()
		in.Archive.SHA256 = m.ArchiveSHA256
		in.Archive.Format = m.Format
		in.Archive.Members = len(m.Entries)
		in.Archive.Files = m.Files
		in.Archive.Bytes = m.Bytes
		in.Archive.Release = m.Release
		for _, f := range kconfig.VersionFiles {
			if b, err := fs.ReadFile(t, f); err == nil {
				if v, ok := kconfig.VersionCode(b); ok {
					in.Archive.VersionCode = v
					break
				}
			}
		}
		if m.Release != "" {
			in.Release, in.ReleaseFrom = m.Release, "utsrelease.h"
		}
		if in.Arch == "" {
			tg := archOfTree(t)
			in.Arch, in.Machine = tg.Arch, tg.Machine
		}
	}
	return in, nil
}

// btfInfo fills in.BTF from the BTF found: its size and type count. Only a
// read error (a file cut short under the reader) is an error; malformed BTF
// is a note.
func (r *result) btfInfo(in *Info) error {
	raw, format := r.btfRaw, "raw"
	if raw == nil && r.btfELF != nil {
		b, err := r.btfELF()
		if err != nil {
			return fmt.Errorf("read the .BTF section: %w", err)
		}
		raw, format = b, "elf"
	}
	if raw == nil {
		return nil
	}
	n, err := btfc.CountTypes(raw)
	if err != nil {
		in.Notes = append(in.Notes, fmt.Sprintf("BTF: %v", err))
	}
	in.BTF = &BTFInfo{Format: format, Size: int64(len(raw)), Types: n}
	return nil
}
