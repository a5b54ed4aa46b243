package kimage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/kheaders/kheaders/internal/codec"
)

// arm (32-bit) zImage (arch/arm/boot/compressed/head.S): magic 0x016f2818 at
// 0x24, start and end addresses at 0x28/0x2c, 0x04030201 at 0x30. The
// compressed kernel (piggy data) sits inside the decompressor with no
// recorded offset, so it is found like scripts/extract-vmlinux does: try
// each compression magic, keep the first stream that decodes to a kernel.
const (
	zImageMagic    = 0x016f2818
	zImageMaxTries = 64
)

func isZImage(data []byte) bool {
	return len(data) >= 0x34 && binary.LittleEndian.Uint32(data[0x24:]) == zImageMagic
}

func peelZImage(data []byte) ([]Part, error) {
	meta := map[string]string{"arch": "arm", "machine": "arm"} // UTS_MACHINE; armv7l etc. only at run time
	if binary.LittleEndian.Uint32(data[0x30:]) != 0x04030201 {
		if binary.BigEndian.Uint32(data[0x30:]) == 0x04030201 {
			meta["endian"] = "big"
		}
	}
	start := binary.LittleEndian.Uint32(data[0x28:])
	end := binary.LittleEndian.Uint32(data[0x2c:])
	if end > start && int64(end-start) <= int64(len(data)) {
		meta["image_size"] = fmt.Sprint(end - start)
	}
	out, kind, off, err := scanPayload(data, 0x34)
	if err != nil {
		return nil, fmt.Errorf("zImage: %w", err)
	}
	meta["compression"] = string(kind)
	meta["payload_offset"] = fmt.Sprint(off)
	return []Part{{Name: "kernel", Data: out, Meta: meta}}, nil
}

// scanPayload finds the first compressed stream at or after from that
// decodes to something holding a Linux banner (or an ELF).
func scanPayload(data []byte, from int) ([]byte, codec.Kind, int, error) {
	type cand struct {
		off  int
		kind codec.Kind
	}
	var cands []cand
	for _, k := range codec.Kinds {
		m := codec.Magic(k)
		for off, n := from, 0; n < zImageMaxTries; n++ {
			i := bytes.Index(data[off:], m)
			if i < 0 {
				break
			}
			cands = append(cands, cand{off + i, k})
			off += i + 1
		}
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].off < cands[j].off })
	var lastErr error
	for i, c := range cands {
		if i >= zImageMaxTries {
			break
		}
		if k, ok := codec.Detect(data[c.off:]); !ok || k != c.kind {
			continue
		}
		out, err := codec.Decompress(c.kind, data[c.off:], MaxDecoded)
		if err != nil {
			lastErr = err
			continue
		}
		if bytes.HasPrefix(out, []byte("\x7fELF")) || bytes.Contains(out, []byte("Linux version ")) {
			return out, c.kind, c.off, nil
		}
	}
	if lastErr != nil {
		return nil, "", 0, fmt.Errorf("%w: no compressed kernel found (%d candidate streams; last error: %w)", ErrCorrupt, len(cands), lastErr)
	}
	return nil, "", 0, fmt.Errorf("%w: no compressed kernel found (%d candidate streams)", ErrCorrupt, len(cands))
}
