package btfc

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Compat names an output flavour of a reference tool.
type Compat string

const (
	// CompatNone is the default: correct layouts (enum mode() attributes,
	// as libbpf since 1.2 emits them) in bpftool's classic (ID) order.
	CompatNone Compat = ""
	// CompatBpftool71 reproduces Debian 12's bpftool 7.1 (libbpf 1.1) byte
	// for byte, including its omission of mode(byte)/mode(word) on enums of
	// non-standard size, which gives those enums the wrong size.
	CompatBpftool71 Compat = "bpftool-7.1"
	// CompatBpftool75 reproduces bpftool 7.5 (libbpf 1.5, as in Linux
	// 6.12's tools/): kfunc prototypes always, no __bpf_fastcall, type tags
	// always as btf_type_tag("x"), and in sorted order the first sorted type
	// left out, as its loop starts at index 1 (that type is an anonymous
	// enum of constants, lost from its output).
	CompatBpftool75 Compat = "bpftool-7.5"
)

// Options select the output. The zero value gives a complete, layout-correct
// vmlinux.h in classic order.
type Options struct {
	Compat Compat
	// Sort emits types in the sorted order of bpftool 7.5+ (by kind rank,
	// then name) instead of BTF ID order.
	Sort bool
	// Kfuncs appends `extern ... __weak __ksym;` prototypes for every
	// function tagged bpf_kfunc, guarded by BPF_NO_KFUNC_PROTOTYPES, plus
	// the __ksym/__weak/__bpf_fastcall macro block bpftool 7.5+ prints.
	// As in bpftool, the prototypes are not emitted when Types is set.
	Kfuncs bool
	// Types, when not empty, restricts the output to these types and what
	// they need. A name may carry its tag ("struct sk_buff", "enum bpf_cmd")
	// or be bare ("task_struct": every struct, union, enum or typedef so
	// named).
	Types []string
}

// Stats describes an emitted header.
type Stats struct {
	Types   int   // BTF types in the input, including the base for split BTF
	Roots   int   // types dumped as roots (all of them, or the --types matches)
	Kfuncs  int   // kfunc prototypes emitted
	Bytes   int64 // header size
	PtrSize int   // pointer size assumed for padding (from the BTF's long)
}

// ParseCompat checks a --compat value.
func ParseCompat(s string) (Compat, error) {
	switch Compat(s) {
	case CompatNone, CompatBpftool71, CompatBpftool75:
		return Compat(s), nil
	case "none", "default":
		return CompatNone, nil
	}
	return "", fmt.Errorf("unknown compat mode %q (known: %s, %s)", s, CompatBpftool71, CompatBpftool75)
}

// Write emits the C header (vmlinux.h) for b to w, in chunks as it goes:
// the header is never held whole in memory.
//
// It returns ErrNotFound when a name in opts.Types matches no type, ErrCycle
// when the BTF has a cycle C cannot express and ErrMalformed for a broken
// graph; these are found before anything is written, except ErrMalformed
// for BTF whose C output would exceed the work bound (only crafted BTF
// does that), which can stop the output part way. Write to a temporary file
// and rename it when a partial header must never be seen.
func (b *BTF) Write(w io.Writer, opts *Options) (Stats, error) {
	_, st, err := run(b.g, opts, w)
	return st, err
}

// Generate returns the C header for b in memory. See Write.
func (b *BTF) Generate(opts *Options) ([]byte, Stats, error) {
	d, st, err := run(b.g, opts, nil)
	if err != nil {
		return nil, st, err
	}
	return d.out, st, nil
}

// run emits the header to w (nil: into the dumper's buffer) and returns the
// dumper, with its state, for callers that need the resolved names
// (LayoutAsserts).
func run(g *graph, opts *Options, w io.Writer) (*dumper, Stats, error) {
	if opts == nil {
		opts = &Options{}
	}
	d := newDumper(g, opts.Compat, w)
	kfuncs := opts.Kfuncs || opts.Compat == CompatBpftool75
	fastcall := opts.Compat != CompatBpftool75
	st := Stats{Types: len(g.nodes) - 1, PtrSize: d.ptrSz}

	// Order every root first (the topological sort queues the types to
	// define, dependencies first): what it can find wrong (unknown names,
	// cycles, chains too deep) is found before any output.
	order := func(id int32) error {
		_, err := d.order(id, false, 0)
		return err
	}
	switch {
	case len(opts.Types) > 0:
		roots, err := g.lookupTypes(opts.Types)
		if err != nil {
			return nil, st, err
		}
		for _, id := range roots {
			if err := order(id); err != nil {
				return nil, st, err
			}
		}
		st.Roots = len(roots)
	case opts.Sort:
		ids := g.sortedIDs(false)
		if opts.Compat == CompatBpftool75 {
			// bpftool 7.5 sorts IDs 0..n-1 (void included) and dumps
			// from index 1 of the result: the first sorted type is lost.
			ids = g.sortedIDs(true)[1:]
		}
		for _, id := range ids {
			if err := order(id); err != nil {
				return nil, st, err
			}
		}
		st.Roots = len(g.nodes) - 1
	default:
		for id := 1; id < len(g.nodes); id++ {
			if err := order(int32(id)); err != nil {
				return nil, st, err
			}
		}
		st.Roots = len(g.nodes) - 1
	}

	d.str("#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n")
	d.str("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n")
	d.str("#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n")
	d.str("#endif\n\n")
	if kfuncs {
		d.str("#ifndef __ksym\n#define __ksym __attribute__((section(\".ksyms\")))\n#endif\n\n")
		d.str("#ifndef __weak\n#define __weak __attribute__((weak))\n#endif\n\n")
		if fastcall {
			d.str("#ifndef __bpf_fastcall\n#if __has_attribute(bpf_fastcall)\n")
			d.str("#define __bpf_fastcall __attribute__((bpf_fastcall))\n#else\n#define __bpf_fastcall\n#endif\n#endif\n\n")
		}
	}
	for _, id := range d.queue {
		d.emitType(id, 0, 0)
		if d.err != nil {
			return nil, st, d.err
		}
		if len(d.out) >= flushAt {
			d.flush()
		}
	}
	if kfuncs && len(opts.Types) == 0 {
		st.Kfuncs = d.kfuncs(fastcall, opts.Compat != CompatBpftool75)
		if d.err != nil {
			return nil, st, d.err
		}
	}

	d.str("#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n")
	d.str("#endif /* __VMLINUX_H__ */\n")
	st.Bytes = d.size()
	d.flush()
	if d.err != nil {
		return nil, st, d.err
	}
	return d, st, nil
}

// lookupTypes resolves --types names to type IDs, in the order given, each
// name's matches in ID order.
func (g *graph) lookupTypes(names []string) ([]int32, error) {
	var out []int32
	seen := map[int32]bool{}
	for _, raw := range names {
		name := strings.TrimSpace(raw)
		if name == "" {
			continue
		}
		want := []kind{kStruct, kUnion, kEnum, kTypedef}
		if tag, rest, ok := strings.Cut(name, " "); ok {
			switch tag {
			case "struct":
				want = []kind{kStruct}
			case "union":
				want = []kind{kUnion}
			case "enum":
				want = []kind{kEnum}
			case "typedef":
				want = []kind{kTypedef}
			default:
				return nil, fmt.Errorf("type %q: %w (use NAME, or struct/union/enum/typedef NAME)", name, ErrNotFound)
			}
			name = strings.TrimSpace(rest)
		}
		found := false
		for i := 1; i < len(g.nodes); i++ {
			n := &g.nodes[i]
			if g.name(n) == name && slices.Contains(want, n.kind) {
				found = true
				if !seen[int32(i)] {
					seen[int32(i)] = true
					out = append(out, int32(i))
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("type %q: %w in this BTF", raw, ErrNotFound)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no type names given: %w", ErrNotFound)
	}
	return out, nil
}

// kfuncs emits prototypes of functions carrying the bpf_kfunc decl tag,
// sorted by name (byName) or in ID order (bpftool 7.5, which goes by the
// order of the decl tags; compilers and pahole write those in the order of
// their functions), and returns how many.
func (d *dumper) kfuncs(fastcall, byName bool) int {
	d.str("\n/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n")
	var ids []int32
	for i := range d.g.nodes {
		n := &d.g.nodes[i]
		if n.kind == kFunc && n.has(fKfunc) {
			ids = append(ids, int32(i))
		}
	}
	if byName {
		slices.SortStableFunc(ids, func(a, b int32) int {
			return strings.Compare(d.g.name(&d.g.nodes[a]), d.g.name(&d.g.nodes[b]))
		})
	}
	for _, id := range ids {
		n := &d.g.nodes[id]
		d.str("extern ")
		if fastcall && n.has(fFastcall) {
			d.str("__bpf_fastcall ")
		}
		d.typeDecl(n.ref, d.g.name(n), 0)
		d.str(" __weak __ksym;\n")
	}
	d.str("#endif\n\n")
	return len(ids)
}
