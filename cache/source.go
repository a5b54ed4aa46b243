package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// sourceFile is the file of an object directory that keeps the bytes the
// object was made from (objects/KEY/source), when its producer asked for
// it with KeepSource: a remote target's archive or BTF, which cannot be
// read again without a transfer. It is outside headers/, so the manifest,
// cache verify and the tree handed out do not see it.
const sourceFile = "source"

// KeepSource stores data, the bytes object KEY was made from (an archive,
// or the BTF a vmlinux.h was generated from), as objects/KEY/source, so
// that they can be handed out again (kheaders extract --target, btf
// --target) without reading their origin. The object must exist. The file
// is written under the lock into tmp/ and renamed into place, so a reader
// sees all of it or none; an existing file is replaced (a kept source
// damaged in place, even at the same size, is repaired by the next call).
// Errors wrap ErrNotFound, ErrDamaged, ErrUnsafe or ErrKey.
func (c *Cache) KeepSource(key string, data []byte) error {
	if !validKey(key) {
		return fmt.Errorf("keep source %q: %w", key, ErrKey)
	}
	unlock, err := c.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := c.checkObject(key); err != nil {
		return err
	}
	tmp, err := c.mkTemp(key)
	if err != nil {
		return err
	}
	defer c.root.RemoveAll(tmp)
	f := filepath.Join(tmp, sourceFile)
	if err := c.root.WriteFile(f, data, 0o644); err != nil {
		return fmt.Errorf("cache %s: keep source: %w", key, err)
	}
	if err := c.root.Rename(f, objPath(key, sourceFile)); err != nil {
		return fmt.Errorf("cache %s: keep source: %w", key, err)
	}
	return nil
}

// Source returns the bytes KeepSource kept for object KEY, checked against
// sum, their sha256 in hex. Errors wrap ErrNotFound (the object or its
// source is not there: it was made without KeepSource), ErrDamaged (the
// bytes differ from sum), ErrUnsafe or ErrKey.
func (c *Cache) Source(key, sum string) ([]byte, error) {
	if !validKey(key) {
		return nil, fmt.Errorf("source of %q: %w", key, ErrKey)
	}
	ofi, err := c.checkObject(key)
	if err != nil {
		return nil, err
	}
	name := objPath(key, sourceFile)
	fi, err := c.root.Lstat(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("object %s keeps no source: %w", key, ErrNotFound)
		}
		return nil, err
	}
	if !fi.Mode().IsRegular() || !c.owned(fi) {
		return nil, fmt.Errorf("object %s: source is not a regular file owned by uid %d: %w", key, c.uid, ErrUnsafe)
	}
	b, err := c.root.ReadFile(name)
	if err != nil {
		return nil, err
	}
	s := sha256.Sum256(b)
	if got := hex.EncodeToString(s[:]); got != sum {
		return nil, fmt.Errorf("object %s: source has sha256 %s, want %s: %w", key, got, sum, ErrDamaged)
	}
	c.touch(key, ofi)
	return b, nil
}
