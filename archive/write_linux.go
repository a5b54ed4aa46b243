package archive

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// dirFile is an open directory of the tree being extracted. Files are
// created in it with raw openat/write/futimens/close on its descriptor:
// four system calls per file, where os.Root's OpenFile and Chtimes take
// eleven (fcntl and epoll registration of every new file, a readlinkat and
// a second openat to set the mtime by name). The directory itself was
// opened through the extraction's os.Root, and each file is a single name
// created with O_EXCL|O_NOFOLLOW in it, so nothing outside the root, and
// no existing entry or symlink, can be written to.
type dirFile struct {
	f  *os.File
	fd int
}

func openDir(root *os.Root, d string) (dirFile, error) {
	f, err := root.Open(d)
	if err != nil {
		return dirFile{}, err
	}
	return dirFile{f: f, fd: int(f.Fd())}, nil
}

func (d dirFile) close() { d.f.Close() }

// openDirLimit is how many directories an extraction keeps open: a
// quarter of the descriptor limit (Go raises the soft limit to the hard
// one at start; under a hard limit of 1024 this leaves most for the
// rest of the process), at most maxOpenDirs.
func openDirLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 64
	}
	return int(min(rl.Cur/4, maxOpenDirs))
}

// mkdirOpen creates the directory base in d (perm less the umask, as
// mkdir(2) does) and opens it, without following a symlink there.
func (d dirFile) mkdirOpen(name, base string, perm fs.FileMode) (dirFile, error) {
	var err error
	for {
		if err = syscall.Mkdirat(d.fd, base, uint32(perm.Perm())); err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return dirFile{}, &fs.PathError{Op: "mkdirat", Path: name, Err: err}
	}
	var fd int
	for {
		if fd, err = syscall.Openat(d.fd, base, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0); err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return dirFile{}, &fs.PathError{Op: "openat", Path: name, Err: err}
	}
	return dirFile{f: os.NewFile(uintptr(fd), name), fd: fd}, nil
}

// setTime sets the directory's atime and mtime to t.
func (d dirFile) setTime(t time.Time) error {
	if err := futimens(d.fd, t); err != nil {
		return &fs.PathError{Op: "futimens", Path: d.f.Name(), Err: err}
	}
	return nil
}

// create writes data as the new file base in d, with the permission bits
// of mode (less the umask, as open(2) does) and, with setTime, mtime and
// atime mt. name is the member's path, for errors.
func (d dirFile) create(name, base string, mode fs.FileMode, data []byte, mt time.Time, setTime bool) error {
	var fd int
	var err error
	for {
		fd, err = syscall.Openat(d.fd, base, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, uint32(mode.Perm()))
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", name, &fs.PathError{Op: "openat", Path: name, Err: err})
	}
	if err := writeAll(fd, data); err != nil {
		syscall.Close(fd)
		return fmt.Errorf("write %s: %w", name, &fs.PathError{Op: "write", Path: name, Err: err})
	}
	if setTime {
		if err := futimens(fd, mt); err != nil {
			syscall.Close(fd)
			return fmt.Errorf("set mtime of %s: %w", name, &fs.PathError{Op: "futimens", Path: name, Err: err})
		}
	}
	if err := syscall.Close(fd); err != nil {
		return fmt.Errorf("write %s: %w", name, &fs.PathError{Op: "close", Path: name, Err: err})
	}
	return nil
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := syscall.Write(fd, b)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrShortWrite
		}
		b = b[n:]
	}
	return nil
}

// futimens sets atime and mtime of the open file fd to t (utimensat with
// a NULL path acts on fd itself). A zero t leaves them unchanged, as
// os.Chtimes does.
func futimens(fd int, t time.Time) error {
	ts := [2]syscall.Timespec{{Nsec: utimeOmit}, {Nsec: utimeOmit}}
	if !t.IsZero() {
		ts[0] = syscall.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
		ts[1] = ts[0]
	}
	for {
		_, _, e := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
		switch e {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		default:
			return e
		}
	}
}

const utimeOmit = (1 << 30) - 2 // UTIME_OMIT
