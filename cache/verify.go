package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kheaders/kheaders/archive"
	"github.com/kheaders/kheaders/internal/filehash"
	"github.com/kheaders/kheaders/internal/host"
)

// hashTree walks root and returns entries with the sha256 of every file.
func hashTree(root *os.Root) ([]archive.Entry, error) {
	var out []archive.Entry
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := archive.Entry{Name: p, Mode: fi.Mode().Perm(), ModTime: fi.ModTime().UTC()}
		switch {
		case d.IsDir():
			e.Type = 'd'
		case d.Type()&fs.ModeSymlink != 0:
			e.Type = 'l'
			if e.Target, err = root.Readlink(p); err != nil {
				return err
			}
		case d.Type().IsRegular():
			e.Type = 'f'
			e.Size = fi.Size()
			if e.SHA256, err = hashFile(root, p); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unexpected file type %v", p, d.Type())
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

func hashFile(root *os.Root, p string) (string, error) {
	f, err := root.OpenFile(p, os.O_RDONLY|host.ONoFollow, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return filehash.Reader(f)
}

// Problem is one difference between an object and its manifest.
//
// Its JSON is a `problems` element of kheaders.cache/v1 (cache verify)
// (docs/json.md): a stable schema, fields are only added within v1.
type Problem struct {
	Path string `json:"path"`           // relative to the header tree
	What string `json:"what"`           // "modified", "missing", "extra", "type", "mode", "target"
	Want string `json:"want,omitempty"` // from the manifest
	Got  string `json:"got,omitempty"`
}

func (p Problem) String() string {
	s := p.What + " " + p.Path
	if p.Want != "" || p.Got != "" {
		s += fmt.Sprintf(" (manifest %s, found %s)", short(p.Want), short(p.Got))
	}
	return s
}

func short(s string) string {
	if len(s) == 64 {
		return s[:12]
	}
	if s == "" {
		return "nothing"
	}
	return s
}

// Report is the result of verifying one object.
//
// Its JSON is a `reports` element of kheaders.cache/v1 (cache verify)
// (docs/json.md): a stable schema, fields are only added within v1.
type Report struct {
	Key      string    `json:"key"`
	Dir      string    `json:"dir"`
	Files    int       `json:"files"`
	Problems []Problem `json:"problems"`
	// Marked is true when this verification marked the object damaged, so
	// that the next locate replaces it.
	Marked bool `json:"marked_damaged"`
}

// Verify rehashes every file of object KEY against its manifest and reports
// each difference. A damaged object is marked (objects/KEY/damaged) so that
// the next Ensure replaces it. Errors wrap ErrNotFound, ErrKey or I/O
// errors; a damaged object is a report with problems, not an error.
func (c *Cache) Verify(ctx context.Context, key string) (*Report, error) {
	if !validKey(key) {
		return nil, fmt.Errorf("verify %q: %w", key, ErrKey)
	}
	r := &Report{Key: key, Dir: filepath.Join(c.dir, objPath(key, "headers")), Problems: []Problem{}}
	m, err := c.readManifest(key)
	if err != nil {
		if errors.Is(err, ErrDamaged) {
			r.Problems = append(r.Problems, Problem{Path: "manifest.json", What: "modified", Got: err.Error()})
			return r, c.mark(key, r)
		}
		return nil, err
	}
	hroot, err := c.root.OpenRoot(objPath(key, "headers"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			r.Problems = append(r.Problems, Problem{Path: ".", What: "missing"})
			return r, c.mark(key, r)
		}
		return nil, err
	}
	defer hroot.Close()
	seen := map[string]bool{}
	for _, e := range m.Entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		seen[e.Name] = true
		fi, err := hroot.Lstat(e.Name)
		if err != nil {
			r.Problems = append(r.Problems, Problem{Path: e.Name, What: "missing"})
			continue
		}
		got := typeOf(fi)
		if got != e.Type {
			r.Problems = append(r.Problems, Problem{Path: e.Name, What: "type", Want: string(e.Type), Got: string(got)})
			continue
		}
		switch e.Type {
		case 'f':
			r.Files++
			sum, err := hashFile(hroot, e.Name)
			if err != nil {
				r.Problems = append(r.Problems, Problem{Path: e.Name, What: "unreadable", Got: err.Error()})
			} else if sum != e.SHA256 {
				r.Problems = append(r.Problems, Problem{Path: e.Name, What: "modified", Want: e.SHA256, Got: sum})
			}
		case 'l':
			if t, _ := hroot.Readlink(e.Name); t != e.Target {
				r.Problems = append(r.Problems, Problem{Path: e.Name, What: "target", Want: e.Target, Got: t})
			}
		}
		if e.Type != 'l' && fi.Mode().Perm()&0o022 != 0 {
			r.Problems = append(r.Problems, Problem{Path: e.Name, What: "mode", Want: e.Mode.String(), Got: fi.Mode().Perm().String()})
		}
	}
	err = fs.WalkDir(hroot.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return nil
		}
		if !seen[p] {
			r.Problems = append(r.Problems, Problem{Path: p, What: "extra"})
			if d.IsDir() {
				return fs.SkipDir
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(r.Problems, func(i, j int) bool { return r.Problems[i].Path < r.Problems[j].Path })
	if len(r.Problems) > 0 {
		return r, c.mark(key, r)
	}
	return r, nil
}

func typeOf(fi fs.FileInfo) byte {
	switch {
	case fi.IsDir():
		return 'd'
	case fi.Mode()&fs.ModeSymlink != 0:
		return 'l'
	case fi.Mode().IsRegular():
		return 'f'
	}
	return '?'
}

func (c *Cache) mark(key string, r *Report) error {
	var b strings.Builder
	for _, p := range r.Problems {
		fmt.Fprintln(&b, p.String())
	}
	if err := c.root.WriteFile(objPath(key, "damaged"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("mark %s damaged: %w", key, err)
	}
	r.Marked = true
	return nil
}

// Entry describes an object for List.
//
// Its JSON is an `objects` element of kheaders.cache/v1 (cache ls)
// (docs/json.md): a stable schema, fields are only added within v1.
type Entry struct {
	Key      string    `json:"key"`
	Dir      string    `json:"dir"`
	Kind     string    `json:"kind,omitempty"`
	Release  string    `json:"release,omitempty"`
	Origin   string    `json:"origin,omitempty"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used"`
	Files    int       `json:"files"`
	Bytes    int64     `json:"bytes"`
	State    string    `json:"state"` // "ok", "damaged", "incomplete", "unsafe"
}

// List returns every object, sorted by key.
func (c *Cache) List() ([]Entry, error) {
	des, err := fs.ReadDir(c.root.FS(), "objects")
	if err != nil {
		return nil, fmt.Errorf("list cache: %w", err)
	}
	var out []Entry
	for _, d := range des {
		key := d.Name()
		if !validKey(key) {
			continue
		}
		e := Entry{Key: key, Dir: filepath.Join(c.dir, objPath(key, "headers")), State: "ok"}
		if fi, err := c.root.Lstat(objPath(key)); err == nil {
			e.LastUsed = fi.ModTime().UTC()
		}
		switch _, err := c.checkObject(key); {
		case err == nil:
		case errors.Is(err, ErrUnsafe):
			e.State = "unsafe"
		case errors.Is(err, ErrDamaged):
			e.State = "damaged"
		default:
			e.State = "incomplete"
		}
		if m, err := c.readManifest(key); err == nil {
			e.Kind, e.Release, e.Origin, e.Created, e.Files, e.Bytes = m.Kind, m.Release, m.Origin, m.Created, m.Files, m.Bytes
		} else if e.State == "ok" {
			e.State = "incomplete"
		}
		out = append(out, e)
	}
	return out, nil
}

// Remove deletes object KEY (under the lock). Errors wrap ErrNotFound or
// ErrKey.
func (c *Cache) Remove(key string) error {
	if !validKey(key) {
		return fmt.Errorf("remove %q: %w", key, ErrKey)
	}
	unlock, err := c.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := c.root.Lstat(objPath(key)); err != nil {
		return fmt.Errorf("remove %s: %w", key, ErrNotFound)
	}
	return c.discard(objPath(key))
}

// GCResult reports what GC removed.
//
// Its JSON is the `gc` object of kheaders.cache/v1 (cache gc) (docs/json.md):
// a stable schema, fields are only added within v1.
type GCResult struct {
	Removed []string `json:"removed"` // object keys
	Temp    int      `json:"temp"`    // leftover temporary directories
	Keys    int      `json:"keys"`    // identity entries pointing nowhere
}

// GC removes objects not used for olderThan (0: keep all objects),
// damaged or incomplete objects, leftover temporary directories and
// identity entries whose object is gone. It holds the lock, so no
// extraction is in progress while it runs.
func (c *Cache) GC(olderThan time.Duration) (*GCResult, error) {
	unlock, err := c.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	res := &GCResult{Removed: []string{}}
	ents, err := c.List()
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		old := olderThan > 0 && time.Since(e.LastUsed) > olderThan
		if e.State != "ok" || old {
			if err := c.discard(objPath(e.Key)); err != nil {
				return res, err
			}
			res.Removed = append(res.Removed, e.Key)
		}
	}
	tmps, _ := fs.ReadDir(c.root.FS(), "tmp")
	for _, t := range tmps {
		if err := c.root.RemoveAll(path.Join("tmp", t.Name())); err == nil {
			res.Temp++
		}
	}
	keys, _ := fs.ReadDir(c.root.FS(), "keys")
	for _, k := range keys {
		name := path.Join("keys", k.Name())
		b, err := c.root.ReadFile(name)
		key, _ := parseIDEntry(b)
		if err == nil && validKey(key) {
			if _, err = c.checkObject(key); err == nil {
				continue
			}
		}
		if c.root.Remove(name) == nil {
			res.Keys++
		}
	}
	return res, nil
}
