package oci

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeRegistry is an in-memory distribution API on 127.0.0.1 with
// pluggable auth, for what the real docker-registry tests cannot show:
// token auth, credential helpers, retries, redirects.
type fakeRegistry struct {
	srv *httptest.Server
	// auth, when set, says whether a request may pass; a refusal answers
	// 401 with challenge.
	auth      func(r *http.Request) bool
	challenge string
	// hook runs first and may answer itself (return true).
	hook func(w http.ResponseWriter, r *http.Request) bool

	mu        sync.Mutex
	blobs     map[string][]byte
	manifests map[string][]byte
	requests  []string
}

func startFake(t *testing.T) *fakeRegistry {
	f := &fakeRegistry{blobs: map[string][]byte{}, manifests: map[string][]byte{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeRegistry) host() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func (f *fakeRegistry) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	if f.hook != nil && f.hook(w, r) {
		return
	}
	if f.auth != nil && !f.auth(r) {
		w.Header().Set("WWW-Authenticate", f.challenge)
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/v2/k/")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case p == "blobs/uploads/" && r.Method == http.MethodPost:
		w.Header().Set("Location", "/v2/k/blobs/uploads/u1?_state=abc")
		w.WriteHeader(http.StatusAccepted)
	case strings.HasPrefix(p, "blobs/uploads/") && r.Method == http.MethodPut:
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		d := r.URL.Query().Get("digest")
		if r.URL.Query().Get("_state") != "abc" || sha256Digest(b.Bytes()) != d {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}`)
			return
		}
		f.blobs[d] = b.Bytes()
		w.WriteHeader(http.StatusCreated)
	case strings.HasPrefix(p, "blobs/"):
		b, ok := f.blobs[strings.TrimPrefix(p, "blobs/")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		if r.Method == http.MethodGet {
			w.Write(b)
		}
	case strings.HasPrefix(p, "manifests/") && r.Method == http.MethodPut:
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		f.manifests[strings.TrimPrefix(p, "manifests/")] = b.Bytes()
		f.manifests[sha256Digest(b.Bytes())] = b.Bytes()
		w.WriteHeader(http.StatusCreated)
	case strings.HasPrefix(p, "manifests/"):
		b, ok := f.manifests[strings.TrimPrefix(p, "manifests/")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
			return
		}
		w.Header().Set("Content-Type", mediaTypeManifest)
		w.Header().Set("Docker-Content-Digest", sha256Digest(b))
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		if r.Method == http.MethodGet {
			w.Write(b)
		}
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// writeConfig writes a docker config.json in a temporary directory.
func writeConfig(t *testing.T, body string) string {
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func basicConfig(host, user, pass string) string {
	return fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
}

func newTestClient(t *testing.T, host string, cfg string) *Client {
	t.Helper()
	c, err := NewClient(host+"/k", &Options{DockerConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	c.backoff = func(int) time.Duration { return time.Millisecond }
	return c
}

var testMeta = Meta{Release: "6.12.117", BuildID: strings.Repeat("ab", 20)}

// pushPull pushes an archive and pulls it back by both tags.
func pushPull(t *testing.T, c *Client) error {
	t.Helper()
	arch := []byte("not really an archive, but bytes")
	r, err := c.Push(t.Context(), arch, testMeta)
	if err != nil {
		return err
	}
	for _, tag := range r.Tags {
		a, err := c.Pull(t.Context(), tag)
		if err != nil {
			return err
		}
		if !bytes.Equal(a.Archive, arch) || a.Digest != r.Digest {
			t.Errorf("Pull(%s) = %q %s, want the pushed archive, %s", tag, a.Archive, a.Digest, r.Digest)
		}
	}
	return nil
}

// tokenServer is a token service: it hands out "tok-N" for Basic user:pass
// (or anonymously when anon), recording the scopes asked for.
type tokenServer struct {
	srv        *httptest.Server
	user, pass string
	anon       bool
	field      string // "token" or "access_token"
	refresh    string // a refresh token accepted by POST
	n          atomic.Int32
	mu         sync.Mutex
	scopes     []string
	valid      map[string]bool
}

func startTokens(t *testing.T) *tokenServer {
	ts := &tokenServer{user: "u", pass: "p", field: "token", valid: map[string]bool{}}
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var scope string
		switch r.Method {
		case http.MethodPost:
			r.ParseForm()
			if ts.refresh == "" || r.PostForm.Get("grant_type") != "refresh_token" || r.PostForm.Get("refresh_token") != ts.refresh || r.PostForm.Get("service") != "fake" {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			scope = r.PostForm.Get("scope")
		default:
			u, p, ok := r.BasicAuth()
			if !(ok && u == ts.user && p == ts.pass) && !(ts.anon && !ok) || r.URL.Query().Get("service") != "fake" {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`)
				return
			}
			scope = strings.Join(r.URL.Query()["scope"], " ")
		}
		tok := fmt.Sprintf("tok-%d", ts.n.Add(1))
		ts.mu.Lock()
		ts.scopes = append(ts.scopes, scope)
		ts.valid["Bearer "+tok] = true
		ts.mu.Unlock()
		fmt.Fprintf(w, `{%q:%q,"expires_in":300}`, ts.field, tok)
	}))
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *tokenServer) ok(r *http.Request) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.valid[r.Header.Get("Authorization")]
}

func (ts *tokenServer) expireAll() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	clear(ts.valid)
}

func bearerFake(t *testing.T, ts *tokenServer) *fakeRegistry {
	f := startFake(t)
	f.auth = ts.ok
	f.challenge = fmt.Sprintf(`Bearer realm="%s/token",service="fake",scope="repository:k:pull"`, ts.srv.URL)
	return f
}

func TestTokenAuth(t *testing.T) {
	for _, field := range []string{"token", "access_token"} {
		t.Run(field, func(t *testing.T) {
			ts := startTokens(t)
			ts.field = field
			f := bearerFake(t, ts)
			c := newTestClient(t, f.host(), writeConfig(t, basicConfig(f.host(), "u", "p")))
			if err := pushPull(t, c); err != nil {
				t.Fatalf("push/pull with a token: %v", err)
			}
			// One token per scope, cached: push's, then pull's.
			want := []string{"repository:k:pull,push repository:k:pull", "repository:k:pull"}
			if fmt.Sprint(ts.scopes) != fmt.Sprint(want) {
				t.Errorf("token scopes asked = %q, want %q", ts.scopes, want)
			}
		})
	}
}

func TestTokenAnonymous(t *testing.T) {
	ts := startTokens(t)
	ts.anon = true
	f := bearerFake(t, ts)
	c := newTestClient(t, f.host(), filepath.Join(t.TempDir(), "none.json"))
	if err := pushPull(t, c); err != nil {
		t.Fatalf("push/pull with an anonymous token: %v", err)
	}
}

func TestTokenBadCredentials(t *testing.T) {
	ts := startTokens(t)
	f := bearerFake(t, ts)
	c := newTestClient(t, f.host(), writeConfig(t, basicConfig(f.host(), "u", "wrong")))
	_, err := c.Pull(t.Context(), "release-x")
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "bad credentials") || !strings.Contains(err.Error(), f.host()+"/k:release-x") {
		t.Errorf("Pull with a refused token request = %v, want ErrAuth naming the reference and the token service's message", err)
	}
}

func TestTokenExpired(t *testing.T) {
	ts := startTokens(t)
	f := bearerFake(t, ts)
	c := newTestClient(t, f.host(), writeConfig(t, basicConfig(f.host(), "u", "p")))
	if err := pushPull(t, c); err != nil {
		t.Fatal(err)
	}
	n := ts.n.Load()
	ts.expireAll()
	if err := pushPull(t, c); err != nil {
		t.Fatalf("push/pull after the tokens expired: %v", err)
	}
	if got := ts.n.Load(); got != n+2 {
		t.Errorf("token requests after expiry = %d, want %d (one new token per scope)", got-n, 2)
	}
}

// TestTokenAlwaysRefused: a registry that refuses every token ends in
// ErrAuth after one re-authentication, not a loop.
func TestTokenAlwaysRefused(t *testing.T) {
	ts := startTokens(t)
	f := bearerFake(t, ts)
	f.auth = func(*http.Request) bool { return false }
	c := newTestClient(t, f.host(), writeConfig(t, basicConfig(f.host(), "u", "p")))
	_, err := c.Pull(t.Context(), "release-x")
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Errorf("Pull from a registry refusing its tokens = %v, want ErrAuth with the registry's error code", err)
	}
	if got := ts.n.Load(); got != 1 {
		t.Errorf("token requests = %d, want 1", got)
	}
}

func TestBasicAuthFake(t *testing.T) {
	f := startFake(t)
	f.auth = func(r *http.Request) bool { u, p, ok := r.BasicAuth(); return ok && u == "u" && p == "p" }
	f.challenge = `Basic realm="fake"`
	c := newTestClient(t, f.host(), writeConfig(t, fmt.Sprintf(`{"auths":{"https://%s/v1/":{"username":"u","password":"p"}}}`, f.host())))
	if err := pushPull(t, c); err != nil {
		t.Fatalf("push/pull with username/password from auths: %v", err)
	}
	anon := newTestClient(t, f.host(), filepath.Join(t.TempDir(), "none.json"))
	if _, err := anon.Pull(t.Context(), "release-x"); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "none are configured") {
		t.Errorf("Pull without credentials = %v, want ErrAuth saying none are configured", err)
	}
}

// fakeHelper puts docker-credential-NAME in a temporary PATH: it answers
// answer for server want and "credentials not found" for others, and
// records what it was asked in a file next to it.
func fakeHelper(t *testing.T, name, want, answer string) (log string) {
	dir := t.TempDir()
	log = filepath.Join(dir, "asked")
	script := fmt.Sprintf("#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread -r server\necho \"$server\" >> %s\nif [ \"$server\" = %q ]; then printf '%%s' '%s'; else echo 'credentials not found in native keychain'; exit 1; fi\n", log, want, answer)
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-"+name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", filepath.Join(home, "docker"))
	return log
}

func TestCredentialHelper(t *testing.T) {
	f := startFake(t)
	f.auth = func(r *http.Request) bool { u, p, ok := r.BasicAuth(); return ok && u == "hu" && p == "hs" }
	f.challenge = `Basic realm="fake"`
	for _, cfg := range []string{
		fmt.Sprintf(`{"credHelpers":{%q:"x"}}`, f.host()),
		`{"credsStore":"x"}`,
	} {
		t.Run(cfg, func(t *testing.T) {
			log := fakeHelper(t, "x", f.host(), `{"ServerURL":"","Username":"hu","Secret":"hs"}`)
			c := newTestClient(t, f.host(), writeConfig(t, cfg))
			if err := pushPull(t, c); err != nil {
				t.Fatalf("push/pull with a credential helper: %v", err)
			}
			b, _ := os.ReadFile(log)
			if string(b) != f.host()+"\n" {
				t.Errorf("helper asked %q, want the host once", b)
			}
		})
	}
	t.Run("not found falls back to auths", func(t *testing.T) {
		fakeHelper(t, "x", "other.example", `{}`)
		c := newTestClient(t, f.host(), writeConfig(t, `{"credsStore":"x",`+strings.TrimPrefix(basicConfig(f.host(), "hu", "hs"), "{")))
		if err := pushPull(t, c); err != nil {
			t.Fatalf("push/pull with auths behind a helper that has nothing: %v", err)
		}
	})
	t.Run("missing helper", func(t *testing.T) {
		fakeHelper(t, "x", "", `{}`)
		c := newTestClient(t, f.host(), writeConfig(t, `{"credsStore":"nonexistent"}`))
		if _, err := c.Pull(t.Context(), "release-x"); err == nil || !strings.Contains(err.Error(), "docker-credential-nonexistent") {
			t.Errorf("Pull with a missing helper = %v, want an error naming it", err)
		}
	})
}

// TestIdentityToken: a helper's "<token>" username (and identitytoken in
// auths) is a refresh token, traded by the OAuth2 POST flow.
func TestIdentityToken(t *testing.T) {
	ts := startTokens(t)
	ts.refresh = "refresh-me"
	f := bearerFake(t, ts)
	t.Run("helper", func(t *testing.T) {
		fakeHelper(t, "x", f.host(), `{"Username":"<token>","Secret":"refresh-me"}`)
		c := newTestClient(t, f.host(), writeConfig(t, fmt.Sprintf(`{"credHelpers":{%q:"x"}}`, f.host())))
		if err := pushPull(t, c); err != nil {
			t.Fatalf("push/pull with a helper's identity token: %v", err)
		}
	})
	t.Run("auths", func(t *testing.T) {
		c := newTestClient(t, f.host(), writeConfig(t, fmt.Sprintf(`{"auths":{%q:{"identitytoken":"refresh-me"}}}`, f.host())))
		if err := pushPull(t, c); err != nil {
			t.Fatalf("push/pull with an identitytoken: %v", err)
		}
	})
}

// TestDockerConfigPath: $DOCKER_CONFIG, then ~/.docker (both temporary
// here, never the machine's).
func TestDockerConfigPath(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", "")
	if got, want := dockerConfigPath(""), filepath.Join(home, ".docker", "config.json"); got != want {
		t.Errorf("dockerConfigPath without DOCKER_CONFIG = %q, want %q", got, want)
	}
	t.Setenv("DOCKER_CONFIG", filepath.Join(home, "d"))
	if got, want := dockerConfigPath(""), filepath.Join(home, "d", "config.json"); got != want {
		t.Errorf("dockerConfigPath with DOCKER_CONFIG = %q, want %q", got, want)
	}
	os.Mkdir(filepath.Join(home, "d"), 0o755)
	os.WriteFile(filepath.Join(home, "d", "config.json"), []byte("{not json"), 0o600)
	if _, err := NewClient("127.0.0.1:1/k", nil); err == nil || !strings.Contains(err.Error(), "DOCKER_CONFIG") {
		t.Errorf("NewClient with a broken config.json = %v, want an error with the fix", err)
	}
}

func TestRetry(t *testing.T) {
	f := startFake(t)
	var busy atomic.Int32
	busy.Store(2)
	f.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") && busy.Add(-1) >= 0 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	}
	c := newTestClient(t, f.host(), filepath.Join(t.TempDir(), "none.json"))
	if err := pushPull(t, c); err != nil {
		t.Fatalf("push/pull through two 429s: %v", err)
	}
	t.Run("bounded", func(t *testing.T) {
		f.hook = func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}`)
			return true
		}
		f.requests = nil
		_, err := c.Pull(t.Context(), "release-x")
		if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "try later") {
			t.Errorf("Pull from a registry always busy = %v, want its 503 and message", err)
		}
		if len(f.requests) != maxAttempts {
			t.Errorf("requests = %d, want %d", len(f.requests), maxAttempts)
		}
	})
	t.Run("cancel during backoff", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		f.hook = func(w http.ResponseWriter, r *http.Request) bool {
			cancel()
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		c.backoff = func(int) time.Duration { return time.Hour }
		done := make(chan error, 1)
		go func() { _, err := c.Pull(ctx, "release-x"); done <- err }()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Pull cancelled during backoff = %v, want context.Canceled", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("Pull did not return after its context was cancelled during an hour's backoff")
		}
	})
}

// TestRedirectNoAuthorization: a blob GET redirected to another host (object
// storage) follows the redirect without the registry's Authorization.
func TestRedirectNoAuthorization(t *testing.T) {
	var leaked atomic.Value
	leaked.Store("")
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked.Store(r.Header.Get("Authorization"))
		w.Write([]byte("not really an archive, but bytes"))
	}))
	t.Cleanup(storage.Close)
	ts := startTokens(t)
	f := bearerFake(t, ts)
	f.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") && ts.ok(r) {
			http.Redirect(w, r, storage.URL+"/bucket/blob", http.StatusTemporaryRedirect)
			return true
		}
		return false
	}
	c := newTestClient(t, f.host(), writeConfig(t, basicConfig(f.host(), "u", "p")))
	if err := pushPull(t, c); err != nil {
		t.Fatalf("push/pull with a redirected blob: %v", err)
	}
	if got := leaked.Load().(string); got != "" {
		t.Errorf("the storage host got Authorization %q, want none", got)
	}
}

func TestErrorBodySurfaced(t *testing.T) {
	f := startFake(t)
	f.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodHead {
			return false // a HEAD answer has no body to show
		}
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`)
		return true
	}
	c := newTestClient(t, f.host(), filepath.Join(t.TempDir(), "none.json"))
	_, err := c.Push(t.Context(), []byte("x"), testMeta)
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "DENIED: requested access to the resource is denied") {
		t.Errorf("Push refused with 403 = %v, want ErrAuth with the registry's code and message", err)
	}
}

func TestPullChecks(t *testing.T) {
	f := startFake(t)
	c := newTestClient(t, f.host(), filepath.Join(t.TempDir(), "none.json"))
	r, err := c.Push(t.Context(), []byte("archive"), testMeta)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("digest reference", func(t *testing.T) {
		f.manifests[r.Digest] = bytes.Replace(f.manifests[r.Digest], []byte("6.12.117"), []byte("6.12.118"), 1)
		if _, err := c.Pull(t.Context(), r.Digest); !errors.Is(err, ErrDigest) {
			t.Errorf("Pull by digest of altered bytes = %v, want ErrDigest", err)
		}
	})
	t.Run("media type", func(t *testing.T) {
		f.hook = func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/manifests/") {
				w.Header().Set("Content-Type", "application/vnd.oci.image.index.v1+json")
				w.Write([]byte(`{}`))
				return true
			}
			return false
		}
		defer func() { f.hook = nil }()
		if _, err := c.Pull(t.Context(), r.Tags[0]); !errors.Is(err, ErrArtifactType) || !strings.Contains(err.Error(), "index") {
			t.Errorf("Pull of an index = %v, want ErrArtifactType naming its media type", err)
		}
	})
	t.Run("huge manifest", func(t *testing.T) {
		f.hook = func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/manifests/") {
				w.Header().Set("Content-Type", mediaTypeManifest)
				w.Write(bytes.Repeat([]byte(" "), maxManifest+10))
				return true
			}
			return false
		}
		defer func() { f.hook = nil }()
		if _, err := c.Pull(t.Context(), r.Tags[0]); !errors.Is(err, ErrArtifactType) || !strings.Contains(err.Error(), "bytes") {
			t.Errorf("Pull of a 4 MiB+ manifest = %v, want ErrArtifactType naming its size", err)
		}
	})
	t.Run("bad reference", func(t *testing.T) {
		if _, err := c.Pull(t.Context(), "a/b"); !errors.Is(err, ErrReference) {
			t.Errorf("Pull(a/b) = %v, want ErrReference", err)
		}
	})
}

func TestScheme(t *testing.T) {
	for _, tc := range []struct {
		repo  string
		plain bool
		want  string
	}{
		{"registry.example/k", false, "https://registry.example"},
		{"registry.example:5000/k", true, "http://registry.example:5000"},
		{"127.0.0.1:5000/k", false, "http://127.0.0.1:5000"},
		{"localhost:5000/k", false, "http://localhost:5000"},
		{"[::1]:5000/k", false, "http://[::1]:5000"},
	} {
		c, err := NewClient(tc.repo, &Options{PlainHTTP: tc.plain, DockerConfig: filepath.Join(t.TempDir(), "none.json")})
		if err != nil || c.base != tc.want {
			t.Errorf("NewClient(%q, PlainHTTP %v).base = %v, %v; want %s", tc.repo, tc.plain, c, err, tc.want)
		}
	}
	// A TLS client talking to a plain-HTTP registry says to pass --plain-http.
	f := startFake(t)
	c := newTestClient(t, f.host(), filepath.Join(t.TempDir(), "none.json"))
	c.base, c.plain = "https://"+f.host(), false // as for a registry that is not on loopback
	if _, err := c.Pull(t.Context(), "release-x"); !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "--plain-http") {
		t.Errorf("Pull over TLS from a plain-HTTP registry = %v, want ErrUnreachable with the --plain-http fix", err)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		status int
		err    error
		want   bool
	}{
		{429, nil, true}, {500, nil, true}, {502, nil, true}, {503, nil, true}, {501, nil, false},
		{404, nil, false}, {401, nil, false}, {200, nil, false},
		{0, fmt.Errorf("read: %w", timeoutErr{}), true},
		{0, fmt.Errorf("read tcp: %w", syscall.ECONNRESET), true},
		{0, fmt.Errorf("dial tcp: %w", syscall.ECONNREFUSED), false},
	} {
		var resp *http.Response
		if tc.err == nil {
			resp = &http.Response{StatusCode: tc.status}
		}
		if got := retryable(resp, tc.err); got != tc.want {
			t.Errorf("retryable(%d, %v) = %v, want %v", tc.status, tc.err, got, tc.want)
		}
	}
}

// TestTokenRealmDowngrade: a registry reached over TLS that names a
// plain-http token realm gets no credentials sent there: the pull fails
// with ErrAuth naming the realm, and the token service is never asked.
func TestTokenRealmDowngrade(t *testing.T) {
	ts := startTokens(t)
	f := bearerFake(t, ts)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(tlsSrv.Close)
	host := strings.TrimPrefix(tlsSrv.URL, "https://")
	c, err := NewClient(host+"/k", &Options{DockerConfig: writeConfig(t, basicConfig(host, "u", "p")), HTTPClient: tlsSrv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	c.base, c.plain = "https://"+host, false // as for a registry that is not on loopback
	_, err = c.Pull(t.Context(), "release-x")
	if !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "plain-http token realm") {
		t.Errorf("Pull over TLS with an http token realm = %v, want ErrAuth naming the plain-http realm", err)
	}
	if n := ts.n.Load(); n != 0 {
		t.Errorf("the plain-http token service was asked %d times, want none", n)
	}
}

// TestRedirectDowngrade: a redirect from https to plain http, even on the
// same host, carries no Authorization; one within https keeps it.
func TestRedirectDowngrade(t *testing.T) {
	hc := newHTTPClient(nil)
	for _, tc := range []struct {
		from, to string
		keep     bool
	}{
		{"https://reg.example/v2/k/blobs/sha256:1", "http://reg.example/v2/k/blobs/sha256:1", false},
		{"https://reg.example/v2/k/blobs/sha256:1", "https://reg.example/other", true},
		{"http://127.0.0.1:5000/v2/k/blobs/sha256:1", "http://127.0.0.1:5000/other", true},
		{"https://reg.example/v2/k/blobs/sha256:1", "https://storage.example/b", false},
	} {
		via, _ := http.NewRequest(http.MethodGet, tc.from, nil)
		req, _ := http.NewRequest(http.MethodGet, tc.to, nil)
		req.Header.Set("Authorization", "Bearer secret")
		if err := hc.CheckRedirect(req, []*http.Request{via}); err != nil {
			t.Fatalf("CheckRedirect(%s -> %s) = %v", tc.from, tc.to, err)
		}
		if got := req.Header.Get("Authorization") != ""; got != tc.keep {
			t.Errorf("redirect %s -> %s kept Authorization = %v, want %v", tc.from, tc.to, got, tc.keep)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{" 3 ", 3 * time.Second, true},
		{"3600", maxRetryWait, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"Thu, 03 Dec 2026 17:00:04 GMT", 4 * time.Second, true},    // IMF-fixdate
		{"Thursday, 03-Dec-26 17:00:02 GMT", 2 * time.Second, true}, // RFC 850
		{"Thu Dec  3 17:00:01 2026", time.Second, true},             // asctime
		{"Thu, 03 Dec 2026 16:59:00 GMT", 0, true},                  // past: now
		{"Fri, 04 Dec 2026 17:00:00 GMT", maxRetryWait, true},
	} {
		resp := &http.Response{Header: http.Header{}}
		if c.header != "" {
			resp.Header.Set("Retry-After", c.header)
		}
		got, ok := retryAfter(resp, now)
		if got != c.want || ok != c.ok {
			t.Errorf("retryAfter(%q) = %v, %v; want %v, %v", c.header, got, ok, c.want, c.ok)
		}
	}
	if _, ok := retryAfter(nil, now); ok {
		t.Error("retryAfter(nil) reported a wait")
	}
}
