// Package pack builds the kernel's in-kernel header archive
// (kheaders_data.tar.xz, /sys/kernel/kheaders.tar.xz) from a kernel source
// tree and its build tree, the way the packed version's
// kernel/gen_kheaders.sh does: the same files, the same GNU tar layout and
// (with the xz program and StripKbuild) the same bytes, in a fraction of the
// time. By default comments are removed by a C lexer that keeps the
// preprocessing-token stream intact, instead of Kbuild's regex.
package pack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/kheaders/kheaders/internal/codec"
	"github.com/kheaders/kheaders/internal/cstrip"
	"github.com/kheaders/kheaders/internal/karch"

	"github.com/kheaders/kheaders/internal/output"
)

// Sentinel errors.
var (
	// ErrNotKernelTree: the source tree has no kernel Makefile.
	ErrNotKernelTree = errors.New("not a kernel source tree")
	// ErrUnprepared: the build tree lacks generated headers.
	ErrUnprepared = errors.New("kernel build tree not prepared")
	// ErrUnreadable: a file of the tree cannot be read.
	ErrUnreadable = errors.New("cannot read kernel tree")
	// ErrBadTimestamp: KBUILD_BUILD_TIMESTAMP is in a form not understood.
	ErrBadTimestamp = errors.New("cannot parse timestamp")
	// ErrBadVersion: a version string is malformed.
	ErrBadVersion = errors.New("bad kernel version")
	// ErrNoArch: SRCARCH was not given and cannot be derived.
	ErrNoArch = errors.New("cannot tell the kernel architecture (SRCARCH)")
	// ErrOutput: the output cannot be written.
	ErrOutput = errors.New("cannot write output")
)

// Strip is a comment-stripping mode.
type Strip string

// Stripping modes.
const (
	StripDefault Strip = "default" // C lexer (internal/cstrip.Strip)
	StripKbuild  Strip = "kbuild"  // Kbuild's perl regex, byte-identical
	StripNone    Strip = "none"    // headers as they are
)

// Compress is the archive compression.
type Compress string

// Compressions.
const (
	CompressXZ   Compress = "xz"
	CompressZstd Compress = "zstd"
	CompressNone Compress = "none"
)

// XZMode picks the xz encoder.
type XZMode string

// The xz encoders.
const (
	XZAuto XZMode = "auto" // the xz program when it can be found, else pure Go
	XZExec XZMode = "exec" // the xz program (Kbuild's $XZ), failing when it is missing
	XZGo   XZMode = "go"   // the pure-Go encoder
)

// XZOptions configure the xz encoder. The zero value gives Kbuild's xz.
type XZOptions struct {
	// Mode picks the encoder; "" means XZAuto.
	Mode XZMode
	// Command is the xz command line ($XZ), split on blanks like GNU
	// tar's -I does; "" means "xz". It is run with no further options, so
	// the output is byte-identical to Kbuild's with the same xz, unless
	// Threads asks for more.
	Command string
	// Threads > 1 runs xz with "-T N" and N blocks (exec only; the output
	// then differs from Kbuild's single-threaded stream).
	Threads int
	// Env is the environment of the xz process (nil: the current one).
	Env []string
}

// encode returns the encoder options for a tar of sizeHint bytes.
func (x XZOptions) encode(sizeHint int64) codec.EncodeOptions {
	return codec.EncodeOptions{XZMode: codec.XZMode(x.Mode), XZCommand: x.Command, XZThreads: x.Threads, SizeHint: sizeHint, Env: x.Env}
}

// Options say what to pack and how. The zero value packs the current
// directory as an in-tree build with the default stripping and xz.
type Options struct {
	// ObjTree is the build (object) tree, the directory Kbuild runs
	// gen_kheaders.sh in; "" means ".".
	ObjTree string
	// SrcTree is the source tree; "" means ObjTree/source when that exists
	// (out-of-tree builds made with O=), else ObjTree.
	SrcTree string
	// SRCARCH is the arch directory name (x86, arm64, ...); "" derives it
	// from the build tree (arch/*/include/generated, then .config).
	SRCARCH string
	// Version overrides the kernel version read from SrcTree/Makefile
	// ("6.12" or "6.12.117"); it selects the era's file set and layout.
	Version string
	// SrcList and ObjList are Kbuild 6.17+'s kheaders-srclist and
	// kheaders-objlist files; empty means compute the same lists.
	SrcList, ObjList string
	// SrcTreeArg is the $srctree text used in SrcList lines when it differs
	// from SrcTree (e.g. relative); it is trimmed from them.
	SrcTreeArg string

	Strip Strip // "" means StripDefault
	// KeepLines keeps the line structure in StripDefault mode (see
	// cstrip.Options).
	KeepLines bool

	// Timestamp is KBUILD_BUILD_TIMESTAMP: every member's mtime, in a form
	// GNU tar's --mtime reads ("@SECONDS", date -R, date(1)'s default
	// output, "2006-01-02 15:04:05 [-0700]", RFC 3339, "2006-01-02"; an
	// unknown form is ErrBadTimestamp). Empty means the build time (Now),
	// for every member.
	Timestamp string
	// Now returns the build time; nil means time.Now.
	Now func() time.Time
	// Location is the zone for timestamps without one; nil means Local.
	Location *time.Location

	Compress Compress // "" means CompressXZ
	// XZ configures the xz encoder (mode, $XZ command, threads).
	XZ XZOptions

	// Jobs is the number of files processed at once; 0 means GOMAXPROCS.
	Jobs int
	// Logger receives decisions (Debug) and degraded paths (Warn).
	Logger *slog.Logger
	// Progress is called with the number of files read and stripped.
	Progress func(done, total int)
}

// Stats describes a packed archive.
//
// Its JSON is the body of kheaders.pack/v1 (docs/json.md): a stable schema,
// fields are only added within v1.
type Stats struct {
	Version      string   `json:"version"`
	SRCARCH      string   `json:"srcarch"`
	SrcTree      string   `json:"srctree"`
	ObjTree      string   `json:"objtree"`
	Strip        Strip    `json:"strip"`
	Compress     Compress `json:"compress"`
	Compressor   string   `json:"compressor"` // "xz (exec: /usr/bin/xz)", "xz (go)", "zstd (go)", "none"
	Mtime        int64    `json:"mtime"`
	Files        int      `json:"files"`
	Symlinks     int      `json:"symlinks"`
	Dirs         int      `json:"dirs"`
	Members      int      `json:"members"`
	BytesIn      int64    `json:"bytes_before_strip"`
	BytesOut     int64    `json:"bytes_after_strip"`
	TarBytes     int64    `json:"tar_bytes"`
	ArchiveBytes int64    `json:"archive_bytes"`
	SHA256       string   `json:"sha256"`
	Seconds      float64  `json:"seconds"`
}

func (o *Options) objTree() string {
	if o.ObjTree == "" {
		return "."
	}
	return o.ObjTree
}

func (o *Options) srcTree() string {
	if o.SrcTree != "" {
		return o.SrcTree
	}
	return o.objTree()
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// resolve fills defaults, checks the trees and returns the version.
func (o *Options) resolve() (kernelVersion, error) {
	log := o.logger()
	if o.SrcTree == "" {
		src := filepath.Join(o.objTree(), "source")
		if fi, err := os.Stat(filepath.Join(src, "Makefile")); err == nil && fi.Mode().IsRegular() {
			o.SrcTree = src
			if t, err := filepath.EvalSymlinks(src); err == nil {
				o.SrcTree = t
			}
			log.Debug("source tree from the build tree's source link", "srctree", o.SrcTree)
		}
	}
	var v kernelVersion
	var err error
	if o.Version != "" {
		v, err = parseVersion(o.Version)
	} else {
		v, err = readVersion(o.srcTree())
		if err != nil {
			err = fmt.Errorf("%w (give the kernel source tree with --src, or the build tree of an O= build that has a source link)", err)
		}
	}
	if err != nil {
		return v, err
	}
	if v.atLeast(5, 3) {
		need := filepath.Join(o.objTree(), "include", "generated", "autoconf.h")
		if _, err := os.Stat(need); err != nil {
			return v, fmt.Errorf("%w: %s is missing: run 'make prepare' (with the same O=, ARCH=) in the kernel tree first", ErrUnprepared, need)
		}
	}
	if o.SRCARCH == "" {
		a, err := deriveArch(o.objTree())
		if err != nil {
			return v, err
		}
		o.SRCARCH = a
		log.Debug("SRCARCH derived from the build tree", "srcarch", a)
	}
	if strings.ContainsAny(o.SRCARCH, "/ ") || o.SRCARCH == "." || o.SRCARCH == ".." {
		return v, fmt.Errorf("%w: bad SRCARCH %q", ErrNoArch, o.SRCARCH)
	}
	if _, err := os.Stat(filepath.Join(o.srcTree(), "arch", o.SRCARCH, "include")); err != nil && v.atLeast(5, 3) {
		return v, fmt.Errorf("%w: %s has no arch/%s/include (is SRCARCH right? it is the arch/ directory name, e.g. x86 for x86_64)", ErrNotKernelTree, o.srcTree(), o.SRCARCH)
	}
	return v, nil
}

// deriveArch finds SRCARCH in a prepared build tree: the one
// arch/*/include/generated directory, else the "# Linux/ARCH" line of .config.
func deriveArch(obj string) (string, error) {
	m, _ := filepath.Glob(filepath.Join(obj, "arch", "*", "include", "generated"))
	if len(m) == 1 {
		return filepath.Base(filepath.Dir(filepath.Dir(m[0]))), nil
	}
	if data, err := os.ReadFile(filepath.Join(obj, ".config")); err == nil {
		for _, l := range strings.SplitN(string(data), "\n", 6) {
			if rest, ok := strings.CutPrefix(l, "# Linux/"); ok {
				a, _, _ := strings.Cut(rest, " ")
				a = karch.SrcArch(a) // the ARCH= of the build (x86_64, i386, arm64 ...)
				if _, err := os.Stat(filepath.Join(obj, "arch", a)); err == nil || len(m) == 0 {
					return a, nil
				}
			}
		}
	}
	return "", fmt.Errorf("%w from %s (found %d arch/*/include/generated directories and no usable .config): give --arch (Kbuild's SRCARCH, e.g. x86, arm64)", ErrNoArch, obj, len(m))
}

// mtime returns the member mtime in seconds.
func (o *Options) mtime() (int64, error) {
	if o.Timestamp == "" {
		now := time.Now
		if o.Now != nil {
			now = o.Now
		}
		return now().Unix(), nil
	}
	t, err := parseTimestamp(o.Timestamp, o.Location)
	if err != nil {
		return 0, err
	}
	if t.Unix() < 0 {
		return 0, fmt.Errorf("%w: %q is before 1970", ErrBadTimestamp, o.Timestamp)
	}
	return t.Unix(), nil
}

// plan is the resolved work for one archive.
type plan struct {
	v       kernelVersion
	e       era
	files   []file
	members []member
	mtime   int64
}

func (o *Options) plan() (*plan, error) {
	v, err := o.resolve()
	if err != nil {
		return nil, err
	}
	mt, err := o.mtime()
	if err != nil {
		return nil, err
	}
	e := eraOf(v)
	files, err := selectFiles(o, v, e)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no headers under %s/include or arch/%s/include", ErrNotKernelTree, o.srcTree(), o.SRCARCH)
	}
	o.logger().Debug("selected files", "version", v, "files", len(files), "full_path_sort", e.pathSort, "mode_normalized", e.normMode)
	return &plan{v: v, e: e, files: files, members: order(files, e.pathSort), mtime: mt}, nil
}

func (o *Options) stripper() func([]byte) []byte {
	switch o.Strip {
	case StripKbuild:
		return cstrip.Kbuild
	case StripNone:
		return nil
	default:
		opt := cstrip.Options{KeepLines: o.KeepLines}
		return opt.Strip
	}
}

// contents reads and strips the plan's regular files in parallel. The
// results come back by index; done[i] is closed when content[i] is ready.
type contents struct {
	data [][]byte
	errs []error
	done []chan struct{}
}

func (o *Options) readAll(ctx context.Context, p *plan) *contents {
	n := len(p.files)
	c := &contents{data: make([][]byte, n), errs: make([]error, n), done: make([]chan struct{}, n)}
	for i := range c.done {
		c.done[i] = make(chan struct{})
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = runtime.GOMAXPROCS(0)
	}
	strip := o.stripper()
	idx := make(chan int, n)
	for i := range n {
		idx <- i
	}
	close(idx)
	var mu sync.Mutex
	done := 0
	for range jobs {
		go func() {
			for i := range idx {
				f := &p.files[i]
				if f.mode&fs.ModeSymlink == 0 && ctx.Err() == nil {
					data, err := os.ReadFile(f.abs)
					if err != nil {
						c.errs[i] = fmt.Errorf("%w: %v (check its permissions)", ErrUnreadable, err)
					} else {
						f.size = int64(len(data))
						if strip != nil {
							data = strip(data)
						}
						c.data[i] = data
					}
				}
				close(c.done[i])
				if o.Progress != nil {
					mu.Lock()
					done++
					o.Progress(done, n)
					mu.Unlock()
				}
			}
		}()
	}
	return c
}

// Write packs the archive into w and returns its statistics. It returns
// ErrNotKernelTree, ErrUnprepared, ErrUnreadable, ErrBadTimestamp,
// ErrBadVersion or ErrNoArch for bad input.
func Write(ctx context.Context, o Options, w io.Writer) (*Stats, error) {
	start := time.Now()
	p, err := o.plan()
	if err != nil {
		return nil, err
	}
	c := o.readAll(ctx, p)
	index := make(map[*file]int, len(p.files))
	for i := range p.files {
		index[&p.files[i]] = i
	}
	// Wait for everything before compressing: the tar size is then known
	// (block-split xz needs it) and no partial archive reaches w on error.
	var tarSize int64 = 0
	for i := range p.files {
		<-c.done[i]
		if c.errs[i] != nil {
			return nil, c.errs[i]
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := &Stats{Version: p.v.String(), SRCARCH: o.SRCARCH, SrcTree: o.srcTree(), ObjTree: o.objTree(),
		Strip: o.Strip, Compress: o.Compress, Mtime: p.mtime, Members: len(p.members)}
	if st.Strip == "" {
		st.Strip = StripDefault
	}
	if st.Compress == "" {
		st.Compress = CompressXZ
	}
	for _, m := range p.members {
		var link string
		var size int64
		if m.f != nil {
			link, size = m.f.link, int64(len(c.data[index[m.f]]))
		}
		tarSize += entrySize(m.name, link, size)
	}
	tarSize = archiveSize(tarSize)

	hash := sha256.New()
	// Through ContextWriter: an interrupt stops the tar and the
	// compressor (pure Go xz and zstd, or none, never look at ctx) at
	// their next output, and the error below is ctx's.
	counted := &countWriter{w: io.MultiWriter(output.ContextWriter(ctx, w), hash)}
	var sink io.Writer = counted
	var cw io.WriteCloser
	switch st.Compress {
	case CompressXZ:
		xo := o.XZ.encode(tarSize)
		cw, err = codec.NewWriter(ctx, codec.XZ, counted, xo)
		if argv, ok := xo.XZArgv(); ok && xo.XZMode != codec.XZGo {
			st.Compressor = "xz (exec: " + strings.Join(argv, " ") + ")"
		} else {
			st.Compressor = "xz (go)"
		}
	case CompressZstd:
		cw, err = codec.NewWriter(ctx, codec.Zstd, counted, o.XZ.encode(tarSize))
		st.Compressor = "zstd (go)"
	case CompressNone:
		st.Compressor = "none"
	default:
		return nil, fmt.Errorf("unknown compression %q (want xz, zstd or none)", o.Compress)
	}
	if err != nil {
		return nil, err
	}
	if cw != nil {
		sink = cw
	}
	tw := newTarWriter(sink)
	for _, m := range p.members {
		switch {
		case m.dir:
			st.Dirs++
			tw.entry(m.name, 0o755, p.mtime, '5', "", nil)
		case m.f.mode&fs.ModeSymlink != 0:
			st.Symlinks++
			mode := int64(0o777)
			if p.e.normMode {
				mode = 0o644
			}
			tw.entry(m.name, mode, p.mtime, '2', m.f.link, nil)
		default:
			i := index[m.f]
			st.Files++
			st.BytesIn += m.f.size
			st.BytesOut += int64(len(c.data[i]))
			mode := int64(m.f.mode.Perm())
			if p.e.normMode {
				mode = 0o644
			}
			tw.entry(m.name, mode, p.mtime, '0', "", c.data[i])
		}
	}
	err = tw.close()
	st.TarBytes = tw.n
	if err == nil && tw.n != tarSize {
		o.logger().Warn("tar size differs from the planned size given to the compressor (a kheaders bug)", "tar", tw.n, "planned", tarSize)
	}
	if cw != nil {
		if cerr := cw.Close(); err == nil {
			err = cerr
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrOutput, err)
	}
	st.ArchiveBytes = counted.n
	st.SHA256 = hex.EncodeToString(hash.Sum(nil))
	st.Seconds = time.Since(start).Seconds()
	return st, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WriteFile packs the archive into the file out through internal/output:
// a regular file or missing path is written to a temporary file in out's
// directory and renamed over out only when complete (nothing is left on
// error); a device or FIFO is written through; a symlink is followed, never
// replaced. The directory must exist (ErrOutput otherwise).
func WriteFile(ctx context.Context, o Options, out string) (*Stats, error) {
	dir := filepath.Dir(out)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%w: output directory %s does not exist (create it first)", ErrOutput, dir)
	}
	var st *Stats
	var werr error
	err := output.WriteFile(out, 0o644, nil, func(w io.Writer) error {
		st, werr = Write(ctx, o, w)
		return werr
	})
	if werr != nil {
		return nil, werr
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOutput, err)
	}
	return st, nil
}
