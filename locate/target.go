package locate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/kheaders/kheaders/internal/target"
)

// ErrTargetSpec is returned for an Options.Target that does not parse
// (a usage error: kheaders exits 2).
var ErrTargetSpec = target.ErrSpec

// archiveLimit bounds one archive transfer (a 6.12 archive is ~4 MiB, its
// kheaders.ko a little more).
const archiveLimit = 256 << 20

// RemoteTarget describes the target a Headers came from (Options.Target).
type RemoteTarget struct {
	// Spec is the target as given (ssh://..., adb[:SERIAL], cmd:...).
	Spec string `json:"spec"`
	// Identity is the target kernel's identity the cache remembers
	// ("buildid:HEX", else "release:R|version:SHA256").
	Identity string `json:"identity"`
	// Bytes and Commands count what this call read from the target.
	Bytes    int64 `json:"bytes"`
	Commands int64 `json:"commands"`
	// Via says how the headers were got when kheaders ran on the target
	// (Options.Push, source "on-target"): "pushed", or "installed at
	// PATH"; RemoteSource and RemoteOrigin are where that kheaders found
	// them there (its source name and path).
	Via          string `json:"via,omitempty"`
	RemoteSource string `json:"remote_source,omitempty"`
	RemoteOrigin string `json:"remote_origin,omitempty"`
}

// openTarget parses opts.Target and reads its kernel's identity into a
// private snapshot directory; done removes it.
func openTarget(ctx context.Context, opts *Options) (t *target.Target, snap *target.Snapshot, done func(), err error) {
	if t, err = target.Parse(opts.Target, nil); err != nil {
		return nil, nil, nil, err
	}
	if opts.TargetTimeout > 0 {
		t.Timeout = opts.TargetTimeout
	}
	t.Logger = opts.Logger
	dir, err := os.MkdirTemp("", "kheaders-target-")
	if err != nil {
		return nil, nil, nil, err
	}
	done = func() { os.RemoveAll(dir) }
	if snap, err = target.Fetch(ctx, t, dir); err != nil {
		done()
		if isTransfer(err) {
			// The identity read itself was cut short or timed out.
			err = fmt.Errorf("%w: %w", ErrTransfer, err)
		}
		return nil, nil, nil, err
	}
	return t, snap, done, nil
}

// locateTarget runs Locate against the kernel of opts.Target: a private
// snapshot of its identity files becomes the host root, the chain is the
// target's (cache by kernel identity, sysfs archive, kheaders.ko, BTF),
// and verification is the local one on that root.
func locateTarget(ctx context.Context, opts *Options) (*Headers, error) {
	t, snap, done, err := openTarget(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer done()
	o := *opts
	o.Target = ""
	o.HostRoot = snap.Dir
	o.Load = LoadNever
	info := &onTargetInfo{}
	if o.Sources == nil {
		o.Sources = targetSources(t, snap, opts, info)
	}
	h, err := Locate(ctx, &o)
	n, c := t.Received()
	if opts.Logger != nil {
		opts.Logger.Info("remote target done", "target", t.Spec, "identity", snap.Identity, "bytes", n, "commands", c)
	}
	if err != nil {
		var le *Error
		if errors.As(err, &le) {
			le.Release = snap.Release + " on " + t.Spec
		}
		return nil, err
	}
	h.Target = &RemoteTarget{Spec: t.Spec, Identity: snap.Identity, Bytes: n, Commands: c}
	if h.Source == "on-target" && info.via != "" {
		h.Target.Via, h.Target.RemoteSource, h.Target.RemoteOrigin = info.via, info.source, info.origin
	}
	return h, nil
}

// targetSources is a target's chain: only="archive" keeps the archive
// sources, "btf" only the BTF.
func targetSources(t *target.Target, snap *target.Snapshot, opts *Options, info *onTargetInfo) []Source {
	only := opts.targetOnly
	var out []Source
	if only != "btf" {
		out = append(out, targetCache{snap: snap})
		if opts.Push {
			// After the cache: a warm call runs nothing on the target.
			out = append(out, targetRun{t: t, snap: snap, bin: opts.PushBinary, info: info})
		}
		out = append(out,
			targetFile{name: "sysfs", t: t, snap: snap},
			targetFile{name: "module-file", t: t, snap: snap},
		)
	}
	if only != "archive" {
		out = append(out, targetBTF{t: t, snap: snap})
	}
	return out
}

// isTransfer says whether err is a remote command that did not complete
// (cut short, timed out, over its size limit), as opposed to one that
// answered with a failure status.
func isTransfer(err error) bool {
	var te *target.Error
	return errors.As(err, &te) && te.Status < 0 || errors.Is(err, target.ErrTruncated) || errors.Is(err, target.ErrTooLarge)
}

// targetCache answers from the cache by the target kernel's identity:
// no archive crosses the link.
type targetCache struct{ snap *target.Snapshot }

func (targetCache) Name() string { return "cache" }

func (s targetCache) Find(ctx context.Context, env *Env) (*Candidate, error) {
	if env.Options.refetch {
		return nil, Skip("reading the archive again: the cached object does not keep it", "")
	}
	cc, err := env.openCache()
	if err != nil {
		return nil, err
	}
	key, obj, err := lookupObject(cc, targetID(s.snap))
	if key == "" {
		return nil, Skip("no cached archive for the target kernel "+s.snap.Identity+" in "+cc.Dir()+" yet", "")
	}
	if err != nil {
		return nil, Skip("cache entry "+key+" of the target kernel unusable: "+err.Error(), "")
	}
	return &Candidate{Origin: "target kernel " + s.snap.Identity + " (cached " + cc.Dir() + ")", Dir: obj.Dir, Key: key}, nil
}

func targetID(s *target.Snapshot) string { return "target|" + s.Identity }

// targetFile reads the sysfs archive or kheaders.ko from the target.
type targetFile struct {
	name string // "sysfs" or "module-file"
	t    *target.Target
	snap *target.Snapshot
}

func (s targetFile) Name() string { return s.name }

// deniedError is a source failure that carries its fix.
type deniedError struct{ reason, fix string }

func (e *deniedError) Error() string { return e.reason }
func (e *deniedError) Fix() string   { return e.fix }

const fixDenied = "on a userdebug/eng Android build run 'adb root' and retry; otherwise use kheaders.ko (module-file source: the module partitions /system_dlkm, /vendor_dlkm), or fetch the archive from a fleet store or the kernel's build artifacts and pass it with --source"

func (s targetFile) Find(ctx context.Context, env *Env) (*Candidate, error) {
	on := " on " + s.t.Spec
	if s.name == "sysfs" {
		switch s.snap.States["sysfs"] {
		case target.StateDenied:
			return nil, &deniedError{
				reason: "permission denied reading " + SysfsArchive + on + " (it exists; on Android, SELinux forbids the shell user to read sysfs files on enforcing builds)",
				fix:    fixDenied,
			}
		case target.StateOK:
		default:
			reason := "no " + SysfsArchive + on
			if cfg := env.facts.kconfigOrNil(); cfg != nil {
				if v, _ := cfg.Get("CONFIG_IKHEADERS"); v != "" {
					reason += " (CONFIG_IKHEADERS=" + v + ")"
				}
			}
			return nil, Skip(reason, "boot the target with CONFIG_IKHEADERS=y, or load the kheaders module on it")
		}
		return &Candidate{Origin: s.t.Spec + ":" + SysfsArchive, Identity: targetID(s.snap), keep: true,
			Open: func(ctx context.Context) ([]byte, error) {
				b, err := s.t.ReadFile(ctx, SysfsArchive, archiveLimit)
				if errors.Is(err, target.ErrPermission) {
					return nil, &deniedError{reason: err.Error(), fix: fixDenied}
				}
				return b, err
			}}, nil
	}
	if len(s.snap.Modules) == 0 {
		var dirs []string
		for _, d := range target.ModuleDirs {
			dirs = append(dirs, strings.ReplaceAll(d, "%s", s.snap.Release))
		}
		return nil, Skip("no kheaders.ko[.xz|.zst|.gz] under "+strings.Join(dirs, ", ")+on, "install the kernel's modules on the target, or build it with CONFIG_IKHEADERS")
	}
	paths := s.snap.Modules
	return &Candidate{Origin: s.t.Spec + ":" + paths[0], Identity: targetID(s.snap), keep: true,
		Open: func(ctx context.Context) ([]byte, error) {
			var errs []error
			for _, p := range paths {
				b, err := s.t.ReadFile(ctx, p, archiveLimit)
				if err != nil {
					errs = append(errs, err)
					if errors.Is(err, target.ErrPermission) {
						continue
					}
					return nil, err
				}
				return archiveOf(ctx, env, b, s.t.Spec+":"+p)
			}
			return nil, fmt.Errorf("no readable kheaders.ko%s: %w", on, errors.Join(errs...))
		}}, nil
}
