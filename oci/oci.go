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
// The registry client is the package's own (registry.go): the few
// distribution API calls a push and a pull make, over net/http, with no
// work at program start. Credentials come from the docker configuration
// (~/.docker/config.json, $DOCKER_CONFIG, credHelpers and credsStore
// helpers). TLS is used unless the registry is on a loopback address or
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
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
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
	// HTTPClient gives the transport, timeout and cookie jar of the
	// registry calls (nil: http.DefaultTransport). Its CheckRedirect is
	// not used: redirects never carry Authorization to another host.
	// Retries (429, 5xx, timeouts; at most 4 tries) are the client's own.
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

// Media types of the manifest and its config (image-spec v1.1), and the
// manifest annotation keys the package sets itself.
const (
	mediaTypeManifest  = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeEmptyJSON = "application/vnd.oci.empty.v1+json"
	annotationCreated  = "org.opencontainers.image.created"
	annotationTitle    = "org.opencontainers.image.title"
	// accept is what a manifest GET accepts: ours, and the other manifest
	// kinds so that a wrong reference is told as such, not as not found.
	accept = mediaTypeManifest + ", application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"
)

// descriptor and imageManifest are the image-spec v1.1 fields a kheaders
// manifest uses, in image-spec's field order (the JSON is byte for byte
// what image-spec's Go types give: testdata/golden).
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Data        []byte            `json:"data,omitempty"`
}

type imageManifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        descriptor        `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

var emptyConfig = []byte("{}")

func sha256Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func emptyDesc() descriptor {
	return descriptor{MediaType: mediaTypeEmptyJSON, Digest: sha256Digest(emptyConfig), Size: int64(len(emptyConfig)), Data: emptyConfig}
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
		annotationCreated:       Created,
		AnnotationRelease:       m.Release,
		AnnotationArchiveSHA256: hex.EncodeToString(sum[:]),
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
	man := imageManifest{
		SchemaVersion: 2,
		MediaType:     mediaTypeManifest,
		ArtifactType:  ArtifactType,
		Config:        emptyDesc(),
		Layers: []descriptor{{
			MediaType:   LayerMediaType,
			Digest:      "sha256:" + hex.EncodeToString(sum[:]),
			Size:        int64(len(archive)),
			Annotations: map[string]string{annotationTitle: Title},
		}},
		Annotations: ann,
	}
	// encoding/json sorts map keys: the bytes are deterministic.
	return json.Marshal(man)
}

// parseManifest reads manifest bytes from a registry and checks that they
// are a kheaders artifact: the artifact type, one layer of LayerMediaType
// with a sha256 digest and a size within 1..max, and the archive.sha256
// annotation naming that digest. The returned error wraps ErrArtifactType,
// ErrTooLarge or ErrDigest and starts with what was wrong.
func parseManifest(mb []byte, max int64) (*imageManifest, error) {
	var man imageManifest
	if err := json.Unmarshal(mb, &man); err != nil {
		return nil, fmt.Errorf("%w: manifest is not JSON: %v", ErrArtifactType, err)
	}
	if man.ArtifactType != ArtifactType {
		return nil, fmt.Errorf("%w: artifactType %q, want %s (push it with kheaders push)", ErrArtifactType, man.ArtifactType, ArtifactType)
	}
	if len(man.Layers) != 1 || man.Layers[0].MediaType != LayerMediaType {
		return nil, fmt.Errorf("%w: want one layer of %s", ErrArtifactType, LayerMediaType)
	}
	l := man.Layers[0]
	if l.Size <= 0 || l.Size > max {
		return nil, fmt.Errorf("layer of %d bytes: %w (%d)", l.Size, ErrTooLarge, max)
	}
	if !validSHA256(l.Digest) {
		return nil, fmt.Errorf("%w: layer digest %q is not sha256", ErrArtifactType, l.Digest)
	}
	if want := man.Annotations[AnnotationArchiveSHA256]; want != l.Digest[len("sha256:"):] {
		return nil, fmt.Errorf("%w: annotation %s=%q but the layer is %s", ErrDigest, AnnotationArchiveSHA256, want, l.Digest)
	}
	return &man, nil
}

// Client talks to one repository ("host[:port]/name"). It is safe for
// concurrent use; tokens are cached per scope for its life.
type Client struct {
	name    string // host/name as given, for messages
	host    string // host[:port]
	path    string // the repository name
	base    string // "https://host" or "http://host"
	plain   bool
	hc      *http.Client
	config  *dockerConfig
	opts    *Options
	log     *slog.Logger
	backoff func(attempt int) time.Duration
	stall   time.Duration // see stallTimeout

	mu     sync.Mutex
	tokens map[string]string // scope -> "Bearer ..."
	basic  string            // "Basic ..." once the registry asked for it

	credMu     sync.Mutex // guards credential, credDone
	credential credential
	credDone   bool
}

// NewClient returns a client of repository repo ("registry.example/kheaders",
// "127.0.0.1:5000/kernels/x86"). A tag or digest in repo is an error. It
// reads the docker config.json; credential helpers run only when the
// registry asks for credentials.
//
// Errors: ErrReference, a broken docker config.json.
func NewClient(repo string, opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	host, path, err := parseRepository(repo)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrReference, repo, err)
	}
	cfg, err := loadDockerConfig(context.Background(), opts.DockerConfig)
	if err != nil {
		return nil, fmt.Errorf("registry %s: read docker credentials: %w (fix or remove the docker config.json, or set DOCKER_CONFIG)", repo, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{name: repo, host: host, path: path, plain: opts.PlainHTTP || isLoopback(host), hc: newHTTPClient(opts.HTTPClient),
		config: cfg, opts: opts, log: log, backoff: defaultBackoff, stall: stallTimeout, tokens: map[string]string{}}
	c.base = "https://" + host
	if c.plain {
		c.base = "http://" + host
	}
	return c, nil
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
	var re *responseError
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, errNoCredentials):
		return fmt.Errorf("%s %s: %w: the registry asks for credentials and none are configured for %s: log in with 'docker login %s' or give them in a docker config.json (DOCKER_CONFIG)", op, where, ErrAuth, c.host, c.host)
	case errors.As(err, &re) && (re.Status == http.StatusUnauthorized || re.Status == http.StatusForbidden):
		return fmt.Errorf("%s %s: %w (%v): log in with 'docker login %s' or give credentials in a docker config.json (DOCKER_CONFIG)", op, where, ErrAuth, err, c.host)
	case errors.As(err, &re) && re.Status == http.StatusNotFound:
		return fmt.Errorf("%s %s: %w (%v)", op, where, ErrNotFound, err)
	case errors.Is(err, ErrDigest), errors.Is(err, ErrAuth), errors.Is(err, ErrArtifactType), errors.Is(err, ErrTooLarge):
		return fmt.Errorf("%s %s: %w", op, where, err)
	case errors.As(err, &oe), errors.As(err, &ne):
		hint := "is the registry running and reachable?"
		if !c.plain && strings.Contains(err.Error(), "http: server gave HTTP response to HTTPS client") {
			hint = "the registry speaks plain HTTP: pass --plain-http"
		}
		return fmt.Errorf("%s %s: %w: %v (%s)", op, where, ErrUnreachable, err, hint)
	}
	if strings.Contains(err.Error(), "server gave HTTP response to HTTPS client") {
		return fmt.Errorf("%s %s: %w: %v (the registry speaks plain HTTP: pass --plain-http)", op, where, ErrUnreachable, err)
	}
	return fmt.Errorf("%s %s: %w", op, where, err)
}

func (c *Client) scope(actions string) string { return "repository:" + c.path + ":" + actions }

func (c *Client) url(kind, ref string) string {
	return c.base + "/v2/" + c.path + "/" + kind + "/" + ref
}

// blobExists asks HEAD /v2/NAME/blobs/DIGEST.
func (c *Client) blobExists(ctx context.Context, dgst, scope string) (bool, error) {
	resp, err := c.do(ctx, &request{method: http.MethodHead, url: c.url("blobs", dgst), scope: scope})
	if err != nil {
		return false, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		drain(resp)
		return true, nil
	case http.StatusNotFound:
		drain(resp)
		return false, nil
	}
	return false, statusError(resp)
}

// uploadRounds caps the uploads of one blob (POST and PUT each time).
const uploadRounds = 3

// pushBlob uploads data in one piece: POST an upload, PUT it with the
// digest to the Location the registry gave. A PUT is not retried as it
// is: a registry drops an upload session that failed, so a PUT that got
// no answer, a busy answer (429, 5xx) or "upload unknown" (404) is
// followed by a HEAD of the blob (the upload may have landed though its
// answer was lost) and, when it is absent, a new upload.
func (c *Client) pushBlob(ctx context.Context, dgst string, data []byte, scope string) error {
	for round := 1; ; round++ {
		again, err := c.uploadBlob(ctx, dgst, data, scope)
		if err == nil || !again || round >= uploadRounds || ctx.Err() != nil {
			return err
		}
		if ok, herr := c.blobExists(ctx, dgst, scope); herr == nil && ok {
			return nil
		}
		c.log.Debug("blob upload failed, uploading again", "digest", dgst, "err", err, "round", round+1)
	}
}

// uploadBlob makes one upload of data; again reports whether a failure
// may be tried again with a new upload.
func (c *Client) uploadBlob(ctx context.Context, dgst string, data []byte, scope string) (again bool, err error) {
	start := c.base + "/v2/" + c.path + "/blobs/uploads/"
	resp, err := c.do(ctx, &request{method: http.MethodPost, url: start, scope: scope})
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusAccepted {
		return false, statusError(resp)
	}
	loc := resp.Header.Get("Location")
	drain(resp)
	u, err := resp.Request.URL.Parse(loc)
	if loc == "" || err != nil {
		return false, fmt.Errorf("POST %s: the registry gave no usable upload Location (%q)", start, loc)
	}
	// The Location's query (the registry's upload state) is kept as it
	// was sent; the digest is added to it.
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += "digest=" + url.QueryEscape(dgst)
	resp, err = c.do(ctx, &request{method: http.MethodPut, url: u.String(), body: data, scope: scope, once: true,
		header: map[string]string{"Content-Type": "application/octet-stream"}})
	if err != nil {
		// No answer: the blob may have landed (EOF after the body was sent).
		return retryable(nil, err) || errors.Is(err, io.EOF), err
	}
	switch {
	case resp.StatusCode == http.StatusCreated:
		drain(resp)
		return false, nil
	case resp.StatusCode == http.StatusNotFound:
		// The session is gone: not "no such repository".
		return true, fmt.Errorf("the registry lost the upload session (%v)", statusError(resp))
	case retryable(resp, nil):
		return true, statusError(resp)
	}
	return false, statusError(resp)
}

// fetchManifest GETs the manifest at ref and checks its size, its digest
// (the one asked for, and the Docker-Content-Digest the registry gives)
// and its media type. It returns the bytes and their digest.
func (c *Client) fetchManifest(ctx context.Context, ref, scope string) ([]byte, string, error) {
	resp, err := c.do(ctx, &request{method: http.MethodGet, url: c.url("manifests", ref), scope: scope, header: map[string]string{"Accept": accept}})
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", statusError(resp)
	}
	defer resp.Body.Close()
	if resp.ContentLength > maxManifest {
		return nil, "", fmt.Errorf("manifest of %d bytes: %w", resp.ContentLength, ErrArtifactType)
	}
	mb, err := io.ReadAll(io.LimitReader(resp.Body, maxManifest+1))
	if err != nil {
		return nil, "", err
	}
	if len(mb) > maxManifest {
		return nil, "", fmt.Errorf("manifest of more than %d bytes: %w", maxManifest, ErrArtifactType)
	}
	dgst := sha256Digest(mb)
	if strings.HasPrefix(ref, "sha256:") && ref != dgst {
		return nil, "", fmt.Errorf("%w: manifest is %s", ErrDigest, dgst)
	}
	if h := resp.Header.Get("Docker-Content-Digest"); strings.HasPrefix(h, "sha256:") && h != dgst {
		return nil, "", fmt.Errorf("%w: the registry says the manifest is %s, its bytes are %s", ErrDigest, h, dgst)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != mediaTypeManifest {
		return nil, "", fmt.Errorf("%w: media type %q, want %s (push it with kheaders push)", ErrArtifactType, mt, mediaTypeManifest)
	}
	return mb, dgst, nil
}

// fetchBlob GETs the blob of digest dgst and size bytes (following
// redirects, without Authorization to another host) and checks both.
func (c *Client) fetchBlob(ctx context.Context, dgst string, size int64, scope string) ([]byte, error) {
	resp, err := c.do(ctx, &request{method: http.MethodGet, url: c.url("blobs", dgst), scope: scope})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp)
	}
	defer resp.Body.Close()
	if resp.ContentLength >= 0 && resp.ContentLength != size {
		return nil, fmt.Errorf("%w: the registry sends %d bytes, the manifest says %d", ErrDigest, resp.ContentLength, size)
	}
	data := make([]byte, 0, size)
	buf := bytes.NewBuffer(data)
	n, err := io.Copy(buf, io.LimitReader(resp.Body, size+1))
	if err != nil {
		return nil, err
	}
	if n != size {
		return nil, fmt.Errorf("%w: the registry sent %d bytes, the manifest says %d", ErrDigest, n, size)
	}
	if got := sha256Digest(buf.Bytes()); got != dgst {
		return nil, fmt.Errorf("%w: the blob is %s", ErrDigest, got)
	}
	return buf.Bytes(), nil
}

// putManifest PUTs mb under tag.
func (c *Client) putManifest(ctx context.Context, tag string, mb []byte, scope string) error {
	resp, err := c.do(ctx, &request{method: http.MethodPut, url: c.url("manifests", tag), body: mb, scope: scope,
		header: map[string]string{"Content-Type": mediaTypeManifest}})
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return statusError(resp)
	}
	drain(resp)
	return nil
}

// resolve returns the digest of the manifest tag names ("" when the tag
// does not exist), by HEAD and its Docker-Content-Digest, or a GET when
// the registry gives none.
func (c *Client) resolve(ctx context.Context, tag, scope string) (string, error) {
	resp, err := c.do(ctx, &request{method: http.MethodHead, url: c.url("manifests", tag), scope: scope, header: map[string]string{"Accept": accept}})
	if err != nil {
		return "", err
	}
	switch resp.StatusCode {
	case http.StatusNotFound:
		drain(resp)
		return "", nil
	case http.StatusOK:
		drain(resp)
		if d := resp.Header.Get("Docker-Content-Digest"); validSHA256(d) {
			return d, nil
		}
	default:
		return "", statusError(resp)
	}
	_, d, err := c.fetchManifest(ctx, tag, scope)
	if errors.Is(err, ErrArtifactType) {
		return "other", nil // not ours: rewrite the tag
	}
	return d, err
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
	res := &PushResult{Repository: c.name, Digest: sha256Digest(mb), Tags: tags(m), Size: int64(len(archive)), Meta: m}
	sum := sha256.Sum256(archive)
	res.Archive = hex.EncodeToString(sum[:])
	scope := c.scope("pull,push")
	blobs := []struct {
		digest string
		data   []byte
	}{
		{sha256Digest(emptyConfig), emptyConfig},
		{"sha256:" + res.Archive, archive},
	}
	for _, b := range blobs {
		ok, err := c.blobExists(ctx, b.digest, scope)
		if err != nil {
			return nil, c.wrap("push: check blob", b.digest, err)
		}
		if ok {
			continue
		}
		if err := c.pushBlob(ctx, b.digest, b.data, scope); err != nil {
			return nil, c.wrap("push: upload blob", b.digest, err)
		}
		res.Changed = true
	}
	for _, tag := range res.Tags {
		cur, err := c.resolve(ctx, tag, scope)
		if err != nil {
			return nil, c.wrap("push: resolve", tag, err)
		}
		if cur == res.Digest {
			continue
		}
		if err := c.putManifest(ctx, tag, mb, scope); err != nil {
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
// ErrArtifactType, ErrTooLarge, ErrReference.
func (c *Client) Pull(ctx context.Context, ref string) (*Artifact, error) {
	if !validTag(ref) && !validSHA256(ref) {
		return nil, fmt.Errorf("pull %s:%s: %w: want a tag ([A-Za-z0-9_.-], at most 128) or a sha256:<64 hex> digest", c.name, ref, ErrReference)
	}
	scope := c.scope("pull")
	mb, dgst, err := c.fetchManifest(ctx, ref, scope)
	if err != nil {
		return nil, c.wrap("pull: manifest", ref, err)
	}
	man, err := parseManifest(mb, c.opts.maxSize())
	if err != nil {
		return nil, fmt.Errorf("pull %s:%s: %w", c.name, ref, err)
	}
	l := man.Layers[0]
	data, err := c.fetchBlob(ctx, l.Digest, l.Size, scope)
	if err != nil {
		return nil, c.wrap("pull: blob", l.Digest, err)
	}
	a := &Artifact{Repository: c.name, Reference: ref, Digest: dgst, Archive: data, SHA256: l.Digest[len("sha256:"):], Size: l.Size, Meta: metaOf(man.Annotations)}
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
