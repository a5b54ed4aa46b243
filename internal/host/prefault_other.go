//go:build !linux

package host

// PrefaultWrite is a no-op where MADV_POPULATE_WRITE does not exist.
func PrefaultWrite([]byte) {}

// Discard is a no-op where MADV_DONTNEED is not used: the pages stay.
func Discard([]byte) {}
