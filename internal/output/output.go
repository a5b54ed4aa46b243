// Package output is the one file writer of kheaders: every command that
// writes a result to a path (-o, a packed archive, a stamp) goes through
// WriteFile, so that every output path behaves the same way:
//
//   - "-" is written to the given stdout;
//   - a regular file or a missing path is written atomically: a temporary
//     file in the same directory, fsync, rename over the path, fsync of the
//     directory; on any error the temporary file is removed and the path is
//     left as it was;
//   - a character or block device, a FIFO (a named pipe) or a socket is
//     written through, never replaced: "-o /dev/null" keeps /dev/null;
//   - a symlink is followed (its final target gets the treatment above) and
//     is itself never replaced;
//   - a directory is an error.
package output

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

var (
	// ErrIsDir is returned when the output path is a directory.
	ErrIsDir = errors.New("is a directory")
	// ErrNoPath is returned for an empty output path.
	ErrNoPath = errors.New("no output path (give a file name, or - for stdout)")
)

// maxLinks bounds the symlinks followed from one path (Linux's MAXSYMLINKS
// is 40).
const maxLinks = 40

// WriteFile calls write with a writer for path and commits what it wrote.
//
// "-" writes to stdout (os.Stdout when stdout is nil). A regular file or a
// missing path is written atomically, its directory must exist; a new file
// gets perm (less the umask), a replaced regular file keeps its permission
// bits. A device, FIFO or socket is written through (there, what write
// wrote before an error stays written: a pipe cannot take it back). A
// symlink is followed to its final target, which is treated the same way;
// the link stays. A directory gives ErrIsDir.
//
// The writer given to write reports its errors as "write PATH: cause" for
// the path the user gave (never the temporary file's name). An error from
// write is returned as it is; WriteFile's own errors name path.
func WriteFile(path string, perm fs.FileMode, stdout io.Writer, write func(w io.Writer) error) error {
	if path == "" {
		return ErrNoPath
	}
	if path == "-" {
		if stdout == nil {
			stdout = os.Stdout
		}
		return write(&errWriter{w: stdout, name: "stdout"})
	}
	target, fi, err := resolve(path)
	if err != nil {
		return err
	}
	switch {
	case fi == nil || fi.Mode().IsRegular():
		return writeAtomic(path, target, fi, perm, write)
	case fi.IsDir():
		return &fs.PathError{Op: "write", Path: path, Err: ErrIsDir}
	default:
		return writeThrough(path, target, write)
	}
}

// Bytes returns a write function for WriteFile that writes data.
func Bytes(data []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	}
}

// resolve follows symlinks from path to the file that is to be written: it
// returns that file's name and its Lstat (nil when it does not exist).
func resolve(path string) (string, fs.FileInfo, error) {
	p := path
	for range maxLinks {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return p, nil, nil
		}
		if err != nil {
			return "", nil, fmt.Errorf("write %s: %w", path, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return p, fi, nil
		}
		link, err := os.Readlink(p)
		if err != nil {
			return "", nil, fmt.Errorf("write %s: %w", path, err)
		}
		if !filepath.IsAbs(link) {
			// Relative to the link's real directory: ".." in link must
			// not be applied lexically to a path through other links.
			d := filepath.Dir(p)
			if r, err := filepath.EvalSymlinks(d); err == nil {
				d = r
			}
			link = filepath.Join(d, link)
		}
		p = link
	}
	return "", nil, fmt.Errorf("write %s: more than %d symbolic links: %w", path, maxLinks, syscall.ELOOP)
}

// writeThrough writes to a device, FIFO or socket in place.
func writeThrough(path, target string, write func(io.Writer) error) error {
	f, err := os.OpenFile(target, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	bw := bufio.NewWriterSize(&errWriter{w: f, name: path}, 64<<10)
	if err := write(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	return nil
}

// writeAtomic writes target (a regular file, or missing when fi is nil)
// through a temporary file in its directory.
func writeAtomic(path, target string, fi fs.FileInfo, perm fs.FileMode, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(target)
	if fi != nil {
		perm = fi.Mode().Perm()
	}
	f, tmp, err := createTemp(dir, filepath.Base(target), perm)
	if err != nil {
		return fmt.Errorf("write %s: create a temporary file in %s: %w", path, dir, unwrapPath(err))
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if fi != nil {
		// O_CREATE applied the umask; a replaced file keeps its bits.
		if err := f.Chmod(perm); err != nil {
			return fmt.Errorf("write %s: %w", path, unwrapPath(err))
		}
	}
	bw := bufio.NewWriterSize(&errWriter{w: f, name: path}, 64<<10)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, unwrapPath(err))
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("write %s: %w", path, unwrapPath(err))
	}
	committed = true
	// The rename is durable only once the directory is synced. Past the
	// rename the new content is in place; a directory that cannot be synced
	// (some filesystems refuse fsync on directories) is not an error.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// createTemp creates a new file ".BASE.tmp-RANDOM" in dir with perm (less
// the umask, as for any new file).
func createTemp(dir, base string, perm fs.FileMode) (*os.File, string, error) {
	if len(base) > 200 { // leave room for the suffix within NAME_MAX
		base = base[:200]
	}
	var b [8]byte
	for range 100 {
		rand.Read(b[:])
		name := filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(b[:]))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, name, err
	}
	return nil, "", fmt.Errorf("no unused temporary name in %s", dir)
}

// unwrapPath drops an *fs.PathError's own path (a temporary name or a
// resolved link target) so that messages name the path the user gave.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// errWriter reports write errors as "write NAME: cause".
type errWriter struct {
	w    io.Writer
	name string
}

func (e *errWriter) Write(p []byte) (int, error) {
	n, err := e.w.Write(p)
	if err != nil {
		return n, &fs.PathError{Op: "write", Path: e.name, Err: unwrapPath(err)}
	}
	return n, nil
}

// ContextWriter returns a writer that writes to w until ctx is done, and
// then fails every write with ctx's error: a long encoder writing through
// it (xz, gzip, a tar) stops at its next output once the command is
// interrupted, and the WriteFile around it commits nothing.
func ContextWriter(ctx context.Context, w io.Writer) io.Writer { return ctxWriter{ctx, w} }

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
