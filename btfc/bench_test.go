package btfc

import (
	"os"
	"testing"
)

func BenchmarkGenerateHost(b *testing.B) {
	data, err := os.ReadFile("/sys/kernel/btf/vmlinux")
	if err != nil {
		b.Skip("no /sys/kernel/btf/vmlinux")
	}
	spec, _, err := LoadBytes(data, nil)
	if err != nil {
		b.Fatal(err)
	}
	g, err := newGraph(spec, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := generate(g, &Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGraphHost(b *testing.B) {
	data, err := os.ReadFile("/sys/kernel/btf/vmlinux")
	if err != nil {
		b.Skip("no /sys/kernel/btf/vmlinux")
	}
	for b.Loop() {
		spec, _, err := LoadBytes(data, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := newGraph(spec, nil); err != nil {
			b.Fatal(err)
		}
	}
}
