package locate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/kheaders/kheaders/cache"
	"github.com/kheaders/kheaders/carrier"
	"github.com/kheaders/kheaders/internal/codec"
	"github.com/kheaders/kheaders/internal/host"
)

// DefaultSources returns the default chain, in the order Locate tries
// them: what is cheapest and most exact first, generated vmlinux.h last.
// Each source lives in its own file (or section of this one); adding one is
// that file plus one line here (docs/locate.md).
func DefaultSources() []Source {
	return []Source{
		cacheSource{},
		treeSource{name: "modules-dir", paths: []string{"/lib/modules/%s/build", "/lib/modules/%s/source"}},
		treeSource{name: "distro", paths: []string{"/usr/src/linux-headers-%s", "/usr/src/kernels/%s"}},
		sysfsSource{},
		initramfsSource{},
		moduleFileSource{},
		moduleLoadSource{},
		registrySource{},
		btfSource{},
	}
}

// SysfsArchive is where a kernel with CONFIG_IKHEADERS exposes its archive.
const SysfsArchive = "/sys/kernel/kheaders.tar.xz"

const fixPackages = "install the headers package of the running kernel (Debian/Ubuntu: apt install linux-headers-$(uname -r); Fedora/RHEL: dnf install kernel-devel-$(uname -r))"

// archiveOf returns the kheaders archive carried by data (the archive
// itself, kheaders.ko[.xz|.zst|.gz], vmlinux, a kernel or boot image):
// carrier detects it from the content.
func archiveOf(ctx context.Context, env *Env, data []byte, name string) ([]byte, error) {
	// The info is not used: the archive is hashed once, for its cache key.
	b, _, err := carrier.Archive(ctx, data, &carrier.Options{Logger: env.Logger, NoSHA256: true})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b, nil
}

// ---- cache ----

type cacheSource struct{}

func (cacheSource) Name() string { return "cache" }

// archiveOrigin is a place the running kernel's archive may be read from,
// with its cheap identity.
type archiveOrigin struct {
	path     string // host path
	identity string
}

func sysfsOrigin(env *Env) (*archiveOrigin, error) {
	fi, err := env.host.Stat(SysfsArchive)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", SysfsArchive)
	}
	return &archiveOrigin{path: SysfsArchive, identity: fmt.Sprintf("sysfs|%s|%s|%s|%d|%d", env.Release, env.BootID(), host.Identity(fi), fi.Size(), fi.ModTime().UnixNano())}, nil
}

func moduleOrigins(env *Env) []archiveOrigin {
	var out []archiveOrigin
	for _, p := range moduleFiles(env) {
		fi, err := env.host.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, archiveOrigin{path: p, identity: fmt.Sprintf("module|%s|%s|%d|%d", p, host.Identity(fi), fi.Size(), fi.ModTime().UnixNano())})
	}
	return out
}

// moduleFiles finds kheaders.ko[.xz|.zst|.gz] for the running release:
// from modules.dep when present (cheap), else by walking /lib/modules/R.
func moduleFiles(env *Env) []string {
	base := "/lib/modules/" + env.Release
	if dep, err := env.ReadFile(base + "/modules.dep"); err == nil {
		var out []string
		sc := bufio.NewScanner(bytes.NewReader(dep))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			mod, _, _ := strings.Cut(sc.Text(), ":")
			if b := path.Base(mod); b == "kheaders.ko" || strings.HasPrefix(b, "kheaders.ko.") {
				if !path.IsAbs(mod) {
					mod = base + "/" + mod
				}
				out = append(out, mod)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	files, _ := env.host.ModuleFiles(env.Release, "kheaders")
	return files
}

func (cacheSource) Find(ctx context.Context, env *Env) (*Candidate, error) {
	var (
		cc    *cache.Cache
		cerr  error
		tried string
	)
	look := func(o archiveOrigin) (*Candidate, error) {
		if cc == nil && cerr == nil {
			cc, cerr = env.openCache()
		}
		if cerr != nil {
			return nil, cerr
		}
		if tried == "" {
			tried = o.path
		}
		key, obj, err := lookupObject(cc, o.identity)
		if key == "" {
			return nil, nil
		}
		if err != nil {
			env.Logger.Debug("cache entry unusable", "origin", o.path, "key", key, "err", err)
			return nil, nil
		}
		return &Candidate{Origin: o.path + " (cached " + cc.Dir() + ")", Dir: obj.Dir, Key: key}, nil
	}
	// The sysfs file first; module files only when it gave nothing (reading
	// modules.dep costs more than a stat).
	if o, err := sysfsOrigin(env); err == nil {
		if cand, err := look(*o); cand != nil || err != nil {
			return cand, err
		}
	}
	for _, o := range moduleOrigins(env) {
		if cand, err := look(o); cand != nil || err != nil {
			return cand, err
		}
	}
	if tried == "" {
		return nil, Skip("the running kernel exposes no kheaders archive to look up ("+SysfsArchive+" absent, no kheaders.ko in /lib/modules/"+env.Release+")", "")
	}
	return nil, Skip(fmt.Sprintf("no cached extraction of %s in %s yet", tried, cc.Dir()), "")
}

// ---- header trees on disk ----

type treeSource struct {
	name  string
	paths []string // host paths with %s = release
}

func (s treeSource) Name() string { return s.name }

func (s treeSource) Find(ctx context.Context, env *Env) (*Candidate, error) {
	var why []string
	var srcDir string
	if s.name == "modules-dir" {
		if r, err := env.Resolve(fmt.Sprintf("/lib/modules/%s/source", env.Release)); err == nil {
			srcDir = env.HostPath(r)
		}
	}
	for _, p := range s.paths {
		hp := fmt.Sprintf(p, env.Release)
		r, err := env.Resolve(hp)
		if err != nil {
			why = append(why, hp+": "+describeMissing(env, hp, err))
			continue
		}
		real := env.HostPath(r)
		if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
			why = append(why, hp+": not a directory")
			continue
		}
		c, reason := treeAt(env, real, srcDir)
		if c != nil {
			c.Origin = hp
			if r != hp {
				c.Origin += " -> " + r
			}
			return c, nil
		}
		why = append(why, hp+": "+reason)
	}
	return nil, Skip(strings.Join(why, "; "), fixPackages)
}

func describeMissing(env *Env, p string, err error) string {
	if fi, lerr := env.host.Lstat(p); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
		t, _ := os.Readlink(env.HostPath(p))
		return "broken symlink to " + t
	}
	if errors.Is(err, fs.ErrNotExist) {
		return "does not exist"
	}
	return err.Error()
}

// treeAt decides whether dir is a complete header tree, alone or as the
// object tree of a split layout (Debian: linux-headers-R holds the
// generated headers, linux-headers-R-common the sources). extraSrc is a
// source tree to pair with (e.g. /lib/modules/R/source).
func treeAt(env *Env, dir, extraSrc string) (*Candidate, string) {
	has := func(d, f string) bool {
		_, err := os.Stat(filepath.Join(d, f))
		return err == nil
	}
	gen := has(dir, "include/generated/autoconf.h")
	src := has(dir, "include/linux/kconfig.h")
	switch {
	case gen && src:
		return &Candidate{Dir: dir}, ""
	case src && !gen:
		return nil, "no include/generated/autoconf.h (an unconfigured source tree)"
	case !gen:
		return nil, "no include/linux/kconfig.h and no include/generated/autoconf.h (an empty or leftover directory)"
	}
	// Object tree only: find its source tree.
	for _, s := range splitSources(env, dir, extraSrc) {
		if has(s, "include/linux/kconfig.h") {
			return &Candidate{Dir: s, BuildDir: dir}, ""
		}
	}
	return nil, "generated headers but no source tree with include/linux/kconfig.h (split layout: install the -common headers package too)"
}

// splitSources lists the possible source trees of an object tree: the
// given one, the object tree's "source" link, and the tree named by a
// Debian-style Makefile ("include /usr/src/linux-headers-V-common/Makefile"
// or "MAKEARGS := -C /usr/src/... O=...").
func splitSources(env *Env, obj, extra string) []string {
	var out []string
	if extra != "" && extra != obj {
		out = append(out, extra)
	}
	if t, err := os.Readlink(filepath.Join(obj, "source")); err == nil {
		if filepath.IsAbs(t) {
			out = append(out, env.HostPath(t))
		} else {
			out = append(out, filepath.Join(obj, t))
		}
	}
	if mk, err := os.ReadFile(filepath.Join(obj, "Makefile")); err == nil {
		for _, line := range strings.Split(string(mk), "\n") {
			f := strings.Fields(line)
			for i, w := range f {
				var p string
				switch {
				case w == "include" && i == 0 && len(f) > 1:
					p = filepath.Dir(f[1])
				case w == "-C" && i+1 < len(f):
					p = f[i+1]
				}
				if strings.HasPrefix(p, "/") {
					out = append(out, env.HostPath(filepath.Clean(p)))
				}
			}
		}
	}
	return out
}

// ---- /sys/kernel/kheaders.tar.xz ----

type sysfsSource struct{}

func (sysfsSource) Name() string { return "sysfs" }

func (sysfsSource) Find(ctx context.Context, env *Env) (*Candidate, error) {
	o, err := sysfsOrigin(env)
	if err != nil {
		reason := "no " + SysfsArchive
		fix := "boot a kernel with CONFIG_IKHEADERS=y, or load the kheaders module (CONFIG_IKHEADERS=m)"
		if cfg := env.facts.kconfigOrNil(); cfg != nil {
			switch v, _ := cfg.Get("CONFIG_IKHEADERS"); v {
			case "m":
				reason += " (CONFIG_IKHEADERS=m and the kheaders module is not loaded)"
				fix = "modprobe kheaders, or let kheaders read kheaders.ko directly (module-file source)"
			case "y":
				reason += " although CONFIG_IKHEADERS=y (is sysfs mounted?)"
				fix = "mount sysfs at /sys (or under --host-root)"
			case "n":
				reason += " (CONFIG_IKHEADERS is not set in " + env.facts.configFrom + ")"
				fix = "rebuild the kernel with CONFIG_IKHEADERS=m or =y, or " + fixPackages
			default:
				reason += " (the kernel config has no CONFIG_IKHEADERS)"
				fix = "rebuild the kernel with CONFIG_IKHEADERS=m or =y, or " + fixPackages
			}
		}
		return nil, Skip(reason, fix)
	}
	return &Candidate{
		Origin:   SysfsArchive,
		Identity: o.identity,
		Open: func(ctx context.Context) ([]byte, error) {
			return env.ReadFile(SysfsArchive)
		},
	}, nil
}

// ---- kheaders.ko read without loading ----

type moduleFileSource struct{}

func (moduleFileSource) Name() string { return "module-file" }

func (moduleFileSource) Find(ctx context.Context, env *Env) (*Candidate, error) {
	origins := moduleOrigins(env)
	if len(origins) == 0 {
		return nil, Skip("no kheaders.ko[.xz|.zst|.gz] under /lib/modules/"+env.Release, "install the kernel's modules package, or build the kernel with CONFIG_IKHEADERS")
	}
	o := origins[0]
	return &Candidate{
		Origin:   o.path,
		Identity: o.identity,
		Open: func(ctx context.Context) ([]byte, error) {
			b, err := env.ReadFile(o.path)
			if err != nil {
				return nil, err
			}
			return archiveOf(ctx, env, b, o.path)
		},
	}, nil
}

// ---- loading kheaders.ko ----

type moduleLoadSource struct{}

func (moduleLoadSource) Name() string { return "module-load" }

// Find loads kheaders.ko when permitted and reads the sysfs file. The
// module is never unloaded by kheaders: another process may be reading
// /sys/kernel/kheaders.tar.xz, and unloading under it gives ENODEV or a
// truncated archive (Inspektor Gadget #109). `rmmod kheaders` frees its
// ~4 MB when no tool needs it.
func (moduleLoadSource) Find(ctx context.Context, env *Env) (*Candidate, error) {
	if _, err := sysfsOrigin(env); err == nil {
		return nil, Skip(SysfsArchive+" already present (the sysfs source covers it)", "")
	}
	switch env.Options.Load {
	case LoadNever:
		return nil, Skip("module loading disabled (--load-module=never)", "")
	case LoadAuto:
		if !env.host.IsReal() {
			return nil, Skip("not loading a module under --host-root "+env.host.Root()+" (pass --load-module=always)", "")
		}
	}
	files := moduleFiles(env)
	if len(files) == 0 {
		return nil, Skip("no kheaders.ko to load under /lib/modules/"+env.Release, "")
	}
	if ok, why := env.host.CanLoadModules(); !ok {
		return nil, Skip("cannot load kheaders.ko: "+why, "run as root or with CAP_SYS_MODULE, or run 'modprobe kheaders' once")
	}
	decompress := func(b []byte) ([]byte, error) {
		k, ok := codec.Detect(b)
		if !ok {
			return b, nil
		}
		return codec.Decompress(k, b, 1<<30)
	}
	if err := env.host.LoadModule(files[0], decompress); err != nil {
		return nil, err
	}
	env.Logger.Info("loaded the kheaders module (kheaders never unloads it)", "file", files[0])
	o, err := sysfsOrigin(env)
	if err != nil {
		return nil, fmt.Errorf("loaded %s but %s did not appear: %w", files[0], SysfsArchive, err)
	}
	return &Candidate{Origin: SysfsArchive + " (after loading " + files[0] + ")", Identity: o.identity,
		Open: func(ctx context.Context) ([]byte, error) { return env.ReadFile(SysfsArchive) }}, nil
}
