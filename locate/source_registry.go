package locate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/kheaders/kheaders/internal/elfsym"
	"github.com/kheaders/kheaders/oci"
)

// The registry source: the running kernel's archive from an OCI registry
// (docs/oci.md), by the kernel's build-id (/sys/kernel/notes) first, then
// by its release. What it pulls is cached and verified like any archive: a
// registry answer is never trusted more than a local file. Its identity is
// the repository and the build-id (or, without one, the release and the
// boot id), so a warm locate answers from the cache without a network call.

// EnvRegistry names the variable that gives the registry repository (also
// --registry).
const EnvRegistry = "KHEADERS_REGISTRY"

// SysfsNotes holds the running kernel's ELF notes (its build-id).
const SysfsNotes = "/sys/kernel/notes"

type registrySource struct{}

func (registrySource) Name() string { return "registry" }

// pulls shares one download between concurrent locates of one process;
// recent keeps the answer for a short while so that a locate that starts
// just after it (before the cache knows the identity) does not pull again.
var (
	pulls  singleflight.Group
	recent sync.Map // identity -> *oci.Artifact
)

const recentFor = 30 * time.Second

// runningBuildID returns the running kernel's build-id, or "".
func runningBuildID(env *Env) string {
	b, err := env.ReadFile(SysfsNotes)
	if err != nil {
		return ""
	}
	id, err := elfsym.BuildID(b)
	if err != nil {
		env.Logger.Debug("no build-id in "+SysfsNotes, "err", err)
		return ""
	}
	return id
}

func (registrySource) Find(ctx context.Context, env *Env) (*Candidate, error) {
	repo := env.Options.Registry
	if repo == "" {
		return nil, Skip("no registry configured", "pass --registry HOST/REPO or set "+EnvRegistry+" to fetch headers published with 'kheaders push'")
	}
	id := runningBuildID(env)
	identity := "registry|" + repo + "|buildid|" + id + "|" + env.Release
	origin := repo + ":" + oci.BuildIDTag(id) + " (then :" + oci.ReleaseTag(env.Release) + ")"
	if id == "" {
		identity = "registry|" + repo + "|release|" + env.Release + "|" + env.BootID()
		origin = repo + ":" + oci.ReleaseTag(env.Release)
	}
	return &Candidate{
		Origin:   origin,
		Identity: identity,
		Open: func(ctx context.Context) ([]byte, error) {
			if a, ok := recent.Load(identity); ok {
				return a.(*oci.Artifact).Archive, nil
			}
			v, err, _ := pulls.Do(identity, func() (any, error) {
				c, err := oci.NewClient(repo, env.Options.RegistryOptions)
				if err != nil {
					return nil, err
				}
				a, err := c.Find(ctx, id, env.Release)
				if err != nil {
					return nil, err
				}
				if a.Meta.Release != env.Release {
					return nil, fmt.Errorf("%s:%s: %w: the archive is of release %q, the running kernel is %s", repo, a.Reference, ErrMismatch, a.Meta.Release, env.Release)
				}
				if a.Meta.Machine != "" && a.Meta.Machine != env.Machine && a.Meta.Arch != env.Arch {
					return nil, fmt.Errorf("%s:%s: %w: the archive is of %s (%s), the running kernel is %s", repo, a.Reference, ErrMismatch, a.Meta.Machine, a.Meta.Arch, env.Machine)
				}
				recent.Store(identity, a)
				time.AfterFunc(recentFor, func() { recent.CompareAndDelete(identity, a) })
				env.Logger.Debug("pulled from the registry", "repository", repo, "reference", a.Reference, "digest", a.Digest, "size", a.Size)
				return a, nil
			})
			if err != nil {
				if errors.Is(err, oci.ErrMismatch) && !errors.Is(err, ErrMismatch) {
					err = fmt.Errorf("%w: %w", ErrMismatch, err)
				}
				return nil, err
			}
			return v.(*oci.Artifact).Archive, nil
		},
	}, nil
}
