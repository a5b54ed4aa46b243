package xz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// TestBufferRelease reads the fixture archive through a Buffer, releasing
// what it has read as it goes (as extraction does): the decoded bytes are
// those of Decode (the block check passes, so the decoder never read a
// released page), and the released pages read as zeros on Linux (the
// memory went back to the kernel).
func TestBufferRelease(t *testing.T) {
	data := hosttest.ReadFixture(t, "ikheaders-y/kheaders_data.tar.xz")
	want, _, err := Decode(data, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewBuffer(data, 1<<30)
	if d == nil {
		t.Fatalf("NewBuffer declined the fixture: %v", err)
	}
	var got []byte
	buf := make([]byte, 256<<10)
	for {
		n, err := d.Read(buf)
		got = append(got, buf[:n]...)
		d.Release(d.Offset())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Read after %d bytes: %v", len(got), err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Buffer with Release read %d bytes, not Decode's %d", len(got), len(want))
	}
	if d.released < len(want)/2 {
		t.Fatalf("Release gave back %d of %d bytes, want most of them", d.released, len(want))
	}
	if runtime.GOOS == "linux" {
		if page := d.out[8192 : 8192+4096]; !bytes.Equal(page, make([]byte, 4096)) {
			t.Errorf("a released page still holds decoded bytes")
		}
	}
}

// setDict rewrites the LZMA2 dictionary property of the first block
// header of the xz stream data (and the header's CRC32).
func setDict(t *testing.T, data []byte, prop byte) []byte {
	t.Helper()
	data = bytes.Clone(data)
	hs := (int(data[headerLen]) + 1) * 4
	h := data[headerLen : headerLen+hs]
	i := bytes.Index(h[2:], []byte{filterLZMA2, 1})
	if i < 0 {
		t.Fatal("no LZMA2 filter in the first block header")
	}
	h[2+i+2] = prop
	binary.LittleEndian.PutUint32(h[hs-4:], crc32.ChecksumIEEE(h[:hs-4]))
	return data
}

// TestDictionaryBound: a match reaching further back than the dictionary
// the block declares is refused (xz refuses it; Release relies on it),
// the same stream declaring a large enough dictionary decodes.
func TestDictionaryBound(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	part := make([]byte, 300<<10)
	for i := range part {
		part[i] = byte(r.Uint32())
	}
	plain := append(bytes.Clone(part), part...) // matches at 300 KiB
	var buf bytes.Buffer
	w, err := xz.WriterConfig{DictCap: 1 << 20, CheckSum: xz.CRC64}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		prop byte
		ok   bool
	}{{16, true}, {8, false}} { // 1 MiB, 64 KiB
		data := setDict(t, buf.Bytes(), c.prop)
		out, _, err := Decode(data, 1<<30)
		if c.ok && (err != nil || !bytes.Equal(out, plain)) {
			t.Errorf("Decode with dictionary property %d = %d bytes, %v; want the %d bytes", c.prop, len(out), err, len(plain))
		}
		if !c.ok && !errors.Is(err, ErrFormat) {
			t.Errorf("Decode with dictionary property %d = %v, want ErrFormat (matches past the dictionary)", c.prop, err)
		}
		d, _ := NewBuffer(data, 1<<30)
		if d == nil {
			t.Fatalf("NewBuffer declined the stream")
		}
		out, err = io.ReadAll(d)
		if c.ok != (err == nil) || c.ok && !bytes.Equal(out, plain) {
			t.Errorf("Buffer with dictionary property %d = %d bytes, %v; want ok %v", c.prop, len(out), err, c.ok)
		}
	}
}
