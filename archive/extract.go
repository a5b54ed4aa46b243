package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kheaders/kheaders/internal/xz"
)

// Extract decodes the archive read from r (xz, zstd, gzip or plain tar,
// detected from the magic) and extracts it into dir, which must not exist.
// It extracts into a temporary sibling directory and renames it to dir at
// the end, so dir appears complete or not at all: on error nothing is left.
//
// An xz archive already in memory is best passed as a *bytes.Buffer: it is
// then decoded where it is, without being copied first (its bytes must not
// change until Extract returns); any other reader is read to its end.
// Inspect, Load and ExtractRoot do the same.
//
// Errors wrap ErrExist (dir exists), ErrFormat, ErrUnsafe,
// ErrUnsupportedEntry, ErrLimit, a context error, or an I/O error.
func Extract(ctx context.Context, r io.Reader, dir string, opts *Options) (*Manifest, error) {
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("extract archive into %s: %w; remove it or pick a new directory", dir, ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("extract archive into %s: %w", dir, err)
	}
	parent, base := filepath.Split(filepath.Clean(dir))
	if parent == "" {
		parent = "."
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("extract archive into %s: %w", dir, err)
	}
	m, err := extractTmp(ctx, r, tmp, dir, opts)
	if err != nil {
		if rerr := os.RemoveAll(tmp); rerr != nil {
			opts.logger().Warn("could not remove temporary directory", "dir", tmp, "err", rerr)
		}
		return nil, err
	}
	return m, nil
}

func extractTmp(ctx context.Context, r io.Reader, tmp, dir string, opts *Options) (*Manifest, error) {
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return nil, fmt.Errorf("extract archive into %s: %w", dir, err)
	}
	m, err := ExtractRoot(ctx, r, root, opts)
	if cerr := root.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("extract archive into %s: %w", dir, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("extract archive into %s: %w", dir, err)
	}
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("extract archive into %s: %w (created while extracting)", dir, ErrExist)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("extract archive into %s: %w", dir, err)
	}
	return m, nil
}

// ExtractRoot extracts the archive read from r into root, which must be an
// empty directory. It is for callers that manage their own temporary
// directory and rename (the cache). On error, root holds a partial tree that
// the caller removes.
//
// Errors are those of Extract.
func ExtractRoot(ctx context.Context, r io.Reader, root *os.Root, opts *Options) (*Manifest, error) {
	if err := checkEmpty(root); err != nil {
		return nil, err
	}
	s, err := openStream(r, opts)
	if err != nil {
		return nil, err
	}
	defer s.close()
	x := newExtractor(ctx, root, opts)
	if d, ok := s.dec.(*xz.Buffer); ok {
		x.buf = d
	}
	w := newWalker(opts)
	w.alloc = x.alloc
	defer x.releaseDirs()
	err = w.run(x.ctx, s, x.visit)
	werr := x.wait()
	if werr != nil && (err == nil || ctx.Err() == nil && errors.Is(err, context.Canceled)) {
		// The walk stopped because a writer failed: report the writer's error.
		err = werr
	}
	if err != nil {
		return nil, err
	}
	if err := x.finishDirs(w.m); err != nil {
		return nil, err
	}
	for _, j := range x.jobs {
		w.m.Entries[j.idx].SHA256 = j.sum
	}
	w.m.Format = s.format
	w.m.ArchiveSize = s.raw.n
	w.m.ArchiveSHA256 = s.sum()
	if opts != nil && opts.Progress != nil {
		opts.Progress(s.raw.n, s.raw.n)
	}
	opts.logger().Debug("extracted archive", "entries", len(w.m.Entries), "files", w.m.Files, "bytes", w.m.Bytes, "release", w.m.Release)
	return w.m, nil
}

func checkEmpty(root *os.Root) error {
	f, err := root.Open(".")
	if err != nil {
		return fmt.Errorf("open extraction root: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && err != io.EOF {
		return fmt.Errorf("read extraction root: %w", err)
	}
	if len(names) > 0 {
		return fmt.Errorf("extraction root %s is not empty (has %q): %w", root.Name(), names[0], ErrExist)
	}
	return nil
}

// dirHandle is an open directory of the tree, shared by the jobs writing
// into it, closed by the last one to let go of it. Files are created with
// one openat relative to it instead of walking their whole path.
type dirHandle struct {
	d    dirFile
	refs atomic.Int32
}

func (h *dirHandle) release() {
	if h.refs.Add(-1) == 0 {
		h.d.close()
	}
}

// slab is a chunk of memory that small files' data is carved from, reused
// once every file in it has been written (fresh memory costs page faults
// and zeroing; the decoder would otherwise allocate the whole tree).
type slab struct {
	buf  []byte
	used int
	refs atomic.Int32
	pool *sync.Pool
}

const (
	slabSize  = 1 << 20
	slabLimit = 128 << 10 // files larger than this get their own buffer
)

func (s *slab) release() {
	if s.refs.Add(-1) == 0 {
		s.used = 0
		s.pool.Put(s)
	}
}

// alloc returns the buffer for a file of n bytes, from the current slab
// when small; the slab is remembered for the job visit creates next.
func (x *extractor) alloc(n int) []byte {
	x.last = nil
	if n > slabLimit {
		return make([]byte, n)
	}
	if x.slab != nil && len(x.slab.buf)-x.slab.used < n {
		x.slab.release()
		x.slab = nil
	}
	if x.slab == nil {
		s, _ := x.slabs.Get().(*slab)
		if s == nil {
			s = &slab{buf: make([]byte, slabSize), pool: &x.slabs}
		}
		s.refs.Store(1)
		x.slab = s
	}
	b := x.slab.buf[x.slab.used : x.slab.used+n : x.slab.used+n]
	x.slab.used += n
	x.slab.refs.Add(1)
	x.last = x.slab
	return b
}

// job is one file for the writers.
type job struct {
	idx  int
	dir  *dirHandle
	slab *slab  // holding data, or nil
	base string // name within dir
	name string
	mode fs.FileMode
	mt   time.Time
	data []byte
	sum  string // set by the writer
}

// extractor creates directories and symlinks itself (in archive order) and
// hands files to writer goroutines, with a bound on the bytes in flight.
type extractor struct {
	ctx     context.Context
	cancel  context.CancelCauseFunc
	root    *os.Root
	modTime bool
	hash    bool
	dirs    map[string]bool       // created so far
	handles map[string]*dirHandle // open directories, by name (one reference each)
	maxDirs int                   // bound on len(handles)
	slabs   sync.Pool             // of *slab
	slab    *slab                 // being carved
	last    *slab                 // slab of the latest alloc
	jobs    []*job
	ch      chan *batch
	batch   []*job // jobs not yet handed to the writers
	bbytes  int
	wg      sync.WaitGroup
	// buf, when the archive is decoded into one xz.Buffer, is given back
	// the memory of the decoded bytes whose files are written.
	buf *xz.Buffer

	mu       sync.Mutex
	cond     *sync.Cond
	inflight int64
	err      error
	queue    []*batch // handed to the writers and not all done before them, in order
}

// batch is jobs handed to the writers at once; off is the reader's
// offset in buf when they were: the decoded bytes before it hold only
// tar headers and the data of this batch's jobs and of earlier ones.
type batch struct {
	jobs []*job
	off  int
	done bool
}

const maxInflight = 8 << 20

func newExtractor(ctx context.Context, root *os.Root, opts *Options) *extractor {
	n := runtime.GOMAXPROCS(0)
	if opts != nil && opts.Workers > 0 {
		n = opts.Workers
	}
	n = max(n, 2)
	cctx, cancel := context.WithCancelCause(ctx)
	x := &extractor{
		ctx:     cctx,
		cancel:  cancel,
		root:    root,
		modTime: opts == nil || !opts.NoModTime,
		hash:    opts == nil || !opts.NoHash,
		dirs:    map[string]bool{".": true},
		handles: map[string]*dirHandle{},
		maxDirs: max(openDirLimit(), 1),
		ch:      make(chan *batch, 64),
	}
	x.cond = sync.NewCond(&x.mu)
	for range n {
		x.wg.Add(1)
		go x.writer()
	}
	return x
}

func (x *extractor) fail(err error) {
	x.mu.Lock()
	if x.err == nil {
		x.err = err
		x.cancel(err)
	}
	x.cond.Broadcast()
	x.mu.Unlock()
}

func (x *extractor) writer() {
	defer x.wg.Done()
	for b := range x.ch {
		var done int64
		for _, j := range b.jobs {
			x.mu.Lock()
			failed := x.err != nil
			x.mu.Unlock()
			if !failed {
				if err := x.write(j); err != nil {
					x.fail(err)
				}
			}
			j.dir.release()
			done += int64(len(j.data))
			if j.slab != nil {
				j.slab.release()
			}
			j.data, j.dir, j.slab = nil, nil, nil
		}
		x.mu.Lock()
		x.inflight -= done
		x.cond.Broadcast()
		b.done = true
		rel := -1
		for len(x.queue) > 0 && x.queue[0].done {
			rel = x.queue[0].off
			x.queue[0] = nil
			x.queue = x.queue[1:]
		}
		x.mu.Unlock()
		if rel > 0 {
			// Every job before rel is written: its data is no longer needed.
			x.buf.Release(rel)
		}
	}
}

// Jobs go to the writers in batches, to keep goroutine hand-offs (and the
// thread wake-ups behind them) well below one per file.
const (
	batchFiles = 64
	batchBytes = 1 << 20
)

func (x *extractor) flush() {
	if len(x.batch) > 0 {
		b := &batch{jobs: x.batch}
		if x.buf != nil {
			b.off = x.buf.Offset()
			x.mu.Lock()
			x.queue = append(x.queue, b)
			x.mu.Unlock()
		}
		x.ch <- b
		x.batch, x.bbytes = nil, 0
	}
}

func (x *extractor) write(j *job) error {
	if x.hash {
		sum := sha256.Sum256(j.data)
		j.sum = hex.EncodeToString(sum[:])
	}
	return j.dir.d.create(j.name, j.base, j.mode, j.data, j.mt, x.modTime)
}

// mkdirs makes sure directory d exists (creating missing parents 0755).
func (x *extractor) mkdirs(d string) error {
	if x.dirs[d] {
		return nil
	}
	return x.mkdir(d, 0o755)
}

// mkdir creates directory d with perm (and its missing parents 0755)
// relative to its parent's open handle, and keeps it open for the files
// and subdirectories that follow.
func (x *extractor) mkdir(d string, perm fs.FileMode) error {
	parent := path.Dir(d)
	if err := x.mkdirs(parent); err != nil {
		return err
	}
	ph, err := x.dirFor(parent)
	if err != nil {
		return err
	}
	df, err := ph.d.mkdirOpen(d, path.Base(d), perm)
	if err != nil {
		return fmt.Errorf("create directory %s: %w", d, err)
	}
	x.dirs[d] = true
	if len(x.handles) >= x.maxDirs {
		df.close()
		return nil
	}
	h := &dirHandle{d: df}
	h.refs.Store(1)
	x.handles[d] = h
	return nil
}

func (x *extractor) visit(idx int, e *Entry, data []byte) error {
	if err := x.mkdirs(path.Dir(e.Name)); err != nil {
		return err
	}
	switch e.Type {
	case 'd':
		if x.dirs[e.Name] {
			return nil
		}
		if err := x.mkdir(e.Name, e.Mode|0o700); err != nil {
			return err
		}
	case 'l':
		if err := x.root.Symlink(e.Target, e.Name); err != nil {
			return fmt.Errorf("create symlink %s: %w", e.Name, err)
		}
	case 'f':
		h, err := x.dirFor(path.Dir(e.Name))
		if err != nil {
			return err
		}
		h.refs.Add(1)
		j := &job{idx: idx, dir: h, slab: x.last, base: path.Base(e.Name), name: e.Name, mode: e.Mode, mt: e.ModTime, data: data}
		x.last = nil
		x.mu.Lock()
		for x.inflight > 0 && x.inflight+int64(len(data)) > maxInflight && x.err == nil {
			x.cond.Wait()
		}
		err = x.err
		x.inflight += int64(len(data))
		x.mu.Unlock()
		if err != nil {
			h.release()
			if j.slab != nil {
				j.slab.release()
			}
			return err
		}
		x.jobs = append(x.jobs, j)
		x.batch = append(x.batch, j)
		x.bbytes += len(data)
		if len(x.batch) >= batchFiles || x.bbytes >= batchBytes {
			x.flush()
		}
	}
	return nil
}

// maxOpenDirs bounds the directories kept open during an extraction
// (kernel header archives have about 350; a tree with more is extracted
// with the handles dropped and reopened as needed); openDirLimit lowers it
// under a small descriptor limit.
const maxOpenDirs = 1024

// dirFor returns the handle of directory d. Handles stay open until the
// end of the extraction: Kbuild's archives are sorted by name, so files of
// one directory come interleaved with its subdirectories, and finishDirs
// sets the directories' times through them.
func (x *extractor) dirFor(d string) (*dirHandle, error) {
	if h := x.handles[d]; h != nil {
		return h, nil
	}
	if len(x.handles) >= x.maxDirs {
		x.releaseDirs()
	}
	df, err := openDir(x.root, d)
	if err != nil {
		return nil, fmt.Errorf("open directory %s: %w", d, err)
	}
	h := &dirHandle{d: df}
	h.refs.Store(1)
	x.handles[d] = h
	return h, nil
}

// releaseDirs drops the extractor's references to the open directories.
func (x *extractor) releaseDirs() {
	for d, h := range x.handles {
		h.release()
		delete(x.handles, d)
	}
}

// wait stops the writers and returns the first write error.
func (x *extractor) wait() error {
	x.flush()
	close(x.ch)
	x.wg.Wait()
	x.cancel(nil)
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.err
}

// finishDirs applies directory modes and modification times, deepest
// first, after all files are in place.
func (x *extractor) finishDirs(m *Manifest) error {
	for i := len(m.Entries) - 1; i >= 0; i-- {
		e := &m.Entries[i]
		if e.Type != 'd' {
			continue
		}
		if e.Mode&0o700 != 0o700 {
			if err := x.root.Chmod(e.Name, e.Mode); err != nil {
				return fmt.Errorf("set mode of %s: %w", e.Name, err)
			}
		}
		if x.modTime {
			var err error
			if h := x.handles[e.Name]; h != nil {
				err = h.d.setTime(e.ModTime)
			} else {
				err = x.root.Chtimes(e.Name, e.ModTime, e.ModTime)
			}
			if err != nil {
				return fmt.Errorf("set mtime of %s: %w", e.Name, err)
			}
		}
	}
	return nil
}
