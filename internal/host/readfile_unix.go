//go:build unix

package host

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// ReadFileDirect reads the file name with open, fstat, read and close
// system calls and no *os.File: os.ReadFile registers every file with the
// runtime poller (five fcntl/epoll calls for a regular file on Linux, and
// the poller's set-up on the first) and sets a finalizer, which is most of
// the cost of the few small files a warm locate reads (release, boot id,
// config, the headers it verifies). Errors are *fs.PathError, as
// os.ReadFile's (errors.Is(err, fs.ErrNotExist) holds).
func ReadFileDirect(name string) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	defer unix.Close(fd)
	b, _, err := readFD(fd, false)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return b, nil
}

// ReadFileAt reads the file name, one element of a path, in the open
// directory dir, refusing a symlink at name (O_NOFOLLOW), with no *os.File
// for it (see ReadFileDirect). It also returns the owner uid and the mode
// of the file it opened (from fstat of the open descriptor, so they are
// those of the bytes read). A name holding a slash is refused.
func ReadFileAt(dir *os.File, name string) (data []byte, uid int, mode fs.FileMode, err error) {
	if name == "" || name == "." || name == ".." || containsSlash(name) {
		return nil, -1, 0, &fs.PathError{Op: "openat", Path: name, Err: fs.ErrInvalid}
	}
	dfd := int(dir.Fd())
	var fd int
	for {
		fd, err = unix.Openat(dfd, name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, -1, 0, &fs.PathError{Op: "openat", Path: name, Err: err}
	}
	defer unix.Close(fd)
	data, st, err := readFD(fd, true)
	if err != nil {
		return nil, -1, 0, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return data, int(st.Uid), fileMode(st), nil
}

// errNotRegular: ReadFileAt opened something that is not a regular file
// (a FIFO, socket or device planted under the name): it is not read.
var errNotRegular = errors.New("not a regular file")

// readFD reads fd to its end (readAll). With regular, anything but
// a regular file (a FIFO, socket or device planted under the name) is
// refused before a read.
func readFD(fd int, regular bool) ([]byte, *unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, nil, err
	}
	isReg := st.Mode&unix.S_IFMT == unix.S_IFREG
	if regular && !isReg {
		return nil, &st, errNotRegular
	}
	size := int64(-1)
	if isReg {
		size = st.Size
	}
	b, err := readAll(fd, size)
	return b, &st, err
}

// readAll reads fd to EOF. size is the size fstat gave for a regular
// file (-1 for others): it sizes the buffer, and is not trusted as the
// end. A file that grew since, or whose size is stale (NFS, FUSE or 9p
// attribute caches), is not cut short; files that report 0 (/proc) or
// more than they hold (sysfs attributes) are read to EOF too. The spare
// byte of the buffer takes the read that sees EOF.
func readAll(fd int, size int64) ([]byte, error) {
	n0 := 512
	if size > 0 && size < 1<<30 {
		n0 = int(size) + 1
	}
	b := make([]byte, 0, n0)
	for {
		n, err := unix.Read(fd, b[len(b):cap(b)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return b, nil
		}
		b = b[:len(b)+n]
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

func containsSlash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '/' {
			return true
		}
	}
	return false
}

// fileMode converts st_mode to an fs.FileMode (type bits and permissions),
// as os.Stat does.
func fileMode(st *unix.Stat_t) fs.FileMode {
	m := fs.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	}
	if st.Mode&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if st.Mode&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if st.Mode&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// OpenDir opens the directory at path, refusing a final symlink, as an
// *os.File that is not registered with the runtime poller (os.NewFile on
// a blocking descriptor), for ReadFileAt.
func OpenDir(path string) (*os.File, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}
