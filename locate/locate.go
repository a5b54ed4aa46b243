package locate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kheaders/kheaders/archive"
	"github.com/kheaders/kheaders/btfc"
	"github.com/kheaders/kheaders/cache"
	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/karch"
)

var (
	// ErrNotFound: no source gave headers (the error is an *Error listing
	// every attempt and its fix).
	ErrNotFound = errors.New("no kernel headers found for the running kernel")
	// ErrMismatch: headers were found but none matched the running kernel
	// (the error is an *Error; its attempts name the first differences).
	ErrMismatch = errors.New("kernel headers found do not match the running kernel")
	// ErrUnusable: the explicit source (Options.Override) cannot be used:
	// it cannot be read, is not a kernel artifact, is corrupt, or the cache
	// failed (the error is an *Error; its one attempt says why).
	ErrUnusable = errors.New("the headers named by --source or " + EnvSource + " cannot be used")
	// ErrDenied: nothing matched and a source that has the headers could
	// not be read for lack of permission (a remote target's sysfs archive
	// under Android's SELinux): an error to fix (the attempt says how),
	// not "not found" (the error is an *Error).
	ErrDenied = errors.New("the kernel headers exist but may not be read")
	// ErrTransfer: nothing matched and reading a remote target's archive
	// or BTF failed on the way (the link dropped, the target hung, the
	// answer was cut short): an error to retry, not "not found" (the error
	// is an *Error whose failed attempt says what was read).
	ErrTransfer = errors.New("reading the kernel headers from the target failed")
)

// Outcome of one attempt.
const (
	OutcomeUsed     = "used"
	OutcomeSkipped  = "skipped"  // the source had nothing
	OutcomeFailed   = "failed"   // the source had something but reading it failed
	OutcomeRejected = "rejected" // headers found but verification refused them
)

// Attempt records what one source did.
//
// The JSON of Attempt, Check, EnvVar and Headers is the stable schema
// kheaders.locate/v1 (docs/json.md): the CLI prints these types as they
// are, so the Go API and the JSON cannot drift apart. Within v1 fields are
// only added; a tag is never renamed or removed (testdata/headers-v1.json
// pins them).
type Attempt struct {
	Source  string `json:"source"`
	Outcome string `json:"outcome"`
	Origin  string `json:"origin,omitempty"`
	Reason  string `json:"reason"`
	Fix     string `json:"fix,omitempty"`
}

// Headers are verified headers of the running kernel. Its JSON is the
// kheaders.locate/v1 schema (see Attempt).
type Headers struct {
	// Dir is the header tree (the source tree of a split layout).
	Dir string `json:"dir"`
	// BuildDir holds the generated headers (== Dir unless split).
	BuildDir string `json:"build_dir"`
	// FS is Dir as a file system.
	FS fs.FS `json:"-"`
	// Release and Machine are the running kernel's (uname -r, -m); Arch is
	// the kernel's SRCARCH (x86, arm64 ...).
	Release string `json:"release"`
	Machine string `json:"machine"`
	Arch    string `json:"arch"`
	Kind    Kind   `json:"kind"`
	// Source names the source used; Origin where its headers came from.
	Source string `json:"source"`
	Origin string `json:"origin"`
	// Key is the key of the cache object holding the headers (the
	// archive's sha256, or btfKey of the BTF's), whether this call made it
	// or found it; "" for a tree used in place. Cached says whether this
	// call extracted it (false) or found it (true).
	Key    string `json:"cache_key,omitempty"`
	Cached bool   `json:"cached"`
	// Verified is false only with Options.NoVerify and a mismatch.
	Verified bool      `json:"verified"`
	Checks   []Check   `json:"checks"`
	Attempts []Attempt `json:"attempts"`
	Warnings []string  `json:"warnings,omitempty"`
	// Target is set when the headers are a remote target's (Options.Target).
	Target *RemoteTarget `json:"target,omitempty"`

	trust string
	// passed is the fingerprint of a config check this call made and
	// passed (not one found recorded), with its symbol count.
	passed *fingerprint
	// pendingID is the candidate's identity, recorded in the cache once
	// the headers pass verification; created: this call made the object.
	pendingID string
	created   bool
	// source is the archive or BTF this call read for a target's object
	// (whose sha256 the key names, hashed once when it was read), handed
	// to extract/btf --target as it is: not read back from the cache and
	// hashed again.
	source []byte
	// gen is the vmlinux.h this call generated for a target's BTF object.
	gen *vmlinuxH
}

// GeneratedVMLinuxH returns the vmlinux.h this call generated, with
// btfc's default options, for the BTF object of a remote target it made
// (TargetBTF's cold call): btf --target writes it instead of generating
// it a second time. ok is false when the object was found, not made, or is
// not a target's BTF.
func (h *Headers) GeneratedVMLinuxH() (header []byte, st btfc.Stats, ok bool) {
	if h.gen == nil || h.gen.data == nil {
		return nil, btfc.Stats{}, false
	}
	return h.gen.data, h.gen.st, true
}

// Error is returned when no headers could be handed out.
type Error struct {
	Err      error // ErrNotFound, ErrMismatch, ErrDenied, ErrTransfer or ErrUnusable
	Release  string
	Attempts []Attempt
	// Cache is the cache error (wrapping cache.ErrUnsafe ...) that made
	// archive sources fail, if any.
	Cache error
	// Hints are alternatives outside the chain (e.g. BTF for CO-RE).
	Hints []string

	cause error // the explicit source's failure
}

// Unwrap gives Err and, when set, the cache error and the explicit
// source's failure.
func (e *Error) Unwrap() []error {
	errs := []error{e.Err}
	if e.Cache != nil {
		errs = append(errs, e.Cache)
	}
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	return errs
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v (release %s)", e.Err, e.Release)
	for _, a := range e.Attempts {
		fmt.Fprintf(&b, "\n  %-12s %-8s %s", a.Source, a.Outcome, a.Reason)
		if a.Fix != "" {
			fmt.Fprintf(&b, "\n  %-12s %-8s fix: %s", "", "", a.Fix)
		}
	}
	for _, h := range e.Hints {
		fmt.Fprintf(&b, "\n  hint: %s", h)
	}
	return b.String()
}

// newEnv returns the Env a source sees for opts (the running kernel's
// release, machine and arch under opts.HostRoot).
func newEnv(opts *Options) (*Env, error) {
	h := host.New(opts.HostRoot)
	rel, err := h.Release()
	if err != nil {
		return nil, fmt.Errorf("running kernel release: %w", err)
	}
	mach, err := h.Machine()
	if err != nil {
		return nil, fmt.Errorf("running kernel machine: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Env{Release: rel, Machine: mach, Arch: karch.SrcArch(mach), Logger: log, Options: opts, host: h}, nil
}

// chain returns the sources to try for opts: Options.Sources or the
// default chain, filtered by Only and Disable.
func chain(opts *Options) []Source {
	srcs := opts.Sources
	if srcs == nil {
		srcs = DefaultSources()
	}
	var out []Source
	for _, s := range srcs {
		if len(opts.Only) > 0 && !slices.Contains(opts.Only, s.Name()) {
			continue
		}
		if slices.Contains(opts.Disable, s.Name()) {
			continue
		}
		out = append(out, s)
	}
	return out
}

// Locate finds, verifies and (when they come from an archive) caches the
// headers of the running kernel. With Options.Override it uses those
// headers alone; otherwise it tries the chain of sources in order.
//
// Errors: *Error wrapping ErrNotFound, ErrMismatch, ErrDenied (a target whose archive may not be read), ErrTransfer (a target's transfer failed) or (explicit source
// only) ErrUnusable, and cache.ErrUnsafe when the cache was refused;
// context errors.
func Locate(ctx context.Context, opts *Options) (*Headers, error) {
	if opts == nil {
		opts = &Options{}
	}
	if opts.Target != "" {
		return locateTarget(ctx, opts)
	}
	env, err := newEnv(opts)
	if err != nil {
		return nil, err
	}
	l := &locator{env: env, opts: opts, log: env.Logger}
	defer l.close()
	return l.run(ctx)
}

type locator struct {
	env      *Env
	opts     *Options
	log      *slog.Logger
	cache    *cache.Cache
	cacheErr error
	attempts []Attempt
	kernel   *kernelFacts
}

func (l *locator) close() {
	if l.cache != nil {
		l.cache.Close()
	}
}

// openCache opens the cache once.
func (l *locator) openCache() (*cache.Cache, error) {
	if l.cache == nil && l.cacheErr == nil {
		l.cache, l.cacheErr = cache.Open(l.opts.CacheDir, &cache.Options{Logger: l.log})
	}
	return l.cache, l.cacheErr
}

func (l *locator) record(a Attempt) {
	l.attempts = append(l.attempts, a)
	switch a.Outcome {
	case OutcomeUsed:
		l.log.Debug("source used", "source", a.Source, "origin", a.Origin, "reason", a.Reason)
	case OutcomeRejected, OutcomeFailed:
		l.log.Warn("source "+a.Outcome, "source", a.Source, "origin", a.Origin, "reason", a.Reason)
	default:
		l.log.Debug("source skipped", "source", a.Source, "reason", a.Reason)
	}
}

func (l *locator) run(ctx context.Context) (*Headers, error) {
	l.kernel = readKernelFacts(l.env)
	l.env.facts = l.kernel
	l.env.openCache = l.openCache
	if l.opts.Override != "" {
		return l.runExplicit(ctx)
	}
	// The report says that no explicit source was given, unless Only or
	// Disable left it out (they did when it was one entry of the chain).
	o := l.opts
	if (len(o.Only) == 0 || slices.Contains(o.Only, overrideName)) && !slices.Contains(o.Disable, overrideName) {
		l.record(Attempt{Source: overrideName, Outcome: OutcomeSkipped, Reason: "no --source or " + EnvSource + " given"})
	}
	return l.runChain(ctx)
}

// runChain tries the sources of the chain in order; a source that has
// nothing, fails or is refused by verification passes to the next.
func (l *locator) runChain(ctx context.Context) (*Headers, error) {
	// mismatch: something was refused by verification (the call's error
	// is then ErrMismatch). treeRejected: what was refused was a header
	// tree (an archive, a tree or a cached object), not a BTF; after that
	// a BTF source is not used unless named (see below).
	mismatch, treeRejected, denied, transfer := false, false, false, false
	var de *deniedError
	var bm *btfMismatchError
	for _, src := range chain(l.opts) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		name := src.Name()
		if name == "btf" && treeRejected && !slices.Contains(l.opts.Only, name) {
			// Decided before Find, so that a call ending in exit 4 reads
			// no BTF (a target's is up to 64 MiB over ssh or adb).
			l.skipBTFAfterRejection(name, "")
			continue
		}
		cand, err := l.find(ctx, src)
		if err != nil {
			var se *SkipError
			switch {
			case errors.As(err, &se):
				l.record(Attempt{Source: name, Outcome: OutcomeSkipped, Reason: se.Reason, Fix: se.Fix})
			case errors.Is(err, ErrMismatch):
				// The source itself saw that its headers are another
				// kernel's (e.g. a manifest's build-id).
				mismatch = true
				treeRejected = treeRejected || !errors.As(err, &bm)
				l.record(Attempt{Source: name, Outcome: OutcomeRejected, Reason: err.Error()})
			case errors.Is(err, cache.ErrUnsafe):
				l.record(Attempt{Source: name, Outcome: OutcomeFailed, Reason: err.Error(), Fix: fixCache})
			default:
				denied = denied || errors.As(err, &de)
				transfer = transfer || isTransfer(err)
				l.record(Attempt{Source: name, Outcome: OutcomeFailed, Reason: err.Error(), Fix: fixOf(err)})
			}
			continue
		}
		if cand.Kind == KindBTF && treeRejected && !slices.Contains(l.opts.Only, name) {
			// A BTF that on-target sent after a tree was refused here.
			l.skipBTFAfterRejection(name, cand.Origin)
			continue
		}
		h, err := l.take(ctx, name, cand)
		if err == nil {
			return h, nil
		}
		mismatch = mismatch || errors.Is(err, ErrMismatch)
		treeRejected = treeRejected || errors.Is(err, ErrMismatch) && cand.Kind != KindBTF
		denied = denied || errors.As(err, &de)
		transfer = transfer || isTransfer(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e := &Error{Err: ErrNotFound, Release: l.env.Release, Attempts: l.attempts, Cache: l.cacheErr}
	switch {
	case mismatch:
		e.Err = ErrMismatch
	case transfer:
		e.Err = ErrTransfer
	case denied:
		e.Err = ErrDenied
	}
	triedBTF := slices.ContainsFunc(l.attempts, func(a Attempt) bool { return a.Source == "btf" })
	if _, err := l.env.host.Stat("/sys/kernel/btf/vmlinux"); err == nil && !triedBTF {
		e.Hints = append(e.Hints, "this kernel has BTF (/sys/kernel/btf/vmlinux): 'kheaders btf' writes vmlinux.h for CO-RE programs, which need no kernel headers")
	}
	return nil, e
}

// skipBTFAfterRejection records that the BTF source name is not used
// because a header tree was refused by verification: a vmlinux.h is no
// answer for bcc or bpftrace (they need the header tree; with a BTF
// result kheaders env/exec leave their variables out and the tool fails
// later on a missing linux/*.h), so the call ends in the mismatch (exit
// 4). CO-RE programs ask for the BTF by name (--sources btf).
func (l *locator) skipBTFAfterRejection(name, origin string) {
	l.record(Attempt{Source: name, Outcome: OutcomeSkipped, Origin: origin,
		Reason: "not used: headers above were rejected by verification, and vmlinux.h derived from BTF is not a header tree",
		Fix:    "for CO-RE programs, which need only vmlinux.h, name the source: --sources " + name + " (or kheaders btf)"})
}

// btfMismatchError is a mismatch found in a BTF (not in headers): it
// wraps ErrMismatch, but does not make the chain pass over a BTF source.
type btfMismatchError struct{ msg string }

func (e *btfMismatchError) Error() string { return e.msg }
func (e *btfMismatchError) Unwrap() error { return ErrMismatch }

// fixOf returns the fix an error carries (a Fix() string method), or "".
func fixOf(err error) string {
	var f interface{ Fix() string }
	if errors.As(err, &f) {
		return f.Fix()
	}
	return ""
}

const fixCache = "remove the planted path or choose another cache with --cache-dir DIR or KHEADERS_CACHE"

// take turns a source's candidate into verified Headers and records the
// attempt: "used", or "failed" (the candidate could not be read, extracted
// or cached) or "rejected" (verification refused it: the error wraps
// ErrMismatch).
func (l *locator) take(ctx context.Context, name string, cand *Candidate) (*Headers, error) {
	h, err := l.materialize(ctx, name, cand)
	if err != nil {
		fix := fixOf(err)
		if errors.Is(err, cache.ErrUnsafe) {
			fix = fixCache
		}
		l.record(Attempt{Source: name, Outcome: OutcomeFailed, Origin: cand.Origin, Reason: err.Error(), Fix: fix})
		return nil, err
	}
	h.Checks = l.verify(h)
	h.Verified = true
	if bad := failed(h.Checks); len(bad) > 0 {
		if qerr := l.quarantine(ctx, h); qerr != nil {
			if !rebuildable(cand) {
				l.record(Attempt{Source: name, Outcome: OutcomeFailed, Origin: cand.Origin, Reason: qerr.Error(), Fix: fixQuarantine})
				return nil, qerr
			}
			// The candidate carries its archive: extract it again (Ensure
			// replaces the object marked damaged) and verify that.
			if h, err = l.materialize(ctx, name, cand); err != nil {
				l.record(Attempt{Source: name, Outcome: OutcomeFailed, Origin: cand.Origin, Reason: err.Error()})
				return nil, err
			}
			h.Warnings = append(h.Warnings, qerr.Error()+"; rebuilt")
			h.Checks = l.verify(h)
			h.Verified = true
		}
	}
	if bad := failed(h.Checks); len(bad) > 0 {
		if !l.opts.NoVerify {
			reason := "does not match the running kernel: " + describe(bad)
			l.record(Attempt{Source: name, Outcome: OutcomeRejected, Origin: cand.Origin, Reason: reason,
				Fix: "install the headers of the running kernel, or pass --no-verify to use them anyway"})
			l.drop(h, cand)
			return nil, fmt.Errorf("%w: %s", ErrMismatch, reason)
		}
		h.Verified = false
		for _, c := range bad {
			h.Warnings = append(h.Warnings, "NOT VERIFIED: "+c.String())
			l.log.Warn("using headers that do not match the running kernel (--no-verify)", "check", c.Name, "want", c.Want, "got", c.Got)
		}
	}
	if h.pendingID != "" && l.cache != nil {
		if err := l.cache.SetID(h.pendingID, h.Key); err != nil {
			l.log.Warn("could not record the identity", "err", err)
		}
	}
	l.record(Attempt{Source: name, Outcome: OutcomeUsed, Origin: cand.Origin, Reason: usedReason(h)})
	h.Attempts = l.attempts
	l.remember(h)
	return h, nil
}

// drop removes the object a remote target's candidate created in this
// call when verification refused it: bytes from a target that are not its
// kernel's stay out of the host cache.
func (l *locator) drop(h *Headers, c *Candidate) {
	if !h.created || !(c.keep || c.keepData != nil) || l.cache == nil {
		return
	}
	if err := l.cache.Remove(h.Key); err != nil {
		l.log.Warn("could not remove the refused object", "key", h.Key, "err", err)
	}
}

// remember records in the cache the fingerprint of a config check that
// passed on a cached object, so that the next call with the same running
// kernel config and the same autoconf.h need not parse and compare them.
func (l *locator) remember(h *Headers) {
	if h.passed == nil || h.Key == "" || l.cache == nil {
		return
	}
	if err := l.cache.SetIDNote(h.passed.id(h.Key), h.Key, strconv.Itoa(h.passed.symbols)); err != nil {
		l.log.Warn("could not record the verification fingerprint", "err", err)
	}
}

// seen returns the symbol count recorded for fp on the object key, if a
// check with that fingerprint passed on it before.
func (l *locator) seen(key string, fp *fingerprint) (int, bool) {
	if key == "" || l.cache == nil {
		return 0, false
	}
	k, note, err := l.cache.LookupIDNote(fp.id(key))
	if err != nil || k != key {
		return 0, false
	}
	n, err := strconv.Atoi(note)
	return n, err == nil && n >= 0
}

func usedReason(h *Headers) string {
	var ok []string
	for _, c := range h.Checks {
		if c.Status == CheckOK {
			ok = append(ok, c.Name)
		}
	}
	if len(ok) == 0 {
		return "found (nothing to verify)"
	}
	return "verified: " + strings.Join(ok, ", ")
}

// find runs src.Find, catching panics of plug-in sources.
func (l *locator) find(ctx context.Context, src Source) (c *Candidate, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("source %s panicked: %v", src.Name(), r)
		}
	}()
	c, err = src.Find(ctx, l.env)
	if err == nil && c == nil {
		err = Skip("nothing found", "")
	}
	return c, err
}

// lookupObject returns the object the cache records for the identity id:
// key is "" when there is no entry, and err is set when there is one but
// its object is unusable (missing, damaged, not the user's).
func lookupObject(cc *cache.Cache, id string) (key string, obj *cache.Object, err error) {
	key, err = cc.LookupID(id)
	if err != nil {
		return "", nil, err
	}
	obj, err = cc.Get(key)
	return key, obj, err
}

// materialize turns a candidate into Headers: trees are used in place,
// archives and generated content go through the cache.
func (l *locator) materialize(ctx context.Context, name string, c *Candidate) (*Headers, error) {
	h := &Headers{Release: l.env.Release, Machine: l.env.Machine, Arch: l.env.Arch, Kind: c.Kind, Source: name, Origin: c.Origin}
	if h.Kind == "" {
		h.Kind = KindTree
	}
	switch {
	case c.Dir != "":
		h.Dir = c.Dir
		h.BuildDir = c.BuildDir
		h.Key = c.Key
		h.Cached = c.Key != ""
	case c.Archive != nil || c.Open != nil:
		cc, err := l.openCache()
		if err != nil {
			return nil, err
		}
		if c.Archive == nil && c.Identity != "" && !l.opts.refetch {
			if key, o, err := lookupObject(cc, c.Identity); err == nil {
				h.Dir, h.Key, h.Cached = o.Dir, key, true
				l.log.Debug("warm cache hit by identity", "identity", c.Identity, "key", key)
				break
			}
		}
		data := c.Archive
		if data == nil {
			var err error
			if data, err = c.Open(ctx); err != nil {
				return nil, err
			}
		}
		key := cache.KeyOf(data)
		o, created, err := cc.Ensure(ctx, key, cache.Info{Kind: string(h.Kind), Origin: c.Origin}, func(ctx context.Context, root *os.Root) ([]archive.Entry, error) {
			// The key is the archive's sha256: extraction need not hash it again.
			m, err := archive.ExtractRoot(ctx, bytes.NewBuffer(data), root, &archive.Options{Logger: l.log, Progress: l.opts.Progress, ArchiveSHA256: key})
			if err != nil {
				return nil, err
			}
			return m.Entries, nil
		})
		if err != nil {
			return nil, err
		}
		if c.keep || l.opts.keepSources {
			// A target's archive: kept beside the tree so that extract
			// --target hands it out again with no transfer.
			h.source = data
			if err := cc.KeepSource(key, data); err != nil {
				l.log.Warn("could not keep the archive in the cache", "key", key, "err", err)
			}
		}
		// The identity is recorded once the headers pass verification
		// (take): a refused archive must not be found by it again.
		h.pendingID, h.created = c.Identity, created
		h.Dir, h.Key, h.Cached = o.Dir, key, !created
	case c.Fill != nil:
		cc, err := l.openCache()
		if err != nil {
			return nil, err
		}
		o, created, err := cc.Ensure(ctx, c.Key, cache.Info{Kind: string(h.Kind), Origin: c.Origin}, func(ctx context.Context, root *os.Root) ([]archive.Entry, error) {
			return nil, c.Fill(ctx, root)
		})
		if err != nil {
			return nil, err
		}
		if c.keepData != nil {
			h.source = c.keepData
			if err := cc.KeepSource(c.Key, c.keepData); err != nil {
				l.log.Warn("could not keep the BTF in the cache", "key", c.Key, "err", err)
			}
		}
		if created {
			h.gen = c.gen
		}
		h.pendingID, h.created = c.Identity, created
		h.Dir, h.Key, h.Cached = o.Dir, c.Key, !created
	default:
		return nil, fmt.Errorf("source %s returned an empty candidate", name)
	}
	if h.BuildDir == "" {
		h.BuildDir = h.Dir
	}
	h.FS = os.DirFS(h.Dir)
	h.trust = c.Trust
	h.Dir, h.BuildDir = filepath.Clean(h.Dir), filepath.Clean(h.BuildDir)
	return h, nil
}
