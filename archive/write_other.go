//go:build !linux

package archive

import (
	"fmt"
	"io/fs"
	"os"
	"time"
)

// dirFile is an open directory of the tree being extracted; files are
// created through it with os.Root (see write_linux.go for Linux).
type dirFile struct{ r *os.Root }

func openDir(root *os.Root, d string) (dirFile, error) {
	r, err := root.OpenRoot(d)
	return dirFile{r: r}, err
}

func (d dirFile) close() { d.r.Close() }

// openDirLimit is how many directories an extraction keeps open.
func openDirLimit() int { return 64 }

// mkdirOpen creates the directory base in d and opens it.
func (d dirFile) mkdirOpen(name, base string, perm fs.FileMode) (dirFile, error) {
	if err := d.r.Mkdir(base, perm); err != nil {
		return dirFile{}, err
	}
	r, err := d.r.OpenRoot(base)
	return dirFile{r: r}, err
}

// setTime sets the directory's atime and mtime to t.
func (d dirFile) setTime(t time.Time) error { return d.r.Chtimes(".", t, t) }

func (d dirFile) create(name, base string, mode fs.FileMode, data []byte, mt time.Time, setTime bool) error {
	f, err := d.r.OpenFile(base, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode.Perm())
	if err != nil {
		return fmt.Errorf("create %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if setTime {
		if err := d.r.Chtimes(base, mt, mt); err != nil {
			return fmt.Errorf("set mtime of %s: %w", name, err)
		}
	}
	return nil
}
