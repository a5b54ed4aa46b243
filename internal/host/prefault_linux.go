package host

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// PrefaultWrite asks the kernel to map the pages of b for writing
// (MADV_POPULATE_WRITE, Linux 5.14+) from another goroutine while the
// caller fills b from its start: a decoder writing b then takes no page
// fault per 4 KiB of output (about 8,000 for a kheaders archive). The
// contents of b are not touched. It is only a hint: buffers under 1 MiB are
// left alone, and errors (an older kernel) are ignored.
func PrefaultWrite(b []byte) {
	const page = 4096
	if len(b) < 1<<20 {
		return
	}
	off := int((page - uintptr(unsafe.Pointer(&b[0]))%page) % page)
	go unix.Madvise(b[off:], unix.MADV_POPULATE_WRITE)
}

// Discard returns the memory of the whole pages within b to the kernel
// (MADV_DONTNEED): the caller is done with their contents, and reads of
// them would now see zeros. A buffer of decoded data that is written out
// as it is decoded (extraction) then does not keep all of it resident,
// and the process does not unmap it all at exit. Errors are ignored: the
// pages then stay as they were.
func Discard(b []byte) {
	const page = 4096
	if len(b) == 0 {
		return
	}
	p := uintptr(unsafe.Pointer(&b[0]))
	off := int((page - p%page) % page)
	n := (len(b) - off) &^ (page - 1)
	if off >= len(b) || n <= 0 {
		return
	}
	unix.Madvise(b[off:off+n], unix.MADV_DONTNEED)
}
