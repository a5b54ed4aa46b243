// Package cache is kheaders' content-addressed cache of extracted header
// trees. An object is keyed by the sha256 of the archive it was extracted
// from (or by a key its producer chooses for generated content such as a
// BTF-derived vmlinux.h), so the same kernel reuses it across reboots and a
// different kernel can never be served another kernel's tree.
//
// Layout under the cache directory (all created 0755, owned by the caller's
// effective uid, never through a symlink):
//
//	lock               flock(2) held while an object is written or removed
//	lock.pid           the same, on kernels without flock(2) (CONFIG_FILE_LOCKING=n)
//	objects/KEY/       a complete object, published by rename(2)
//	  headers/         the header tree handed out
//	  manifest.json    sha256 of every file (written before the rename)
//	  damaged          present when `cache verify` found a difference
//	  source           the bytes the object was made from, when kept (KeepSource)
//	keys/ID            "KEY\n[NOTE\n]": a cheap identity of the origin -> KEY
//	                   (and a one-line note: locate's verification fingerprint)
//	tmp/               objects being written (removed by gc)
//
// Concurrency: readers take no lock; they only ever see objects/KEY after
// the rename that published it complete. Writers take the exclusive lock,
// look again, write into tmp/ and rename, so N processes starting together
// on an empty cache do one extraction and all get the same tree.
package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kheaders/kheaders/archive"
	"github.com/kheaders/kheaders/internal/host"
)

var (
	// ErrUnsafe: the cache directory or an entry in it is a symlink, is
	// owned by another user, or is writable by others.
	ErrUnsafe = errors.New("unsafe cache location")
	// ErrNotFound: no such object or key.
	ErrNotFound = errors.New("not in cache")
	// ErrDamaged: an object differs from its manifest.
	ErrDamaged = errors.New("cached object damaged")
	// ErrKey: a key is not a valid object name (1-128 characters of
	// [a-z0-9._-], not starting with a dot; KeyOf's keys always are).
	ErrKey = errors.New("invalid cache key")
)

// Env variable naming the cache directory (also --cache-dir).
const EnvDir = "KHEADERS_CACHE"

// DefaultDir returns the persistent cache directory: /var/cache/kheaders
// for root, $XDG_CACHE_HOME/kheaders or ~/.cache/kheaders for other users.
func DefaultDir() string {
	if os.Geteuid() == 0 {
		return "/var/cache/kheaders"
	}
	if x := os.Getenv("XDG_CACHE_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "kheaders")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "kheaders")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("kheaders-%d", os.Geteuid()))
}

// tmpfsDir returns the tmpfs cache directory used for the special cache
// name "tmpfs": /run/kheaders for root, $XDG_RUNTIME_DIR/kheaders else.
func tmpfsDir() string {
	if os.Geteuid() != 0 {
		if x := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(x) {
			return filepath.Join(x, "kheaders")
		}
	}
	return "/run/kheaders"
}

// Options tune Open. The zero value works.
type Options struct {
	Logger *slog.Logger
}

// Cache is an open cache directory.
type Cache struct {
	// Fallback is set when Open fell back to its private fallback
	// directory: why the default directory was unusable.
	Fallback string

	dir  string
	root *os.Root
	// objects is objects/ and keys keys/, opened once by Open (each look-up
	// then starts there, not at the cache root); keys is a plain directory
	// descriptor, for host.ReadFileAt.
	objects *os.Root
	keys    *os.File
	log     *slog.Logger
	uid     int
}

// Open opens (creating if needed) the cache at dir ("" = DefaultDir();
// "tmpfs" = /run/kheaders for root, $XDG_RUNTIME_DIR/kheaders for others
// when that is set). Every missing component is created 0755 without
// following symlinks; dir itself must be a real directory owned by the
// effective uid and not writable by others, and every existing ancestor
// must be owned by root or the effective uid and, when writable by others,
// sticky. It returns ErrUnsafe (naming the offending path and how to fix
// it) otherwise.
//
// With dir "" an unusable default (HOME not readable, a planted symlink, a
// world-writable directory) is not fatal: Open warns with the path, the
// reason and the fix, and opens a private fallback instead
// ($XDG_RUNTIME_DIR/kheaders, else TMPDIR/kheaders-UID, created 0700);
// Cache.Fallback then holds the reason.
func Open(dir string, opts *Options) (*Cache, error) {
	switch dir {
	case "":
		c, err := openDir(DefaultDir(), 0o755, opts)
		if err == nil {
			return c, nil
		}
		fb := fallbackDir()
		c, ferr := openDir(fb, 0o700, opts)
		if ferr != nil {
			return nil, fmt.Errorf("%w; the fallback %s is unusable too: %w", err, fb, ferr)
		}
		c.Fallback = err.Error()
		c.log.Warn("the default cache directory is unusable; using a private fallback (set "+EnvDir+" or --cache-dir to choose)", "reason", err, "fallback", fb)
		return c, nil
	case "tmpfs":
		dir = tmpfsDir()
	}
	return openDir(dir, 0o755, opts)
}

// fallbackDir is the per-user cache Open falls back to when the default is
// unusable: $XDG_RUNTIME_DIR/kheaders (a tmpfs only this user can enter)
// when set, else TMPDIR/kheaders-UID, created 0700 and checked to be owned
// by the user and closed to others.
func fallbackDir() string {
	if x := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(x) {
		return filepath.Join(x, "kheaders")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("kheaders-%d", host.Euid()))
}

func openDir(dir string, perm fs.FileMode, opts *Options) (*Cache, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open cache %s: %w", dir, err)
	}
	log := slog.New(slog.DiscardHandler)
	if opts != nil && opts.Logger != nil {
		log = opts.Logger
	}
	uid := host.Euid()
	if err := makeSafeDir(abs, uid, perm); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("open cache %s: %w", abs, err)
	}
	c := &Cache{dir: abs, root: root, log: log, uid: uid}
	// Check again through the opened root: the directory we hold is the one
	// we checked (a swap between the check and the open would show here).
	if fi, err := root.Stat("."); err != nil || !c.owned(fi) {
		root.Close()
		return nil, fmt.Errorf("open cache %s: changed while opening: %w", abs, ErrUnsafe)
	}
	for _, sub := range []string{"objects", "keys", "tmp"} {
		if err := c.subdir(sub); err != nil {
			root.Close()
			return nil, err
		}
	}
	if err := c.openSubdirs(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// openSubdirs opens objects/ (through the root) and keys/ (by path, checked
// to be the directory the root sees there).
func (c *Cache) openSubdirs() error {
	var err error
	if c.objects, err = c.root.OpenRoot("objects"); err != nil {
		return fmt.Errorf("open %s: %w", filepath.Join(c.dir, "objects"), err)
	}
	p := filepath.Join(c.dir, "keys")
	if c.keys, err = host.OpenDir(p); err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	fi, err := c.root.Lstat("keys")
	if err != nil {
		return fmt.Errorf("check %s: %w", p, err)
	}
	if kfi, err := c.keys.Stat(); err != nil || !os.SameFile(fi, kfi) {
		return fmt.Errorf("open cache %s: keys changed while opening: %w", c.dir, ErrUnsafe)
	}
	return nil
}

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.dir }

// Close releases the cache.
func (c *Cache) Close() error {
	if c.objects != nil {
		c.objects.Close()
	}
	if c.keys != nil {
		c.keys.Close()
	}
	return c.root.Close()
}

// makeSafeDir checks the ancestors of dir and creates the missing
// components of dir, refusing symlinks and foreign owners.
func makeSafeDir(dir string, uid int, perm fs.FileMode) error {
	parts := strings.Split(strings.TrimPrefix(filepath.Clean(dir), string(filepath.Separator)), string(filepath.Separator))
	cur := string(filepath.Separator)
	var prev fs.FileInfo // Lstat of cur when it is no symlink: its Stat too
	for i, name := range parts {
		if name == "" {
			continue
		}
		parentLoose := false
		pfi := prev
		if pfi == nil {
			pfi, _ = os.Stat(cur)
		}
		if pfi != nil {
			parentLoose = pfi.Mode().Perm()&0o022 != 0
		}
		prev = nil
		cur = filepath.Join(cur, name)
		last := i == len(parts)-1
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			p := fs.FileMode(0o755)
			if last {
				p = perm
			}
			if err := os.Mkdir(cur, p); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("create cache directory %s: %w; pick another with --cache-dir or %s", cur, err, EnvDir)
			}
			fi, err = os.Lstat(cur)
			if err == nil && fi.IsDir() && host.Owner(fi) == uid && fi.Mode().Perm() != p {
				_ = os.Chmod(cur, p)
				fi, err = os.Lstat(cur)
			}
		}
		if err != nil {
			return fmt.Errorf("check cache directory %s: %w; pick a directory this user can create and enter with --cache-dir or %s (HOME=%s?)", cur, err, EnvDir, os.Getenv("HOME"))
		}
		owner := host.Owner(fi)
		isLink := fi.Mode()&fs.ModeSymlink != 0
		if isLink && !last && (owner == 0 || owner == uid) && !parentLoose {
			// A system symlink such as /var/run -> /run: follow it, the
			// target is checked as the next ancestor would be.
			if t, err := os.Stat(cur); err == nil && t.IsDir() && (host.Owner(t) == 0 || host.Owner(t) == uid) {
				continue
			}
		}
		if last && !isLink && fi.IsDir() && owner == uid && perm&0o077 == 0 && fi.Mode().Perm()&0o077 != 0 {
			// A private directory (the fallback): close it to others.
			if err := os.Chmod(cur, perm); err != nil {
				return fmt.Errorf("make cache directory %s private: %w", cur, err)
			}
		}
		switch {
		case isLink:
			return unsafeErr(cur, "is a symlink", owner)
		case !fi.IsDir():
			return unsafeErr(cur, "is not a directory", owner)
		case owner != 0 && owner != uid:
			return unsafeErr(cur, "is owned by another user", owner)
		case last && owner != uid:
			return unsafeErr(cur, "is not owned by the current user", owner)
		case last && fi.Mode().Perm()&0o022 != 0:
			return unsafeErr(cur, "is writable by group or others", owner)
		case !last && fi.Mode().Perm()&0o002 != 0 && fi.Mode()&fs.ModeSticky == 0:
			return unsafeErr(cur, "is world-writable without the sticky bit", owner)
		}
		prev = fi
	}
	return nil
}

func unsafeErr(p, why string, owner int) error {
	return fmt.Errorf("cache directory %s %s (uid %d): %w; it may have been planted: remove it or pick another directory with --cache-dir or %s", p, why, owner, ErrUnsafe, EnvDir)
}

// owned reports whether fi is a real directory or file owned by the cache's
// uid and not writable by others.
func (c *Cache) owned(fi fs.FileInfo) bool {
	return fi.Mode()&fs.ModeSymlink == 0 && host.Owner(fi) == c.uid && fi.Mode().Perm()&0o022 == 0
}

// subdir creates or checks a direct subdirectory of the cache.
func (c *Cache) subdir(name string) error {
	fi, err := c.root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		if err := c.root.Mkdir(name, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("create %s: %w", filepath.Join(c.dir, name), err)
		}
		_ = c.root.Chmod(name, 0o755)
		fi, err = c.root.Lstat(name)
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", filepath.Join(c.dir, name), err)
	}
	if !fi.IsDir() || !c.owned(fi) {
		return unsafeErr(filepath.Join(c.dir, name), "is not a directory owned by the current user", host.Owner(fi))
	}
	return nil
}

// validKey reports whether key can name an object: 1-128 characters of
// [a-z0-9._-], not starting with a dot.
func validKey(key string) bool {
	if key == "" || len(key) > 128 || key[0] == '.' {
		return false
	}
	for i := 0; i < len(key); i++ {
		b := key[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.') {
			return false
		}
	}
	return true
}

// KeyOf returns the object key of archive bytes: their sha256 in hex.
func KeyOf(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// Object is a complete cached tree.
type Object struct {
	Key string
	// Dir is the header tree (objects/KEY/headers).
	Dir string
	// Manifest is read lazily by Manifest().
	c *Cache
}

// Manifest reads the object's manifest.
func (o *Object) Manifest() (*Manifest, error) { return o.c.readManifest(o.Key) }

// Manifest describes a cached object. It is written to
// objects/KEY/manifest.json before the object is published.
//
// Its JSON is kheaders.cache-manifest/v1 (docs/json.md): a stable schema,
// fields are only added within v1.
type Manifest struct {
	Schema  string          `json:"schema"` // "kheaders.cache-manifest/v1"
	Key     string          `json:"key"`
	Kind    string          `json:"kind,omitempty"`
	Origin  string          `json:"origin,omitempty"`
	Release string          `json:"release,omitempty"`
	Created time.Time       `json:"created"`
	Files   int             `json:"files"`
	Bytes   int64           `json:"bytes"`
	Entries []archive.Entry `json:"entries"`
}

// ManifestSchema is the schema of manifest.json.
const ManifestSchema = "kheaders.cache-manifest/v1"

func objPath(key string, parts ...string) string {
	return filepath.Join(append([]string{"objects", key}, parts...)...)
}

// checkObject returns nil when objects/KEY is a complete, owned, undamaged
// object, with the FileInfo of objects/KEY.
func (c *Cache) checkObject(key string) (fs.FileInfo, error) {
	fi, err := c.objects.Lstat(key)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("object %s: %w", key, ErrNotFound)
		}
		return nil, err
	}
	if !fi.IsDir() || !c.owned(fi) {
		return nil, fmt.Errorf("object %s is not a directory owned by uid %d (uid %d, %v): %w", key, c.uid, host.Owner(fi), fi.Mode(), ErrUnsafe)
	}
	// The entries are looked up in the object's directory opened once
	// (not each through objects/ and objects/KEY again).
	o, err := c.objects.OpenRoot(key)
	if err != nil {
		return nil, fmt.Errorf("object %s: %w", key, err)
	}
	defer o.Close()
	if ofi, err := o.Lstat("."); err != nil || !os.SameFile(ofi, fi) {
		return nil, fmt.Errorf("object %s replaced while it was checked: %w", key, ErrDamaged)
	}
	for _, n := range []string{"headers", "manifest.json"} {
		fi, err := o.Lstat(n)
		if err != nil {
			return nil, fmt.Errorf("object %s: no %s: %w", key, n, ErrDamaged)
		}
		if !c.owned(fi) {
			return nil, fmt.Errorf("object %s: %s not owned by uid %d: %w", key, n, c.uid, ErrUnsafe)
		}
	}
	if _, err := o.Lstat("damaged"); err == nil {
		return nil, fmt.Errorf("object %s: marked damaged by cache verify: %w", key, ErrDamaged)
	}
	return fi, nil
}

// Get returns the object KEY if it is complete and undamaged. Errors wrap
// ErrNotFound, ErrDamaged, ErrUnsafe or ErrKey.
func (c *Cache) Get(key string) (*Object, error) {
	if !validKey(key) {
		return nil, fmt.Errorf("get %q: %w", key, ErrKey)
	}
	fi, err := c.checkObject(key)
	if err != nil {
		return nil, err
	}
	c.touch(key, fi)
	return &Object{Key: key, Dir: filepath.Join(c.dir, objPath(key, "headers")), c: c}, nil
}

// touch records use for gc, at most once an hour (fi: objects/KEY).
func (c *Cache) touch(key string, fi fs.FileInfo) {
	if time.Since(fi.ModTime()) > time.Hour {
		now := time.Now()
		_ = c.root.Chtimes(objPath(key), now, now)
	}
}

// Fill writes an object's tree into the empty directory root and returns
// the entries (nil: the cache walks and hashes the tree itself).
type Fill func(ctx context.Context, root *os.Root) ([]archive.Entry, error)

// Info is what Ensure records in the manifest besides the entries.
type Info struct {
	Kind, Origin, Release string
}

// Ensure returns the object KEY, creating it with fill when it is missing,
// incomplete or marked damaged. Concurrent callers (threads or processes)
// serialise on the cache lock; one fills, the others find the object. An
// entry at objects/KEY that is not owned by the current user or is a symlink
// is moved aside with a warning and replaced.
func (c *Cache) Ensure(ctx context.Context, key string, info Info, fill Fill) (obj *Object, created bool, err error) {
	replace := false
	if !validKey(key) {
		return nil, false, fmt.Errorf("ensure %q: %w", key, ErrKey)
	}
	if o, err := c.Get(key); err == nil {
		return o, false, nil
	}
	unlock, err := c.lock(true)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	if o, err := c.Get(key); err == nil {
		return o, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		c.log.Warn("replacing cached object", "key", key, "reason", err)
		if errors.Is(err, ErrDamaged) {
			// Keep the damaged tree in place while the new one is
			// extracted: it is swapped atomically below, so a compiler
			// reading the path sees the old or the new tree, never none.
			replace = true
		} else if err := c.discard(objPath(key)); err != nil {
			return nil, false, err
		}
	}
	tmp, err := c.mkTemp(key)
	if err != nil {
		return nil, false, err
	}
	defer func() {
		if err != nil {
			if rerr := c.root.RemoveAll(tmp); rerr != nil {
				c.log.Warn("could not remove temporary directory", "dir", filepath.Join(c.dir, tmp), "err", rerr)
			}
		}
	}()
	hdr := filepath.Join(tmp, "headers")
	if err := c.root.Mkdir(hdr, 0o755); err != nil {
		return nil, false, fmt.Errorf("cache %s: %w", key, err)
	}
	hroot, err := c.root.OpenRoot(hdr)
	if err != nil {
		return nil, false, fmt.Errorf("cache %s: %w", key, err)
	}
	entries, err := fill(ctx, hroot)
	if err == nil && entries == nil {
		entries, err = hashTree(hroot)
	}
	hroot.Close()
	if err != nil {
		return nil, false, fmt.Errorf("cache %s: %w", key, err)
	}
	_ = c.root.Chmod(hdr, 0o755)
	if info.Release == "" {
		if b, err := c.root.ReadFile(filepath.Join(hdr, "include/generated/utsrelease.h")); err == nil {
			info.Release = archive.ParseUTSRelease(b)
		}
	}
	m := &Manifest{Schema: ManifestSchema, Key: key, Kind: info.Kind, Origin: info.Origin, Release: info.Release, Created: time.Now().UTC(), Entries: entries}
	for _, e := range entries {
		if e.Type == 'f' {
			m.Files++
			m.Bytes += e.Size
		}
	}
	b, err := m.marshal()
	if err != nil {
		return nil, false, err
	}
	if err := c.root.WriteFile(filepath.Join(tmp, "manifest.json"), append(b, '\n'), 0o644); err != nil {
		return nil, false, fmt.Errorf("cache %s: write manifest: %w", key, err)
	}
	_ = c.root.Chmod(tmp, 0o755)
	if err := c.publish(tmp, key, replace); err != nil {
		return nil, false, err
	}
	c.log.Debug("cached object", "key", key, "files", m.Files, "bytes", m.Bytes)
	return &Object{Key: key, Dir: filepath.Join(c.dir, objPath(key, "headers")), c: c}, true, nil
}

// publish renames the complete tmp into objects/KEY. With replace, the
// damaged object there is exchanged atomically (renameat2 RENAME_EXCHANGE)
// and then removed; where exchange is not supported it is removed first.
// Called with the lock held.
func (c *Cache) publish(tmp, key string, replace bool) error {
	if replace {
		err := host.Exchange(filepath.Join(c.dir, tmp), filepath.Join(c.dir, objPath(key)))
		if err == nil {
			if err := c.root.RemoveAll(tmp); err != nil {
				c.log.Warn("could not remove the replaced object", "dir", filepath.Join(c.dir, tmp), "err", err)
			}
			return nil
		}
		c.log.Debug("atomic exchange unavailable; removing the damaged object first", "err", err)
		if err := c.discard(objPath(key)); err != nil {
			return err
		}
	}
	if err := c.root.Rename(tmp, objPath(key)); err != nil {
		return fmt.Errorf("cache %s: publish: %w", key, err)
	}
	return nil
}

// mkTemp creates a fresh directory tmp/KEY.RANDOM.
func (c *Cache) mkTemp(key string) (string, error) {
	for i := 0; i < 100; i++ {
		var r [6]byte
		s := sha256.Sum256(fmt.Appendf(nil, "%d-%d-%d", os.Getpid(), time.Now().UnixNano(), i))
		copy(r[:], s[:])
		name := filepath.Join("tmp", key+"."+hex.EncodeToString(r[:]))
		err := c.root.Mkdir(name, 0o700)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("cache: create temporary directory: %w", err)
		}
	}
	return "", fmt.Errorf("cache: cannot create a temporary directory in %s", filepath.Join(c.dir, "tmp"))
}

// discard moves name (relative to the cache) into tmp/ and removes it.
// Called with the lock held.
func (c *Cache) discard(name string) error {
	tmp, err := c.mkTemp("trash")
	if err != nil {
		return err
	}
	dst := filepath.Join(tmp, "old")
	if err := c.root.Rename(name, dst); err != nil {
		return fmt.Errorf("cache: move aside %s: %w", filepath.Join(c.dir, name), err)
	}
	if err := c.root.RemoveAll(tmp); err != nil {
		c.log.Warn("could not remove discarded entry", "dir", filepath.Join(c.dir, tmp), "err", err)
	}
	return nil
}

// lock takes the cache lock (exclusive for writers).
func (c *Cache) lock(exclusive bool) (func(), error) {
	f, err := c.root.OpenFile("lock", os.O_RDWR|os.O_CREATE|host.ONoFollow, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cache lock %s: %w", filepath.Join(c.dir, "lock"), err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || host.Owner(fi) != c.uid {
		f.Close()
		return nil, fmt.Errorf("cache lock %s is not a regular file owned by uid %d: %w", filepath.Join(c.dir, "lock"), c.uid, ErrUnsafe)
	}
	err = host.Flock(f, exclusive)
	if errors.Is(err, host.ErrNoFileLocking) {
		// A kernel without CONFIG_FILE_LOCKING (tinyconfig, some embedded
		// builds). Readers need no lock (objects appear by rename); writers
		// serialise on a PID file instead.
		f.Close()
		if !exclusive {
			return func() {}, nil
		}
		c.log.Debug("flock not available; using a pid lock file", "err", err)
		return c.pidLock(context.Background())
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cache lock: %w", err)
	}
	return func() { host.Funlock(f); f.Close() }, nil
}

// pidLockName is the lock file used where flock(2) does not exist: created
// with O_EXCL, it holds the owner's pid, and a lock whose owner is gone (or
// that stayed empty for pidLockStale) is taken over.
const (
	pidLockName  = "lock.pid"
	pidLockStale = 5 * time.Second
	pidLockWait  = 10 * time.Minute
)

// pidLock takes the cache's exclusive lock without flock(2). Taking over a
// stale lock first renames it to a name unique to this process, so two
// waiters cannot both remove the same file and then a fresh one.
func (c *Cache) pidLock(ctx context.Context) (func(), error) {
	deadline := time.Now().Add(pidLockWait)
	me := os.Getpid()
	for {
		f, err := c.root.OpenFile(pidLockName, os.O_WRONLY|os.O_CREATE|os.O_EXCL|host.ONoFollow, 0o644)
		if err == nil {
			_, werr := fmt.Fprintf(f, "%d\n", me)
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				c.root.Remove(pidLockName)
				return nil, fmt.Errorf("cache lock %s: %w", filepath.Join(c.dir, pidLockName), werr)
			}
			return func() { c.root.Remove(pidLockName) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("cache lock %s: %w", filepath.Join(c.dir, pidLockName), err)
		}
		if c.pidLockIsStale() {
			aside := fmt.Sprintf("%s.stale.%d", pidLockName, me)
			if c.root.Rename(pidLockName, aside) == nil {
				c.root.Remove(aside)
			}
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("cache lock %s: held by another process for over %v; remove it if no kheaders is running", filepath.Join(c.dir, pidLockName), pidLockWait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// pidLockIsStale reports whether the pid lock's owner is gone.
func (c *Cache) pidLockIsStale() bool {
	fi, err := c.root.Lstat(pidLockName)
	if err != nil {
		return false // gone already: the next create wins or loses cleanly
	}
	b, err := c.root.ReadFile(pidLockName)
	if err != nil {
		return false
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		// Between create and write, or its writer died there.
		return time.Since(fi.ModTime()) > pidLockStale
	}
	pid, err := strconv.Atoi(s)
	if err != nil {
		return time.Since(fi.ModTime()) > pidLockStale
	}
	return !host.ProcessAlive(pid)
}

func (c *Cache) readManifest(key string) (*Manifest, error) {
	b, err := c.root.ReadFile(objPath(key, "manifest.json"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("object %s: no manifest: %w", key, ErrNotFound)
		}
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("object %s: manifest: %v: %w", key, err, ErrDamaged)
	}
	if m.Schema != ManifestSchema {
		return nil, fmt.Errorf("object %s: manifest schema %q: %w", key, m.Schema, ErrDamaged)
	}
	return &m, nil
}

// LookupID returns the key recorded for an origin identity by SetID, or
// ErrNotFound.
func (c *Cache) LookupID(id string) (string, error) {
	key, _, err := c.LookupIDNote(id)
	return key, err
}

// LookupIDNote is LookupID that also returns the note recorded with the key
// by SetIDNote ("" when there is none).
func (c *Cache) LookupIDNote(id string) (key, note string, err error) {
	// One open of the entry in keys/, refusing a symlink, checked by fstat
	// of what was opened: a regular file owned by the user, not writable
	// by others.
	name := idName(id)
	b, uid, mode, err := host.ReadFileAt(c.keys, name)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("ignoring cache key entry that is not a regular file", "path", filepath.Join(c.dir, "keys", name), "err", err)
		}
		return "", "", fmt.Errorf("identity: %w", ErrNotFound)
	}
	if !mode.IsRegular() || uid != c.uid || mode.Perm()&0o022 != 0 {
		c.log.Warn("ignoring cache key entry not owned by the current user", "path", filepath.Join(c.dir, "keys", name), "uid", uid)
		return "", "", fmt.Errorf("identity: %w", ErrNotFound)
	}
	key, note = parseIDEntry(b)
	if !validKey(key) {
		return "", "", fmt.Errorf("identity: %w", ErrNotFound)
	}
	return key, note, nil
}

// parseIDEntry splits a keys/ID entry, "KEY\n" or "KEY\nNOTE\n".
func parseIDEntry(b []byte) (key, note string) {
	key, note, _ = strings.Cut(string(b), "\n")
	return strings.TrimSpace(key), strings.TrimSpace(note)
}

// SetID records that the origin identity id holds the object key.
func (c *Cache) SetID(id, key string) error { return c.SetIDNote(id, key, "") }

// SetIDNote is SetID with a note: one line of text given back with the key
// by LookupIDNote (locate keeps there the fingerprint of the verification
// that passed for the object). The entry is replaced atomically.
func (c *Cache) SetIDNote(id, key, note string) error {
	if !validKey(key) {
		return fmt.Errorf("set identity: %w", ErrKey)
	}
	if strings.ContainsAny(note, "\n\r") {
		return fmt.Errorf("set identity: note %q spans lines", note)
	}
	name := filepath.Join("keys", idName(id))
	tmp, err := c.mkTemp("key")
	if err != nil {
		return err
	}
	defer c.root.RemoveAll(tmp)
	f := filepath.Join(tmp, "k")
	entry := key + "\n"
	if note != "" {
		entry += note + "\n"
	}
	if err := c.root.WriteFile(f, []byte(entry), 0o644); err != nil {
		return err
	}
	return c.root.Rename(f, name)
}

func idName(id string) string {
	s := sha256.Sum256([]byte(id))
	return hex.EncodeToString(s[:])
}
