// Package archive handles the kernel header archive (kheaders_data.tar.xz,
// /sys/kernel/kheaders.tar.xz) as data: it decodes it (xz, zstd, gzip or a
// plain tar, detected from the magic), lists and verifies it, serves it as an
// fs.FS, and extracts it safely.
//
// Extraction writes only through an *os.Root: absolute paths, "..", device
// nodes, fifos, hard links and symlinks that leave the tree are refused, and
// caps on the total size, the entry count and the size of one entry stop
// decompression bombs before anything large is written. Extract is atomic: it
// fills a temporary sibling directory and renames it into place, so on error
// nothing is left behind.
package archive

import (
	"errors"
	"io/fs"
	"log/slog"
	"time"
)

// Sentinel errors. Errors returned by this package wrap one of them.
var (
	// ErrFormat: the input is not a tar, tar.xz, tar.zst or tar.gz, or it is
	// corrupt or truncated.
	ErrFormat = errors.New("not a valid kernel header archive")
	// ErrUnsafe: an entry would write outside the destination (absolute path,
	// "..", a symlink leaving the tree, a path through a symlink).
	ErrUnsafe = errors.New("unsafe archive entry")
	// ErrUnsupportedEntry: an entry type that kernel header archives never
	// contain and extraction refuses (hard link, device node, fifo ...).
	ErrUnsupportedEntry = errors.New("unsupported archive entry type")
	// ErrLimit: a cap of Limits was exceeded (decompression bomb guard).
	ErrLimit = errors.New("archive exceeds a size limit")
	// ErrExist: the destination directory already exists, or the root given
	// to ExtractRoot is not empty, or the archive has an entry twice.
	ErrExist = errors.New("destination already exists")
)

// Default caps used for zero fields of Limits. The largest real archive
// (allmodconfig x86_64) is about 50 MB of tar with 25,000 entries.
const (
	DefaultMaxBytes      = 2 << 30   // 2 GiB of file data in total
	DefaultMaxEntries    = 200000    // members, directories included
	DefaultMaxEntryBytes = 256 << 20 // 256 MiB for one file
)

// Limits caps what an archive may expand to. Zero fields take the defaults.
type Limits struct {
	MaxBytes      int64 // total bytes of file data
	MaxEntries    int   // number of members
	MaxEntryBytes int64 // bytes of one file
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = DefaultMaxEntries
	}
	if l.MaxEntryBytes <= 0 {
		l.MaxEntryBytes = DefaultMaxEntryBytes
	}
	return l
}

// Options tunes reading and extraction. The zero value (or nil) works.
type Options struct {
	Limits Limits
	// Logger receives debug messages; nil discards them.
	Logger *slog.Logger
	// Progress, if set, is called from time to time with the compressed
	// bytes consumed and the total compressed size (-1 when unknown: the
	// total is known when the reader has a Size() int64 method or is a
	// regular *os.File).
	Progress func(done, total int64)
	// Workers is the number of goroutines writing files during extraction;
	// 0 means GOMAXPROCS (at least 2).
	Workers int
	// NoModTime skips setting modification times on extracted files and
	// directories (tar -x sets them to the archive's mtimes, and so do we by
	// default).
	NoModTime bool
	// NoHash leaves Entry.SHA256 of extracted files empty instead of
	// hashing every file (the cache needs the hashes for its manifest;
	// a plain extraction does not).
	NoHash bool
	// ArchiveSHA256 is the sha256 (lowercase hex) of everything r yields,
	// when the caller has computed it already (the cache's key is the
	// sha256 of the archive bytes it extracts; carrier reports it): the
	// input is then not hashed a second time, and Manifest.ArchiveSHA256
	// is this value. The caller vouches for it.
	ArchiveSHA256 string
	// NoArchiveSHA256 leaves Manifest.ArchiveSHA256 empty instead of
	// hashing the input (extract -C --quiet reports no hash).
	NoArchiveSHA256 bool
}

// limits are the caps of o, defaults filled in.
func (o *Options) limits() Limits {
	if o == nil {
		return Limits{}.withDefaults()
	}
	return o.Limits.withDefaults()
}

func (o *Options) logger() *slog.Logger {
	if o == nil || o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Entry is one member of the archive, with its name cleaned of the "./"
// prefix ("include/linux/types.h"; the root "./" itself is not listed).
//
// Its JSON is the `entries` of kheaders.cache-manifest/v1 (docs/json.md): a
// stable schema, fields are only added within v1.
type Entry struct {
	Name    string      `json:"name"`
	Type    byte        `json:"type"` // 'f' file, 'd' directory, 'l' symlink
	Mode    fs.FileMode `json:"mode"` // permission bits
	Size    int64       `json:"size,omitempty"`
	SHA256  string      `json:"sha256,omitempty"` // hex, files only
	Target  string      `json:"target,omitempty"` // symlinks only
	ModTime time.Time   `json:"mtime"`
}

// Manifest describes an archive that was read completely.
type Manifest struct {
	Entries []Entry `json:"entries"`
	Files   int     `json:"files"` // regular files
	Bytes   int64   `json:"bytes"` // bytes of file data
	// Release is UTS_RELEASE from include/generated/utsrelease.h, if the
	// archive has that file.
	Release string `json:"release,omitempty"`
	// Format is the outer encoding: "xz", "zstd", "gzip" or "tar".
	Format string `json:"format"`
	// ArchiveSize and ArchiveSHA256 describe the bytes read from the input
	// (the compressed archive), all of them up to EOF.
	ArchiveSize   int64  `json:"archive_size"`
	ArchiveSHA256 string `json:"archive_sha256"`
}
