//go:build !unix

package host

import (
	"io/fs"
	"os"
)

// ONoFollow is 0 where O_NOFOLLOW does not exist.
const ONoFollow = 0

// Owner cannot tell the owner off Unix; it reports the current user so
// ownership checks reduce to the symlink and mode checks.
func Owner(fs.FileInfo) int { return os.Geteuid() }

// FileID is "" off Unix.
func FileID(fs.FileInfo) string { return "" }

// Identity is "" off Unix.
func Identity(fs.FileInfo) string { return "" }
