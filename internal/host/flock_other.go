//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package host

import "os"

// Flock is a no-op where the platform has no flock(2).
func Flock(*os.File, bool) error { return nil }

// Funlock is a no-op where the platform has no flock(2).
func Funlock(*os.File) error { return nil }

// ProcessAlive cannot tell on this platform; it says yes so a lock is never
// taken away from a live holder.
func ProcessAlive(pid int) bool { return pid > 0 }
