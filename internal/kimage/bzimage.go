package kimage

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/kheaders/kheaders/internal/codec"
)

// x86 boot protocol setup header (Documentation/arch/x86/boot.rst).
const (
	bzSetupSects    = 0x1f1
	bzBootFlag      = 0x1fe
	bzHeader        = 0x202
	bzVersion       = 0x206
	bzKernelVerPtr  = 0x20e
	bzXLoadFlags    = 0x236
	bzPayloadOffset = 0x248
	bzPayloadLength = 0x24c
	bzMinLen        = 0x250
)

func isBzImage(data []byte) bool {
	return len(data) >= bzMinLen &&
		binary.LittleEndian.Uint16(data[bzBootFlag:]) == 0xaa55 &&
		string(data[bzHeader:bzHeader+4]) == "HdrS"
}

// bzKernelVersion returns the setup header's kernel_version string.
func bzKernelVersion(data []byte) string {
	if !isBzImage(data) || binary.LittleEndian.Uint16(data[bzVersion:]) < 0x200 {
		return ""
	}
	p := int(binary.LittleEndian.Uint16(data[bzKernelVerPtr:]))
	if p == 0 {
		return ""
	}
	p += 0x200
	if p >= len(data) {
		return ""
	}
	s := data[p:min(len(data), p+256)]
	if i := bytes.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	if !printable(s) {
		return ""
	}
	return string(s)
}

// peelBzImage returns the decompressed kernel (Part "vmlinux") of a bzImage.
func peelBzImage(data []byte) ([]Part, error) {
	version := binary.LittleEndian.Uint16(data[bzVersion:])
	sects := int(data[bzSetupSects])
	if sects == 0 {
		sects = 4
	}
	pm := (sects + 1) * 512
	if pm >= len(data) {
		return nil, fmt.Errorf("bzImage: %w: setup of %d sectors past end of file (%d bytes)", ErrCorrupt, sects, len(data))
	}
	meta := map[string]string{
		"arch":             "x86",
		"protocol_version": fmt.Sprintf("%d.%02d", version>>8, version&0xff),
	}
	// XLF_KERNEL_64 (boot protocol 2.12+): a 64-bit kernel sets it, a
	// 32-bit one does not; older protocols do not tell.
	if v := bzKernelVersion(data); v != "" {
		meta["version"] = v
		if r, _, _ := bytes.Cut([]byte(v), []byte(" ")); len(r) > 0 {
			meta["release"] = string(r)
		}
	}
	if version >= 0x20c {
		meta["machine"] = "i386"
		if binary.LittleEndian.Uint16(data[bzXLoadFlags:])&1 != 0 {
			meta["machine"] = "x86_64"
		}
	}
	if bytes.HasPrefix(data, []byte("MZ")) {
		meta["efi_stub"] = "true"
	}
	var payload []byte
	if version >= 0x208 {
		off := int64(binary.LittleEndian.Uint32(data[bzPayloadOffset:]))
		n := int64(binary.LittleEndian.Uint32(data[bzPayloadLength:]))
		start := int64(pm) + off
		if n == 0 || start+n > int64(len(data)) {
			return nil, fmt.Errorf("bzImage: %w: payload at %#x+%#x (%d bytes) past end of file (%d bytes)", ErrCorrupt, pm, off, n, len(data))
		}
		payload = data[start : start+n]
		meta["payload_offset"] = fmt.Sprint(start)
		meta["payload_length"] = fmt.Sprint(n)
	} else {
		// Before protocol 2.08 the payload position is not recorded: find
		// the first compressed stream in the protected-mode code.
		p, ok := findGzip(data[pm:])
		if !ok {
			return nil, fmt.Errorf("bzImage: %w: protocol %s has no payload fields and no gzip stream was found", ErrCorrupt, meta["protocol_version"])
		}
		payload = data[pm+p:]
	}
	if bytes.HasPrefix(payload, []byte("\x7fELF")) { // CONFIG_KERNEL_UNCOMPRESSED
		meta["compression"] = "none"
		return []Part{{Name: "vmlinux", Data: payload, Meta: meta}}, nil
	}
	kind, ok := codec.Detect(payload)
	if !ok {
		return nil, fmt.Errorf("bzImage: %w: payload starts with % x, no known compression", ErrCorrupt, payload[:min(8, len(payload))])
	}
	meta["compression"] = string(kind)
	out, err := codec.Decompress(kind, payload, MaxDecoded)
	if err != nil {
		return nil, fmt.Errorf("bzImage payload: %w", err)
	}
	return []Part{{Name: "vmlinux", Data: out, Meta: meta}}, nil
}

func findGzip(b []byte) (int, bool) {
	i := bytes.Index(b, []byte{0x1f, 0x8b, 0x08})
	return i, i >= 0
}
