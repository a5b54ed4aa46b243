//go:build !unix

package host

import (
	"io/fs"
	"os"
	"path/filepath"
)

// ReadFileDirect is os.ReadFile where the direct system calls of the Unix
// version are not available.
func ReadFileDirect(name string) ([]byte, error) { return os.ReadFile(name) }

// ReadFileAt reads name in dir, refusing a symlink at name; the owner is
// unknown (-1) off Unix.
func ReadFileAt(dir *os.File, name string) (data []byte, uid int, mode fs.FileMode, err error) {
	p := filepath.Join(dir.Name(), name)
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, -1, 0, err
	}
	if !fi.Mode().IsRegular() {
		return nil, -1, fi.Mode(), &fs.PathError{Op: "open", Path: p, Err: fs.ErrInvalid}
	}
	b, err := os.ReadFile(p)
	return b, Owner(fi), fi.Mode(), err
}

// OpenDir opens the directory at path.
func OpenDir(path string) (*os.File, error) { return os.Open(path) }
