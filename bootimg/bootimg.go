// Package bootimg adds a kheaders initramfs segment (package initramfs) to
// the ramdisk of an Android boot image (header versions 0 to 4, AOSP
// system/tools/mkbootimg bootimg.h), so that headers travel with the kernel
// through `fastboot boot`/`flash` without CONFIG_IKHEADERS=y pinning them in
// kernel memory. The image is rebuilt as mkbootimg lays it out: sizes
// updated, sections page-aligned, and for v0-v2 the id field recomputed
// (SHA-1 over each section and its size), so unpack_bootimg and mkbootimg
// read it back.
package bootimg

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/kheaders/kheaders/carrier"
	"github.com/kheaders/kheaders/initramfs"
)

// Sentinel errors.
var (
	// ErrFormat: not an Android boot image, or a corrupt one.
	ErrFormat = errors.New("not a valid Android boot image")
	// ErrNotSupported: an image this package does not rewrite (vendor_boot,
	// an image with an AVB footer, an unknown header version).
	ErrNotSupported = errors.New("boot image not supported")
)

const (
	magic       = "ANDROID!"
	vendorMagic = "VNDRBOOT"
	v3PageSize  = 4096
)

var le = binary.LittleEndian

// Info describes an image AddSegment rewrote.
//
// Its JSON is the `boot` object of kheaders.bootimg/v1 (docs/json.md): a
// stable schema, fields are only added within v1.
type Info struct {
	HeaderVersion  uint32 `json:"header_version"`
	PageSize       uint32 `json:"page_size"`
	RamdiskBefore  int64  `json:"ramdisk_size_before"`
	RamdiskAfter   int64  `json:"ramdisk_size_after"`
	ImageSize      int64  `json:"image_size"`
	SignatureStale bool   `json:"signature_stale,omitempty"` // a v4 boot signature was kept but no longer covers the image
}

// AddSegment returns img with segment appended to its ramdisk (after NUL
// padding to a multiple of 4, which the kernel skips, so an uncompressed
// segment also starts 4-aligned).
//
// Errors: ErrFormat, ErrNotSupported.
func AddSegment(img, segment []byte) ([]byte, *Info, error) {
	if len(img) >= 8 && string(img[:8]) == vendorMagic {
		return nil, nil, fmt.Errorf("%w: vendor_boot images are not rewritten yet (add the segment to the generic boot image's ramdisk instead)", ErrNotSupported)
	}
	if len(img) < 44 || string(img[:8]) != magic {
		return nil, nil, fmt.Errorf("%w: no %q magic", ErrFormat, magic)
	}
	if len(img) >= 64 && string(img[len(img)-64:len(img)-60]) == "AVBf" {
		return nil, nil, fmt.Errorf("%w: the image has an AVB footer; rewriting it would break verified boot (add the segment before signing, then sign with avbtool)", ErrNotSupported)
	}
	ver := le.Uint32(img[40:])
	switch {
	case ver <= 2:
		return addV0(img, segment, ver)
	case ver <= 4:
		return addV3(img, segment, ver)
	}
	return nil, nil, fmt.Errorf("%w: header version %d (known: 0-4)", ErrNotSupported, ver)
}

func align(n, page int64) int64 { return (n + page - 1) / page * page }

// newRamdisk is old, NUL-padded to 4, then segment.
func newRamdisk(old, segment []byte) []byte {
	r := append([]byte{}, old...)
	for len(r)%4 != 0 {
		r = append(r, 0)
	}
	return append(r, segment...)
}

// sections cuts page-aligned sections after the header.
func sections(img []byte, page, headerLen int64, sizes []uint32) ([][]byte, int64, error) {
	off := align(headerLen, page)
	var out [][]byte
	for i, s := range sizes {
		if off+int64(s) > int64(len(img)) {
			return nil, 0, fmt.Errorf("%w: section %d of %d bytes at offset %d past the end of the image (%d bytes)", ErrFormat, i, s, off, len(img))
		}
		out = append(out, img[off:off+int64(s)])
		off = align(off+int64(s), page)
	}
	return out, off, nil
}

func put(dst *bytes.Buffer, b []byte, page int64) {
	dst.Write(b)
	if r := int64(dst.Len()) % page; r != 0 {
		dst.Write(make([]byte, page-r))
	}
}

// appendToRamdisk replaces the ramdisk section (secs[1]) by itself followed
// by segment, and returns it; every header version stores its size in 32 bits.
func appendToRamdisk(secs [][]byte, segment []byte) ([]byte, error) {
	rd := newRamdisk(secs[1], segment)
	if int64(len(rd)) > 0xffffffff {
		return nil, fmt.Errorf("%w: ramdisk of %d bytes does not fit the header", ErrNotSupported, len(rd))
	}
	secs[1] = rd
	return rd, nil
}

// assemble lays out an image: the header pages, then every section padded
// to the page size.
func assemble(hdr []byte, secs [][]byte, page int64) []byte {
	var out bytes.Buffer
	out.Write(hdr)
	for _, s := range secs {
		put(&out, s, page)
	}
	return out.Bytes()
}

// v0-v2: kernel_size@8 ramdisk_size@16 second_size@24 page_size@36
// id[32]@576; v1+: recovery_dtbo_size@1632 recovery_dtbo_offset@1636(u64)
// header_size@1644; v2+: dtb_size@1648.
func addV0(img, segment []byte, ver uint32) ([]byte, *Info, error) {
	hdrLen := map[uint32]int64{0: 1632, 1: 1648, 2: 1660}[ver]
	if int64(len(img)) < hdrLen {
		return nil, nil, fmt.Errorf("%w: v%d header truncated (%d of %d bytes)", ErrFormat, ver, len(img), hdrLen)
	}
	page := int64(le.Uint32(img[36:]))
	if page < 2048 || page > 1<<20 || page&(page-1) != 0 {
		return nil, nil, fmt.Errorf("%w: page size %d", ErrFormat, page)
	}
	sizes := []uint32{le.Uint32(img[8:]), le.Uint32(img[16:]), le.Uint32(img[24:])}
	if ver >= 1 {
		sizes = append(sizes, le.Uint32(img[1632:]))
	}
	if ver >= 2 {
		sizes = append(sizes, le.Uint32(img[1648:]))
	}
	secs, _, err := sections(img, page, hdrLen, sizes)
	if err != nil {
		return nil, nil, err
	}
	rd, err := appendToRamdisk(secs, segment)
	if err != nil {
		return nil, nil, err
	}
	hdr := append([]byte{}, img[:align(hdrLen, page)]...)
	le.PutUint32(hdr[16:], uint32(len(rd)))
	if ver >= 1 && len(secs[3]) > 0 {
		off := align(hdrLen, page)
		for _, s := range secs[:3] {
			off = align(off+int64(len(s)), page)
		}
		le.PutUint64(hdr[1636:], uint64(off))
	}
	// mkbootimg's id: SHA-1 of each section followed by its u32 size.
	h := sha1.New()
	for _, s := range secs {
		h.Write(s)
		var n [4]byte
		le.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
	}
	id := make([]byte, 32)
	copy(id, h.Sum(nil))
	copy(hdr[576:608], id)
	out := assemble(hdr, secs, page)
	return out, &Info{HeaderVersion: ver, PageSize: uint32(page), RamdiskBefore: int64(sizes[1]), RamdiskAfter: int64(len(rd)), ImageSize: int64(len(out))}, nil
}

// v3/v4: kernel_size@8 ramdisk_size@12 header_size@20; v4:
// signature_size@1580. Page size 4096.
func addV3(img, segment []byte, ver uint32) ([]byte, *Info, error) {
	hdrLen := int64(1580)
	if ver == 4 {
		hdrLen = 1584
	}
	if int64(len(img)) < hdrLen {
		return nil, nil, fmt.Errorf("%w: v%d header truncated (%d of %d bytes)", ErrFormat, ver, len(img), hdrLen)
	}
	sizes := []uint32{le.Uint32(img[8:]), le.Uint32(img[12:])}
	if ver == 4 {
		sizes = append(sizes, le.Uint32(img[1580:]))
	}
	secs, _, err := sections(img, v3PageSize, hdrLen, sizes)
	if err != nil {
		return nil, nil, err
	}
	rd, err := appendToRamdisk(secs, segment)
	if err != nil {
		return nil, nil, err
	}
	hdr := append([]byte{}, img[:align(hdrLen, v3PageSize)]...)
	le.PutUint32(hdr[12:], uint32(len(rd)))
	out := assemble(hdr, secs, v3PageSize)
	info := &Info{HeaderVersion: ver, PageSize: v3PageSize, RamdiskBefore: int64(sizes[1]), RamdiskAfter: int64(len(rd)), ImageSize: int64(len(out))}
	info.SignatureStale = ver == 4 && sizes[2] > 0
	return out, info, nil
}

// Options configures AddHeaders.
type Options struct {
	// Archive is the header archive to add; nil means the one img carries
	// itself (a kernel built with CONFIG_IKHEADERS=y that moves to =n).
	Archive []byte
	// Compression of the segment ("" means xz with CRC32).
	Compression initramfs.Compression
}

// AddHeaders builds the initramfs segment of the archive (o.Archive, else
// the one img's kernel carries) and appends it to img's ramdisk.
//
// Errors: ErrFormat, ErrNotSupported, carrier.ErrNotFound when img carries
// no archive and none was given, initramfs errors.
func AddHeaders(ctx context.Context, img []byte, o *Options) ([]byte, *Info, *initramfs.Manifest, error) {
	var opts Options
	if o != nil {
		opts = *o
	}
	if opts.Archive == nil {
		a, _, err := carrier.Archive(ctx, img, &carrier.Options{NoSHA256: true})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("the boot image carries no header archive of its own (give SRC): %w", err)
		}
		opts.Archive = a
	}
	var seg bytes.Buffer
	m, err := initramfs.Build(ctx, &seg, opts.Archive, &initramfs.Options{Compression: opts.Compression})
	if err != nil {
		return nil, nil, nil, err
	}
	out, info, err := AddSegment(img, seg.Bytes())
	if err != nil {
		return nil, nil, nil, err
	}
	return out, info, m, nil
}
