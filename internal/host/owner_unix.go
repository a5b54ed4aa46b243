//go:build unix

package host

import (
	"fmt"
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

// FileID returns "dev:ino" of fi (which file it is, not which contents), or "".
func FileID(fi fs.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	}
	return ""
}

// Identity returns "dev:ino:ctime" of fi (cheap file identity), or "".
func Identity(fi fs.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return identity(st)
	}
	return ""
}
