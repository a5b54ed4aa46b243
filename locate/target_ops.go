package locate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kheaders/kheaders/cache"
	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/karch"
	"github.com/kheaders/kheaders/internal/target"
)

// What the other commands do with a remote target (extract, inspect,
// config and btf --target): each reads the target kernel's identity with
// one command, like Locate, and only what it needs besides.

var (
	// ErrNoTarget is returned by the Target* functions when Options.Target
	// is empty.
	ErrNoTarget = errors.New("no target given (Options.Target, --target SPEC)")
	// ErrNotArchive: the headers located for the target did not come from
	// an archive kheaders can hand out (a BTF-derived vmlinux.h, a tree
	// named with Options.Override).
	ErrNotArchive = errors.New("the target's headers do not come from a kheaders archive")
)

// TargetArchive returns the verified kheaders archive of the kernel
// running on opts.Target, and the Headers located from it: the target's
// archive sources only (cache by the target's kernel identity, its sysfs
// archive, its kheaders.ko), verified against its kernel as Locate does.
// The archive is read from the target on a cache miss and then kept in the
// host cache beside its tree (cache.KeepSource), so a second call for the
// same target kernel transfers only the identity.
//
// Errors: ErrNoTarget, ErrNotArchive, and Locate's (*Error wrapping
// ErrNotFound, ErrMismatch or ErrDenied; the target's transfer errors).
func TargetArchive(ctx context.Context, opts *Options) ([]byte, *Headers, error) {
	if opts == nil || opts.Target == "" {
		return nil, nil, ErrNoTarget
	}
	o := *opts
	o.targetOnly = "archive"
	h, err := Locate(ctx, &o)
	if err != nil {
		return nil, nil, err
	}
	if h.Kind != KindTree || h.Key == "" {
		return nil, nil, fmt.Errorf("%w (source %s, %s)", ErrNotArchive, h.Source, h.Origin)
	}
	// Without a kept copy (an object made before the cache kept archives)
	// or with a damaged one, the archive is read again. An override is
	// not the target's: there is nothing to read again.
	return keptOrRefetch(ctx, &o, h, func(key string) string { return key }, o.Override == "", "archive")
}

// TargetBTF returns the raw BTF (/sys/kernel/btf/vmlinux) of the kernel
// running on opts.Target and the Headers of the vmlinux.h derived from it
// (Kind KindBTF). The BTF is read at most once per target kernel: the host
// cache keeps it under its sha256 and remembers the target's identity, so
// a second call transfers only the identity.
//
// Errors: ErrNoTarget, and Locate's (*Error wrapping ErrNotFound when the
// target has no BTF, ErrDenied when it may not be read; transfer errors).
func TargetBTF(ctx context.Context, opts *Options) ([]byte, *Headers, error) {
	if opts == nil || opts.Target == "" {
		return nil, nil, ErrNoTarget
	}
	o := *opts
	o.targetOnly = "btf"
	o.Override = ""
	h, err := Locate(ctx, &o)
	if err != nil {
		return nil, nil, err
	}
	// The object may have been made from the same BTF read elsewhere
	// (this machine's btf source keeps no copy): then it is read from the
	// target.
	return keptOrRefetch(ctx, &o, h, btfSum, true, "BTF")
}

// keptOrRefetch returns the bytes the cache kept for h's object (checked
// against sum(key)). When there are none or they are damaged and refetch
// is set, the target is located again with Options.refetch (which reads
// and keeps them) and the bytes and commands of both calls are added up.
func keptOrRefetch(ctx context.Context, o *Options, h *Headers, sum func(key string) string, refetch bool, what string) ([]byte, *Headers, error) {
	if h.source != nil {
		// Read by this call, its sha256 already the key's.
		return h.source, h, nil
	}
	data, err := keptSource(o, h.Key, sum(h.Key))
	if refetch && (errors.Is(err, cache.ErrNotFound) || errors.Is(err, cache.ErrDamaged)) {
		first := h.Target
		o.refetch = true
		var lerr error
		if h, lerr = Locate(ctx, o); lerr != nil {
			return nil, nil, lerr
		}
		h.Target.Bytes += first.Bytes
		h.Target.Commands += first.Commands
		data, err = keptSource(o, h.Key, sum(h.Key))
	}
	if err != nil {
		return nil, nil, fmt.Errorf("the %s of %s from the cache: %w", what, h.Dir, err)
	}
	return data, h, nil
}

func keptSource(o *Options, key, sum string) ([]byte, error) {
	cc, err := cache.Open(o.CacheDir, &cache.Options{Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	if o.Logger != nil {
		o.Logger.Debug("reading the kept source back from the cache", "key", key)
	}
	return cc.Source(key, sum)
}

// TargetConfig returns the .config of the kernel running on opts.Target,
// from its /proc/config.gz (read with the identity: one command),
// decompressed, and what was read from the target. Errors wrap
// fs.ErrNotExist (no /proc/config.gz: CONFIG_IKCONFIG_PROC is off) or
// fs.ErrPermission (the target's user may not read it), ErrNoTarget, and
// the target's transfer errors.
func TargetConfig(ctx context.Context, opts *Options) ([]byte, *RemoteTarget, error) {
	if opts == nil || opts.Target == "" {
		return nil, nil, ErrNoTarget
	}
	t, snap, done, err := openTarget(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	n, c := t.Received()
	rt := &RemoteTarget{Spec: t.Spec, Identity: snap.Identity, Bytes: n, Commands: c}
	switch snap.States["config"] {
	case target.StateOK:
	case target.StateDenied:
		return nil, rt, fmt.Errorf("/proc/config.gz on %s: %w (it exists; run the target's shell as root, e.g. adb root on userdebug builds)", t.Spec, fs.ErrPermission)
	default:
		return nil, rt, fmt.Errorf("no /proc/config.gz on %s (release %s): %w (the kernel was built without CONFIG_IKCONFIG_PROC; 'kheaders config' on its image or vmlinux reads an embedded CONFIG_IKCONFIG)", t.Spec, snap.Release, fs.ErrNotExist)
	}
	cfg, err := host.New(snap.Dir).KernelConfig(snap.Release)
	if err != nil {
		return nil, rt, fmt.Errorf("/proc/config.gz of %s: %w", t.Spec, err)
	}
	return cfg.Data, rt, nil
}

// TargetReport is what a remote target's kernel offers kheaders
// (InspectTarget, kheaders inspect --target).
//
// Its JSON is the body of kheaders.inspect-target/v1 (docs/json.md): a
// stable schema, fields are only added within v1.
type TargetReport struct {
	Spec string `json:"spec"`
	// Identity is the target kernel's identity the host cache remembers.
	Identity string `json:"identity"`
	Release  string `json:"release"`
	Machine  string `json:"machine"`
	Arch     string `json:"arch"`
	BuildID  string `json:"build_id,omitempty"`
	// Version is the first line of the target's /proc/version.
	Version string `json:"version,omitempty"`
	// HasHeaders: a kheaders archive carrier is readable (sysfs archive
	// or kheaders.ko); HasConfig: /proc/config.gz is; HasBTF:
	// /sys/kernel/btf/vmlinux is.
	HasHeaders bool `json:"has_headers"`
	HasConfig  bool `json:"has_config"`
	HasBTF     bool `json:"has_btf"`
	// Carriers are the target's files kheaders reads, each with its state.
	Carriers []TargetFile `json:"carriers"`
	// CacheKey is the key of the host cache's object for this target
	// kernel, when an earlier call stored one: the tree extracted from its
	// archive (the archive's sha256; CacheKind "tree"), else the vmlinux.h
	// derived from its BTF ("btf-v1-" + the BTF's sha256; CacheKind
	// "btf"). locate --target (and extract --target for a tree, btf
	// --target for BTF) then transfer only the identity.
	CacheKey  string `json:"cache_key,omitempty"`
	CacheKind Kind   `json:"cache_kind,omitempty"`
	// Bytes and Commands count what this call read from the target.
	Bytes    int64 `json:"bytes"`
	Commands int64 `json:"commands"`
}

// TargetFile is one file on a target and what its user may do with it.
type TargetFile struct {
	// Name is the role: "sysfs" (the kheaders archive), "module-file"
	// (a kheaders.ko), "btf", "config", "version", "notes" (build-id).
	Name string `json:"name"`
	Path string `json:"path"`
	// State is "ok" (readable), "denied" (exists, may not be read: on
	// Android, SELinux) or "absent".
	State string `json:"state"`
	Size  int64  `json:"size"`
}

// InspectTarget reports the kernel running on opts.Target: its identity
// and, for each file kheaders reads there, whether it exists, may be read
// and its size (the identity's command, plus one probe for the sizes the
// identity does not give: the readable sysfs archive's, each kheaders.ko's;
// only the identity's small files and the sizes cross the link). Errors: ErrNoTarget and the target's transfer
// errors.
func InspectTarget(ctx context.Context, opts *Options) (*TargetReport, error) {
	if opts == nil || opts.Target == "" {
		return nil, ErrNoTarget
	}
	t, snap, done, err := openTarget(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer done()
	r := &TargetReport{Spec: t.Spec, Identity: snap.Identity, Release: snap.Release, Machine: snap.Machine, Arch: karch.SrcArch(snap.Machine), BuildID: snap.BuildID}
	if v, err := host.New(snap.Dir).ReadFile("/proc/version"); err == nil {
		r.Version, _, _ = strings.Cut(strings.TrimSpace(string(v)), "\n")
	}
	files := []TargetFile{{Name: "sysfs", Path: SysfsArchive}}
	for _, m := range snap.Modules {
		files = append(files, TargetFile{Name: "module-file", Path: m})
	}
	files = append(files,
		TargetFile{Name: "btf", Path: SysfsBTF},
		TargetFile{Name: "config", Path: "/proc/config.gz"},
		TargetFile{Name: "version", Path: "/proc/version"},
		TargetFile{Name: "notes", Path: "/sys/kernel/notes"})
	// The identity snapshot already says what it read (the BTF's size,
	// config, version and notes as files, the sysfs archive's state): only
	// the rest is probed, and nothing when nothing is left.
	snapFile := map[string]string{"config": "proc/config.gz", "version": "proc/version", "notes": "sys/kernel/notes"}
	var probe []int
	for i := range files {
		f := &files[i]
		state, known := snap.States[f.Name]
		switch {
		case f.Name == "module-file" || !known:
			probe = append(probe, i)
		case state != target.StateOK:
			f.State = state
		case f.Name == "btf":
			f.State, f.Size = state, snap.BTFSize
		case snapFile[f.Name] != "":
			fi, err := os.Stat(filepath.Join(snap.Dir, snapFile[f.Name]))
			if err != nil {
				probe = append(probe, i)
				continue
			}
			f.State, f.Size = state, fi.Size()
		default:
			probe = append(probe, i) // the sysfs archive: its size
		}
	}
	if len(probe) > 0 {
		paths := make([]string, len(probe))
		for j, i := range probe {
			paths[j] = files[i].Path
		}
		st, err := target.Probe(ctx, t, paths)
		if err != nil {
			return nil, err
		}
		for j, i := range probe {
			files[i].State, files[i].Size = st[j].State, st[j].Size
		}
	}
	for i := range files {
		if files[i].State != target.StateOK {
			continue
		}
		switch files[i].Name {
		case "sysfs", "module-file":
			r.HasHeaders = true
		case "config":
			r.HasConfig = true
		case "btf":
			r.HasBTF = true
		}
	}
	r.Carriers = files
	if cc, err := cache.Open(opts.CacheDir, &cache.Options{Logger: opts.Logger}); err == nil {
		for _, k := range []struct {
			id   string
			kind Kind
		}{{targetID(snap), KindTree}, {targetBTFID(snap), KindBTF}} {
			if key, _, err := lookupObject(cc, k.id); err == nil {
				r.CacheKey, r.CacheKind = key, k.kind
				break
			}
		}
		cc.Close()
	}
	r.Bytes, r.Commands = t.Received()
	return r, nil
}
