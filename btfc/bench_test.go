package btfc

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/cilium/ebpf/btf"
)

func hostBTFBench(b *testing.B) []byte {
	data, err := os.ReadFile("/sys/kernel/btf/vmlinux")
	if err != nil {
		b.Skip("no /sys/kernel/btf/vmlinux")
	}
	return data
}

// BenchmarkLoadHost is the own reader on this machine's BTF.
func BenchmarkLoadHost(b *testing.B) {
	data := hostBTFBench(b)
	for b.Loop() {
		if _, _, err := Load(data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoadHostCilium is what Load cost before: cilium/ebpf's Spec and
// the conversion of every type into the graph.
func BenchmarkLoadHostCilium(b *testing.B) {
	data := hostBTFBench(b)
	for b.Loop() {
		spec, err := btf.LoadSpecFromReader(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := newGraph(spec, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGenerateHost(b *testing.B) {
	bt, _, err := Load(hostBTFBench(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := bt.Write(io.Discard, &Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerateHostSorted is bpftool 7.5's sorted mode, whose cost is
// mostly the sort.
func BenchmarkGenerateHostSorted(b *testing.B) {
	bt, _, err := Load(hostBTFBench(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := bt.Write(io.Discard, &Options{Compat: CompatBpftool75, Sort: true}); err != nil {
			b.Fatal(err)
		}
	}
}
