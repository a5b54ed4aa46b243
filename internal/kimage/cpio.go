package kimage

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/kheaders/kheaders/internal/codec"
)

// Initramfs: newc cpio archives ("070701", or "070702" with checksums),
// each ending in a "TRAILER!!!" entry, possibly compressed, concatenated with
// zero padding, as init/initramfs.c unpack_to_rootfs accepts: a '0' at a
// 4-aligned offset starts an uncompressed archive, zero bytes are skipped,
// anything else must be a compressed stream whose decoded bytes are again a
// sequence of archives.
const (
	cpioHeaderLen = 110
	cpioMaxName   = 4096
	cpioMaxFiles  = 1 << 20
	cpioTrailer   = "TRAILER!!!"
)

func isCPIO(data []byte) bool {
	return bytes.HasPrefix(data, []byte("070701")) || bytes.HasPrefix(data, []byte("070702"))
}

type cpioState struct {
	segment int // archives seen so far
	parts   []Part
	total   int64
	depth   int
}

// peelInitramfs returns the regular files and symlinks of every archive in
// data, in archive order (a later entry with the same name replaces an
// earlier one when the kernel unpacks; all are returned). Part.Meta holds
// "mode" (octal), "type" ("file", "symlink"), "archive" (the index of the
// archive segment) and "compression" when the segment was compressed.
func peelInitramfs(data []byte) ([]Part, error) {
	return peelInitramfsAfter(data, nil, 0, "")
}

// peelInitramfsAfter is peelInitramfs when the first n bytes of data, a
// compressed stream of kind, are already decoded into first.
func peelInitramfsAfter(data, first []byte, n int, kind codec.Kind) ([]Part, error) {
	st := &cpioState{}
	if first != nil {
		st.total = int64(len(first))
		st.depth++
		err := st.stream(first, 0, string(kind))
		st.depth--
		if err != nil {
			return st.parts, err
		}
	}
	if err := st.stream(data[n:], n, ""); err != nil {
		return st.parts, err
	}
	if len(st.parts) == 0 {
		return nil, fmt.Errorf("initramfs: %w: no files", ErrNoKernel)
	}
	return st.parts, nil
}

// stream walks a sequence of archives, zero padding and compressed streams.
// base is the offset of data[0] in the buffer the kernel would walk.
func (st *cpioState) stream(data []byte, base int, comp string) error {
	pos := 0 // base+pos is the kernel's this_header: archives start 4-aligned
	for pos < len(data) {
		switch {
		case data[pos] == '0' && (base+pos)&3 == 0:
			n, err := st.archive(data[pos:], st.segment, comp)
			if err != nil {
				return fmt.Errorf("initramfs: archive at offset %d: %w", pos, err)
			}
			pos += n
			st.segment++
		case data[pos] == 0:
			pos++
		default:
			kind, ok := codec.Detect(data[pos:])
			if !ok {
				return fmt.Errorf("initramfs: %w: invalid magic % x at offset %d (neither a cpio archive nor a compressed one)", ErrCorrupt, data[pos:min(len(data), pos+6)], pos)
			}
			if st.depth >= 4 {
				return fmt.Errorf("initramfs: %w: compressed archives nested too deep", ErrCorrupt)
			}
			out, n, err := codec.DecompressPrefix(kind, data[pos:], MaxDecoded-st.total)
			if err != nil {
				return fmt.Errorf("initramfs: compressed archive at offset %d: %w", pos, err)
			}
			st.total += int64(len(out))
			st.depth++
			err = st.stream(out, 0, string(kind))
			st.depth--
			if err != nil {
				return err
			}
			pos += n
		}
	}
	return nil
}

func cpioHex(b []byte) (uint32, error) {
	v, err := strconv.ParseUint(string(b), 16, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: bad cpio header field %q", ErrCorrupt, b)
	}
	return uint32(v), nil
}

func pad4(n int) int { return (n + 3) &^ 3 }

// archive parses one archive up to and including its trailer and returns
// its length.
func (st *cpioState) archive(data []byte, segment int, comp string) (int, error) {
	pos := 0
	for {
		if len(data)-pos < cpioHeaderLen {
			return 0, fmt.Errorf("%w: cpio header truncated at offset %d", ErrCorrupt, pos)
		}
		h := data[pos : pos+cpioHeaderLen]
		if !isCPIO(h) {
			return 0, fmt.Errorf("%w: no cpio newc magic at offset %d (% x); only newc (070701/070702) archives are supported", ErrCorrupt, pos, h[:6])
		}
		var f [13]uint32
		for i := range f {
			v, err := cpioHex(h[6+8*i : 14+8*i])
			if err != nil {
				return 0, err
			}
			f[i] = v
		}
		mode, size, namesize := f[1], f[6], f[11]
		if namesize == 0 || namesize > cpioMaxName {
			return 0, fmt.Errorf("%w: cpio name size %d at offset %d", ErrCorrupt, namesize, pos)
		}
		nameEnd := pos + cpioHeaderLen + int(namesize)
		if nameEnd > len(data) {
			return 0, fmt.Errorf("%w: cpio name past end of data", ErrCorrupt)
		}
		name := string(bytes.TrimRight(data[pos+cpioHeaderLen:nameEnd], "\x00"))
		dataStart := pad4(nameEnd)
		if int64(dataStart)+int64(size) > int64(len(data)) {
			return 0, fmt.Errorf("%w: cpio entry %q declares %d bytes, only %d left", ErrCorrupt, name, size, len(data)-min(dataStart, len(data)))
		}
		body := data[dataStart : dataStart+int(size)]
		pos = pad4(dataStart + int(size))
		if name == cpioTrailer {
			return min(pos, len(data)), nil
		}
		typ := ""
		switch mode & 0o170000 {
		case 0o100000:
			typ = "file"
		case 0o120000:
			typ = "symlink"
		}
		if typ == "" {
			continue
		}
		if len(st.parts) >= cpioMaxFiles {
			return 0, fmt.Errorf("%w: more than %d files", ErrCorrupt, cpioMaxFiles)
		}
		meta := map[string]string{"mode": strconv.FormatUint(uint64(mode&0o7777), 8), "type": typ, "archive": strconv.Itoa(segment)}
		if comp != "" {
			meta["compression"] = comp
		}
		st.parts = append(st.parts, Part{Name: name, Data: body, Meta: meta})
	}
}
