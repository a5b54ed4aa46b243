//go:build !linux

package host

// PrefaultWrite is a no-op where MADV_POPULATE_WRITE does not exist.
func PrefaultWrite([]byte) {}
