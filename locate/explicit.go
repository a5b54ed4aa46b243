package locate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kheaders/kheaders/carrier"
	"github.com/kheaders/kheaders/internal/host"
)

// The explicit source: headers the user named (Options.Override, from
// --source or KHEADERS_SOURCE). It is not an entry of the chain: when it is
// set Locate uses it alone, and when it fails Locate fails with its reason.
// A choice the user made never turns into other headers.

// EnvSource names the variable that gives the explicit source (also --source).
const EnvSource = "KHEADERS_SOURCE"

// overrideName names the explicit source in Attempt.Source and Headers.Source.
const overrideName = "override"

// errNoHeaders: the explicit source exists but holds no kernel headers.
var errNoHeaders = errors.New("holds no kernel headers")

const fixExplicit = "name a header tree or an artifact carrying the running kernel's headers (kheaders archive, kheaders.ko, vmlinux, a kernel or boot image), or unset " + EnvSource + " and drop --source to search the usual places"

// runExplicit locates with the explicit source only. The *Error it returns
// wraps ErrMismatch when verification refused the headers, ErrNotFound when
// nothing is there (the path does not exist, is an empty directory, holds no
// header tree or carries no header archive), and ErrUnusable otherwise (it
// cannot be read, is not a kernel artifact, is corrupt, or the cache failed).
func (l *locator) runExplicit(ctx context.Context) (*Headers, error) {
	p := l.opts.Override
	cand, err := explicitCandidate(l.env, p)
	if err != nil {
		l.record(Attempt{Source: overrideName, Outcome: OutcomeFailed, Origin: p, Reason: err.Error(), Fix: fixExplicit})
	} else {
		var h *Headers
		if h, err = l.take(ctx, overrideName, cand); err == nil {
			return h, nil
		}
		a := &l.attempts[len(l.attempts)-1]
		if a.Outcome == OutcomeFailed && !strings.Contains(a.Reason, cand.Origin) {
			a.Reason = cand.Origin + ": " + a.Reason // the report names the file
		}
		if a.Fix == "" {
			a.Fix = fixExplicit
		}
	}
	if cerr := ctx.Err(); cerr != nil {
		return nil, cerr
	}
	e := &Error{Err: ErrUnusable, Release: l.env.Release, Attempts: l.attempts, Cache: l.cacheErr, cause: err}
	switch {
	case errors.Is(err, ErrMismatch):
		e.Err = ErrMismatch
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, errNoHeaders), errors.Is(err, carrier.ErrNotFound):
		e.Err = ErrNotFound
	}
	return nil, e
}

// explicitCandidate looks at the explicit source p, a path on this machine
// (not under the host root: the user named it). A directory must be a
// header tree; a regular file is any artifact carrier finds an archive in,
// read when Locate needs it (a warm call answers from the cache by the
// file's identity).
func explicitCandidate(env *Env, p string) (*Candidate, error) {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if li, lerr := os.Lstat(p); lerr == nil && li.Mode()&fs.ModeSymlink != 0 {
				t, _ := os.Readlink(p)
				return nil, fmt.Errorf("%s: %w (a broken symlink to %s)", p, fs.ErrNotExist, t)
			}
			return nil, fmt.Errorf("%s: %w", p, fs.ErrNotExist)
		}
		return nil, err
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, err
	}
	switch {
	case fi.IsDir():
		ents, err := os.ReadDir(abs)
		if err != nil {
			return nil, err
		}
		if len(ents) == 0 {
			return nil, fmt.Errorf("%s: %w (an empty directory)", p, errNoHeaders)
		}
		c, why := treeAt(env, abs, "")
		if c == nil {
			return nil, fmt.Errorf("%s: %w: %s", p, errNoHeaders, why)
		}
		c.Origin = abs
		return c, nil
	case fi.Mode().IsRegular():
		return &Candidate{
			Origin:   abs,
			Identity: fmt.Sprintf("file|%s|%s|%d|%d", abs, host.Identity(fi), fi.Size(), fi.ModTime().UnixNano()),
			Open: func(ctx context.Context) ([]byte, error) {
				b, err := os.ReadFile(abs)
				if err != nil {
					return nil, err
				}
				return archiveOf(ctx, env, b, abs)
			},
		}, nil
	}
	return nil, fmt.Errorf("%s: a %s, not a header tree or a file", p, fileType(fi.Mode()))
}

func fileType(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "special file"
}
