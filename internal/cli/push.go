package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/kheaders/kheaders/carrier"
	"github.com/kheaders/kheaders/oci"
)

// pushCmd is the push command (listed in root.go).
var pushCmd = &Command{
	Name:  "push",
	Short: "publish a kernel's header archive to an OCI registry",
	Usage: `Usage: kheaders push [SRC] REPO [flags]

Publishes the kernel header archive carried by SRC (the archive, kheaders.ko,
vmlinux, a kernel or boot image; - reads standard input), or without SRC the
running kernel's /sys/kernel/kheaders.tar.xz, to the OCI repository REPO
(HOST[:PORT]/NAME) as a kheaders artifact (docs/oci.md), tagged
buildid-<build-id> (when SRC is a vmlinux or the running kernel) and
release-<release> ('+' and other characters tags cannot hold escaped as _xx).
The manifest is reproducible: pushing the same archive again changes
nothing. Machines of that kernel then get verified headers with
'kheaders locate --registry REPO'.

Credentials come from the docker config (~/.docker/config.json, DOCKER_CONFIG,
credential helpers: 'docker login HOST' writes them). HTTPS is used except
for loopback hosts or with --plain-http.

Examples:
  kheaders push registry.example.com/kheaders
  kheaders push /lib/modules/$(uname -r)/kernel/kernel/kheaders.ko registry.example.com/kheaders
  kheaders push --plain-http --release 6.12.117 kheaders_data.tar.xz 10.0.0.5:5000/kheaders`,
	Run: runPush,
}

// registryFlags are shared by push and pull.
type registryFlags struct {
	plainHTTP    bool
	dockerConfig string
}

func addRegistryFlags(fs interface {
	BoolVar(*bool, string, bool, string)
	StringVar(*string, string, string, string)
}, env *Env) *registryFlags {
	f := &registryFlags{}
	fs.BoolVar(&f.plainHTTP, "plain-http", false, "talk plain HTTP to the registry (default: HTTPS, except for loopback hosts)")
	fs.StringVar(&f.dockerConfig, "docker-config", "", "read registry credentials from this docker config.json `FILE` (default $DOCKER_CONFIG/config.json or ~/.docker/config.json)")
	return f
}

// options are the registry options of the flags; log gets the client's
// retries and decisions (-v).
func (f *registryFlags) options(log *slog.Logger) *oci.Options {
	return &oci.Options{PlainHTTP: f.plainHTTP, DockerConfig: f.dockerConfig, Logger: log}
}

// registryFail maps oci errors to exit codes.
func registryFail(err error) error {
	switch {
	case errors.Is(err, oci.ErrNotFound), errors.Is(err, carrier.ErrNotFound), errors.Is(err, fs.ErrNotExist):
		return Fail(ExitNotFound, err)
	case errors.Is(err, oci.ErrDigest), errors.Is(err, oci.ErrMismatch):
		return Fail(ExitVerify, err)
	case errors.Is(err, oci.ErrReference):
		return Fail(ExitUsage, err)
	}
	return err
}

func runPush(ctx context.Context, env *Env, args []string) error {
	c := commands["push"]
	fs := newFlagSet(env, c)
	maxInput := addInput(fs)
	common := addCommon(fs)
	rf := addRegistryFlags(fs, env)
	hostRoot := fs.String("host-root", env.getenv("KHEADERS_HOST_ROOT"), "without SRC, read the running kernel under `DIR` (env KHEADERS_HOST_ROOT)")
	release := fs.String("release", "", "the kernel `RELEASE` to record when SRC does not tell it")
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return UsageErr("want [SRC] REPO, got %d arguments", len(pos))
	}
	repo := pos[len(pos)-1]
	var (
		archive []byte
		meta    oci.Meta
	)
	if len(pos) == 2 {
		src, err := openSource(ctx, env, pos[0], common.logger(env), maxInput, false)
		if err != nil {
			return err
		}
		if src.Dir {
			return Fail(ExitNotSupported, fmt.Errorf("%s is a directory: push an archive (kheaders pack -o FILE %s first)", pos[0], pos[0]))
		}
		var data []byte
		if data, err = src.Bytes(ctx); err != nil {
			return err
		}
		archive, meta, err = oci.FromArtifact(ctx, data)
		if err != nil && !(*release != "" && archive != nil) {
			return registryFail(carrierFail(err))
		}
	} else {
		if archive, meta, err = oci.FromHost(ctx, *hostRoot); err != nil {
			return registryFail(err)
		}
	}
	if *release != "" {
		meta.Release = *release
	}
	cl, err := oci.NewClient(repo, rf.options(common.logger(env)))
	if err != nil {
		return registryFail(err)
	}
	res, err := cl.Push(ctx, archive, meta)
	if err != nil {
		return registryFail(err)
	}
	if common.JSON {
		return writeJSON(env.Stdout, struct {
			Schema string `json:"schema"`
			*oci.PushResult
		}{"kheaders.push/v1", res})
	}
	state := "pushed"
	if !res.Changed {
		state = "unchanged (already there)"
	}
	for _, t := range res.Tags {
		fmt.Fprintf(env.Stdout, "%s:%s\n", res.Repository, t)
	}
	if !common.Quiet {
		fmt.Fprintf(env.Stderr, "%s %s@%s (release %s, archive sha256 %s, %d bytes)\n", state, res.Repository, res.Digest, res.Meta.Release, res.Archive, res.Size)
	}
	return nil
}
