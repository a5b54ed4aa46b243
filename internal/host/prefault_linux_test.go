package host

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestPageRange checks the range Discard and PrefaultWrite hand to madvise
// for every page size Linux uses: aligned to the page, whole pages only,
// inside the buffer, and the largest such run. A range computed for 4 KiB
// pages on a 16 or 64 KiB kernel would be rounded up by madvise past the
// buffer's end and zero bytes still in use.
func TestPageRange(t *testing.T) {
	for _, page := range []int{4096, 16384, 65536} {
		for _, p := range []uintptr{0, 1, 100, 4096, 8192, 12288, 16384, 65536 - 1, 65536, 65536 + 4096, 1<<20 + 3} {
			for _, length := range []int{0, 1, 4095, 4096, 4097, 16384, 20000, 65536, 65537, 200000} {
				off, n := pageRange(p, length, page)
				if n == 0 {
					// No whole page fits: the first boundary inside plus a page is past the end.
					first := int((uintptr(page) - p%uintptr(page)) % uintptr(page))
					if first+page <= length {
						t.Errorf("page %d, p %#x, len %d: no range, but [%d, %d) is a whole page", page, p, length, first, first+page)
					}
					continue
				}
				if (p+uintptr(off))%uintptr(page) != 0 || n%page != 0 || off < 0 || off+n > length {
					t.Errorf("page %d, p %#x, len %d: range [%d, %d) not whole pages inside the buffer", page, p, length, off, off+n)
				}
				if off >= page || off+n+page <= length {
					t.Errorf("page %d, p %#x, len %d: range [%d, %d) is not the largest", page, p, length, off, off+n)
				}
			}
		}
	}
}

// TestDiscardKeepsNeighbours discards slices that start and end in the
// middle of pages of a page-aligned mapping (the kernel's real page size)
// and checks that every byte outside the slice keeps its value.
func TestDiscardKeepsNeighbours(t *testing.T) {
	page := unix.Getpagesize()
	if page != pageSize {
		t.Fatalf("pageSize %d, getpagesize %d", pageSize, page)
	}
	m, err := unix.Mmap(-1, 0, 8*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	if uintptr(unsafe.Pointer(&m[0]))%uintptr(page) != 0 {
		t.Fatal("mmap returned an unaligned mapping")
	}
	for _, c := range []struct{ from, to int }{
		{1, 3*page - 1}, {page / 2, 5*page + page/2}, {page, 3*page - 1}, {page + 1, 4 * page}, {0, page - 1}, {3, 7*page + 5},
	} {
		for i := range m {
			m[i] = 0xa5
		}
		Discard(m[c.from:c.to])
		for i := 0; i < c.from; i++ {
			if m[i] != 0xa5 {
				t.Fatalf("Discard(m[%d:%d]) changed byte %d before the slice", c.from, c.to, i)
			}
		}
		for i := c.to; i < len(m); i++ {
			if m[i] != 0xa5 {
				t.Fatalf("Discard(m[%d:%d]) changed byte %d after the slice (page size %d)", c.from, c.to, i, page)
			}
		}
		// The whole pages inside were discarded: they read as zeros.
		off, n := pageRange(uintptr(unsafe.Pointer(&m[c.from])), c.to-c.from, page)
		for i := c.from + off; i < c.from+off+n; i++ {
			if m[i] != 0 {
				t.Fatalf("Discard(m[%d:%d]): byte %d of a whole page inside is %#x, not discarded", c.from, c.to, i, m[i])
			}
		}
	}
}
