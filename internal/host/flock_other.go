//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package host

import "os"

// Flock is a no-op where flock(2) does not exist; the cache then relies on
// rename alone.
func Flock(*os.File, bool) error { return nil }

// Funlock is a no-op where flock(2) does not exist.
func Funlock(*os.File) error { return nil }
