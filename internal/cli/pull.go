package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/kheaders/kheaders/internal/output"
	"github.com/kheaders/kheaders/oci"
)

// pullCmd is the pull command (listed in root.go).
var pullCmd = &Command{
	Name:  "pull",
	Short: "fetch a header archive from an OCI registry",
	Usage: `Usage: kheaders pull REPO:TAG|REPO@DIGEST -o FILE [flags]

Fetches a kheaders artifact (docs/oci.md) and writes its archive to FILE
(- for standard output). The manifest's artifact type, the layer's size
(--max-size) and the blob's sha256 are checked before anything is written;
what the archive holds is not checked against this machine's kernel (that is
what 'kheaders locate --registry REPO' does).

Tags: buildid-<build-id>, release-<release> with '+' and other characters
escaped as _xx (6.1.21-v8+ -> release-6.1.21-v8_2b).

Examples:
  kheaders pull registry.example.com/kheaders:release-6.12.117 -o kheaders.tar.xz
  kheaders pull 127.0.0.1:5000/kheaders:buildid-0123...cdef -o - | tar -tJ

Exit codes: 3 no such repository or tag, 4 the blob does not match its
digest, 1 other errors (unreachable, refused credentials, another artifact
type).`,
	Run: runPull,
}

func runPull(ctx context.Context, env *Env, args []string) error {
	c := commands["pull"]
	fs := newFlagSet(env, c)
	common := addCommon(fs)
	rf := addRegistryFlags(fs, env)
	out := fs.String("o", "", "write the archive to `FILE` (- for stdout); required")
	maxSize := fs.Int64("max-size", oci.DefaultMaxSize, "refuse archives larger than `BYTES`")
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return UsageErr("want exactly one REPO:TAG or REPO@DIGEST, got %d", len(pos))
	}
	if *out == "" {
		return UsageErr("-o FILE is required (- for standard output)")
	}
	repo, ref, ok := splitRef(pos[0])
	if !ok {
		return UsageErr("%q: want REPO:TAG or REPO@sha256:DIGEST", pos[0])
	}
	o := rf.options(common.logger(env))
	o.MaxSize = *maxSize
	cl, err := oci.NewClient(repo, o)
	if err != nil {
		return registryFail(err)
	}
	a, err := cl.Pull(ctx, ref)
	if err != nil {
		return registryFail(err)
	}
	if err := output.WriteFile(*out, 0o644, env.Stdout, func(w io.Writer) error {
		_, err := w.Write(a.Archive)
		return err
	}); err != nil {
		return err
	}
	if common.JSON && *out != "-" {
		return writeJSON(env.Stdout, struct {
			Schema string `json:"schema"`
			*oci.Artifact
			File string `json:"file"`
		}{"kheaders.pull/v1", a, *out})
	}
	if !common.Quiet {
		fmt.Fprintf(env.Stderr, "pulled %s@%s (release %s, %d bytes, sha256 %s) to %s\n", repo, a.Digest, a.Meta.Release, a.Size, a.SHA256, *out)
	}
	return nil
}

// splitRef splits "host/name:tag" or "host/name@sha256:..." (a port's
// colon is in the host, before the first slash).
func splitRef(s string) (repo, ref string, ok bool) {
	if r, d, found := strings.Cut(s, "@"); found {
		return r, d, r != "" && d != ""
	}
	slash := strings.Index(s, "/")
	i := strings.LastIndex(s, ":")
	if slash < 0 || i < slash {
		return "", "", false
	}
	return s[:i], s[i+1:], s[i+1:] != ""
}
