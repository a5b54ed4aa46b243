package locate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/kheaders/kheaders/cache"
	"github.com/kheaders/kheaders/internal/target"
)

// ServeTarget is the on-target side of Options.Push (kheaders
// serve-target, which the host runs on the target; docs/remote.md): it
// locates this machine's headers with opts (the chain of its real sources:
// the cache given, the sysfs archive, initramfs, kheaders.ko read or
// loaded, BTF), verifies them against this kernel, and writes one stream
// (target.StreamVersion) to w: the report, then the archive as found or
// the raw BTF. Header trees (modules-dir, distro) are not sent: the stream
// carries archives and BTF only. opts.CacheDir "" uses a private cache in
// a temporary directory, removed on return. opts.HostRoot works as for
// Locate (a kheaders in a container seeing the machine at /host).
//
// When no headers are found the stream is an error report (and the error
// is returned too); only a failure to write the stream leaves it
// incomplete.
func ServeTarget(ctx context.Context, w io.Writer, opts *Options) error {
	o := Options{}
	if opts != nil {
		o = *opts
	}
	o.Target, o.Override = "", ""
	o.keepSources = true
	o.Disable = append(slices.Clip(o.Disable), "modules-dir", "distro")
	if o.CacheDir == "" {
		dir, err := os.MkdirTemp("", "kheaders-serve-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.CacheDir = dir
	}
	h, err := Locate(ctx, &o)
	if err != nil {
		rep := target.StreamReport{Kind: target.PayloadError, Error: err.Error()}
		var le *Error
		if errors.As(err, &le) {
			rep.Release = le.Release
			for _, a := range le.Attempts {
				rep.Attempts = append(rep.Attempts, a.Source+" "+a.Outcome+": "+a.Reason)
			}
		}
		if werr := target.WriteStream(w, rep, nil); werr != nil {
			return werr
		}
		return err
	}
	rep := target.StreamReport{Release: h.Release, Machine: h.Machine, Source: h.Source, Origin: h.Origin}
	var data []byte
	switch {
	case h.Kind == KindTree && h.Key != "":
		rep.Kind = target.PayloadArchive
		data, err = keptSource(&o, h.Key, h.Key)
	case h.Kind == KindBTF && h.Key != "":
		rep.Kind = target.PayloadBTF
		data, err = keptSource(&o, h.Key, btfSum(h.Key))
	default:
		err = fmt.Errorf("headers of kind %s from %s (%s) are not an archive or BTF: %w", h.Kind, h.Source, h.Origin, cache.ErrNotFound)
	}
	if err != nil {
		rep = target.StreamReport{Kind: target.PayloadError, Release: h.Release, Error: "the located headers cannot be sent: " + err.Error()}
		if werr := target.WriteStream(w, rep, nil); werr != nil {
			return werr
		}
		return err
	}
	return target.WriteStream(w, rep, data)
}
