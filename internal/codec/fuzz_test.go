package codec

import (
	"bytes"
	"encoding/binary"
	"os/exec"
	"testing"
)

// toolSeed compresses a small input with a Kbuild command when the tool is
// installed (seeds only; the fuzz targets run without it).
func toolSeed(f *testing.F, argv ...string) []byte {
	if _, err := exec.LookPath(argv[0]); err != nil {
		return nil
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin = bytes.NewReader(bytes.Repeat([]byte("kheaders fuzz seed 0123456789 "), 200))
	out, err := cmd.Output()
	if err != nil {
		f.Fatalf("%v: %v", argv, err)
	}
	return out
}

func FuzzLzop(f *testing.F) {
	if s := toolSeed(f, "lzop", "-9", "-c"); s != nil {
		f.Add(s)
		f.Add(s[:len(s)/2])
	}
	if s := toolSeed(f, "lzop", "-1", "--crc32", "-c"); s != nil {
		f.Add(s)
	}
	f.Add(lzopMagic)
	f.Fuzz(func(t *testing.T, data []byte) {
		out, n, err := DecompressPrefix(LZO, data, 1<<22)
		if err == nil && (n > len(data) || n <= 0) {
			t.Fatalf("consumed %d of %d bytes (%d out)", n, len(data), len(out))
		}
	})
}

func FuzzLZ4Legacy(f *testing.F) {
	if s := toolSeed(f, "lz4", "-l", "-9", "-c"); s != nil {
		f.Add(s)
		f.Add(append(s, 1, 2, 3, 4))
	}
	f.Add(binary.LittleEndian.AppendUint32(nil, lz4LegacyMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, n, err := DecompressPrefix(LZ4, data, 1<<24)
		if err == nil && n > len(data) {
			t.Fatalf("consumed %d of %d bytes (%d out)", n, len(data), len(out))
		}
		if len(data) >= 4 {
			if rc, err := NewReader(LZ4, bytes.NewReader(data)); err == nil {
				var b bytes.Buffer
				_, _ = b.ReadFrom(rc)
			}
		}
	})
}

func FuzzZstdFrame(f *testing.F) {
	if s := toolSeed(f, "zstd", "-19", "-q", "-c"); s != nil {
		f.Add(s)
	}
	if s := toolSeed(f, "zstd", "-1", "--no-check", "-q", "-c"); s != nil {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if n, err := zstdFrameLen(data); err == nil && (n > len(data) || n < 6) {
			t.Fatalf("zstdFrameLen = %d of %d bytes", n, len(data))
		}
		_, _, _ = DecompressPrefix(Zstd, data, 1<<24)
	})
}

func FuzzDecompress(f *testing.F) {
	for _, argv := range [][]string{{"gzip", "-n", "-c"}, {"bzip2", "-c"}, {"xz", "--format=lzma", "-c"}} {
		if s := toolSeed(f, argv...); s != nil {
			f.Add(s)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, ok := Detect(data)
		if !ok {
			return
		}
		if _, err := Decompress(k, data, 1<<22); err != nil {
			return
		}
	})
}
