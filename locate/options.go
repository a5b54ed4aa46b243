package locate

import (
	"log/slog"
	"time"

	"github.com/kheaders/kheaders/oci"
)

// LoadPolicy says whether Locate may load the kheaders module.
type LoadPolicy string

const (
	// LoadAuto loads the module only on the real host ("/" root) and only
	// with CAP_SYS_MODULE. The zero value.
	LoadAuto LoadPolicy = ""
	// LoadNever never loads a module.
	LoadNever LoadPolicy = "never"
	// LoadAlways loads when permitted, also under a host root (a container
	// seeing the host's /lib/modules).
	LoadAlways LoadPolicy = "always"
)

// Options configure Locate. The zero value locates headers for the real
// running kernel with the default cache.
type Options struct {
	// HostRoot is where the host's /proc, /sys, /lib/modules, /boot and /usr
	// are seen ("" or "/": the real machine).
	HostRoot string
	// Override is the explicit source (--source, KHEADERS_SOURCE): a header
	// tree, or a file carrying the archive (the archive itself, kheaders.ko
	// [.xz|.zst|.gz], vmlinux, a kernel or boot image), as a path on this
	// machine (not under HostRoot). When set, Locate uses it alone and never
	// the chain: if it is missing, unusable or not the running kernel's,
	// Locate fails with the reason (see Locate).
	Override string
	// Sources replaces the default chain (nil: DefaultSources()); append
	// to DefaultSources() to add a source of your own.
	Sources []Source
	// Only keeps only the sources of the chain with these names, in chain
	// order; Disable removes sources by name. Neither applies to Override.
	Only, Disable []string
	// CacheDir is the cache directory ("": cache.DefaultDir()).
	CacheDir string
	// NoVerify hands out headers even when they do not match the running
	// kernel; each mismatch becomes a warning.
	NoVerify bool
	// Load says whether the kheaders module may be loaded.
	Load LoadPolicy
	// Progress, if set, is called during an extraction with the compressed
	// bytes consumed and the archive size.
	Progress func(done, total int64)
	// Registry is an OCI repository ("HOST[:PORT]/NAME", --registry,
	// KHEADERS_REGISTRY) holding archives pushed with kheaders push; the
	// registry source pulls the running kernel's from it by build-id, then
	// release ("": the source is skipped). RegistryOptions configures the
	// client (credentials file, --plain-http, size cap; nil: defaults).
	Registry        string
	RegistryOptions *oci.Options
	// Target, when set, locates the headers of the kernel running on a
	// remote target instead of this machine's: ssh://[user@]host[:port],
	// adb[:SERIAL] or cmd:PREFIX (docs/remote.md). Its identity files are
	// read into a private snapshot that serves as the host root (HostRoot
	// is ignored), archives are read from it only on a cache miss, and
	// verification is the local one against the target's kernel.
	Target string
	// TargetTimeout bounds each remote command (0: 60 s).
	TargetTimeout time.Duration
	// Push, with Target, runs kheaders on the target (docs/remote.md):
	// the one on its PATH when it speaks the same stream version, else a
	// static kheaders for the target's machine copied to a temporary
	// directory there (PushBinary, or this program when it fits) and
	// removed afterwards. Its answer is verified on the host like any
	// other; the file-reading sources follow it in the chain.
	Push bool
	// PushBinary is the kheaders executable to push ("": this program,
	// when it is static and built for the target's machine).
	PushBinary string
	// Logger gets decisions at Debug and degraded fallbacks at Warn (nil:
	// discard).
	Logger *slog.Logger

	// targetOnly narrows a target's chain to its archive sources
	// ("archive": TargetArchive) or its BTF ("btf": TargetBTF); "" is the
	// whole chain.
	targetOnly string
	// keepSources keeps every archive (and BTF) in the cache beside its
	// tree, as for a target's: ServeTarget hands it out from there.
	keepSources bool
	// refetch reads the target's archive or BTF again even when the cache
	// knows it (an object made before the cache kept its source bytes).
	refetch bool
}
