package btfc

import (
	"bytes"
	"testing"

	"encoding/binary"
	"fmt"
	"github.com/cilium/ebpf/btf"
)

// scanRaw walks the type section of a raw BTF blob. first is the ID of its
// first type (1, or the base's type count for split BTF); the result holds
// entries for IDs below first copied from base.
func scanRaw(data []byte, base *rawInfo) (*rawInfo, error) {
	if len(data) < 24 {
		return nil, fmt.Errorf("%w: BTF header truncated", ErrMalformed)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if binary.LittleEndian.Uint16(data) != btfMagic {
		if binary.BigEndian.Uint16(data) != btfMagic {
			return nil, fmt.Errorf("%w: bad BTF magic", ErrMalformed)
		}
		bo = binary.BigEndian
	}
	hdrLen := bo.Uint32(data[4:])
	typeOff := bo.Uint32(data[8:])
	typeLen := bo.Uint32(data[12:])
	start := uint64(hdrLen) + uint64(typeOff)
	end := start + uint64(typeLen)
	if hdrLen < 24 || end > uint64(len(data)) {
		return nil, fmt.Errorf("%w: BTF type section out of bounds", ErrMalformed)
	}
	ri := &rawInfo{kinds: []uint8{0}, kflag: []bool{false}}
	if base != nil {
		ri.kinds = append([]uint8(nil), base.kinds...)
		ri.kflag = append([]bool(nil), base.kflag...)
	}
	buf := data[start:end]
	for len(buf) > 0 {
		if len(buf) < 12 {
			return nil, fmt.Errorf("%w: BTF type truncated", ErrMalformed)
		}
		info := bo.Uint32(buf[4:])
		vlen := uint64(info & 0xffff)
		kind := uint8(info >> 24 & 0x1f)
		var extra uint64
		switch kind {
		case 1, 14, 17: // INT, VAR, DECL_TAG
			extra = 4
		case 3: // ARRAY
			extra = 12
		case 4, 5, 15, rawKindEnum64: // STRUCT, UNION, DATASEC, ENUM64
			extra = 12 * vlen
		case rawKindEnum, 13: // ENUM, FUNC_PROTO
			extra = 8 * vlen
		case 2, 7, 8, 9, 10, 11, 12, 16, rawKindTypeTag:
		default:
			return nil, fmt.Errorf("%w: unknown BTF kind %d", ErrMalformed, kind)
		}
		if uint64(len(buf)) < 12+extra {
			return nil, fmt.Errorf("%w: BTF type truncated", ErrMalformed)
		}
		ri.kinds = append(ri.kinds, kind)
		ri.kflag = append(ri.kflag, info>>31 != 0)
		buf = buf[12+extra:]
	}
	return ri, nil
}

// ciliumGraph reads raw BTF or an ELF's .BTF the way this package did before
// its own reader: cilium/ebpf's Spec plus the raw kind scan, converted by
// newGraph. It is the reference readGraph is checked against.
func ciliumGraph(t testing.TB, data []byte, base *ciliumRef) *ciliumRef {
	t.Helper()
	raw, _, err := RawBTF(data)
	if err != nil {
		t.Fatalf("RawBTF: %v", err)
	}
	var spec *btf.Spec
	var baseRaw *rawInfo
	if base != nil {
		baseRaw = base.raw
		spec, err = btf.LoadSplitSpecFromReader(bytes.NewReader(raw), base.spec)
	} else {
		spec, err = btf.LoadSpecFromReader(bytes.NewReader(raw))
	}
	if err != nil {
		t.Fatalf("cilium/ebpf LoadSpec: %v", err)
	}
	ri, err := scanRaw(raw, baseRaw)
	if err != nil {
		t.Fatalf("scanRaw: %v", err)
	}
	g, err := newGraph(spec, ri)
	if err != nil {
		t.Fatalf("newGraph: %v", err)
	}
	return &ciliumRef{spec: spec, raw: ri, b: &BTF{g: g}}
}

type ciliumRef struct {
	spec *btf.Spec
	raw  *rawInfo
	b    *BTF
}

// compareModes are the output modes the own reader is checked in.
var compareModes = []*Options{
	{},
	{Sort: true},
	{Kfuncs: true},
	{Sort: true, Kfuncs: true},
	{Compat: CompatBpftool71},
	{Compat: CompatBpftool75, Sort: true},
	{Compat: CompatBpftool75},
}

// sameAsCilium checks that b (this package's reader) gives byte for byte the
// C output of ref (cilium/ebpf's reading) in every mode, and the same
// layout assertions.
func sameAsCilium(t testing.TB, what string, b *BTF, ref *ciliumRef) {
	t.Helper()
	for _, opts := range compareModes {
		got, _, err := b.Generate(opts)
		want, _, werr := ref.b.Generate(opts)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%s %+v: own reader: %v, cilium/ebpf: %v", what, opts, err, werr)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s %+v: own reader's output differs from cilium/ebpf's reading:\n%s", what, opts, lineDiff(want, got))
		}
	}
	got, _, err := b.LayoutAsserts(nil)
	want, _, werr := ref.b.LayoutAsserts(nil)
	if (err == nil) != (werr == nil) || !bytes.Equal(got, want) {
		t.Fatalf("%s: layout assertions differ between own reader (%v) and cilium/ebpf (%v)", what, err, werr)
	}
}
