package carrier

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kheaders/kheaders/internal/codec"
	"github.com/kheaders/kheaders/internal/elfsym"
	"github.com/kheaders/kheaders/internal/input"
	"github.com/kheaders/kheaders/internal/karch"
	"github.com/kheaders/kheaders/internal/kimage"
	"github.com/kheaders/kheaders/internal/xz"
)

// A regular ELF file with a symbol table (vmlinux, kheaders.ko) is read in
// place, through an io.ReaderAt on the open file: its headers, its symbol
// table, and the ranges the symbols name (kernel_headers_data..._end,
// kernel_config_data..._end, linux_banner, .modinfo). The kernel defines
// those symbols around the data it embeds (kernel/kheaders.c,
// kernel/configs.c), so a symbol table without them means the data is not
// built in and no scan is made. Everything else (a stripped ELF, archives,
// compressed and container images) is read whole through internal/input,
// capped, and searched in memory.

// searchFile searches the regular file at s.Path, checking it is the file
// OpenPath saw, unchanged, before and after reading it.
//
// With wantBTF (Inspect), the .BTF section of an ELF read in place is read
// before the file is closed.
func (s *Source) searchFile(ctx context.Context, wantBTF bool) (*result, error) {
	f, err := s.open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, ok, err := s.opts.runELFAt(ctx, f, s.fi.Size())
	if err == nil && !ok {
		var data []byte
		data, err = readWhole(ctx, s.Path, f, s.opts)
		if err == nil {
			r = s.opts.run(ctx, data)
		}
	}
	if err == nil && wantBTF && r.btfELF != nil {
		b, berr := r.btfELF()
		if berr != nil {
			err = fmt.Errorf("read the .BTF section of %s: %w", s.Path, berr)
		}
		r.btfELF = func() ([]byte, error) { return b, nil }
	}
	if cerr := s.unchanged(f); cerr != nil {
		return nil, cerr // a read error on a file cut short is this
	}
	if err != nil {
		return nil, err
	}
	return r, ctx.Err()
}

// unchanged reports ErrChanged when the open file f is not the file
// OpenPath stat'ed (same inode, size and modification time).
// open opens the file at s.Path and checks it is the one OpenPath saw.
func (s *Source) open() (*os.File, error) {
	f, err := os.Open(s.Path)
	if err != nil {
		return nil, fmt.Errorf("open artifact: %w", err)
	}
	if err := s.unchanged(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func (s *Source) unchanged(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat artifact %s: %w", s.Path, err)
	}
	if !os.SameFile(fi, s.fi) || fi.Size() != s.fi.Size() || !fi.ModTime().Equal(s.fi.ModTime()) {
		return fmt.Errorf("%s: %w (%d bytes modified %s when opened, now %d bytes modified %s); run again once nothing writes to it",
			s.Path, ErrChanged, s.fi.Size(), s.fi.ModTime().Format("15:04:05.000000000"), fi.Size(), fi.ModTime().Format("15:04:05.000000000"))
	}
	return nil
}

// readWhole reads the open file f (offset 0) through internal/input's caps.
func readWhole(ctx context.Context, path string, f *os.File, opts *Options) ([]byte, error) {
	data, err := input.ReadStream(ctx, path, f, opts.inputOptions())
	if errors.Is(err, input.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read artifact %s: %w", path, err)
	}
	return data, nil
}

// ioErr reports whether err from elfsym is a read error (not a format
// verdict).
func ioErr(err error) bool {
	return err != nil && !errors.Is(err, elfsym.ErrFormat) && !errors.Is(err, elfsym.ErrNotFound) && !errors.Is(err, elfsym.ErrNoSymbols)
}

// runELFAt searches the ELF file of size bytes in ra in place. ok is false
// when it cannot (not ELF, no symbol table, bytes between the kheaders
// symbols that are not xz, a config that does not decode): the caller then
// reads the file whole and searches it in memory, which decides as before.
func (o *Options) runELFAt(ctx context.Context, ra io.ReaderAt, size int64) (r *result, ok bool, err error) {
	f, err := elfsym.OpenReaderAt(ra, size)
	if err != nil {
		if ioErr(err) && !errors.Is(err, elfsym.ErrNotELF) {
			return nil, false, err
		}
		return nil, false, nil
	}
	if _, err := f.Symbol(symHeaders); errors.Is(err, elfsym.ErrNoSymbols) || (err != nil && !errors.Is(err, elfsym.ErrNotFound)) {
		if ioErr(err) {
			return nil, false, err
		}
		return nil, false, nil
	}
	r = &result{log: o.logger(), ctx: ctx, noSum: o.noSum()}
	isModule := f.Type() == elf.ET_REL
	kind := "vmlinux"
	if isModule {
		kind = "module"
	}
	chain := []Layer{{Format: kind, Size: size}}
	r.top(kind)
	kernelish := false
	if isModule {
		mi, err := f.ReadSection(".modinfo")
		if ioErr(err) {
			return nil, false, err
		}
		if vm := vermagic(mi); vm != "" {
			kernelish = true
			r.setRelease(vm, "vermagic", 2)
		}
	} else {
		b, err := f.SymbolBytes("linux_banner")
		if ioErr(err) {
			return nil, false, err
		}
		if rel, ok := kimage.Release(b); ok {
			kernelish = true
			r.setRelease(rel, "banner", 1)
		}
	}
	a, err := f.Range(symHeaders, symHeadersEnd)
	switch {
	case err == nil && bytes.HasPrefix(a, xz.Magic):
		r.archive, r.archiveHow, r.archiveChain = a, "symbols", chain
	case err == nil:
		return nil, false, nil // not xz: the in-memory search warns and scans
	case ioErr(err):
		return nil, false, err
	case !errors.Is(err, elfsym.ErrNotFound):
		r.note("%s: %v", (&Info{Layers: chain}).Chain(), err)
	}
	gz, err := f.Range(symConfig, symConfigEnd)
	switch {
	case err == nil:
		c, derr := codec.Decompress(codec.Gzip, gz, maxConfig)
		if derr != nil {
			return nil, false, nil // the in-memory search tries the marker
		}
		r.config, r.configHow = c, "symbols"
	case ioErr(err):
		return nil, false, err
	}
	if r.archive != nil || r.config != nil {
		kernelish = true
	}
	if kernelish {
		t, _ := karch.FromELF(f.Machine(), f.Class(), f.Data())
		r.setArch(t)
		if !isModule {
			r.btf = f.HasSection(".BTF")
			if r.btf {
				r.btfELF = func() ([]byte, error) { return f.ReadSection(".BTF") }
			}
		}
		r.kernelChain = chain
	}
	return r, true, nil
}
