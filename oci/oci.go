// Package oci stores kheaders archives in an OCI registry (CNCF
// distribution, Harbor, Zot, GHCR, ECR ...) as artifacts keyed by kernel
// identity, so that every machine running the same kernel build can fetch its
// headers instead of carrying them. The layout is documented in docs/oci.md:
// one image manifest (image-spec v1.1) with ArtifactType, the empty config
// and one layer holding the archive byte for byte, annotations naming the
// kernel, and two tags: one from the build-id (BuildIDTag), one from the
// release (ReleaseTag).
//
// The manifest bytes are a pure function of the archive and its Meta (a fixed
// org.opencontainers.image.created), so pushing the same archive twice
// changes nothing. A pull checks the manifest's artifact type, the layer's
// media type and size cap, and the blob's digest; what the archive holds is
// verified by its user (locate checks it against the running kernel).
//
// Credentials come from the docker configuration (~/.docker/config.json,
// $DOCKER_CONFIG, credential helpers) through oras-go's credentials store.
// TLS is used unless the registry is on a loopback address or
// Options.PlainHTTP asks for plain HTTP.
package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/content"
	"oras.land/oras-go/v2/errdef"
	"oras.land/oras-go/v2/registry"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
	"oras.land/oras-go/v2/registry/remote/credentials"
	"oras.land/oras-go/v2/registry/remote/errcode"
	"oras.land/oras-go/v2/registry/remote/retry"
)

// Media types and annotation keys of a kheaders artifact (docs/oci.md).
const (
	ArtifactType   = "application/vnd.kheaders.headers.v1"
	LayerMediaType = "application/vnd.kheaders.archive.v1.tar+xz"

	AnnotationRelease       = "io.kheaders.kernel.release"
	AnnotationMachine       = "io.kheaders.kernel.machine"
	AnnotationArch          = "io.kheaders.kernel.arch"
	AnnotationBuildID       = "io.kheaders.kernel.build-id"
	AnnotationVersionCode   = "io.kheaders.kernel.version-code"
	AnnotationConfigSHA256  = "io.kheaders.kernel.config.sha256"
	AnnotationArchiveSHA256 = "io.kheaders.archive.sha256"

	// Created is the fixed org.opencontainers.image.created of every
	// manifest: a time of push would make the manifest digest differ from
	// push to push of the same archive.
	Created = "1970-01-01T00:00:00Z"
	// Title is the layer's org.opencontainers.image.title (the file name
	// `oras pull` would write).
	Title = "kheaders.tar.xz"
)

// DefaultMaxSize caps the archive a pull accepts (real ones are 3-8 MB).
const DefaultMaxSize = 256 << 20

// maxManifest caps a manifest read (ours are under 2 KB).
const maxManifest = 4 << 20

// Sentinel errors. Every error of this package names the registry
// reference it was about.
var (
	// ErrNotFound: the registry has no such repository, tag or blob.
	ErrNotFound = errors.New("not found in the registry")
	// ErrAuth: the registry refused the credentials (401/403).
	ErrAuth = errors.New("registry refused access")
	// ErrUnreachable: the registry could not be reached.
	ErrUnreachable = errors.New("registry unreachable")
	// ErrDigest: a blob or manifest did not match its digest.
	ErrDigest = errors.New("content does not match its digest")
	// ErrArtifactType: the manifest is not a kheaders artifact.
	ErrArtifactType = errors.New("not a kheaders artifact")
	// ErrTooLarge: the archive is larger than Options.MaxSize.
	ErrTooLarge = errors.New("archive larger than the size cap")
	// ErrReference: the reference or repository cannot be parsed.
	ErrReference = errors.New("invalid registry reference")
)

// Meta is the identity of the kernel an archive belongs to, stored as
// annotations. Release is required; the rest is stored when known.
//
// Its JSON is the `meta` object of kheaders.push/v1 and kheaders.pull/v1
// (docs/json.md): a stable schema, fields are only added within v1.
type Meta struct {
	Release      string `json:"release"`
	Machine      string `json:"machine,omitempty"`
	Arch         string `json:"arch,omitempty"`
	BuildID      string `json:"build_id,omitempty"`     // 40 lowercase hex (sha1), or ""
	VersionCode  uint32 `json:"version_code,omitempty"` // LINUX_VERSION_CODE
	ConfigSHA256 string `json:"config_sha256,omitempty"`
}

// Options configure the registry client. The zero value (or nil) works:
// docker credentials, TLS except on loopback, DefaultMaxSize.
type Options struct {
	// PlainHTTP talks HTTP instead of HTTPS to any registry (--plain-http).
	// Without it plain HTTP is used only for loopback hosts (127.0.0.0/8,
	// ::1, localhost).
	PlainHTTP bool
	// DockerConfig is the docker config.json to take credentials from (""
	// means $DOCKER_CONFIG/config.json or ~/.docker/config.json).
	DockerConfig string
	// MaxSize caps the archive a pull accepts (0: DefaultMaxSize).
	MaxSize int64
	// HTTPClient is the transport under the auth client (nil: oras-go's
	// retrying client).
	HTTPClient *http.Client
	Logger     *slog.Logger
}

func (o *Options) maxSize() int64 {
	if o == nil || o.MaxSize <= 0 {
		return DefaultMaxSize
	}
	return o.MaxSize
}

// BuildIDTag is the tag of an archive by the kernel's build-id:
// "buildid-<40 hex>" (lowercase).
func BuildIDTag(id string) string { return "buildid-" + strings.ToLower(id) }

// ReleaseTag is the tag of an archive by kernel release: "release-" and the
// release with every byte a tag cannot hold escaped. A tag holds
// [A-Za-z0-9_.-]; '_' is the escape character: "_" becomes "__" and any
// other byte "_xx" (two lowercase hex digits), so "6.1.21-v8+" is
// "release-6.1.21-v8_2b". The mapping is one to one. A result longer than
// the 128 characters a tag may have becomes "release-sha256-" and the first
// 64 hex digits of the release's sha256.
func ReleaseTag(release string) string {
	var b strings.Builder
	b.WriteString("release-")
	for i := 0; i < len(release); i++ {
		c := release[i]
		switch {
		case c == '_':
			b.WriteString("__")
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "_%02x", c)
		}
	}
	if b.Len() > 128 {
		s := sha256.Sum256([]byte(release))
		return "release-sha256-" + hex.EncodeToString(s[:])
	}
	return b.String()
}

// validBuildID reports whether id is a GNU build-id as the kernel links it
// (sha1: 40 hex digits). Other lengths (md5, uuid: 32) are accepted too.
func validBuildID(id string) bool {
	if len(id) < 16 || len(id) > 64 || len(id)%2 != 0 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// tags returns the tags an artifact of m is pushed under: the build-id's
// (when known) and the release's.
func tags(m Meta) []string {
	var t []string
	if m.BuildID != "" {
		t = append(t, BuildIDTag(m.BuildID))
	}
	return append(t, ReleaseTag(m.Release))
}

var emptyConfig = []byte("{}")

func emptyDesc() ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeEmptyJSON, Digest: digest.FromBytes(emptyConfig), Size: int64(len(emptyConfig)), Data: emptyConfig}
}

// manifest returns the manifest bytes of archive with m: the same inputs
// always give the same bytes (and so the same digest).
func manifest(archive []byte, m Meta) ([]byte, error) {
	if m.Release == "" {
		return nil, errors.New("oci manifest: the kernel release is required")
	}
	if m.BuildID != "" && !validBuildID(m.BuildID) {
		return nil, fmt.Errorf("oci manifest: build-id %q is not hex", m.BuildID)
	}
	sum := sha256.Sum256(archive)
	ann := map[string]string{
		ocispec.AnnotationCreated: Created,
		AnnotationRelease:         m.Release,
		AnnotationArchiveSHA256:   hex.EncodeToString(sum[:]),
	}
	set := func(k, v string) {
		if v != "" {
			ann[k] = v
		}
	}
	set(AnnotationMachine, m.Machine)
	set(AnnotationArch, m.Arch)
	set(AnnotationBuildID, strings.ToLower(m.BuildID))
	set(AnnotationConfigSHA256, m.ConfigSHA256)
	if m.VersionCode != 0 {
		ann[AnnotationVersionCode] = strconv.FormatUint(uint64(m.VersionCode), 10)
	}
	man := ocispec.Manifest{
		Versioned:    specs.Versioned{SchemaVersion: 2},
		MediaType:    ocispec.MediaTypeImageManifest,
		ArtifactType: ArtifactType,
		Config:       emptyDesc(),
		Layers: []ocispec.Descriptor{{
			MediaType:   LayerMediaType,
			Digest:      digest.NewDigestFromBytes(digest.SHA256, sum[:]),
			Size:        int64(len(archive)),
			Annotations: map[string]string{ocispec.AnnotationTitle: Title},
		}},
		Annotations: ann,
	}
	// encoding/json sorts map keys: the bytes are deterministic.
	return json.Marshal(man)
}

// Client talks to one repository ("host[:port]/name").
type Client struct {
	repo *remote.Repository
	name string // host/name as given, for messages
	opts *Options
	log  *slog.Logger
}

// NewClient returns a client of repository repo ("registry.example/kheaders",
// "127.0.0.1:5000/kernels/x86"). A tag or digest in repo is an error.
//
// Errors: ErrReference, credential store errors (a broken docker config).
func NewClient(repo string, opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	ref, err := registry.ParseReference(repo)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v (want HOST[:PORT]/NAME, lowercase)", ErrReference, repo, err)
	}
	if ref.Reference != "" {
		return nil, fmt.Errorf("%w %q: give the repository without a tag or digest", ErrReference, repo)
	}
	r, err := remote.NewRepository(repo)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrReference, repo, err)
	}
	r.PlainHTTP = opts.PlainHTTP || isLoopback(ref.Registry)
	var store credentials.Store
	if opts.DockerConfig != "" {
		store, err = credentials.NewStore(opts.DockerConfig, credentials.StoreOptions{})
	} else {
		store, err = credentials.NewStoreFromDocker(credentials.StoreOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("registry %s: read docker credentials: %w (fix or remove the docker config.json, or set DOCKER_CONFIG)", repo, err)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = retry.DefaultClient
	}
	r.Client = &auth.Client{Client: hc, Cache: auth.NewCache(), Credential: credentials.Credential(store)}
	r.SkipReferrersGC = true
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{repo: r, name: repo, opts: opts, log: log}, nil
}

// isLoopback reports whether host (with an optional port) is loopback.
func isLoopback(hostport string) bool {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Repository returns the repository as given to NewClient.
func (c *Client) Repository() string { return c.name }

// wrap classifies a registry error and names the reference.
func (c *Client) wrap(op, ref string, err error) error {
	if err == nil {
		return nil
	}
	where := c.name
	if ref != "" {
		where += ":" + ref
	}
	if strings.HasPrefix(ref, "sha256:") {
		where = c.name + "@" + ref
	}
	var ec *errcode.ErrorResponse
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, auth.ErrBasicCredentialNotFound):
		return fmt.Errorf("%s %s: %w: the registry asks for credentials and none are configured for %s: log in with 'docker login %s' or give them in a docker config.json (DOCKER_CONFIG)", op, where, ErrAuth, c.repo.Reference.Registry, c.repo.Reference.Registry)
	case errors.Is(err, errdef.ErrNotFound):
		return fmt.Errorf("%s %s: %w", op, where, ErrNotFound)
	case errors.As(err, &ec) && (ec.StatusCode == http.StatusUnauthorized || ec.StatusCode == http.StatusForbidden):
		return fmt.Errorf("%s %s: %w (HTTP %d): log in with 'docker login %s' or give credentials in a docker config.json (DOCKER_CONFIG)", op, where, ErrAuth, ec.StatusCode, c.repo.Reference.Registry)
	case errors.As(err, &ec) && ec.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w", op, where, ErrNotFound)
	case errors.Is(err, content.ErrMismatchedDigest), errors.Is(err, content.ErrTrailingData):
		return fmt.Errorf("%s %s: %w: %v", op, where, ErrDigest, err)
	case errors.As(err, &oe), errors.As(err, &ne):
		hint := "is the registry running and reachable?"
		if !c.repo.PlainHTTP && strings.Contains(err.Error(), "http: server gave HTTP response to HTTPS client") {
			hint = "the registry speaks plain HTTP: pass --plain-http"
		}
		return fmt.Errorf("%s %s: %w: %v (%s)", op, where, ErrUnreachable, err, hint)
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return fmt.Errorf("%s %s: %w: %v (the registry speaks plain HTTP: pass --plain-http)", op, where, ErrUnreachable, err)
	}
	return fmt.Errorf("%s %s: %w", op, where, err)
}

// PushResult says what Push did.
//
// Its JSON is the body of kheaders.push/v1 (docs/json.md): a stable schema,
// fields are only added within v1.
type PushResult struct {
	Repository string   `json:"repository"`
	Digest     string   `json:"digest"` // of the manifest
	Tags       []string `json:"tags"`
	Archive    string   `json:"archive_sha256"`
	Size       int64    `json:"size"`
	// Changed is false when every blob and tag was already there (the
	// same archive pushed again).
	Changed bool `json:"changed"`
	Meta    Meta `json:"meta"`
}

// Push stores archive with m and tags it: with BuildIDTag(m.BuildID) when
// the build-id is known, and with ReleaseTag(m.Release). m.Release is
// required; m.BuildID, when set, must be 16 to 64 hex digits. The manifest
// bytes are a function of archive and m alone (fixed creation time), so the
// same push gives the same digest. It is idempotent:
// existing blobs are not uploaded again, and a tag already naming the same
// manifest is left alone.
//
// Errors: ErrAuth, ErrUnreachable, ErrNotFound, other registry errors.
func (c *Client) Push(ctx context.Context, archive []byte, m Meta) (*PushResult, error) {
	mb, err := manifest(archive, m)
	if err != nil {
		return nil, err
	}
	mdesc := content.NewDescriptorFromBytes(ocispec.MediaTypeImageManifest, mb)
	res := &PushResult{Repository: c.name, Digest: mdesc.Digest.String(), Tags: tags(m), Size: int64(len(archive)), Meta: m}
	sum := sha256.Sum256(archive)
	res.Archive = hex.EncodeToString(sum[:])
	blobs := []struct {
		desc ocispec.Descriptor
		data []byte
	}{
		{emptyDesc(), emptyConfig},
		{ocispec.Descriptor{MediaType: LayerMediaType, Digest: digest.NewDigestFromBytes(digest.SHA256, sum[:]), Size: int64(len(archive))}, archive},
	}
	for _, b := range blobs {
		ok, err := c.repo.Blobs().Exists(ctx, b.desc)
		if err != nil {
			return nil, c.wrap("push: check blob", b.desc.Digest.String(), err)
		}
		if ok {
			continue
		}
		if err := c.repo.Blobs().Push(ctx, b.desc, bytes.NewReader(b.data)); err != nil && !errors.Is(err, errdef.ErrAlreadyExists) {
			return nil, c.wrap("push: upload blob", b.desc.Digest.String(), err)
		}
		res.Changed = true
	}
	for _, tag := range res.Tags {
		cur, err := c.repo.Manifests().Resolve(ctx, tag)
		if err == nil && cur.Digest == mdesc.Digest {
			continue
		}
		if err != nil && !errors.Is(err, errdef.ErrNotFound) {
			return nil, c.wrap("push: resolve", tag, err)
		}
		if err := c.repo.Manifests().PushReference(ctx, mdesc, bytes.NewReader(mb), tag); err != nil {
			return nil, c.wrap("push: tag", tag, err)
		}
		res.Changed = true
	}
	c.log.Debug("pushed", "repository", c.name, "digest", res.Digest, "tags", res.Tags, "changed", res.Changed)
	return res, nil
}

// Artifact is a pulled archive with what its manifest says.
//
// Its JSON is the body of kheaders.pull/v1 (docs/json.md): a stable schema,
// fields are only added within v1.
type Artifact struct {
	Repository string `json:"repository"`
	Reference  string `json:"reference"` // the tag or digest asked for
	Digest     string `json:"digest"`    // of the manifest
	Archive    []byte `json:"-"`
	SHA256     string `json:"archive_sha256"`
	Size       int64  `json:"size"`
	Meta       Meta   `json:"meta"`
}

// Pull fetches the artifact at ref (a tag or "sha256:..." digest) and
// checks it: the manifest's digest, its artifact type, one layer of
// LayerMediaType within the size cap, the blob's digest, and the
// archive.sha256 annotation.
//
// Errors: ErrNotFound, ErrAuth, ErrUnreachable, ErrDigest,
// ErrArtifactType, ErrTooLarge.
func (c *Client) Pull(ctx context.Context, ref string) (*Artifact, error) {
	desc, rc, err := c.repo.Manifests().FetchReference(ctx, ref)
	if err != nil {
		return nil, c.wrap("pull: manifest", ref, err)
	}
	defer rc.Close()
	where := c.name + ":" + ref
	if desc.Size > maxManifest {
		return nil, fmt.Errorf("pull %s: manifest of %d bytes: %w", where, desc.Size, ErrArtifactType)
	}
	mb, err := content.ReadAll(rc, desc)
	if err != nil {
		return nil, c.wrap("pull: manifest", ref, err)
	}
	if desc.MediaType != ocispec.MediaTypeImageManifest {
		return nil, fmt.Errorf("pull %s: %w: media type %q, want %s (push it with kheaders push)", where, ErrArtifactType, desc.MediaType, ocispec.MediaTypeImageManifest)
	}
	var man ocispec.Manifest
	if err := json.Unmarshal(mb, &man); err != nil {
		return nil, fmt.Errorf("pull %s: %w: manifest is not JSON: %v", where, ErrArtifactType, err)
	}
	if man.ArtifactType != ArtifactType {
		return nil, fmt.Errorf("pull %s: %w: artifactType %q, want %s (push it with kheaders push)", where, ErrArtifactType, man.ArtifactType, ArtifactType)
	}
	if len(man.Layers) != 1 || man.Layers[0].MediaType != LayerMediaType {
		return nil, fmt.Errorf("pull %s: %w: want one layer of %s", where, ErrArtifactType, LayerMediaType)
	}
	l := man.Layers[0]
	if l.Size <= 0 || l.Size > c.opts.maxSize() {
		return nil, fmt.Errorf("pull %s: layer of %d bytes: %w (%d)", where, l.Size, ErrTooLarge, c.opts.maxSize())
	}
	if l.Digest.Algorithm() != digest.SHA256 || l.Digest.Validate() != nil {
		return nil, fmt.Errorf("pull %s: %w: layer digest %q is not sha256", where, ErrArtifactType, l.Digest)
	}
	want := man.Annotations[AnnotationArchiveSHA256]
	if want != l.Digest.Encoded() {
		return nil, fmt.Errorf("pull %s: %w: annotation %s=%q but the layer is %s", where, ErrDigest, AnnotationArchiveSHA256, want, l.Digest)
	}
	brc, err := c.repo.Blobs().Fetch(ctx, l)
	if err != nil {
		return nil, c.wrap("pull: blob", l.Digest.String(), err)
	}
	defer brc.Close()
	data, err := content.ReadAll(brc, l)
	if err != nil {
		return nil, c.wrap("pull: blob", l.Digest.String(), err)
	}
	a := &Artifact{Repository: c.name, Reference: ref, Digest: desc.Digest.String(), Archive: data, SHA256: l.Digest.Encoded(), Size: l.Size, Meta: metaOf(man.Annotations)}
	c.log.Debug("pulled", "repository", c.name, "reference", ref, "digest", a.Digest, "size", a.Size)
	return a, nil
}

func metaOf(ann map[string]string) Meta {
	m := Meta{
		Release:      ann[AnnotationRelease],
		Machine:      ann[AnnotationMachine],
		Arch:         ann[AnnotationArch],
		BuildID:      ann[AnnotationBuildID],
		ConfigSHA256: ann[AnnotationConfigSHA256],
	}
	if v, err := strconv.ParseUint(ann[AnnotationVersionCode], 10, 32); err == nil {
		m.VersionCode = uint32(v)
	}
	return m
}

// Find pulls the archive of a kernel: by BuildIDTag(buildID) first (when
// buildID is not ""), then by ReleaseTag(release). A build-id answer must
// carry that build-id, a release answer that release (and, when both know
// one, the same build-id): anything else is refused with ErrMismatch.
//
// Errors: as Pull; ErrNotFound when neither tag exists; ErrMismatch.
func (c *Client) Find(ctx context.Context, buildID, release string) (*Artifact, error) {
	var notFound []string
	if buildID != "" {
		tag := BuildIDTag(buildID)
		a, err := c.Pull(ctx, tag)
		switch {
		case err == nil:
			if !strings.EqualFold(a.Meta.BuildID, buildID) {
				return nil, fmt.Errorf("pull %s:%s: %w: its build-id annotation is %q", c.name, tag, ErrMismatch, a.Meta.BuildID)
			}
			return a, nil
		case errors.Is(err, ErrNotFound):
			notFound = append(notFound, tag)
		default:
			return nil, err
		}
	}
	tag := ReleaseTag(release)
	a, err := c.Pull(ctx, tag)
	if errors.Is(err, ErrNotFound) {
		notFound = append(notFound, tag)
		return nil, fmt.Errorf("registry %s has no archive of this kernel (tried %s): %w; publish it with 'kheaders push %s' on a machine that has it", c.name, strings.Join(notFound, ", "), ErrNotFound, c.name)
	}
	if err != nil {
		return nil, err
	}
	if a.Meta.Release != release {
		return nil, fmt.Errorf("pull %s:%s: %w: its release annotation is %q, want %q", c.name, tag, ErrMismatch, a.Meta.Release, release)
	}
	if buildID != "" && a.Meta.BuildID != "" && !strings.EqualFold(a.Meta.BuildID, buildID) {
		return nil, fmt.Errorf("pull %s:%s: %w: it is of the build %s, the running kernel is %s", c.name, tag, ErrMismatch, a.Meta.BuildID, buildID)
	}
	return a, nil
}

// ErrMismatch: the registry's artifact is another kernel's.
var ErrMismatch = errors.New("registry artifact is another kernel's")
