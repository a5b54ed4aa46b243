// Package filehash is the module's one hash of a file's contents: the
// lowercase hex sha256 that cache manifests and pack's stamps record (and
// archive.Entry.SHA256 holds), so the cache's verify and pack's up-to-date
// check compute it the same way.
package filehash

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
)

// Reader returns the hex sha256 of everything read from r up to EOF.
func Reader(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// File returns the hex sha256 of the file at name (following symlinks).
func File(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return Reader(f)
}
