// Package host is the only place kheaders touches the machine it runs on:
// uname, /proc, /sys, /lib/modules, /boot, the vDSO note, kernel module
// loading and file locks. Every path is read under an injectable root so the
// rest of kheaders is a pure function of its inputs and tests use fake roots.
//
// With the root "/" (the default) the release and machine come from uname(2)
// and the LINUX_VERSION_CODE from the vDSO mapped into this process. With any
// other root DIR (a container's view of the host, or a test's fake root):
//
//   - release: DIR/proc/sys/kernel/osrelease
//   - machine: DIR/proc/sys/kernel/arch (the file Linux has had since 5.x)
//   - version code: the ELF note "Linux" type 0 of DIR/.kheaders/vdso.so, an
//     image of the vDSO (or any ELF file carrying that note); when it is
//     absent the code is unknown (ErrNotSupported) and the check is skipped.
//   - kernel config: DIR/proc/config.gz, DIR/boot/config-R, DIR/lib/modules/R/config
//   - modules: DIR/lib/modules/R, DIR/sys/module, DIR/sys/kernel/kheaders.tar.xz
//
// The vDSO of a container is the host kernel's own, so with --host-root the
// real vDSO is still used when DIR/.kheaders/vdso.so does not exist and
// DIR/proc/sys/kernel/osrelease equals the real uname release.
package host

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

var (
	// ErrNotSupported is returned when the host cannot answer (no vDSO note,
	// not Linux, a fake root without the file that would answer).
	ErrNotSupported = errors.New("not supported on this host")
	// ErrNotFound is returned when a file kheaders looks for is absent.
	ErrNotFound = errors.New("not found")
	// ErrPermission is returned when an operation needs a capability the
	// process does not have (CAP_SYS_MODULE for module loading).
	ErrPermission = errors.New("permission denied")
	// ErrNoFileLocking is returned by Flock on a kernel built without
	// CONFIG_FILE_LOCKING (flock(2) and fcntl locks answer ENOSYS).
	ErrNoFileLocking = errors.New("the kernel has no file locking (CONFIG_FILE_LOCKING is not set)")
)

// VDSOFile is where a non-"/" root keeps the vDSO image whose "Linux" note
// gives LINUX_VERSION_CODE (relative to the root).
const VDSOFile = ".kheaders/vdso.so"

// Host is the machine seen through a root directory.
type Host struct {
	root string
}

// New returns the host seen under root; "" and "/" mean the real machine.
func New(root string) *Host {
	if root == "" {
		root = "/"
	}
	if root != "/" {
		root = filepath.Clean(root)
	}
	return &Host{root: root}
}

// Root returns the root directory.
func (h *Host) Root() string { return h.root }

// IsReal reports whether the root is the real "/".
func (h *Host) IsReal() bool { return h.root == "/" }

// Path maps an absolute host path (e.g. "/sys/kernel/kheaders.tar.xz") to
// the path under the root.
func (h *Host) Path(p string) string {
	if h.root == "/" {
		return path.Clean("/" + p)
	}
	return filepath.Join(h.root, filepath.FromSlash(path.Clean("/"+p)))
}

// ReadFile reads a host file (path as on the host), with ReadFileDirect.
func (h *Host) ReadFile(p string) ([]byte, error) { return ReadFileDirect(h.Path(p)) }

// Open opens a host file.
func (h *Host) Open(p string) (*os.File, error) { return os.Open(h.Path(p)) }

// Stat stats a host file, following symlinks (resolved as on the real host;
// see Resolve for symlinks that must stay under the root).
func (h *Host) Stat(p string) (fs.FileInfo, error) { return os.Stat(h.Path(p)) }

// Lstat stats a host file without following a final symlink.
func (h *Host) Lstat(p string) (fs.FileInfo, error) { return os.Lstat(h.Path(p)) }

// Resolve resolves symlinks in the host path p as the host would see them:
// absolute link targets are re-rooted under the root (a container mounting
// the host at DIR sees /lib/modules/R/build -> /usr/src/linux-headers-R as
// DIR/usr/src/linux-headers-R), relative ones are joined to the link's
// directory. It returns the resolved host path (not prefixed by the root).
func (h *Host) Resolve(p string) (string, error) {
	p = path.Clean("/" + p)
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	cur := "/"
	for hops := 0; len(parts) > 0; {
		name := parts[0]
		parts = parts[1:]
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, name)
		fi, err := os.Lstat(h.Path(next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("resolve %s: too many symlinks", p)
		}
		target, err := os.Readlink(h.Path(next))
		if err != nil {
			return "", err
		}
		if !path.IsAbs(target) {
			target = path.Join(cur, target)
		}
		rest := strings.Split(strings.TrimPrefix(path.Clean(target), "/"), "/")
		parts = append(rest, parts...)
		cur = "/"
	}
	return cur, nil
}

// Release returns the running kernel's release (uname -r).
func (h *Host) Release() (string, error) {
	if h.IsReal() {
		if u, err := uname(); err == nil {
			return u.release, nil
		}
	}
	return h.readLine("/proc/sys/kernel/osrelease")
}

// Machine returns the running kernel's machine (uname -m), e.g. x86_64.
func (h *Host) Machine() (string, error) {
	if h.IsReal() {
		if u, err := uname(); err == nil {
			return u.machine, nil
		}
	}
	return h.readLine("/proc/sys/kernel/arch")
}

// BootID returns /proc/sys/kernel/random/boot_id, or "" when absent.
func (h *Host) BootID() string {
	s, _ := h.readLine("/proc/sys/kernel/random/boot_id")
	return s
}

func (h *Host) readLine(p string) (string, error) {
	b, err := h.ReadFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("read %s: %w", h.Path(p), ErrNotFound)
		}
		return "", fmt.Errorf("read %s: %w", h.Path(p), err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("read %s: empty", h.Path(p))
	}
	return s, nil
}

// VersionCode returns LINUX_VERSION_CODE of the running kernel from the vDSO
// "Linux" note (see the package doc for fake roots). It returns
// ErrNotSupported when no note is available.
func (h *Host) VersionCode() (uint32, error) {
	if !h.IsReal() {
		b, err := h.ReadFile("/" + VDSOFile)
		if err == nil {
			return VersionNote(bytes.NewReader(b))
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return 0, err
		}
		// A container: the vDSO is the host kernel's own when releases agree.
		rel, err1 := h.Release()
		u, err2 := uname()
		if err1 != nil || err2 != nil || rel != u.release {
			return 0, fmt.Errorf("version code: no %s under %s: %w", VDSOFile, h.root, ErrNotSupported)
		}
	}
	return vdsoVersionCode()
}

// Config is a kernel configuration read from the host.
type Config struct {
	Data   []byte // the .config text (nil from KernelConfigFile until Decode)
	Origin string // host path it came from
	// Raw is the file as read: gzip for /proc/config.gz (and a gzipped
	// /boot/config-R), else the same bytes as Data. It identifies the
	// configuration without decompressing it.
	Raw []byte
}

// Decode sets Data from Raw (gunzipped when Raw is gzip), once.
func (c *Config) Decode() error {
	if c.Data != nil {
		return nil
	}
	if c.Origin == "/proc/config.gz" || len(c.Raw) > 2 && c.Raw[0] == 0x1f && c.Raw[1] == 0x8b {
		b, err := gunzip(c.Raw)
		if err != nil {
			return fmt.Errorf("read %s: %w", c.Origin, err)
		}
		c.Data = b
		return nil
	}
	c.Data = c.Raw
	return nil
}

// KernelConfig returns the running kernel's .config from /proc/config.gz,
// /boot/config-R or /lib/modules/R/config, in that order. It returns
// ErrNotFound listing the places tried.
func (h *Host) KernelConfig(release string) (*Config, error) {
	c, err := h.KernelConfigFile(release)
	if err != nil {
		return nil, err
	}
	if err := c.Decode(); err != nil {
		return nil, err
	}
	return c, nil
}

// KernelConfigFile is KernelConfig without the decompression: it reads the
// file (Raw, Origin) and leaves Data nil until Decode. A caller that only
// needs to recognise a configuration it has seen before (by a hash of Raw)
// skips the gunzip.
func (h *Host) KernelConfigFile(release string) (*Config, error) {
	tried := []string{"/proc/config.gz"}
	if b, err := h.ReadFile("/proc/config.gz"); err == nil {
		return &Config{Raw: b, Origin: "/proc/config.gz"}, nil
	}
	if release != "" {
		for _, p := range []string{"/boot/config-" + release, "/lib/modules/" + release + "/config"} {
			tried = append(tried, p)
			if b, err := h.ReadFile(p); err == nil {
				return &Config{Raw: b, Origin: p}, nil
			}
		}
	}
	return nil, fmt.Errorf("kernel config: none of %s: %w", strings.Join(tried, ", "), ErrNotFound)
}

func gunzip(b []byte) ([]byte, error) {
	const limit = 64 << 20
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	// The trailer's ISIZE (the length mod 2^32) sizes the buffer: one
	// allocation instead of io.ReadAll's doublings. It is only a hint from
	// the file: capped at what deflate can expand len(b) bytes to (1032:1)
	// and at 8 MiB (kernel configs are a few hundred KB); the buffer grows
	// past it if the data does.
	n := 0
	if len(b) >= 4 {
		n = int(min(int64(binary.LittleEndian.Uint32(b[len(b)-4:])), int64(len(b))*1032, 8<<20))
	}
	buf := bytes.NewBuffer(make([]byte, 0, n+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(zr, limit+1)); err != nil {
		return nil, err
	}
	if buf.Len() > limit {
		// Refused, not cut: a config cut at the limit would be written
		// (config -o) or compared as if whole.
		return nil, fmt.Errorf("gzip data inflates past %d bytes (a kernel .config is a few hundred KB)", limit)
	}
	return buf.Bytes(), nil
}

// ModuleFiles returns the files named NAME.ko, NAME.ko.xz, NAME.ko.zst or
// NAME.ko.gz under /lib/modules/RELEASE (host paths, sorted). It does not
// descend into the build and source links.
func (h *Host) ModuleFiles(release, name string) ([]string, error) {
	base := "/lib/modules/" + release
	dir := h.Path(base)
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir {
				return err
			}
			return nil
		}
		if d.IsDir() {
			if rel, _ := filepath.Rel(dir, p); rel == "build" || rel == "source" {
				return filepath.SkipDir
			}
			return nil
		}
		n := d.Name()
		if n == name+".ko" || n == name+".ko.xz" || n == name+".ko.zst" || n == name+".ko.gz" {
			if !d.Type().IsRegular() {
				return nil
			}
			rel, _ := filepath.Rel(dir, p)
			out = append(out, base+"/"+filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("modules %s: %w", h.Path(base), ErrNotFound)
		}
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// ModuleLoaded reports whether /sys/module/NAME exists.
func (h *Host) ModuleLoaded(name string) bool {
	_, err := h.Stat("/sys/module/" + name)
	return err == nil
}

// CanLoadModules reports whether this process may load kernel modules
// (CAP_SYS_MODULE in its effective set), with a reason when it may not.
func (h *Host) CanLoadModules() (bool, string) { return canLoadModules() }

// LoadModule loads the kernel module in file (host path) with finit_module,
// falling back to init_module on its decompressed bytes when decompress is
// given and the kernel refuses the compressed file, and finally to
// `modprobe NAME` when modprobe exists. It returns ErrPermission without
// CAP_SYS_MODULE. Loading a module that is already loaded is not an error.
func (h *Host) LoadModule(file string, decompress func([]byte) ([]byte, error)) error {
	if ok, why := canLoadModules(); !ok {
		return fmt.Errorf("load module %s: %s: %w", file, why, ErrPermission)
	}
	return loadModule(h.Path(file), decompress)
}

// Euid returns the effective user id (0 on systems without one).
func Euid() int { return os.Geteuid() }
