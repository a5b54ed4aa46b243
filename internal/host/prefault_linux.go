package host

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// pageSize is the kernel's page size: 4 KiB on x86, 4, 16 or 64 KiB on
// arm64, 64 KiB on most ppc64le kernels. madvise needs a start aligned to
// it and rounds the length up to it.
var pageSize = unix.Getpagesize()

// PrefaultWrite asks the kernel to map the pages of b for writing
// (MADV_POPULATE_WRITE, Linux 5.14+) from another goroutine while the
// caller fills b from its start: a decoder writing b then takes no page
// fault per page of output (about 8,000 for a kheaders archive with 4 KiB
// pages). The contents of b are not touched. It is only a hint: buffers
// under 1 MiB are left alone, and errors (an older kernel) are ignored.
func PrefaultWrite(b []byte) {
	if len(b) < 1<<20 {
		return
	}
	off, n := pageRange(uintptr(unsafe.Pointer(&b[0])), len(b), pageSize)
	if n > 0 {
		go unix.Madvise(b[off:off+n], unix.MADV_POPULATE_WRITE)
	}
}

// Discard returns the memory of the whole pages within b to the kernel
// (MADV_DONTNEED): the caller is done with their contents, and reads of
// them would now see zeros. A buffer of decoded data that is written out
// as it is decoded (extraction) then does not keep all of it resident,
// and the process does not unmap it all at exit. Only pages that lie
// wholly inside b are discarded, whatever the kernel's page size: the
// bytes around b are untouched. Errors are ignored: the pages then stay
// as they were.
func Discard(b []byte) {
	if len(b) == 0 {
		return
	}
	off, n := pageRange(uintptr(unsafe.Pointer(&b[0])), len(b), pageSize)
	if n > 0 {
		unix.Madvise(b[off:off+n], unix.MADV_DONTNEED)
	}
}

// pageRange returns the largest run of whole pages (of size page, a power
// of two) inside the length bytes at address p: its offset from p and its
// length, a multiple of page (0 when no whole page fits).
func pageRange(p uintptr, length, page int) (off, n int) {
	off = int((uintptr(page) - p%uintptr(page)) % uintptr(page))
	if off >= length {
		return 0, 0
	}
	return off, (length - off) / page * page
}
