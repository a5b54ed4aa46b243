package kimage

import (
	"testing"
)

// BenchmarkKernel peels each committed real artifact to its kernel
// (decompression dominates).
func BenchmarkKernel(b *testing.B) {
	for _, a := range loadArtifacts(b) {
		data := readTestdata(b, a.file)
		b.Run(a.file, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, _, err := Kernel(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
