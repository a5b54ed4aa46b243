package initramfs

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/kheaders/kheaders/carrier"
	"github.com/kheaders/kheaders/internal/codec"
	"github.com/kheaders/kheaders/internal/output"
	"github.com/kheaders/kheaders/internal/xz"
)

// Where the segment puts things in rootfs, and where the initramfs-tools and
// dracut hooks of contrib/ copy them before switch_root (which deletes
// rootfs; /run is moved into the real root). RunDir is a subdirectory of
// /run/kheaders, the root's tmpfs cache, whose own entries are lock,
// objects, keys and tmp.
const (
	Dir             = "/kheaders"
	ArchivePath     = Dir + "/" + ArchiveName
	ManifestPath    = Dir + "/" + ManifestName
	RunDir          = "/run/kheaders/initramfs"
	RunArchivePath  = RunDir + "/" + ArchiveName
	RunManifestPath = RunDir + "/" + ManifestName
	ArchiveName     = "kheaders.tar.xz"
	ManifestName    = "manifest.json"
	// ManifestSchema is the manifest's "schema" value.
	ManifestSchema = "kheaders.initramfs-manifest/v1"
)

// Compression of the segment (not of the archive inside it, which stays the
// kernel's .tar.xz byte for byte).
type Compression string

// The compressions the kernel's initramfs unpacker reads (with
// CONFIG_RD_XZ / CONFIG_RD_GZIP for the compressed ones).
const (
	// None: a plain newc archive. The kernel finds it only at a 4-aligned
	// offset: append it to an uncompressed cpio (which ends 512-aligned) or
	// pad what precedes it with NUL bytes to a multiple of 4.
	None Compression = "none"
	// XZ with a CRC32 check (XZ Embedded in the kernel refuses CRC64 and
	// SHA-256), LZMA2 with a 1 MiB dictionary. Safe to append anywhere.
	XZ Compression = "xz"
	// Gzip, without name or mtime in its header. Safe to append anywhere.
	Gzip Compression = "gzip"
)

// ParseCompression reads "none", "xz" or "gzip" ("" means xz).
func ParseCompression(s string) (Compression, error) {
	switch c := Compression(s); c {
	case "":
		return XZ, nil
	case None, XZ, Gzip:
		return c, nil
	}
	return "", fmt.Errorf("unknown segment compression %q (want none, xz or gzip)", s)
}

// Manifest describes the archive of a segment. It sits next to the archive
// (ManifestPath, RunManifestPath) as JSON.
//
// Its JSON is kheaders.initramfs-manifest/v1, and the `manifest` of
// kheaders.initramfs/v1 and kheaders.bootimg/v1 (docs/json.md): a stable
// schema, fields are only added within v1.
type Manifest struct {
	Schema  string `json:"schema"`            // ManifestSchema
	Release string `json:"release"`           // UTS_RELEASE of the headers
	Arch    string `json:"arch,omitempty"`    // SRCARCH ("x86", "arm64")
	Machine string `json:"machine,omitempty"` // uname -m form, when known
	// BuildID is the kernel's GNU build-id, when the source artifact
	// carried one (today: never filled by NewManifest).
	BuildID       string `json:"build_id,omitempty"`
	Archive       string `json:"archive"` // file name of the archive, next to the manifest
	ArchiveSize   int64  `json:"archive_size"`
	ArchiveSHA256 string `json:"archive_sha256"`
}

// NewManifest decodes archive (a kheaders .tar.xz) to read its release and
// architecture, and returns its manifest.
//
// Errors: carrier and archive errors when archive is not a readable header
// archive; ErrManifest when it names no release.
func NewManifest(ctx context.Context, archive []byte) (*Manifest, error) {
	in, err := carrier.Inspect(ctx, archive, nil)
	if err != nil {
		return nil, fmt.Errorf("read the header archive: %w", err)
	}
	if in.Kind != "archive" || in.Archive == nil {
		return nil, fmt.Errorf("%w: the input is a %s, not a header archive", ErrManifest, in.Kind)
	}
	m := &Manifest{Schema: ManifestSchema, Release: in.Archive.Release, Arch: in.Arch, Machine: in.Machine,
		Archive: ArchiveName, ArchiveSize: int64(len(archive)), ArchiveSHA256: sha256Hex(archive)}
	if m.Release == "" {
		m.Release = in.Release
	}
	if m.Release == "" {
		return nil, fmt.Errorf("%w: the archive has no include/generated/utsrelease.h (not a kernel header archive?)", ErrManifest)
	}
	return m, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// maxManifest bounds what ParseManifest reads.
const maxManifest = 64 << 10

// ParseManifest parses a manifest and checks its shape: the schema, a
// release, a plain archive file name, a 64-digit sha256.
//
// Errors: ErrManifest.
func ParseManifest(b []byte) (*Manifest, error) {
	if len(b) > maxManifest {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrManifest, len(b), maxManifest)
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrManifest)
	}
	switch {
	case m.Schema != ManifestSchema:
		return nil, fmt.Errorf("%w: schema %q, want %q", ErrManifest, m.Schema, ManifestSchema)
	case m.Release == "" || strings.ContainsAny(m.Release, "/\x00\n"):
		return nil, fmt.Errorf("%w: bad release %q", ErrManifest, m.Release)
	case m.Archive == "" || m.Archive != path.Base(m.Archive) || m.Archive == "." || m.Archive == "..":
		return nil, fmt.Errorf("%w: archive %q is not a file name", ErrManifest, m.Archive)
	case m.ArchiveSize <= 0:
		return nil, fmt.Errorf("%w: archive size %d", ErrManifest, m.ArchiveSize)
	}
	if d, err := hex.DecodeString(m.ArchiveSHA256); err != nil || len(d) != sha256.Size || strings.ToLower(m.ArchiveSHA256) != m.ArchiveSHA256 {
		return nil, fmt.Errorf("%w: archive_sha256 %q is not 64 lowercase hex digits", ErrManifest, m.ArchiveSHA256)
	}
	return &m, nil
}

// Check reports whether archive is the one m describes (size and sha256).
//
// Errors: ErrManifest naming the difference.
func (m *Manifest) Check(archive []byte) error {
	if int64(len(archive)) != m.ArchiveSize {
		return fmt.Errorf("%w: the archive has %d bytes, the manifest says %d", ErrManifest, len(archive), m.ArchiveSize)
	}
	if got := sha256Hex(archive); got != m.ArchiveSHA256 {
		return fmt.Errorf("%w: the archive's sha256 is %s, the manifest says %s", ErrManifest, got, m.ArchiveSHA256)
	}
	return nil
}

// JSON returns the manifest as written into the segment (indented, with a
// final newline).
func (m *Manifest) JSON() []byte {
	b, _ := json.MarshalIndent(m, "", "  ")
	return append(b, '\n')
}

// Entries returns the members of the segment: Dir, the archive and the
// manifest, all 0644 regular files (0755 directory).
func Entries(archive []byte, m *Manifest) []Entry {
	return []Entry{
		{Name: Dir, Mode: fs.ModeDir | 0o755},
		{Name: ArchivePath, Mode: 0o644, Data: archive},
		{Name: ManifestPath, Mode: 0o644, Data: m.JSON()},
	}
}

// Options configures WriteSegment; the zero value writes xz.
type Options struct {
	Compression Compression // "" means XZ
}

// WriteSegment writes the segment for archive and its manifest to w.
// m.Archive must be ArchiveName, and archive must match m (Check).
//
// Errors: ErrManifest, ErrEntry, a compressor's or w's error.
func WriteSegment(w io.Writer, archive []byte, m *Manifest, o *Options) error {
	if m.Archive != ArchiveName {
		return fmt.Errorf("%w: archive name %q, the segment holds %q", ErrManifest, m.Archive, ArchiveName)
	}
	if err := m.Check(archive); err != nil {
		return err
	}
	var comp Compression
	if o != nil {
		comp = o.Compression
	}
	comp, err := ParseCompression(string(comp))
	if err != nil {
		return err
	}
	var zw io.WriteCloser
	switch comp {
	case None:
		return WriteCPIO(w, Entries(archive, m))
	case XZ:
		// CRC32: the kernel's initramfs xz decoder knows no other check.
		zw, err = codec.NewXZWriter(w, 1<<20, xz.CheckCRC32)
	case Gzip:
		zw, err = gzip.NewWriterLevel(w, gzip.DefaultCompression)
	}
	if err != nil {
		return fmt.Errorf("%s writer: %w", comp, err)
	}
	if err := WriteCPIO(zw, Entries(archive, m)); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finish the %s stream: %w", comp, err)
	}
	return nil
}

// Build is NewManifest plus WriteSegment: the whole segment for archive.
// Cancelling ctx stops the compression at its next output (seconds of
// work for xz): the error is then ctx's.
func Build(ctx context.Context, w io.Writer, archive []byte, o *Options) (*Manifest, error) {
	m, err := NewManifest(ctx, archive)
	if err != nil {
		return nil, err
	}
	if err := WriteSegment(output.ContextWriter(ctx, w), archive, m, o); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return m, nil
}
