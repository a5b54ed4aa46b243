//go:build unix

package host

import (
	"io/fs"
	"syscall"
)

// ONoFollow is O_NOFOLLOW: open fails on a final symlink.
const ONoFollow = syscall.O_NOFOLLOW

// Owner returns the uid owning fi (from Lstat/Stat), or -1 when unknown.
func Owner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// Identity returns "dev:ino:ctime" of fi (cheap file identity), or "".
func Identity(fi fs.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return identity(st)
	}
	return ""
}
