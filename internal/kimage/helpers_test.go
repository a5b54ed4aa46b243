package kimage

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// cpioEntry is one entry for newc.
type cpioEntry struct {
	name string
	mode uint32 // with type bits
	data []byte
}

// newc writes a newc archive (magic 070701) ending in TRAILER!!!, the way
// usr/gen_init_cpio and `cpio -H newc` lay it out.
func newc(entries ...cpioEntry) []byte {
	var b bytes.Buffer
	ino := 300
	write := func(e cpioEntry) {
		name := e.name + "\x00"
		fmt.Fprintf(&b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			ino, e.mode, 0, 0, 1, 0, len(e.data), 0, 0, 0, 0, len(name), 0)
		ino++
		b.WriteString(name)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.Write(e.data)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	for _, e := range entries {
		write(e)
	}
	write(cpioEntry{name: cpioTrailer})
	return b.Bytes()
}

func gz(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func needTool(t testing.TB, tool, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("%s not installed (Debian package %s)", tool, pkg)
	}
}

func run(t testing.TB, dir string, stdin []byte, argv ...string) []byte {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v: %s", argv, err, stderr.String())
	}
	return out.Bytes()
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(hosttest.Kernels(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// padTo appends zeros up to a multiple of page.
func padTo(b []byte, page int) []byte {
	for len(b)%page != 0 {
		b = append(b, 0)
	}
	return b
}

// bootV3V4 builds an Android boot image v3 or v4 from bootimg.h's
// boot_img_hdr_v3/v4 layout (page size 4096).
func bootV3V4(version uint32, kernel, ramdisk, sig []byte, osVersion uint32, cmdline string) []byte {
	h := make([]byte, bootV4HeaderLen)
	copy(h, bootMagic)
	le := binary.LittleEndian
	le.PutUint32(h[8:], uint32(len(kernel)))
	le.PutUint32(h[12:], uint32(len(ramdisk)))
	le.PutUint32(h[16:], osVersion)
	hl := uint32(bootV3HeaderLen)
	if version == 4 {
		hl = bootV4HeaderLen
	}
	le.PutUint32(h[20:], hl)
	le.PutUint32(h[40:], version)
	copy(h[44:44+1536], cmdline)
	if version == 4 {
		le.PutUint32(h[1580:], uint32(len(sig)))
	}
	img := padTo(h[:hl], 4096)
	img = padTo(append(img, kernel...), 4096)
	img = padTo(append(img, ramdisk...), 4096)
	if version == 4 {
		img = padTo(append(img, sig...), 4096)
	}
	return img
}

// vendorBootV4 builds a vendor_boot v4 image (vendor_boot_img_hdr_v4): one
// vendor ramdisk, a dtb, a ramdisk table of one entry, a bootconfig.
func vendorBootV4(ramdisk, dtb, bootconfig []byte) []byte {
	const page = 4096
	le := binary.LittleEndian
	h := make([]byte, vendorV4HeaderLen)
	copy(h, vendorBootMagic)
	le.PutUint32(h[8:], 4)
	le.PutUint32(h[12:], page)
	le.PutUint32(h[24:], uint32(len(ramdisk)))
	copy(h[28:], "console=ttyMSM0")
	copy(h[2080:], "testboard")
	le.PutUint32(h[2096:], vendorV4HeaderLen)
	le.PutUint32(h[2100:], uint32(len(dtb)))
	// vendor_ramdisk_table_entry_v4: size, offset, type, name[32], board_id[16]
	entry := make([]byte, 108)
	le.PutUint32(entry[0:], uint32(len(ramdisk)))
	le.PutUint32(entry[8:], 1) // VENDOR_RAMDISK_TYPE_PLATFORM
	copy(entry[12:], "platform")
	le.PutUint32(h[2112:], uint32(len(entry)))
	le.PutUint32(h[2116:], 1)
	le.PutUint32(h[2120:], uint32(len(entry)))
	le.PutUint32(h[2124:], uint32(len(bootconfig)))
	img := padTo(h, page)
	img = padTo(append(img, ramdisk...), page)
	img = padTo(append(img, dtb...), page)
	img = padTo(append(img, entry...), page)
	img = padTo(append(img, bootconfig...), page)
	return img
}
