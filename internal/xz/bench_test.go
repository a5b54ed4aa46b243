package xz

import (
	"bytes"
	"io"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// The decoder benchmarks run on the 6.12 fixture archive (one 32.5 MiB
// block, CRC64); compare their ns/op with the CPU time of `xz -dc` on the
// same file (scripts/compare-extract.sh does so for whole extractions).

// BenchmarkDecodeArchive: Decode, one goroutine, the CRC64 computed after
// the block (the work `xz -dc` does, minus its writes to stdout).
func BenchmarkDecodeArchive(b *testing.B) {
	data := hosttest.ReadFixture(b, "ikheaders-y/kheaders_data.tar.xz")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := Decode(data, 1<<30); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBufferArchive: NewBuffer read to the end (the decoder in one
// goroutine, the CRC64 in another), as extraction uses it.
func BenchmarkBufferArchive(b *testing.B) {
	data := hosttest.ReadFixture(b, "ikheaders-y/kheaders_data.tar.xz")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := NewBuffer(data, 1<<30)
		if r == nil {
			b.Fatal("NewBuffer declined the archive", err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReaderArchive: the streaming Reader (sliding window).
func BenchmarkReaderArchive(b *testing.B) {
	data := hosttest.ReadFixture(b, "ikheaders-y/kheaders_data.tar.xz")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			b.Fatal(err)
		}
	}
}
