package kimage

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Android boot images (AOSP system/tools/mkbootimg include/bootimg/bootimg.h).
// All fields little-endian; header_version is at offset 40 in every version.
//
//	v0-v2: magic[8] kernel_size kernel_addr ramdisk_size ramdisk_addr
//	       second_size second_addr tags_addr page_size header_version
//	       os_version name[16] cmdline[512] id[32] extra_cmdline[1024]
//	       v1+: recovery_dtbo_size recovery_dtbo_offset(u64) header_size
//	       v2+: dtb_size dtb_addr(u64)
//	       sections page-aligned: kernel, ramdisk, second, recovery_dtbo, dtb
//	v3-v4: magic[8] kernel_size ramdisk_size os_version header_size
//	       reserved[4] header_version cmdline[1536]; v4+: signature_size
//	       page size 4096: header, kernel, ramdisk, (v4) boot signature
//
// vendor_boot ("VNDRBOOT", v3/v4): magic header_version page_size kernel_addr
// ramdisk_addr vendor_ramdisk_size cmdline[2048] tags_addr name[16]
// header_size dtb_size dtb_addr(u64); v4+: vendor_ramdisk_table_size
// vendor_ramdisk_table_entry_num vendor_ramdisk_table_entry_size
// bootconfig_size. Sections: header, vendor ramdisk, dtb, (v4) ramdisk
// table, bootconfig.
const (
	bootMagic       = "ANDROID!"
	vendorBootMagic = "VNDRBOOT"
	bootV3PageSize  = 4096
	// sizes of the headers
	bootV0HeaderLen   = 1632
	bootV1HeaderLen   = 1648
	bootV2HeaderLen   = 1660
	bootV3HeaderLen   = 1580
	bootV4HeaderLen   = 1584
	vendorV3HeaderLen = 2112
	vendorV4HeaderLen = 2128
)

// OSVersion decodes a boot image os_version field to "A.B.C" and "YYYY-MM".
func OSVersion(v uint32) (version, patch string) {
	if v == 0 {
		return "", ""
	}
	a, b, c := v>>25, (v>>18)&0x7f, (v>>11)&0x7f
	y, m := 2000+(v>>4)&0x7f, v&0xf
	return fmt.Sprintf("%d.%d.%d", a, b, c), fmt.Sprintf("%d-%02d", y, m)
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

type section struct {
	name string
	size uint32
}

// layout cuts page-aligned sections following a header page(s).
func layout(data []byte, what string, page uint32, headerLen int, secs []section, meta map[string]string) ([]Part, error) {
	if page < 2048 || page > 1<<20 || page&(page-1) != 0 {
		return nil, fmt.Errorf("%s: %w: page size %d", what, ErrCorrupt, page)
	}
	if len(data) < headerLen {
		return nil, fmt.Errorf("%s: %w: header truncated (%d of %d bytes)", what, ErrCorrupt, len(data), headerLen)
	}
	align := func(n int64) int64 { return (n + int64(page) - 1) / int64(page) * int64(page) }
	off := align(int64(headerLen))
	var parts []Part
	for _, s := range secs {
		if s.size == 0 {
			continue
		}
		if off+int64(s.size) > int64(len(data)) {
			return nil, fmt.Errorf("%s: %w: %s of %d bytes at offset %d past end of image (%d bytes)", what, ErrCorrupt, s.name, s.size, off, len(data))
		}
		m := map[string]string{"offset": fmt.Sprint(off)}
		for k, v := range meta {
			m[k] = v
		}
		parts = append(parts, Part{Name: s.name, Data: data[off : off+int64(s.size)], Meta: m})
		off = align(off + int64(s.size))
	}
	return parts, nil
}

func peelBoot(data []byte) ([]Part, error) {
	if len(data) < 44 {
		return nil, fmt.Errorf("boot image: %w: header truncated (%d bytes)", ErrCorrupt, len(data))
	}
	u32 := func(off int) uint32 { return binary.LittleEndian.Uint32(data[off:]) }
	hv := u32(40)
	meta := map[string]string{"header_version": fmt.Sprint(hv)}
	var parts []Part
	var err error
	switch {
	case hv <= 2:
		need := []int{bootV0HeaderLen, bootV1HeaderLen, bootV2HeaderLen}[hv]
		if len(data) < need {
			return nil, fmt.Errorf("boot image v%d: %w: header truncated (%d of %d bytes)", hv, ErrCorrupt, len(data), need)
		}
		osv := u32(44)
		meta["name"] = cstr(data[48:64])
		meta["cmdline"] = cstr(data[64:576]) + cstr(data[608:1632])
		secs := []section{{"kernel", u32(8)}, {"ramdisk", u32(16)}, {"second", u32(24)}}
		if hv >= 1 {
			secs = append(secs, section{"recovery_dtbo", u32(1632)})
		}
		if hv >= 2 {
			secs = append(secs, section{"dtb", u32(1648)})
		}
		addOSVersion(meta, osv)
		parts, err = layout(data, fmt.Sprintf("boot image v%d", hv), u32(36), need, secs, meta)
	case hv <= 4:
		need := bootV3HeaderLen
		if hv == 4 {
			need = bootV4HeaderLen
		}
		if len(data) < need {
			return nil, fmt.Errorf("boot image v%d: %w: header truncated (%d of %d bytes)", hv, ErrCorrupt, len(data), need)
		}
		addOSVersion(meta, u32(16))
		meta["cmdline"] = cstr(data[44:1580])
		secs := []section{{"kernel", u32(8)}, {"ramdisk", u32(12)}}
		if hv == 4 {
			secs = append(secs, section{"signature", u32(1580)})
		}
		parts, err = layout(data, fmt.Sprintf("boot image v%d", hv), bootV3PageSize, need, secs, meta)
	default:
		return nil, fmt.Errorf("boot image: %w: header version %d (known: 0-4)", ErrCorrupt, hv)
	}
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		if p.Name == "kernel" {
			return parts, nil
		}
	}
	return parts, fmt.Errorf("boot image v%d: %w: kernel_size is 0", hv, ErrNoKernel)
}

func addOSVersion(meta map[string]string, v uint32) {
	if ver, patch := OSVersion(v); ver != "" {
		meta["os_version"] = ver
		meta["os_patch_level"] = patch
	}
}

func peelVendorBoot(data []byte) ([]Part, error) {
	if len(data) < vendorV3HeaderLen {
		return nil, fmt.Errorf("vendor_boot image: %w: header truncated (%d of %d bytes)", ErrCorrupt, len(data), vendorV3HeaderLen)
	}
	u32 := func(off int) uint32 { return binary.LittleEndian.Uint32(data[off:]) }
	hv := u32(8)
	meta := map[string]string{"header_version": fmt.Sprint(hv), "name": cstr(data[2080:2096]), "cmdline": cstr(data[28:2076])}
	need := vendorV3HeaderLen
	secs := []section{{"vendor_ramdisk", u32(24)}, {"dtb", u32(2100)}}
	switch hv {
	case 3:
	case 4:
		need = vendorV4HeaderLen
		if len(data) < need {
			return nil, fmt.Errorf("vendor_boot image v4: %w: header truncated", ErrCorrupt)
		}
		secs = append(secs, section{"vendor_ramdisk_table", u32(2112)}, section{"bootconfig", u32(2124)})
	default:
		return nil, fmt.Errorf("vendor_boot image: %w: header version %d (known: 3, 4)", ErrCorrupt, hv)
	}
	return layout(data, fmt.Sprintf("vendor_boot image v%d", hv), u32(12), need, secs, meta)
}
