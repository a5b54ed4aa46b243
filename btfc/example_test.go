package btfc_test

import (
	"encoding/binary"
	"fmt"
	"os"

	"github.com/kheaders/kheaders/btfc"
)

// rawBTF encodes a small raw BTF blob (what /sys/kernel/btf/vmlinux holds
// for a whole kernel) with three types:
//
//	[1] INT 'int' size 4, signed
//	[2] STRUCT 'point' size 8: x (int) at bit 0, y (int) at bit 32
//	[3] TYPEDEF 'point_t' -> [2]
func rawBTF() []byte {
	strs := "\x00int\x00point\x00x\x00y\x00point_t\x00"
	const (
		sInt, sPoint, sX, sY, sPointT = 1, 5, 11, 13, 15
		kInt, kStruct, kTypedef       = 1, 4, 8
	)
	var types []byte
	word := func(v ...uint32) {
		for _, w := range v {
			types = binary.LittleEndian.AppendUint32(types, w)
		}
	}
	info := func(kind, vlen uint32) uint32 { return kind<<24 | vlen }
	word(sInt, info(kInt, 0), 4, 1<<24|32) // encoding: signed, 32 bits
	word(sPoint, info(kStruct, 2), 8)
	word(sX, 1, 0)
	word(sY, 1, 32)
	word(sPointT, info(kTypedef, 0), 2)

	hdr := binary.LittleEndian.AppendUint16(nil, 0xeb9f) // magic
	hdr = append(hdr, 1, 0)                              // version 1, no flags
	for _, w := range []uint32{24, 0, uint32(len(types)), uint32(len(types)), uint32(len(strs))} {
		hdr = binary.LittleEndian.AppendUint32(hdr, w) // header length, type and string sections
	}
	return append(append(hdr, types...), strs...)
}

// Load parses BTF (raw, as in /sys/kernel/btf/vmlinux, or an ELF's .BTF
// section) and Write streams the C header to any writer: an open file, a
// pipe, stdout. For a whole kernel, read /sys/kernel/btf/vmlinux instead of
// building the blob.
func ExampleBTF_Write() {
	b, format, err := btfc.Load(rawBTF(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	st, err := b.Write(os.Stdout, &btfc.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Printf("/* %s BTF: %d types, %d bytes of C */\n", format, st.Types, st.Bytes)
	// Output:
	// #ifndef __VMLINUX_H__
	// #define __VMLINUX_H__
	//
	// #ifndef BPF_NO_PRESERVE_ACCESS_INDEX
	// #pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
	// #endif
	//
	// struct point {
	// 	int x;
	// 	int y;
	// };
	//
	// typedef struct point point_t;
	//
	// #ifndef BPF_NO_PRESERVE_ACCESS_INDEX
	// #pragma clang attribute pop
	// #endif
	//
	// #endif /* __VMLINUX_H__ */
	// /* raw BTF: 3 types, 345 bytes of C */
}
