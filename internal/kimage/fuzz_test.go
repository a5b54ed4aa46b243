package kimage

import (
	"encoding/binary"
	"testing"
)

// smallBzImage returns the real setup header of a bzImage (first 0x4000
// bytes) with the payload fields pointing at a small gzip stream appended.
func smallBzImage(t testing.TB) []byte {
	b := readTestdata(t, "bzImage-x86_64-gzip")
	pm := (int(b[bzSetupSects]) + 1) * 512
	img := append([]byte(nil), b[:pm+0x400]...)
	payload := gz(t, []byte("\x7fELF tiny kernel Linux version 6.12.117 (x@y) #1\n"))
	binary.LittleEndian.PutUint32(img[bzPayloadOffset:], uint32(len(img)-pm))
	binary.LittleEndian.PutUint32(img[bzPayloadLength:], uint32(len(payload)))
	return append(img, payload...)
}

func checkPeel(t *testing.T, data []byte) {
	f, parts, err := Peel(data)
	if err != nil {
		return
	}
	if f == "" {
		t.Fatalf("Peel succeeded with no format")
	}
	for _, p := range parts {
		if p.Name == "" {
			t.Fatalf("Peel(%q) returned a part without a name", f)
		}
	}
}

func FuzzBzImage(f *testing.F) {
	f.Add(smallBzImage(f))
	f.Add(readTestdata(f, "bzImage-x86_64-lz4")[:0x800])
	f.Fuzz(func(t *testing.T, data []byte) {
		if !isBzImage(data) {
			return
		}
		_, _ = peelBzImage(data)
		_ = bzKernelVersion(data)
		checkPeel(t, data)
	})
}

func FuzzBootImage(f *testing.F) {
	f.Add(bootV3V4(3, []byte("kernel"), []byte("ramdisk"), nil, 1<<25, "c"))
	f.Add(bootV3V4(4, []byte("kernel"), newc(cpioEntry{name: "a", mode: 0o100644, data: []byte("x")}), []byte("sig"), 0, ""))
	f.Add(vendorBootV4([]byte("rd"), []byte("dtb"), []byte("bc")))
	v0 := make([]byte, 2048*3)
	copy(v0, bootMagic)
	binary.LittleEndian.PutUint32(v0[8:], 5)
	binary.LittleEndian.PutUint32(v0[36:], 2048)
	copy(v0[2048:], "hello")
	f.Add(v0)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkPeel(t, data)
		_, _, _ = Kernel(data)
	})
}

func FuzzCPIO(f *testing.F) {
	c := newc(cpioEntry{name: "d", mode: 0o40755}, cpioEntry{name: "d/f", mode: 0o100644, data: []byte("hello")},
		cpioEntry{name: "l", mode: 0o120777, data: []byte("d/f")})
	f.Add(c)
	f.Add(append(append(append([]byte(nil), c...), 0, 0, 0, 0), gz(f, c)...))
	f.Add(gz(f, c))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !isCPIO(data) {
			data = append([]byte("070701"), data...)
		}
		parts, err := peelInitramfs(data)
		if err == nil && len(parts) == 0 {
			t.Fatalf("peelInitramfs: no parts and no error")
		}
	})
}

func FuzzZboot(f *testing.F) {
	f.Add(zbootImage(gz(f, []byte("small kernel")), 0, "gzip"))
	f.Add(zbootImage([]byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0}, 4, "zstd"))
	// The real vmlinuz.efi's header and PE header, payload fields pointing
	// at a small gzip stream appended.
	real := append([]byte(nil), readTestdata(f, "vmlinuz-arm64-zboot.efi")[:0x400]...)
	small := gz(f, []byte("tiny"))
	binary.LittleEndian.PutUint32(real[8:], 0x400)
	binary.LittleEndian.PutUint32(real[12:], uint32(len(small)))
	f.Add(append(real, small...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !isZboot(data) {
			return
		}
		_, _ = peelZboot(data)
		checkPeel(t, data)
	})
}

func FuzzZImage(f *testing.F) {
	f.Add(zImageFor(gz(f, []byte("Linux version 6.1.0 (x) #1\n"))))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !isZImage(data) {
			return
		}
		checkPeel(t, data)
	})
}
