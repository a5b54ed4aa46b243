package oci

// The registry client: the distribution API calls a push and a pull make,
// over net/http, with docker-style authentication (anonymous, Basic, or a
// Bearer token from the registry's token service), bounded retries, and
// every response body read under a cap.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Caps of what is read from a registry before parsing.
const (
	maxErrorBody = 64 << 10 // an error response
	maxTokenBody = 1 << 20  // a token service answer
)

// Retries: at most maxAttempts tries of one request, waiting
// retryBase*2^n between them (or the registry's Retry-After, at most
// maxRetryWait).
const (
	maxAttempts  = 4
	retryBase    = 250 * time.Millisecond
	maxRetryWait = 10 * time.Second
)

// errNoCredentials: the registry asked for credentials and the docker
// configuration has none for it.
var errNoCredentials = errors.New("no credentials configured")

// responseError is a registry's refusal: the status and the errors of its
// JSON body ({"errors":[{"code","message"}]}) when it had one.
type responseError struct {
	Method, URL string
	Status      int
	Errors      []registryError
}

type registryError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *responseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: HTTP %d %s", e.Method, e.URL, e.Status, http.StatusText(e.Status))
	for i, r := range e.Errors {
		if i == 4 {
			fmt.Fprintf(&b, " (and %d more)", len(e.Errors)-i)
			break
		}
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%.100s: %.300s", sep, r.Code, r.Message)
	}
	return b.String()
}

// parseErrorBody reads a registry's error JSON; anything else gives nil.
func parseErrorBody(b []byte) []registryError {
	var body struct {
		Errors []registryError `json:"errors"`
	}
	if json.Unmarshal(b, &body) != nil {
		return nil
	}
	return body.Errors
}

// statusError reads (at most maxErrorBody of) resp's body, closes it and
// returns the refusal.
func statusError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	u := *resp.Request.URL
	u.RawQuery = ""
	return &responseError{Method: resp.Request.Method, URL: u.String(), Status: resp.StatusCode, Errors: parseErrorBody(b)}
}

// noQuery is raw without its query and user info, for messages: an upload
// Location's query is the registry's state (or a signed URL's signature).
func noQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that does not parse)"
	}
	u.RawQuery, u.ForceQuery, u.User = "", false, nil
	return u.String()
}

// drain discards what is left of a body (at most a little, so that the
// connection can be reused) and closes it.
func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
}

// request is one registry call; it is rebuilt for every attempt.
type request struct {
	method string
	url    string
	body   []byte
	header map[string]string
	scope  string // the token scope it needs: "repository:NAME:pull"
	once   bool   // not retried by send (an upload PUT: its session may be gone)
}

// newHTTPClient returns base's transport behind a redirect policy that
// does not carry Authorization to another host (a blob GET redirected to
// object storage) or from https to plain http.
func newHTTPClient(base *http.Client) *http.Client {
	hc := &http.Client{}
	if base != nil {
		hc.Transport, hc.Timeout, hc.Jar = base.Transport, base.Timeout, base.Jar
	}
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if req.URL.Host != via[0].URL.Host || (req.URL.Scheme != "https" && via[0].URL.Scheme == "https") {
			req.Header.Del("Authorization")
		}
		return nil
	}
	return hc
}

// retryable reports whether a try may be repeated: 429 and 5xx answers
// (but 501), timeouts and reset connections.
func retryable(resp *http.Response, err error) bool {
	if err != nil {
		var ne net.Error
		return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF)
	}
	return resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented
}

// retryAfter reads a Retry-After header, in seconds or as an HTTP date
// (RFC 9110, section 10.2.3; a date in the past means now), capped at
// maxRetryWait.
func retryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	if resp == nil {
		return 0, false
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		if s > int(maxRetryWait/time.Second) {
			return maxRetryWait, true
		}
		return time.Duration(s) * time.Second, true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(at.Sub(now), 0), maxRetryWait), true
}

// send makes one request with retries (but none of a request marked
// once), with authz as Authorization.
func (c *Client) send(ctx context.Context, r *request, authz string) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		resp, err := c.try(ctx, r, authz)
		if ctx.Err() != nil {
			if resp != nil {
				drain(resp)
			}
			return nil, ctx.Err()
		}
		if attempt >= maxAttempts || r.once || !retryable(resp, err) {
			return resp, err
		}
		wait, ok := retryAfter(resp, time.Now())
		if !ok {
			wait = c.backoff(attempt)
		}
		if resp != nil {
			drain(resp)
			c.log.Debug("registry busy, retrying", "url", noQuery(r.url), "status", resp.StatusCode, "wait", wait)
		} else {
			c.log.Debug("registry request failed, retrying", "url", noQuery(r.url), "err", err, "wait", wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func defaultBackoff(attempt int) time.Duration { return retryBase << (attempt - 1) }

// try makes one attempt of r. A registry that takes no byte of the
// request and sends no byte of the answer for c.stall ends it with a
// stallError, also while the caller reads the body.
func (c *Client) try(ctx context.Context, r *request, authz string) (*http.Response, error) {
	actx, cancel := context.WithCancel(ctx)
	w := newWatchdog(c.stall, cancel)
	tctx := httptrace.WithClientTrace(actx, &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { w.gotConn(i.Conn) }})
	req, err := http.NewRequestWithContext(tctx, r.method, r.url, nil)
	if err != nil {
		w.stop()
		cancel()
		return nil, err
	}
	if r.body != nil {
		req.ContentLength = int64(len(r.body))
		req.GetBody = func() (io.ReadCloser, error) {
			if len(r.body) == 0 {
				return http.NoBody, nil
			}
			return &progressBody{r: bytes.NewReader(r.body), w: w}, nil
		}
		req.Body, _ = req.GetBody()
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	req.Header.Set("User-Agent", "kheaders")
	what := r.method + " " + noQuery(r.url)
	resp, err := c.hc.Do(req)
	if err != nil {
		w.stop()
		cancel()
		if w.fired.Load() && ctx.Err() == nil {
			return nil, &stallError{what: what, d: c.stall}
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = noQuery(ue.URL)
		}
		return nil, err
	}
	resp.Body = &stallBody{rc: resp.Body, w: w, cancel: cancel, what: what}
	return resp, nil
}

// do makes r with the authorization known for its scope; a 401 answer
// runs the challenge (a new token, or Basic credentials) and tries once
// more. A 401 with a cached token is how an expired token shows.
//
// The registry's credentials go only to the registry itself (its scheme
// and host): a URL it hands out for another host (an upload Location on
// object storage) is sent without them, and a 401 from another host (such
// a URL, or where a redirect led) is a refusal, not a reason to send them
// there. A registry spoken to over https may not send kheaders to plain
// http.
func (c *Client) do(ctx context.Context, r *request) (*http.Response, error) {
	u, err := url.Parse(r.url)
	if err != nil {
		return nil, err
	}
	if !c.sameOrigin(u) {
		if u.Scheme != "https" && !c.plain {
			return nil, fmt.Errorf("the registry %s, reached over https, sent kheaders to plain-http %s; kheaders does not follow it", c.host, u.Redacted())
		}
		return c.send(ctx, r, "")
	}
	resp, err := c.send(ctx, r, c.authFor(r.scope))
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !c.sameOrigin(resp.Request.URL) {
		return resp, err
	}
	challenges := parseChallenges(strings.Join(resp.Header.Values("WWW-Authenticate"), ", "))
	drain(resp)
	authz, err := c.authenticate(ctx, challenges, r.scope)
	if err != nil {
		return nil, err
	}
	return c.send(ctx, r, authz)
}

// sameOrigin reports whether u is the registry's own scheme and host
// (host names compared without case, a default port equal to none).
func (c *Client) sameOrigin(u *url.URL) bool {
	scheme := "https"
	if c.plain {
		scheme = "http"
	}
	return strings.EqualFold(u.Scheme, scheme) && canonicalHost(u.Scheme, u.Host) == canonicalHost(scheme, c.host)
}

// canonicalHost lowercases host[:port] and drops the scheme's default port.
func canonicalHost(scheme, hostport string) string {
	h := strings.ToLower(hostport)
	if host, port, err := net.SplitHostPort(h); err == nil && (port == "443" && strings.EqualFold(scheme, "https") || port == "80" && strings.EqualFold(scheme, "http")) {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return h
}

func (c *Client) authFor(scope string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.tokens[scope]; ok {
		return t
	}
	return c.basic
}

// cred returns the docker configuration's credential for the registry,
// asking it (maybe running a credential helper) once.
//
// It holds credMu, not mu, while a helper runs: requests that already have
// their authorization do not wait for it.
func (c *Client) cred(ctx context.Context) (credential, error) {
	c.credMu.Lock()
	defer c.credMu.Unlock()
	if !c.credDone {
		cr, err := c.config.credential(ctx, c.host)
		if err != nil {
			return credential{}, fmt.Errorf("read the docker credentials of %s: %w", c.host, err)
		}
		c.credential, c.credDone = cr, true
	}
	return c.credential, nil
}

// authenticate answers a 401's challenges: Bearer first (a token for
// scope), else Basic.
func (c *Client) authenticate(ctx context.Context, challenges []challenge, scope string) (string, error) {
	cr, err := c.cred(ctx)
	if err != nil {
		return "", err
	}
	for _, ch := range challenges {
		if ch.Scheme == "bearer" {
			tok, err := c.fetchToken(ctx, ch, scope, cr)
			if err != nil {
				return "", err
			}
			authz := "Bearer " + tok
			c.mu.Lock()
			c.tokens[scope] = authz
			c.mu.Unlock()
			return authz, nil
		}
	}
	for _, ch := range challenges {
		if ch.Scheme == "basic" {
			if cr.Username == "" && cr.Password == "" {
				return "", errNoCredentials
			}
			authz := "Basic " + base64.StdEncoding.EncodeToString([]byte(cr.Username+":"+cr.Password))
			c.mu.Lock()
			c.basic = authz
			c.mu.Unlock()
			return authz, nil
		}
	}
	return "", fmt.Errorf("%w: HTTP 401 without a Basic or Bearer challenge", ErrAuth)
}

// fetchToken asks the challenge's realm for a token of scope (and of the
// challenge's own scope when it names another): with the identity token
// by the OAuth2 refresh flow (POST), else by GET with Basic credentials or
// none.
func (c *Client) fetchToken(ctx context.Context, ch challenge, scope string, cr credential) (string, error) {
	realm, err := url.Parse(ch.Params["realm"])
	if err != nil || (realm.Scheme != "https" && realm.Scheme != "http") || realm.Host == "" {
		return "", fmt.Errorf("%w: the registry's token realm %q is not an http(s) URL", ErrAuth, ch.Params["realm"])
	}
	if realm.Scheme == "http" && !c.plain {
		// The credentials (a password or a refresh token) would cross the
		// network in the clear: a registry spoken to over TLS gets its
		// tokens over TLS too.
		return "", fmt.Errorf("%w: the registry %s, reached over https, names a plain-http token realm (%s); kheaders sends no credentials there", ErrAuth, c.host, realm.Host)
	}
	scopes := []string{scope}
	if s := ch.Params["scope"]; s != "" && s != scope {
		scopes = append(scopes, s)
	}
	service := ch.Params["service"]
	r := &request{scope: scope, header: map[string]string{}}
	if cr.RefreshToken != "" {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cr.RefreshToken}, "client_id": {"kheaders"}, "scope": {strings.Join(scopes, " ")}}
		if service != "" {
			form.Set("service", service)
		}
		r.method, r.url, r.body = http.MethodPost, realm.String(), []byte(form.Encode())
		r.header["Content-Type"] = "application/x-www-form-urlencoded"
	} else {
		q := realm.Query()
		if service != "" {
			q.Set("service", service)
		}
		for _, s := range scopes {
			q.Add("scope", s)
		}
		realm.RawQuery = q.Encode()
		r.method, r.url = http.MethodGet, realm.String()
	}
	authz := ""
	if cr.RefreshToken == "" && (cr.Username != "" || cr.Password != "") {
		authz = "Basic " + base64.StdEncoding.EncodeToString([]byte(cr.Username+":"+cr.Password))
	}
	resp, err := c.send(ctx, r, authz)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token service: %w", statusError(resp))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody+1))
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	if len(b) > maxTokenBody {
		return "", fmt.Errorf("%w: the token service at %s answered more than %d bytes", ErrAuth, realm.Host, maxTokenBody)
	}
	tok, err := parseToken(b)
	if err != nil {
		return "", fmt.Errorf("%w: the token service at %s: %v", ErrAuth, realm.Host, err)
	}
	return tok, nil
}

// parseToken reads a token service's answer: {"token"} or
// {"access_token"} (OAuth2).
func parseToken(b []byte) (string, error) {
	var r struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return "", fmt.Errorf("answer is not JSON: %v", err)
	}
	tok := r.Token
	if tok == "" {
		tok = r.AccessToken
	}
	if tok == "" {
		return "", errors.New("answer has no token")
	}
	for i := 0; i < len(tok); i++ {
		if tok[i] < 0x21 || tok[i] > 0x7e {
			return "", errors.New("token holds a byte that cannot go in a header")
		}
	}
	return tok, nil
}

// challenge is one WWW-Authenticate challenge: its scheme (lowercase) and
// parameters (keys lowercase).
type challenge struct {
	Scheme string
	Params map[string]string
}

// parseChallenges reads a WWW-Authenticate value (RFC 9110, section 11):
// challenges "scheme k=v, k = "quoted \" v", ..." separated by commas, a
// new one starting at a token not followed by '='. A challenge carrying a
// token68 ("Negotiate abc==") has no parameters. An unquoted value runs to
// the next comma or space (some registries send an unquoted realm URL).
// What cannot be read ends the parse; the challenges before it are kept.
func parseChallenges(h string) []challenge {
	var out []challenge
	p := 0
	space := func() {
		for p < len(h) && (h[p] == ' ' || h[p] == '\t') {
			p++
		}
	}
	seps := func() {
		for p < len(h) && (h[p] == ' ' || h[p] == '\t' || h[p] == ',') {
			p++
		}
	}
	token := func() string {
		s := p
		for p < len(h) && isTokenChar(h[p]) {
			p++
		}
		return h[s:p]
	}
	for {
		seps()
		scheme := token()
		if scheme == "" {
			return out
		}
		ch := challenge{Scheme: strings.ToLower(scheme), Params: map[string]string{}}
		space()
		if n := token68Len(h[p:]); n > 0 {
			p += n
			out = append(out, ch)
			continue
		}
		for {
			save := p
			seps()
			key := token()
			space()
			if key == "" || p >= len(h) || h[p] != '=' {
				p = save // the next challenge's scheme (or the end)
				break
			}
			p++
			space()
			var val string
			if p < len(h) && h[p] == '"' {
				p++
				var b strings.Builder
				for p < len(h) && h[p] != '"' {
					if h[p] == '\\' && p+1 < len(h) {
						p++
					}
					b.WriteByte(h[p])
					p++
				}
				if p >= len(h) {
					return append(out, ch) // unterminated: keep what was read
				}
				p++
				val = b.String()
			} else {
				s := p
				for p < len(h) && h[p] != ',' && h[p] != ' ' && h[p] != '\t' && h[p] != '"' {
					p++
				}
				val = h[s:p]
			}
			ch.Params[strings.ToLower(key)] = val
			space()
		}
		out = append(out, ch)
		if p < len(h) && h[p] != ',' && !isTokenChar(h[p]) {
			return out
		}
	}
}

// token68Len is the length of a token68 (RFC 9110, section 11.2) at the
// start of s that stands alone (followed by the end or a comma), else 0.
func token68Len(s string) int {
	n := 0
	for n < len(s) && (s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9' || strings.IndexByte("-._~+/", s[n]) >= 0) {
		n++
	}
	if n == 0 {
		return 0
	}
	for n < len(s) && s[n] == '=' {
		n++
	}
	rest := strings.TrimLeft(s[n:], " \t")
	if rest != "" && rest[0] != ',' {
		return 0
	}
	return n
}

func isTokenChar(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~/:", c) >= 0
}
