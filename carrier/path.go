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

// Source is an artifact opened from a path: the bytes of a file, or a
// directory tree of already extracted headers.
type Source struct {
	Path string
	Data []byte // nil for a directory
	Dir  bool
	opts *Options
}

// OpenPath reads the artifact at path through internal/input: a regular
// file in one allocation of its size, read by a loop up to EOF (sysfs files
// such as /sys/kernel/kheaders.tar.xz report the archive size but are read
// in page-sized pieces; procfs files report 0), capped at
// Options.MaxInput (default 4 GiB); a device, FIFO or socket as a stream
// capped at Options.MaxInput (default 512 MiB), so /dev/zero fails with
// "more than 512 MiB read" instead of exhausting memory. A directory is kept
// as a path.
//
// Errors: I/O errors (wrapping fs.ErrNotExist, fs.ErrPermission), ErrFormat
// wrapping input.ErrTooLarge for an input past its cap.
func OpenPath(ctx context.Context, path string, opts *Options) (*Source, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("open artifact: %w", err)
	}
	if fi.IsDir() {
		return &Source{Path: path, Dir: true, opts: opts}, nil
	}
	data, err := input.ReadFile(ctx, path, opts.inputOptions())
	if errors.Is(err, input.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if err != nil {
		return nil, fmt.Errorf("read artifact %s: %w", path, err)
	}
	return &Source{Path: path, Data: data, opts: opts}, nil
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
	return Inspect(ctx, s.Data, s.opts)
}

// Archive is Archive of the source. A directory has no archive bytes:
// ErrNotSupported.
func (s *Source) Archive(ctx context.Context) ([]byte, *Info, error) {
	if s.Dir {
		return nil, nil, fmt.Errorf("%s is a directory of extracted headers, not an archive: %w; use 'kheaders pack' to build an archive from a kernel tree", s.Path, ErrNotSupported)
	}
	return Archive(ctx, s.Data, s.opts)
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
	return Config(ctx, s.Data, s.opts)
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
