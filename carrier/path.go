package carrier

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/kheaders/kheaders/archive"
	"github.com/kheaders/kheaders/internal/input"
)

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Source is an artifact opened from a path: the bytes of a file, a regular
// ELF file read in place, or a directory tree of already extracted headers.
type Source struct {
	Path string
	// Data is the artifact's bytes; nil for a directory and for an ELF
	// file read in place (Bytes reads it whole when a caller needs it).
	Data []byte
	Dir  bool
	opts *Options
	fi   os.FileInfo // the ELF file read in place, as OpenPath saw it
}

// OpenPath opens the artifact at path. A regular file starting with the
// ELF magic (vmlinux, kheaders.ko) is not read yet: Inspect, Archive and
// Config read it in place through an io.ReaderAt (headers, symbol table
// and the ranges its symbols name; see file.go), after checking it is the
// same file, unchanged (else ErrChanged). Anything else is read through
// internal/input: a regular file in one allocation of its size, read by a
// loop up to EOF (sysfs files such as /sys/kernel/kheaders.tar.xz report
// the archive size but are read in page-sized pieces; procfs files report
// 0), capped at Options.MaxInput (default 4 GiB); a device, FIFO or socket
// as a stream capped at Options.MaxInput (default 512 MiB), so /dev/zero
// fails with "more than 512 MiB read" instead of exhausting memory. A
// directory is kept as a path.
//
// Errors: I/O errors (wrapping fs.ErrNotExist, fs.ErrPermission), ErrFormat
// wrapping input.ErrTooLarge for an input past its cap, a context error.
func OpenPath(ctx context.Context, path string, opts *Options) (*Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open artifact: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open artifact: %w", err)
	}
	if fi.IsDir() {
		return &Source{Path: path, Dir: true, opts: opts}, nil
	}
	if fi.Mode().IsRegular() && fi.Size() > 0 {
		var magic [4]byte
		if n, _ := f.ReadAt(magic[:], 0); n == len(magic) && isELFBytes(magic[:]) {
			return &Source{Path: path, opts: opts, fi: fi}, nil
		}
	}
	data, err := readWhole(ctx, path, f, opts)
	if err != nil {
		return nil, err
	}
	return &Source{Path: path, Data: data, opts: opts}, nil
}

// search runs the search on the source's bytes or, for an ELF file read
// in place, on the file.
func (s *Source) search(ctx context.Context, wantBTF bool) (*result, error) {
	if s.fi != nil {
		return s.searchFile(ctx, wantBTF)
	}
	return s.opts.run(ctx, s.Data), nil
}

// Bytes returns the whole artifact (Data, or for an ELF file read in place
// the file read through internal/input's caps). A directory: ErrNotSupported.
//
// Errors: as OpenPath, ErrChanged.
func (s *Source) Bytes(ctx context.Context) ([]byte, error) {
	switch {
	case s.Dir:
		return nil, fmt.Errorf("%s is a directory, not an artifact file: %w", s.Path, ErrNotSupported)
	case s.fi == nil:
		return s.Data, nil
	}
	f, err := s.open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := readWhole(ctx, s.Path, f, s.opts)
	if cerr := s.unchanged(f); cerr != nil {
		return nil, cerr
	}
	return data, err
}

func (o *Options) inputOptions() *input.Options {
	if o == nil {
		return nil
	}
	return &input.Options{MaxFile: o.MaxInput, MaxStream: o.MaxInput, Flag: o.InputFlag}
}

// FromBytes wraps data already in memory (standard input, a test) as a
// Source named name.
func FromBytes(name string, data []byte, opts *Options) *Source {
	return &Source{Path: name, Data: data, opts: opts}
}

// Inspect is Inspect of the source (for a directory: what the tree holds).
func (s *Source) Inspect(ctx context.Context) (*Info, error) {
	if s.Dir {
		return inspectDir(s.Path)
	}
	r, err := s.search(ctx, true)
	if err != nil {
		return nil, err
	}
	return inspect(ctx, r, s.opts)
}

// Archive is Archive of the source. A directory has no archive bytes:
// ErrNotSupported.
func (s *Source) Archive(ctx context.Context) ([]byte, *Info, error) {
	if s.Dir {
		return nil, nil, fmt.Errorf("%s is a directory of extracted headers, not an archive: %w; use 'kheaders pack' to build an archive from a kernel tree", s.Path, ErrNotSupported)
	}
	r, err := s.search(ctx, false)
	if err != nil {
		return nil, nil, err
	}
	f, err := found(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	return f.Archive, f.Info, f.ArchiveErr()
}

// Config is Config of the source (for a directory: its .config, as in a
// kernel build tree).
func (s *Source) Config(ctx context.Context) ([]byte, error) {
	if s.Dir {
		b, err := os.ReadFile(filepath.Join(s.Path, ".config"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no .config in the directory %s: %w; extracted header archives do not carry the config, a kernel build tree does", s.Path, ErrNotFound)
		}
		return b, err
	}
	r, err := s.search(ctx, false)
	if err != nil {
		return nil, err
	}
	f, err := found(ctx, r)
	if err != nil {
		return nil, err
	}
	return f.Config, f.ConfigErr()
}

// inspectDir describes a tree of headers (an extracted archive or a kernel
// build tree).
func inspectDir(dir string) (*Info, error) {
	in := &Info{Kind: "directory", Layers: []Layer{{Format: "directory"}}}
	if st, err := os.Stat(filepath.Join(dir, "include", "linux")); err == nil && st.IsDir() {
		in.HasHeaders = true
	}
	if b, err := os.ReadFile(filepath.Join(dir, "include", "generated", "utsrelease.h")); err == nil {
		if rel := archive.ParseUTSRelease(b); rel != "" {
			in.Release, in.ReleaseFrom = rel, "utsrelease.h"
		}
	}
	tg := archOfTree(os.DirFS(dir))
	in.Arch, in.Machine = tg.Arch, tg.Machine
	if _, err := os.Stat(filepath.Join(dir, ".config")); err == nil {
		in.HasConfig, in.ConfigHow = true, "file"
	}
	if !in.HasHeaders && in.Release == "" {
		return in, fmt.Errorf("%s: %w: a directory without include/linux or include/generated/utsrelease.h is not a header tree", dir, ErrFormat)
	}
	return in, nil
}
