package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// Inspect reads the whole archive from r, checking that it decodes and that
// every entry is one Extract would accept, and returns its manifest (with the
// sha256 of every file) without writing anything.
//
// Errors are those of Extract, minus ErrExist for the destination.
func Inspect(ctx context.Context, r io.Reader, opts *Options) (*Manifest, error) {
	s, err := openStream(r, opts)
	if err != nil {
		return nil, err
	}
	defer s.close()
	w := newWalker(opts)
	w.reuse = make([]byte, 0, 1<<20)
	err = w.run(ctx, s, func(_ int, e *Entry, data []byte) error {
		if e.Type == 'f' {
			sum := sha256.Sum256(data)
			e.SHA256 = hex.EncodeToString(sum[:])
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	w.m.Format = s.format
	w.m.ArchiveSize = s.raw.n
	w.m.ArchiveSHA256 = s.sum()
	return w.m, nil
}

// FS is an archive read into memory, served as a read-only fs.FS. Symlinks
// are followed within the tree by Open, ReadFile and Stat; Lstat and
// ReadLink see them as links.
type FS struct {
	m     *Manifest
	nodes map[string]*node
}

type node struct {
	e    Entry
	data []byte
	kids []string // base names, sorted, for directories
}

// Load reads the whole archive from r into memory and returns it as an FS.
// The kernel archive is about 35 MB decoded.
//
// Errors are those of Inspect.
func Load(ctx context.Context, r io.Reader, opts *Options) (*FS, error) {
	s, err := openStream(r, opts)
	if err != nil {
		return nil, err
	}
	defer s.close()
	w := newWalker(opts)
	t := &FS{nodes: map[string]*node{".": {e: Entry{Name: ".", Type: 'd', Mode: 0o755}}}}
	err = w.run(ctx, s, func(_ int, e *Entry, data []byte) error {
		if e.Type == 'f' {
			sum := sha256.Sum256(data)
			e.SHA256 = hex.EncodeToString(sum[:])
		}
		t.add(*e, data)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, n := range t.nodes {
		slices.Sort(n.kids)
	}
	w.m.Format = s.format
	w.m.ArchiveSize = s.raw.n
	w.m.ArchiveSHA256 = s.sum()
	t.m = w.m
	return t, nil
}

func (t *FS) add(e Entry, data []byte) {
	if n, ok := t.nodes[e.Name]; ok { // an implicit directory made explicit
		n.e = e
		return
	}
	dir := path.Dir(e.Name)
	if _, ok := t.nodes[dir]; !ok {
		t.add(Entry{Name: dir, Type: 'd', Mode: 0o755, ModTime: e.ModTime}, nil)
	}
	t.nodes[dir].kids = append(t.nodes[dir].kids, path.Base(e.Name))
	t.nodes[e.Name] = &node{e: e, data: data}
}

// Manifest returns the manifest of the loaded archive.
func (t *FS) Manifest() *Manifest { return t.m }

// resolve follows symlinks in name (all components when follow, else all
// but the last) and returns the node.
func (t *FS) resolve(op, name string, follow bool) (*node, string, error) {
	if !fs.ValidPath(name) {
		return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	cur := "."
	rest := name
	if name == "." {
		rest = ""
	}
	for hops := 0; ; {
		if rest == "" {
			return t.nodes[cur], cur, nil
		}
		el, tail, _ := strings.Cut(rest, "/")
		next := path.Join(cur, el)
		n, ok := t.nodes[next]
		if !ok {
			return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if n.e.Type == 'l' && (tail != "" || follow) {
			hops++
			if hops > 40 {
				return nil, "", &fs.PathError{Op: op, Path: name, Err: errors.New("too many levels of symbolic links")}
			}
			target := path.Join(cur, n.e.Target)
			if target == ".." || strings.HasPrefix(target, "../") {
				return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
			}
			if tail != "" {
				target += "/" + tail
			}
			cur, rest = ".", target
			if rest == "." {
				rest = ""
			}
			continue
		}
		if n.e.Type == 'f' && tail != "" {
			return nil, "", &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		cur, rest = next, tail
	}
}

// Open implements fs.FS.
func (t *FS) Open(name string) (fs.File, error) {
	n, _, err := t.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	return &file{t: t, n: n, name: name, r: bytes.NewReader(n.data)}, nil
}

// ReadFile implements fs.ReadFileFS; the result is a copy.
func (t *FS) ReadFile(name string) ([]byte, error) {
	n, _, err := t.resolve("readfile", name, true)
	if err != nil {
		return nil, err
	}
	if n.e.Type != 'f' {
		return nil, &fs.PathError{Op: "readfile", Path: name, Err: errors.New("is a directory")}
	}
	return bytes.Clone(n.data), nil
}

// Stat implements fs.StatFS.
func (t *FS) Stat(name string) (fs.FileInfo, error) {
	n, _, err := t.resolve("stat", name, true)
	if err != nil {
		return nil, err
	}
	return info{n: n, name: path.Base(name)}, nil
}

// Lstat implements fs.ReadLinkFS.
func (t *FS) Lstat(name string) (fs.FileInfo, error) {
	n, _, err := t.resolve("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return info{n: n, name: path.Base(name)}, nil
}

// ReadLink implements fs.ReadLinkFS.
func (t *FS) ReadLink(name string) (string, error) {
	n, _, err := t.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.e.Type != 'l' {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.e.Target, nil
}

// ReadDir implements fs.ReadDirFS.
func (t *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, cur, err := t.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if n.e.Type != 'd' {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	out := make([]fs.DirEntry, 0, len(n.kids))
	for _, k := range n.kids {
		out = append(out, fs.FileInfoToDirEntry(info{n: t.nodes[path.Join(cur, k)], name: k}))
	}
	return out, nil
}

type info struct {
	n    *node
	name string
}

func (i info) Name() string { return i.name }
func (i info) Size() int64 {
	if i.n.e.Type == 'l' {
		return int64(len(i.n.e.Target))
	}
	return int64(len(i.n.data))
}
func (i info) Mode() fs.FileMode {
	switch i.n.e.Type {
	case 'd':
		return fs.ModeDir | i.n.e.Mode
	case 'l':
		return fs.ModeSymlink | 0o777
	}
	return i.n.e.Mode
}
func (i info) ModTime() time.Time { return i.n.e.ModTime }
func (i info) IsDir() bool        { return i.n.e.Type == 'd' }
func (i info) Sys() any           { return &i.n.e }

type file struct {
	t    *FS
	n    *node
	name string
	r    *bytes.Reader
	off  int // directory read position
}

func (f *file) Stat() (fs.FileInfo, error) { return info{n: f.n, name: path.Base(f.name)}, nil }
func (f *file) Read(p []byte) (int, error) {
	if f.n.e.Type == 'd' {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: errors.New("is a directory")}
	}
	return f.r.Read(p)
}
func (f *file) Seek(off int64, whence int) (int64, error) { return f.r.Seek(off, whence) }
func (f *file) ReadAt(p []byte, off int64) (int, error)   { return f.r.ReadAt(p, off) }
func (f *file) Close() error                              { return nil }

// ReadDir implements fs.ReadDirFile.
func (f *file) ReadDir(n int) ([]fs.DirEntry, error) {
	if f.n.e.Type != 'd' {
		return nil, &fs.PathError{Op: "readdir", Path: f.name, Err: errors.New("not a directory")}
	}
	_, cur, err := f.t.resolve("readdir", f.name, true)
	if err != nil {
		return nil, err
	}
	kids := f.n.kids[f.off:]
	if n > 0 && len(kids) > n {
		kids = kids[:n]
	}
	if n > 0 && len(kids) == 0 {
		return nil, io.EOF
	}
	f.off += len(kids)
	out := make([]fs.DirEntry, 0, len(kids))
	for _, k := range kids {
		out = append(out, fs.FileInfoToDirEntry(info{n: f.t.nodes[path.Join(cur, k)], name: k}))
	}
	return out, nil
}
