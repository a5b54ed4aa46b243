package btfc

import (
	"fmt"
	"io"
	"strconv"
)

// Type ordering state (topological sort).
const (
	notOrdered uint8 = iota
	ordering
	ordered
)

// Emission state.
const (
	notEmitted uint8 = iota
	emitting
	emitted
)

type typeState struct {
	order        uint8
	emit         uint8
	fwdEmitted   bool
	nameResolved bool
	renamed      bool // the resolved name is in dumper.renamed
	referenced   bool
}

// dumper holds the state of one header emission.
type dumper struct {
	g *graph
	// out is the pending output: with a writer w, a scratch buffer flushed
	// to w whenever a top-level definition leaves it longer than flushAt
	// (so the header is never whole in memory); without one, the header.
	out     []byte
	w       io.Writer
	written int64 // bytes already written to w
	ptrSz   int

	// noEnumModes reproduces libbpf 1.1 (bpftool 7.1): no mode() attributes
	// on enums of unusual size.
	noEnumModes bool
	// legacyTypeTags writes every type tag as btf_type_tag("x"), as libbpf
	// before 1.6 does, even those whose kind flag asks for
	// __attribute__((x)).
	legacyTypeTags bool

	st      []typeState
	renamed map[int32]string // de-duplicated names (x___2), by type ID
	align   []int16          // memoized alignment, -1 = not computed
	queue   []int32

	typeNames  map[string]int // struct, union, enum names
	identNames map[string]int // typedef and enumerator names

	stack []int32 // shared declaration stack
	err   error

	// steps counts the work done; crafted BTF (shared anonymous types
	// nested deep) can make C output exponential in the input, so work is
	// capped at budget (far above what any kernel needs).
	steps, budget int
}

// flushAt is the size from which the pending output goes to the writer.
const flushAt = 32 << 10

// newDumper prepares an emission of g to w (nil: into d.out).
func newDumper(g *graph, compat Compat, w io.Writer) *dumper {
	// The name tables get one entry per name that is resolved: every named
	// struct, union and enum (typeNames), typedef and enumerator
	// (identNames) at most.
	var nType, nIdent int
	for i := range g.nodes {
		n := &g.nodes[i]
		switch n.kind {
		case kStruct, kUnion:
			if n.name != 0 {
				nType++
			}
		case kEnum:
			if n.name != 0 {
				nType++
			}
			nIdent += int(n.count)
		case kTypedef:
			nIdent++
		}
	}
	d := &dumper{
		g:              g,
		w:              w,
		ptrSz:          g.ptrSize(),
		noEnumModes:    compat == CompatBpftool71,
		legacyTypeTags: compat == CompatBpftool71 || compat == CompatBpftool75,
		st:             make([]typeState, len(g.nodes)),
		renamed:        map[int32]string{},
		align:          make([]int16, len(g.nodes)),
		typeNames:      make(map[string]int, nType),
		identNames:     make(map[string]int, nIdent),
	}
	if w != nil {
		d.out = make([]byte, 0, 2*flushAt)
	} else {
		d.out = make([]byte, 0, len(g.nodes)*24)
	}
	for i := range d.align {
		d.align[i] = -1
	}
	d.budget = 64*len(g.nodes) + 1<<20
	d.st[0].order = ordered
	d.st[0].emit = emitted
	d.markReferenced()
	return d
}

// markReferenced flags every type that another type refers to. An anonymous
// enum nobody refers to is a block of constants emitted on its own.
func (d *dumper) markReferenced() {
	mark := func(id int32) {
		if d.g.valid(id) {
			d.st[id].referenced = true
		}
	}
	for i := range d.g.nodes {
		n := &d.g.nodes[i]
		switch n.kind {
		case kPtr, kTypedef, kVolatile, kConst, kRestrict, kTypeTag, kFunc, kVar:
			mark(n.ref)
		case kArray:
			mark(n.ref)
			for _, m := range d.g.mems(n) {
				mark(m.typ)
			}
		case kStruct, kUnion, kProto, kDatasec:
			// The return type of a function prototype is not marked, as in
			// libbpf.
			for _, m := range d.g.mems(n) {
				mark(m.typ)
			}
		}
	}
}

func (d *dumper) str(s string) { d.out = append(d.out, s...) }

// flush writes the pending output to d.w (if any); a write error ends the
// emission.
func (d *dumper) flush() {
	if d.w == nil || len(d.out) == 0 {
		return
	}
	n, err := d.w.Write(d.out)
	d.written += int64(n)
	if err != nil && d.err == nil {
		d.err = err
	}
	d.out = d.out[:0]
}

// size is the number of bytes emitted so far.
func (d *dumper) size() int64 { return d.written + int64(len(d.out)) }

const tabs = "\t\t\t\t\t\t\t\t\t\t\t\t\t"

func (d *dumper) pfx(lvl int) {
	if lvl > len(tabs) {
		lvl = len(tabs)
	}
	if lvl > 0 {
		d.out = append(d.out, tabs[:lvl]...)
	}
}

// order is the topological sort. It returns whether the link to id is strong
// (id must be fully defined first) or weak (a forward declaration will do).
func (d *dumper) order(id int32, throughPtr bool, depth int) (bool, error) {
	d.steps++
	if d.steps > d.budget {
		return false, d.tooComplex()
	}
	if depth > maxDepth || !d.g.valid(id) {
		return false, fmt.Errorf("%w: type %d: reference chain too deep or dangling", ErrMalformed, id)
	}
	s := &d.st[id]
	if s.order == ordered {
		return true, nil
	}
	n := &d.g.nodes[id]
	if s.order == ordering {
		if (n.kind == kStruct || n.kind == kUnion) && throughPtr && n.name != 0 {
			return false, nil
		}
		return false, fmt.Errorf("%w: type ID %d", ErrCycle, id)
	}
	switch n.kind {
	case kInt, kFloat:
		s.order = ordered
		return false, nil
	case kPtr:
		strong, err := d.order(n.ref, true, depth+1)
		d.st[id].order = ordered
		return strong, err
	case kArray:
		return d.order(n.ref, false, depth+1)
	case kStruct, kUnion:
		if throughPtr && n.name != 0 {
			return false, nil
		}
		s.order = ordering
		for _, m := range d.g.mems(n) {
			if _, err := d.order(m.typ, false, depth+1); err != nil {
				return false, err
			}
		}
		if n.name != 0 {
			d.queue = append(d.queue, id)
		}
		d.st[id].order = ordered
		return true, nil
	case kEnum, kFwd:
		if n.name != 0 || !s.referenced {
			d.queue = append(d.queue, id)
		}
		s.order = ordered
		return true, nil
	case kTypedef:
		strong, err := d.order(n.ref, throughPtr, depth+1)
		if err != nil {
			return false, err
		}
		if throughPtr && !strong {
			return false, nil
		}
		d.queue = append(d.queue, id)
		d.st[id].order = ordered
		return true, nil
	case kVolatile, kConst, kRestrict, kTypeTag:
		return d.order(n.ref, throughPtr, depth+1)
	case kProto:
		strong, err := d.order(n.ref, throughPtr, depth+1)
		if err != nil {
			return false, err
		}
		for _, p := range d.g.mems(n) {
			st, err := d.order(p.typ, throughPtr, depth+1)
			if err != nil {
				return false, err
			}
			strong = strong || st
		}
		return strong, nil
	case kFunc, kVar, kDatasec, kDeclTag:
		s.order = ordered
		return false, nil
	case kVoid:
		return true, nil
	}
	return false, fmt.Errorf("%w: type %d has an unknown kind", ErrMalformed, id)
}

// emitType emits the definitions type id depends on and, at top level
// (cont == 0), its own definition. cont is the named struct or typedef whose
// definition is being emitted.
func (d *dumper) emitType(id, cont int32, depth int) {
	d.steps++
	if d.steps > d.budget {
		d.err = d.tooComplex()
		return
	}
	if d.err != nil {
		return
	}
	if depth > maxDepth || !d.g.valid(id) {
		d.fail(id)
		return
	}
	s := &d.st[id]
	if s.emit == emitted {
		return
	}
	n := &d.g.nodes[id]
	topLevel := cont == 0

	if s.emit == emitting {
		if s.fwdEmitted {
			return
		}
		switch n.kind {
		case kStruct, kUnion:
			if id == cont || n.name == 0 {
				return
			}
			d.structFwd(id)
			d.str(";\n\n")
			s.fwdEmitted = true
		case kTypedef:
			if d.g.name(n) != "__builtin_va_list" {
				d.typedefDef(id, 0)
				d.str(";\n\n")
			}
			s.fwdEmitted = true
		}
		return
	}

	switch n.kind {
	case kInt:
		d.missingAlias(id)
		s.emit = emitted
	case kEnum:
		if topLevel {
			d.enumDef(id, 0)
			d.str(";\n\n")
		}
		s.emit = emitted
	case kPtr, kVolatile, kConst, kRestrict, kTypeTag, kArray:
		d.emitType(n.ref, cont, depth+1)
	case kFwd:
		d.fwdDef(id)
		d.str(";\n\n")
		s.emit = emitted
	case kTypedef:
		s.emit = emitting
		d.emitType(n.ref, id, depth+1)
		s = &d.st[id]
		if !s.fwdEmitted && d.g.name(n) != "__builtin_va_list" {
			d.typedefDef(id, 0)
			d.str(";\n\n")
		}
		s.emit = emitted
	case kStruct, kUnion:
		s.emit = emitting
		if topLevel || n.name == 0 {
			newCont := id
			if n.name == 0 {
				newCont = cont
			}
			for _, m := range d.g.mems(n) {
				d.emitType(m.typ, newCont, depth+1)
			}
		} else if !s.fwdEmitted && id != cont {
			d.structFwd(id)
			d.str(";\n\n")
			s.fwdEmitted = true
		}
		s = &d.st[id]
		if topLevel {
			d.structDef(id, 0, 0)
			d.str(";\n\n")
			s.emit = emitted
		} else {
			s.emit = notEmitted
		}
	case kProto:
		d.emitType(n.ref, cont, depth+1)
		for _, p := range d.g.mems(n) {
			d.emitType(p.typ, cont, depth+1)
		}
	}
}

func (d *dumper) tooComplex() error {
	if d.err == nil {
		d.err = fmt.Errorf("%w: C output would be too large (more than %d steps for %d types)", ErrMalformed, d.budget, len(d.g.nodes))
	}
	return d.err
}

func (d *dumper) fail(id int32) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: type %d: reference chain too deep or dangling", ErrMalformed, id)
	}
}

// nameDups counts one more use of name in a namespace and returns the count.
func nameDups(m map[string]int, name string) int {
	c := m[name] + 1
	m[name] = c
	return c
}

// resolveName returns the de-duplicated name of a named type: the second
// struct called x becomes x___2.
func (d *dumper) resolveName(id int32, ns map[string]int) string {
	n := &d.g.nodes[id]
	if n.name == 0 {
		return ""
	}
	name := d.g.name(n)
	s := &d.st[id]
	if s.nameResolved {
		if s.renamed {
			return d.renamed[id]
		}
		return name
	}
	s.nameResolved = true
	if n.kind == kFwd || (n.kind == kEnum && n.count == 0) {
		return name
	}
	if c := nameDups(ns, name); c > 1 {
		s.renamed = true
		d.renamed[id] = name + "___" + strconv.Itoa(c)
		return d.renamed[id]
	}
	return name
}

func (d *dumper) typeName(id int32) string  { return d.resolveName(id, d.typeNames) }
func (d *dumper) identName(id int32) string { return d.resolveName(id, d.identNames) }

var missingBase = [...][2]string{
	{"__Poly8_t", "unsigned char"},
	{"__Poly16_t", "unsigned short"},
	{"__Poly64_t", "unsigned long long"},
	{"__Poly128_t", "unsigned __int128"},
}

// missingAlias defines the GCC-internal ARM __PolyN_t types that BTF names as
// base types but clang does not know.
func (d *dumper) missingAlias(id int32) {
	name := d.typeName(id)
	for _, mb := range missingBase {
		if name == mb[0] {
			d.str("typedef " + mb[1] + " " + name + ";\n\n")
			return
		}
	}
}

func (d *dumper) structFwd(id int32) {
	n := &d.g.nodes[id]
	if n.kind == kStruct {
		d.str("struct")
	} else {
		d.str("union")
	}
	if n.name != 0 {
		d.str(" ")
	}
	d.str(d.typeName(id))
}

func (d *dumper) fwdDef(id int32) {
	n := &d.g.nodes[id]
	name := d.typeName(id)
	if n.has(fFwdUnion) {
		d.str("union " + name)
	} else {
		d.str("struct " + name)
	}
}

func (d *dumper) typedefDef(id int32, lvl int) {
	n := &d.g.nodes[id]
	name := d.identName(id)
	if n.ref == 0 && name == "__gnuc_va_list" {
		d.str("typedef __builtin_va_list __gnuc_va_list")
		return
	}
	d.str("typedef ")
	d.typeDecl(n.ref, name, lvl)
}

func (d *dumper) enumDef(id int32, lvl int) {
	n := &d.g.nodes[id]
	d.str("enum")
	if n.name != 0 {
		d.str(" ")
	}
	d.str(d.typeName(id))
	if len(d.g.enumVals(n)) == 0 {
		return
	}
	d.str(" {")
	for _, v := range d.g.enumVals(n) {
		d.str("\n")
		d.pfx(lvl + 1)
		vname := d.g.str(v.name)
		d.str(vname)
		if c := nameDups(d.identNames, vname); c > 1 {
			d.str("___")
			d.out = strconv.AppendInt(d.out, int64(c), 10)
		}
		d.str(" = ")
		switch {
		case !n.has(fEnum64) && n.has(fSigned):
			d.out = strconv.AppendInt(d.out, int64(int32(uint32(v.val))), 10)
		case !n.has(fEnum64):
			d.out = strconv.AppendUint(d.out, uint64(uint32(v.val)), 10)
		case n.has(fSigned):
			d.out = strconv.AppendInt(d.out, int64(v.val), 10)
			d.str("LL")
		default:
			d.out = strconv.AppendUint(d.out, v.val, 10)
			d.str("ULL")
		}
		d.str(",")
	}
	d.str("\n")
	d.pfx(lvl)
	d.str("}")
	if d.noEnumModes {
		return
	}
	switch {
	case n.size == 1:
		d.str(" __attribute__((mode(byte)))")
	case n.size == 8 && d.ptrSz == 8:
		word := true
		if n.has(fEnum64) {
			for _, v := range d.g.enumVals(n) {
				if v.val>>32 != 0 {
					word = false
					break
				}
			}
		}
		if word {
			d.str(" __attribute__((mode(word)))")
		}
	}
}

// alignOf is the natural alignment of a type in bytes; 0 when it has none.
// A struct whose layout needs packing has alignment 1.
func (d *dumper) alignOf(id int32, depth int) int {
	if depth > 32 || !d.g.valid(id) {
		return 0
	}
	if a := d.align[id]; a >= 0 {
		return int(a)
	}
	n := &d.g.nodes[id]
	a := 0
	switch n.kind {
	case kInt, kEnum, kFloat:
		a = min(d.ptrSz, int(n.size))
	case kPtr:
		a = d.ptrSz
	case kTypedef, kVolatile, kConst, kRestrict, kTypeTag, kArray:
		a = d.alignOf(n.ref, depth+1)
	case kStruct, kUnion:
		a = d.compositeAlign(n, depth)
	}
	d.align[id] = int16(min(a, 1<<14))
	return a
}

func (d *dumper) compositeAlign(n *node, depth int) int {
	maxAlign := 1
	for _, m := range d.g.mems(n) {
		a := d.alignOf(m.typ, depth+1)
		if a <= 0 {
			return 0
		}
		maxAlign = max(maxAlign, a)
		if m.bits == 0 && m.off%uint32(8*a) != 0 {
			return 1
		}
	}
	if n.size%uint32(maxAlign) != 0 {
		return 1
	}
	return maxAlign
}

// isPacked reports whether a struct needs __attribute__((packed)) to get the
// layout BTF describes.
func (d *dumper) isPacked(n *node) bool {
	maxAlign := 1
	for _, m := range d.g.mems(n) {
		a := d.alignOf(m.typ, 0)
		if a > 0 && m.bits == 0 && m.off%uint32(8*a) != 0 {
			return true
		}
		maxAlign = max(maxAlign, a)
	}
	return n.size%uint32(maxAlign) != 0
}

func roundUp(x, y int) int {
	if y <= 0 {
		return x
	}
	return (x + y - 1) / y * y
}

// bitPadding fills the gap between bit offsets cur and next with anonymous
// bitfields (`long: 64;`), using natural alignment where it suffices.
func (d *dumper) bitPadding(cur, next, nextAlign int, inBitfield bool, lvl int) {
	if cur >= next {
		return
	}
	pads := [4]struct {
		name string
		bits int
	}{{"long", d.ptrSz * 8}, {"int", 32}, {"short", 16}, {"char", 8}}
	newOff, padBits := 0, 0
	padType := ""
	for _, p := range pads {
		padBits, padType = p.bits, p.name
		newOff = roundUp(cur, padBits)
		if newOff <= next {
			break
		}
	}
	if newOff > cur && newOff <= next {
		if inBitfield ||
			(newOff == next && roundUp(cur, nextAlign*8) != newOff) ||
			(newOff != next && next-newOff <= newOff-cur) {
			bits := 0
			if inBitfield {
				bits = newOff - cur
			}
			d.padLine(padType, bits, lvl)
		}
		cur = newOff
	}
	for cur != next {
		if d.err != nil {
			return
		}
		bits := min(next-cur, padBits)
		if bits == padBits {
			d.padLine(padType, padBits, lvl)
			cur += bits
			continue
		}
		for i := len(pads) - 1; i >= 0; i-- {
			padType, padBits = pads[i].name, pads[i].bits
			if padBits < bits {
				continue
			}
			d.padLine(padType, bits, lvl)
			cur += bits
			break
		}
		if padBits < bits { // malformed pointer size; avoid looping
			return
		}
	}
}

func (d *dumper) padLine(typ string, bits, lvl int) {
	d.steps++
	if d.steps > d.budget {
		d.tooComplex()
		return
	}
	d.str("\n")
	d.pfx(lvl)
	d.str(typ)
	d.str(": ")
	d.out = strconv.AppendInt(d.out, int64(bits), 10)
	d.str(";")
}

func (d *dumper) structDef(id int32, lvl int, depth int) {
	n := &d.g.nodes[id]
	isStruct := n.kind == kStruct
	align := d.alignOf(id, 0)
	packed := isStruct && d.isPacked(n)
	if isStruct {
		d.str("struct")
	} else {
		d.str("union")
	}
	if n.name != 0 {
		d.str(" ")
	}
	d.str(d.typeName(id))
	d.str(" {")
	off := 0
	prevBitfield := false
	for _, m := range d.g.mems(n) {
		d.steps++
		if d.steps > d.budget {
			d.tooComplex()
			return
		}
		mAlign := 1
		if !packed {
			mAlign = d.alignOf(m.typ, 0)
		}
		inBitfield := prevBitfield && m.bits != 0
		d.bitPadding(off, int(m.off), mAlign, inBitfield, lvl+1)
		d.str("\n")
		d.pfx(lvl + 1)
		d.typeDeclDepth(m.typ, d.g.str(m.name), lvl+1, depth+1)
		if m.bits != 0 {
			d.str(": ")
			d.out = strconv.AppendUint(d.out, uint64(m.bits), 10)
			off = int(m.off) + int(m.bits)
			prevBitfield = true
		} else {
			sz := max(d.g.resolveSize(m.typ, d.ptrSz), 0)
			off = int(m.off) + int(sz)*8
			prevBitfield = false
		}
		d.str(";")
	}
	if isStruct {
		d.bitPadding(off, int(n.size)*8, align, false, lvl+1)
	}
	if n.count > 0 || n.size > 0 {
		d.str("\n")
		d.pfx(lvl)
	}
	d.str("}")
	if packed {
		d.str(" __attribute__((packed))")
	}
}

// typeDecl writes a C declaration of a value of type id named fname
// (fname may be empty), unwinding pointers, arrays, function prototypes and
// qualifiers into C declarator syntax.
func (d *dumper) typeDecl(id int32, fname string, lvl int) { d.typeDeclDepth(id, fname, lvl, 0) }

func (d *dumper) typeDeclDepth(id int32, fname string, lvl int, depth int) {
	d.steps++
	if d.steps > d.budget {
		d.err = d.tooComplex()
	}
	if d.err != nil {
		return
	}
	if depth > maxDepth {
		d.fail(id)
		return
	}
	start := len(d.stack)
	for steps := 0; ; steps++ {
		if steps > maxDepth || !d.g.valid(id) {
			d.fail(id)
			d.stack = d.stack[:start]
			return
		}
		d.stack = append(d.stack, id)
		if id == 0 {
			break
		}
		n := &d.g.nodes[id]
		switch n.kind {
		case kPtr, kVolatile, kConst, kRestrict, kProto, kTypeTag, kArray:
			id = n.ref
			continue
		}
		break
	}
	frame := &declFrame{ids: d.stack[start:]}
	d.typeChain(frame, fname, lvl, depth)
	d.stack = d.stack[:start]
}

type declFrame struct {
	ids []int32
}

func (f *declFrame) top() int32 { return f.ids[len(f.ids)-1] }
func (f *declFrame) pop() int32 {
	id := f.ids[len(f.ids)-1]
	f.ids = f.ids[:len(f.ids)-1]
	return id
}

// emitMods prints the const/volatile/restrict qualifiers at the top of the
// frame (they belong before a base type).
func (d *dumper) emitMods(f *declFrame) {
	for len(f.ids) > 0 {
		switch d.g.nodes[f.top()].kind {
		case kVolatile:
			d.str("volatile ")
		case kConst:
			d.str("const ")
		case kRestrict:
			d.str("restrict ")
		default:
			return
		}
		f.pop()
	}
}

func (d *dumper) dropMods(f *declFrame) {
	for len(f.ids) > 0 {
		switch d.g.nodes[f.top()].kind {
		case kVolatile, kConst, kRestrict, kTypeTag:
			f.pop()
		default:
			return
		}
	}
}

func (d *dumper) emitName(name string, lastWasPtr bool) {
	if name != "" && !lastWasPtr {
		d.str(" ")
	}
	d.str(name)
}

func (d *dumper) typeChain(f *declFrame, fname string, lvl int, depth int) {
	lastWasPtr := true
	for len(f.ids) > 0 {
		id := f.pop()
		if id == 0 {
			d.emitMods(f)
			d.str("void")
			lastWasPtr = false
			continue
		}
		n := &d.g.nodes[id]
		switch n.kind {
		case kInt, kFloat:
			d.emitMods(f)
			d.str(d.g.name(n))
		case kStruct, kUnion:
			d.emitMods(f)
			if n.name == 0 {
				d.structDef(id, lvl, depth)
			} else {
				d.structFwd(id)
			}
		case kEnum:
			d.emitMods(f)
			if n.name == 0 {
				d.enumDef(id, lvl)
			} else {
				d.str("enum " + d.typeName(id))
			}
		case kFwd:
			d.emitMods(f)
			d.fwdDef(id)
		case kTypedef:
			d.emitMods(f)
			d.str(d.identName(id))
		case kPtr:
			if lastWasPtr {
				d.str("*")
			} else {
				d.str(" *")
			}
		case kVolatile:
			d.str(" volatile")
		case kConst:
			d.str(" const")
		case kRestrict:
			d.str(" restrict")
		case kTypeTag:
			d.emitMods(f)
			if n.has(fAttrTag) && !d.legacyTypeTags {
				d.str(" __attribute__((")
				d.str(d.g.name(n))
				d.str("))")
			} else {
				d.str(` __attribute__((btf_type_tag("`)
				d.str(d.g.name(n))
				d.str(`")))`)
			}
		case kArray:
			d.dropMods(f)
			if len(f.ids) == 0 {
				d.emitName(fname, lastWasPtr)
				d.arrayDim(n.size)
				return
			}
			multidim := d.g.nodes[f.top()].kind == kArray
			if fname != "" && !lastWasPtr {
				d.str(" ")
			}
			if !multidim {
				d.str("(")
			}
			d.typeChain(f, fname, lvl, depth)
			if !multidim {
				d.str(")")
			}
			d.arrayDim(n.size)
			return
		case kProto:
			d.dropMods(f)
			if len(f.ids) > 0 {
				d.str(" (")
				d.typeChain(f, fname, lvl, depth)
				d.str(")")
			} else {
				d.emitName(fname, lastWasPtr)
			}
			d.str("(")
			if n.count == 0 || (n.count == 1 && d.g.mem(n, 0).typ == 0) {
				d.str("void)")
				return
			}
			for i, p := range d.g.mems(n) {
				if i > 0 {
					d.str(", ")
				}
				if i == int(n.count)-1 && p.typ == 0 {
					d.str("...")
					break
				}
				d.typeDeclDepth(p.typ, d.g.str(p.name), lvl, depth+1)
			}
			d.str(")")
			return
		default:
			// Not expressible in a declaration (func, var, datasec).
			return
		}
		lastWasPtr = n.kind == kPtr
	}
	d.emitName(fname, lastWasPtr)
}

func (d *dumper) arrayDim(n uint32) {
	d.str("[")
	d.out = strconv.AppendUint(d.out, uint64(n), 10)
	d.str("]")
}
