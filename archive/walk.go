package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/kheaders/kheaders/internal/xz"
)

// utsreleasePath is where Kbuild puts UTS_RELEASE in the archive.
const utsreleasePath = "include/generated/utsrelease.h"

// ParseUTSRelease returns UTS_RELEASE from the text of utsrelease.h, or "".
// It finds what the regular expression
// (?m)^#define\s+UTS_RELEASE\s+"([^"\n]*)" finds (the first line that
// matches), without compiling one at every process start: locate reads the
// release on every call, warm ones included.
func ParseUTSRelease(b []byte) string {
	for len(b) > 0 {
		if rel, ok := utsReleaseAt(b); ok {
			return rel
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		b = b[i+1:]
	}
	return ""
}

// utsReleaseAt matches the define at the start of b.
func utsReleaseAt(b []byte) (string, bool) {
	var ok bool
	if b, ok = bytes.CutPrefix(b, []byte("#define")); !ok {
		return "", false
	}
	if b, ok = cutSpace(b); !ok {
		return "", false
	}
	if b, ok = bytes.CutPrefix(b, []byte("UTS_RELEASE")); !ok {
		return "", false
	}
	if b, ok = cutSpace(b); !ok {
		return "", false
	}
	if b, ok = bytes.CutPrefix(b, []byte(`"`)); !ok {
		return "", false
	}
	i := bytes.IndexAny(b, "\"\n")
	if i < 0 || b[i] != '"' {
		return "", false
	}
	return string(b[:i]), true
}

// cutSpace removes the run of RE2 \s characters (\t \n \f \r space) at
// the start of b; ok is false when there is none.
func cutSpace(b []byte) ([]byte, bool) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\f' || b[i] == '\r') {
		i++
	}
	return b[i:], i > 0
}

// cleanName turns a tar member name into a slash path relative to the
// archive root ("" for the root itself), refusing anything that is not a
// plain relative path.
func cleanName(name string) (string, error) {
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("%w: name %q contains a NUL byte", ErrUnsafe, name)
	}
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("%w: absolute path %q", ErrUnsafe, name)
	}
	n := name
	for strings.HasPrefix(n, "./") {
		n = n[2:]
	}
	n = strings.TrimRight(n, "/")
	if n == "" || n == "." {
		return "", nil
	}
	for rest, more := n, true; more; {
		var el string
		el, rest, more = strings.Cut(rest, "/")
		if el == ".." {
			return "", fmt.Errorf("%w: path %q contains \"..\"", ErrUnsafe, name)
		}
	}
	if !fs.ValidPath(n) || strings.Contains(n, `\`) {
		return "", fmt.Errorf("%w: path %q is not a clean relative path", ErrUnsafe, name)
	}
	return n, nil
}

// checkLink refuses symlink targets that leave the tree, judged from the
// link's own directory (links are never followed while extracting, and no
// entry may be placed below a symlink, so this lexical check is exact).
func checkLink(name, target string) error {
	if target == "" {
		return fmt.Errorf("%w: symlink %q has an empty target", ErrUnsafe, name)
	}
	if strings.HasPrefix(target, "/") {
		return fmt.Errorf("%w: symlink %q points to the absolute path %q", ErrUnsafe, name, target)
	}
	if strings.IndexByte(target, 0) >= 0 {
		return fmt.Errorf("%w: symlink %q target contains a NUL byte", ErrUnsafe, name)
	}
	r := path.Join(path.Dir(name), target)
	if r == ".." || strings.HasPrefix(r, "../") {
		return fmt.Errorf("%w: symlink %q -> %q leaves the archive tree", ErrUnsafe, name, target)
	}
	return nil
}

// walker reads a tar stream, validating every member, and hands each one to
// visit with its data (for files). Entries are appended to m.
type walker struct {
	lim   Limits
	seen  map[string]byte // cleaned name -> type
	m     *Manifest
	reuse []byte // when non-nil, file data is read into this buffer (grown)
	// alloc, when set, provides the buffer for a file's data (extraction).
	alloc func(n int) []byte
	hint  int // entries expected
}

// visitFunc receives each member; data is the whole file for 'f' entries.
// idx is the position of the entry in the manifest.
type visitFunc func(idx int, e *Entry, data []byte) error

func (w *walker) run(ctx context.Context, s *stream, visit visitFunc) error {
	if d, ok := s.dec.(*xz.Buffer); ok && len(w.seen) == 0 {
		// The decoded size gives the entries to expect (kernel archives
		// have one per 5 KiB): room for them from the start, not a dozen
		// regrowths of the map and the manifest.
		w.hint = int(min(d.Size()/4096, int64(w.lim.MaxEntries), 1<<16))
		w.seen = make(map[string]byte, w.hint)
	}
	tr := tar.NewReader(s.dec)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return s.decErr(err)
		}
		e, err := w.check(hdr)
		if err != nil {
			return err
		}
		if e == nil {
			continue
		}
		var data []byte
		if e.Type == 'f' {
			if data, err = w.read(tr, s, e.Size); err != nil {
				return fmt.Errorf("read %s: %w", e.Name, s.decErr(err))
			}
			if e.Name == utsreleasePath {
				w.m.Release = ParseUTSRelease(data)
			}
		}
		if w.m.Entries == nil {
			w.m.Entries = make([]Entry, 0, w.hint)
		}
		w.m.Entries = append(w.m.Entries, *e)
		if visit != nil {
			if err := visit(len(w.m.Entries)-1, &w.m.Entries[len(w.m.Entries)-1], data); err != nil {
				return err
			}
		}
	}
	return s.finish(w.lim.MaxBytes)
}

// read returns the n bytes of the current file.
func (w *walker) read(tr *tar.Reader, s *stream, n int64) ([]byte, error) {
	if d, ok := s.dec.(*xz.Buffer); ok {
		// The LZMA2 fast path holds its whole output in memory: take the
		// file's bytes from it without copying; the tar reader then seeks
		// past them. (Only this type: bufio.Reader's Peek is not stable.)
		return d.Peek(int(n))
	}
	var data []byte
	switch {
	case w.alloc != nil:
		data = w.alloc(int(n))
	case w.reuse != nil:
		if int64(cap(w.reuse)) < n {
			w.reuse = make([]byte, n)
		}
		data = w.reuse[:n]
	default:
		data = make([]byte, n)
	}
	_, err := io.ReadFull(tr, data)
	return data, err
}

// check validates one header and returns its entry, or nil for members that
// carry no file (the root, global PAX headers).
func (w *walker) check(hdr *tar.Header) (*Entry, error) {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil, nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return nil, err
	}
	e := &Entry{Name: name, Mode: fs.FileMode(hdr.Mode).Perm(), ModTime: hdr.ModTime}
	switch hdr.Typeflag {
	case tar.TypeReg: // the reader maps the old NUL typeflag to TypeReg
		e.Type = 'f'
		e.Size = hdr.Size
	case tar.TypeDir:
		e.Type = 'd'
	case tar.TypeSymlink:
		e.Type = 'l'
		e.Target = hdr.Linkname
	case tar.TypeLink:
		return nil, fmt.Errorf("%w: %q is a hard link (to %q); kernel header archives have none", ErrUnsupportedEntry, hdr.Name, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock:
		return nil, fmt.Errorf("%w: %q is a device node", ErrUnsupportedEntry, hdr.Name)
	case tar.TypeFifo:
		return nil, fmt.Errorf("%w: %q is a fifo", ErrUnsupportedEntry, hdr.Name)
	default:
		return nil, fmt.Errorf("%w: %q has tar type %q", ErrUnsupportedEntry, hdr.Name, hdr.Typeflag)
	}
	if name == "" {
		if e.Type != 'd' {
			return nil, fmt.Errorf("%w: the archive root %q is not a directory", ErrUnsafe, hdr.Name)
		}
		return nil, nil
	}
	if len(w.m.Entries) >= w.lim.MaxEntries {
		return nil, fmt.Errorf("%w: more than %d entries", ErrLimit, w.lim.MaxEntries)
	}
	if e.Type == 'f' {
		if e.Size > w.lim.MaxEntryBytes {
			return nil, fmt.Errorf("%w: %q declares %d bytes, more than the %d-byte cap for one file", ErrLimit, hdr.Name, e.Size, w.lim.MaxEntryBytes)
		}
		if w.m.Bytes+e.Size > w.lim.MaxBytes {
			return nil, fmt.Errorf("%w: file data passes %d bytes at %q", ErrLimit, w.lim.MaxBytes, hdr.Name)
		}
		w.m.Bytes += e.Size
		w.m.Files++
	}
	if e.Type == 'l' {
		if err := checkLink(name, e.Target); err != nil {
			return nil, err
		}
	}
	if t, dup := w.seen[name]; dup && (t != 'd' || e.Type != 'd') {
		return nil, fmt.Errorf("%w: %q appears twice in the archive", ErrExist, hdr.Name)
	}
	// No member may sit below a symlink or a file of this archive. Missing
	// parents are recorded as (implicit) directories.
	for d := path.Dir(name); d != "."; d = path.Dir(d) {
		t, ok := w.seen[d]
		if !ok {
			w.seen[d] = 'd'
			continue
		}
		if t == 'l' {
			return nil, fmt.Errorf("%w: %q is below the symlink %q", ErrUnsafe, hdr.Name, d)
		}
		if t == 'f' {
			return nil, fmt.Errorf("%w: %q is below the regular file %q", ErrUnsafe, hdr.Name, d)
		}
		break // a directory: its own parents were checked when it was added
	}
	w.seen[name] = e.Type
	return e, nil
}

func newWalker(opts *Options) *walker {
	var lim Limits
	if opts != nil {
		lim = opts.Limits
	}
	return &walker{lim: lim.withDefaults(), seen: make(map[string]byte), m: &Manifest{}}
}
