//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package host

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// Flock takes an exclusive or shared advisory lock on f, blocking until it
// is granted.
func Flock(f *os.File, exclusive bool) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// Funlock releases a lock taken by Flock.
func Funlock(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_UN) }
