package kimage

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/kheaders/kheaders/internal/codec"
	"github.com/kheaders/kheaders/internal/karch"
)

// arm64 Image header (Documentation/arch/arm64/booting.rst): 64 bytes,
// "ARM\x64" at 0x38.
const arm64Magic = "ARM\x64"

func isARM64Image(data []byte) bool {
	return len(data) >= 64 && string(data[0x38:0x3c]) == arm64Magic
}

func arm64Meta(data []byte) map[string]string {
	m := map[string]string{"arch": "arm64", "machine": "aarch64"}
	m["text_offset"] = fmt.Sprint(binary.LittleEndian.Uint64(data[8:]))
	m["image_size"] = fmt.Sprint(binary.LittleEndian.Uint64(data[16:]))
	if flags := binary.LittleEndian.Uint64(data[24:]); flags&1 != 0 {
		m["endian"] = "big"
		m["machine"] = "aarch64_be"
	} else {
		m["endian"] = "little"
	}
	if bytes.HasPrefix(data, []byte("MZ")) {
		m["efi_stub"] = "true"
	}
	return m
}

// EFI zboot (drivers/firmware/efi/libstub/zboot-header.S): "MZ" then "zimg"
// at 4, payload offset at 8, payload size at 12 (without the size trailer),
// the compression type as a NUL-terminated string at 24, PE offset at 0x3c.
const (
	zbootMinLen = 0x40
)

func isZboot(data []byte) bool {
	return len(data) >= zbootMinLen && bytes.HasPrefix(data, []byte("MZ")) && string(data[4:8]) == "zimg"
}

func peelZboot(data []byte) ([]Part, error) {
	off := int64(binary.LittleEndian.Uint32(data[8:]))
	n := int64(binary.LittleEndian.Uint32(data[12:]))
	ct := data[24:0x38]
	if i := bytes.IndexByte(ct, 0); i >= 0 {
		ct = ct[:i]
	}
	comp := string(ct)
	if n == 0 || off+n > int64(len(data)) || off < zbootMinLen {
		return nil, fmt.Errorf("zboot: %w: payload at %#x (%d bytes) outside the file (%d bytes)", ErrCorrupt, off, n, len(data))
	}
	payload := data[off : off+n]
	kind, ok := codec.Detect(payload)
	if !ok {
		return nil, fmt.Errorf("zboot: %w: payload (declared %q) starts with % x, no known compression", ErrCorrupt, comp, payload[:min(8, len(payload))])
	}
	meta := map[string]string{"compression": string(kind), "declared_compression": comp,
		"payload_offset": fmt.Sprint(off), "payload_length": fmt.Sprint(n)}
	if len(data) >= 0x40 {
		pe := int64(binary.LittleEndian.Uint32(data[0x3c:]))
		if pe+6 <= int64(len(data)) && string(data[pe:pe+4]) == "PE\x00\x00" {
			// The PE/COFF machine of the EFI stub, as the kernel's
			// UTS_MACHINE (zboot exists for these).
			if m := peMachine[binary.LittleEndian.Uint16(data[pe+4:])]; m != "" {
				t, _ := karch.FromMachine(m)
				setTarget(meta, t)
			}
		}
	}
	// Like Makefile.zboot, the payload may carry a 4-byte size trailer
	// (zstd) that codec tolerates.
	out, err := codec.Decompress(kind, payload, MaxDecoded)
	if err != nil {
		return nil, fmt.Errorf("zboot payload: %w", err)
	}
	return []Part{{Name: "kernel", Data: out, Meta: meta}}, nil
}

// peMachine maps IMAGE_FILE_MACHINE_* values to the machine they run:
// ARM64, RISCV64, LOONGARCH64, ARM Thumb and ARM.
var peMachine = map[uint16]string{0xaa64: "aarch64", 0x5064: "riscv64", 0x6264: "loongarch64", 0x1c2: "arm", 0x1c0: "arm"}
