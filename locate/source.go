package locate

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"

	"github.com/kheaders/kheaders/cache"
	"github.com/kheaders/kheaders/internal/host"
)

// Source is one place headers may come from. Locate asks each source of the
// chain in order (DefaultSources, or Options.Sources); the first Candidate
// that passes verification wins. The explicit source (Options.Override) is
// not a Source: when it is set, Locate uses it alone.
//
// Find returns (nil, err) when the source has nothing: wrap the reason with
// Skip(reason, fix) so the final report tells the user what was tried and how
// to fix it. An error wrapping ErrMismatch means the source itself saw that
// what it has is another kernel's (reported as a rejection). Any other error
// is reported as a failure of that source, and the chain goes on. Find must
// not write anything: Locate extracts, caches and verifies what it returns.
//
// A Source reaches the host only through Env (ReadFile, Stat, Resolve,
// HostPath, BootID), so that it works under Options.HostRoot; it needs no
// access to the cache: a Candidate with Archive, Open or Fill is cached by
// Locate, and one with Identity is answered from the cache on a warm call
// without Open being called. Sources outside this package plug in through
// Options.Sources (see the package example).
type Source interface {
	// Name is a short stable word used in reports, --sources and JSON
	// ("sysfs", "module-file", "btf").
	Name() string
	Find(ctx context.Context, env *Env) (*Candidate, error)
}

// Kind says what a candidate holds.
type Kind string

const (
	// KindTree is a kernel header tree: include/, arch/A/include/, with
	// generated headers (autoconf.h, utsrelease.h, version.h). It is verified
	// against the running kernel before it is handed out.
	KindTree Kind = "tree"
	// KindBTF is a tree holding only vmlinux.h derived from the running
	// kernel's BTF; it has no generated headers to verify, so Candidate.Trust
	// must say why it is the running kernel's.
	KindBTF Kind = "btf"
)

// Candidate is what a source found. Exactly one of Dir, Archive or Fill is
// set.
type Candidate struct {
	Kind Kind // "" means KindTree
	// Origin says where it came from, for humans: a host path such as
	// "/sys/kernel/kheaders.tar.xz" or "/lib/modules/R/build".
	Origin string

	// Dir is an existing header tree, as a real path (already under the
	// host root; see Env.HostPath). BuildDir is the object tree holding the
	// generated headers of a split layout (Debian: build/ vs source/); ""
	// means Dir. Trees are used in place, not copied.
	Dir, BuildDir string

	// Archive is a kheaders archive (tar.xz as in /sys/kernel/kheaders.tar.xz).
	// Locate extracts it into the cache under the sha256 of these bytes.
	Archive []byte
	// Open, when Archive is nil, returns the archive bytes on demand; with
	// Identity set, a warm locate may use the cache without calling it.
	Open func(ctx context.Context) ([]byte, error)

	// Fill writes generated content (e.g. vmlinux.h) into an empty directory;
	// Locate caches it under Key, which must identify the content (e.g. the
	// sha256 of the BTF it is derived from).
	Fill func(ctx context.Context, dir *os.Root) error
	Key  string

	// Identity is a cheap identity of the origin (e.g. path, size, mtime,
	// inode, boot id) valid only while the origin cannot change under the
	// same identity. Locate remembers identity -> sha256 so a warm locate
	// need not read and hash the archive. "" disables that shortcut.
	Identity string

	// Trust, when not empty, says why a candidate with no generated headers
	// (KindBTF) is the running kernel's; Locate then skips the tree checks.
	Trust string

	// keep: a remote target's archive, kept in the cache beside its tree
	// (cache.KeepSource); keepData: the same for the bytes a Fill
	// candidate is made from (a target's BTF).
	keep     bool
	keepData []byte
	// gen, when set, receives the vmlinux.h the Fill generates (default
	// options), for btf --target (Headers.GeneratedVMLinuxH).
	gen *vmlinuxH
}

// Env is what a source may look at: the running kernel's identity and the
// host, through the injectable root. Sources read the host only through it.
type Env struct {
	Release string // uname -r
	Machine string // uname -m
	Arch    string // kernel SRCARCH for Machine (x86, arm64, ...)
	Logger  *slog.Logger
	Options *Options // read-only

	host      *host.Host
	facts     *kernelFacts
	openCache func() (*cache.Cache, error)
}

// HostPath maps a host path to the real path under the host root.
func (e *Env) HostPath(p string) string { return e.host.Path(p) }

// ReadFile reads a host file.
func (e *Env) ReadFile(p string) ([]byte, error) { return e.host.ReadFile(p) }

// Stat stats a host file (following symlinks as the root's filesystem does).
func (e *Env) Stat(p string) (fs.FileInfo, error) { return e.host.Stat(p) }

// Resolve resolves symlinks in a host path as the host sees them (absolute
// targets re-rooted under the host root) and returns the host path.
func (e *Env) Resolve(p string) (string, error) { return e.host.Resolve(p) }

// BootID returns the host's boot id or "".
func (e *Env) BootID() string { return e.host.BootID() }

// SkipError is returned by a source that has nothing to offer.
type SkipError struct {
	Reason string // what was looked at and why it did not qualify
	Fix    string // what the user can do about it ("" when nothing)
}

func (e *SkipError) Error() string { return e.Reason }

// Is makes errors.Is(err, ErrSkipped) true.
func (e *SkipError) Is(target error) bool { return target == ErrSkipped }

// Skip returns the error of a source that has nothing: reason says what was
// checked, fix what the user could do.
func Skip(reason, fix string) error { return &SkipError{Reason: reason, Fix: fix} }

// ErrSkipped matches every SkipError.
var ErrSkipped = errors.New("source skipped")
