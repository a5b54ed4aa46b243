//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package host

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Flock takes an exclusive or shared advisory lock on f, blocking until it
// is granted. On a kernel built without CONFIG_FILE_LOCKING (flock(2)
// answers ENOSYS, as in small embedded and tinyconfig kernels) it returns an
// error wrapping ErrNoFileLocking, so callers can fall back to PIDLock.
func Flock(f *os.File, exclusive bool) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err := unix.Flock(int(f.Fd()), how)
		if errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("flock %s: %w", f.Name(), ErrNoFileLocking)
		}
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// Funlock releases a lock taken by Flock.
func Funlock(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_UN) }

// ProcessAlive reports whether a process with this pid exists (in our pid
// namespace). EPERM means it exists but belongs to someone else.
func ProcessAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
