package xz

import (
	"bytes"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// The decoder benchmarks run on the 6.12 fixture archive (one 32.5 MiB
// block, CRC64); compare their ns/op with the CPU time of `xz -dc` on the
// same file (scripts/compare-extract.sh does so for whole extractions).

// cpuTime is the process's user plus system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per op since start (all goroutines: on
// a loaded machine a steadier figure than ns/op, and the one to set
// against the user+sys time of xz -dc).
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime(b)-start)/1e6/float64(b.N), "cpu-ms/op")
}

// BenchmarkDecodeArchive: Decode, one goroutine, the CRC64 computed after
// the block (the work `xz -dc` does, minus its writes to stdout).
func BenchmarkDecodeArchive(b *testing.B) {
	data := hosttest.ReadFixture(b, "ikheaders-y/kheaders_data.tar.xz")
	b.SetBytes(int64(len(data)))
	start := cpuTime(b)
	defer reportCPU(b, start)
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
	start := cpuTime(b)
	defer reportCPU(b, start)
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
	start := cpuTime(b)
	defer reportCPU(b, start)
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
