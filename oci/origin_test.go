package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is another host (another port of 127.0.0.1) that records the
// Authorization of every request it gets and answers with serve.
type recorder struct {
	srv   *httptest.Server
	mu    sync.Mutex
	auths []string
	serve func(w http.ResponseWriter, r *http.Request)
}

func startRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.auths = append(rec.auths, r.Method+" "+r.URL.Path+" Authorization="+r.Header.Get("Authorization"))
		rec.mu.Unlock()
		rec.serve(w, r)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

// leaked returns the requests that carried an Authorization, and how many
// came at all.
func (rec *recorder) leaked() (leaks []string, n int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, a := range rec.auths {
		if !strings.HasSuffix(a, "Authorization=") {
			leaks = append(leaks, a)
		}
	}
	return leaks, len(rec.auths)
}

// basicFake is a fake registry that wants Basic u:s3cret.
func basicFake(t *testing.T) *fakeRegistry {
	f := startFake(t)
	f.auth = func(r *http.Request) bool { u, p, ok := r.BasicAuth(); return ok && u == "u" && p == "s3cret" }
	f.challenge = `Basic realm="fake"`
	return f
}

// TestUploadLocationOtherHost: an upload Location on another host gets
// none of the registry's credentials, neither with the PUT nor after a
// 401 from that host; its query (the registry's upload state) is kept as
// it was given.
func TestUploadLocationOtherHost(t *testing.T) {
	f := basicFake(t)
	var refuse atomic.Bool
	other := startRecorder(t)
	other.serve = func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			w.Header().Set("WWW-Authenticate", `Basic realm="storage"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var b bytes.Buffer
		b.ReadFrom(r.Body)
		d := r.URL.Query().Get("digest")
		if r.URL.RawQuery != "_state=a;b&digest="+strings.Replace(d, ":", "%3A", 1) || sha256Digest(b.Bytes()) != d {
			http.Error(w, "bad upload "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.blobs[d] = b.Bytes()
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}
	f.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/") && f.auth(r) {
			w.Header().Set("Location", other.srv.URL+"/upload/u1?_state=a;b")
			w.WriteHeader(http.StatusAccepted)
			return true
		}
		return false
	}
	cfg := writeConfig(t, basicConfig(f.host(), "u", "s3cret"))
	if err := pushPull(t, newTestClient(t, f.host(), cfg)); err != nil {
		t.Fatalf("push/pull with uploads on another host: %v", err)
	}
	if leaks, n := other.leaked(); n == 0 || len(leaks) > 0 {
		t.Errorf("the upload host got %d requests, with the registry's Authorization: %q", n, leaks)
	}

	refuse.Store(true)
	_, err := newTestClient(t, f.host(), cfg).Push(t.Context(), []byte("another archive"), testMeta)
	if err == nil {
		t.Fatal("Push to an upload host that answers 401 succeeded")
	}
	if leaks, _ := other.leaked(); len(leaks) > 0 {
		t.Errorf("after its 401 the upload host got the registry's Authorization: %q", leaks)
	}
}

// TestUploadLocationPlainHTTP: a registry reached over https that gives
// an http upload Location is not followed.
func TestUploadLocationPlainHTTP(t *testing.T) {
	f := basicFake(t)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(tlsSrv.Close)
	host := strings.TrimPrefix(tlsSrv.URL, "https://")
	f.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost && f.auth(r) {
			w.Header().Set("Location", "http://"+host+"/v2/k/blobs/uploads/u1?_state=abc")
			w.WriteHeader(http.StatusAccepted)
			return true
		}
		return false
	}
	c, err := NewClient(host+"/k", &Options{DockerConfig: writeConfig(t, basicConfig(host, "u", "s3cret")), HTTPClient: tlsSrv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	c.base, c.plain = "https://"+host, false // as for a registry that is not on loopback
	_, err = c.Push(t.Context(), []byte("archive"), testMeta)
	if err == nil || !strings.Contains(err.Error(), "plain-http") {
		t.Errorf("Push with an http Location from an https registry = %v, want a refusal naming plain-http", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.requests {
		if strings.HasPrefix(r, "PUT") {
			t.Errorf("the registry got %s", r)
		}
	}
}

// TestRedirectUnauthorized: a blob GET redirected to storage that answers
// 401 is a refusal; the storage never gets the registry's credentials.
func TestRedirectUnauthorized(t *testing.T) {
	f := basicFake(t)
	c := newTestClient(t, f.host(), writeConfig(t, basicConfig(f.host(), "u", "s3cret")))
	r, err := c.Push(t.Context(), []byte("archive bytes"), testMeta)
	if err != nil {
		t.Fatal(err)
	}
	storage := startRecorder(t)
	storage.serve = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/steal",service="x"`, storage.srv.URL))
		w.WriteHeader(http.StatusUnauthorized)
	}
	f.hook = func(w http.ResponseWriter, req *http.Request) bool {
		if req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/blobs/sha256:"+r.Archive) {
			http.Redirect(w, req, storage.srv.URL+"/b", http.StatusTemporaryRedirect)
			return true
		}
		return false
	}
	if _, err := c.Pull(t.Context(), r.Tags[0]); !errors.Is(err, ErrAuth) {
		t.Errorf("Pull of a blob whose storage answers 401 = %v, want ErrAuth", err)
	}
	leaks, n := storage.leaked()
	if n == 0 || len(leaks) > 0 {
		t.Errorf("the storage got %d requests, with Authorization: %q", n, leaks)
	}
	storage.mu.Lock()
	defer storage.mu.Unlock()
	for _, a := range storage.auths {
		if strings.Contains(a, "/steal") {
			t.Errorf("the storage's token realm was asked: %s", a)
		}
	}
}

// TestUploadAgain: a PUT that fails is not sent again to its (dead)
// session: a 500 is followed by a HEAD and a new upload, and a PUT whose
// answer is lost after the blob landed ends with the HEAD finding it.
func TestUploadAgain(t *testing.T) {
	for _, mode := range []string{"500", "hangup"} {
		t.Run(mode, func(t *testing.T) {
			f := startFake(t)
			var sessions, puts atomic.Int32
			var mu sync.Mutex
			dead := map[string]bool{}
			f.hook = func(w http.ResponseWriter, r *http.Request) bool {
				switch {
				case r.Method == http.MethodPost:
					w.Header().Set("Location", fmt.Sprintf("/v2/k/blobs/uploads/s%d?_state=abc", sessions.Add(1)))
					w.WriteHeader(http.StatusAccepted)
					return true
				case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/uploads/"):
					mu.Lock()
					defer mu.Unlock()
					if dead[r.URL.Path] {
						w.WriteHeader(http.StatusNotFound)
						fmt.Fprint(w, `{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown to registry"}]}`)
						return true
					}
					if puts.Add(1) > 1 {
						return false
					}
					dead[r.URL.Path] = true
					if mode == "500" {
						w.WriteHeader(http.StatusInternalServerError)
						return true
					}
					var b bytes.Buffer
					b.ReadFrom(r.Body)
					f.mu.Lock()
					f.blobs[r.URL.Query().Get("digest")] = b.Bytes()
					f.mu.Unlock()
					conn, _, err := w.(http.Hijacker).Hijack()
					if err == nil {
						conn.Close()
					}
					return true
				}
				return false
			}
			c := newTestClient(t, f.host(), filepath.Join(t.TempDir(), "none.json"))
			if err := pushPull(t, c); err != nil {
				t.Fatalf("push/pull through a failed upload: %v", err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			for _, r := range f.requests {
				if strings.HasPrefix(r, "PUT /v2/k/blobs/uploads/s1") && r != "PUT /v2/k/blobs/uploads/s1" {
					t.Errorf("unexpected %s", r)
				}
			}
			if n := strings.Count(strings.Join(f.requests, "\n"), "PUT /v2/k/blobs/uploads/s1"); n != 1 {
				t.Errorf("the failed session got %d PUTs, want 1 (requests: %q)", n, f.requests)
			}
		})
	}
}

// TestStall: a registry that goes silent, before its answer or within
// its body, ends the request with ErrUnreachable; one that keeps sending
// slowly is not cut off.
func TestStall(t *testing.T) {
	f := startFake(t)
	c := newTestClient(t, f.host(), filepath.Join(t.TempDir(), "none.json"))
	r, err := c.Push(t.Context(), bytes.Repeat([]byte("x"), 4096), testMeta)
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	blob := "/blobs/sha256:" + r.Archive
	var mode atomic.Value
	f.hook = func(w http.ResponseWriter, req *http.Request) bool {
		if req.Method != http.MethodGet || !strings.HasSuffix(req.URL.Path, blob) {
			return false
		}
		switch mode.Load() {
		case "silent":
		case "body":
			w.Header().Set("Content-Length", "4096")
			w.Write([]byte("xxxxxxxx"))
			w.(http.Flusher).Flush()
		case "slow":
			w.Header().Set("Content-Length", "4096")
			for i := 0; i < 16; i++ {
				w.Write(bytes.Repeat([]byte("x"), 256))
				w.(http.Flusher).Flush()
				time.Sleep(100 * time.Millisecond)
			}
			return true
		}
		select {
		case <-release:
		case <-req.Context().Done():
		}
		return true
	}
	for _, m := range []string{"silent", "body"} {
		mode.Store(m)
		c.stall = 200 * time.Millisecond
		_, err := c.Pull(t.Context(), r.Tags[0])
		if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "sent and took nothing for 200ms") {
			t.Errorf("Pull from a registry silent (%s) = %v, want ErrUnreachable saying it stalled", m, err)
		}
	}
	// The whole transfer (1.6 s) outlasts the limit; no gap (100 ms) comes
	// near it, even on a starved runner.
	mode.Store("slow")
	c.stall = 1500 * time.Millisecond
	if _, err := c.Pull(t.Context(), r.Tags[0]); err != nil {
		t.Errorf("Pull of a blob sent over 1.6 s in 100 ms steps, with a 1.5 s stall limit = %v", err)
	}
}

// TestCredentialHelperOutput: a failing helper's output (which may hold
// the secret) is not in the error; more than the cap is refused; a helper
// that hangs with a child holding its output is killed with the child
// when the context ends.
func TestCredentialHelperOutput(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	helper := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, "docker-credential-"+name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	helper("leaky", `printf '{"Username":"ci","Secret":"ghp_TOPSECRET"}'; echo "token ghp_TOPSECRET" >&2; exit 1`)
	_, err := runCredentialHelper(t.Context(), "leaky", "reg.example")
	if err == nil || strings.Contains(err.Error(), "TOPSECRET") || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("a failing helper that printed its secret: %v, want its exit status and no secret", err)
	}
	helper("notfound", `echo "credentials not found in native keychain"; exit 1`)
	if cr, err := runCredentialHelper(t.Context(), "notfound", "reg.example"); err != nil || cr != (credential{}) {
		t.Errorf("a helper with nothing = %+v, %v; want the empty credential", cr, err)
	}
	helper("huge", `head -c 2097152 /dev/zero`)
	if _, err := runCredentialHelper(t.Context(), "huge", "reg.example"); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("a helper printing 2 MiB = %v, want the cap's error", err)
	}
	pidFile := filepath.Join(dir, "child")
	helper("hang", fmt.Sprintf(`sleep 60 & echo $! > %s; wait`, pidFile))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := runCredentialHelper(ctx, "hang", "reg.example"); done <- err }()
	// End the context once the helper's child is running (not after a fixed
	// time, which a starved runner may spend starting sh).
	var pid int
	for deadline := time.Now().Add(20 * time.Second); pid == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the hanging helper did not start its child in 20s")
		}
		if b, err := os.ReadFile(pidFile); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("a hanging helper = %v, want the context's cancellation", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a hanging helper held the run past its context")
	}
	for i := 0; i < 500; i++ { // the kill is asynchronous: give the child time to be reaped
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err != nil || strings.Contains(string(st), ") Z ") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("the hanging helper's child %d still runs", pid)
}

// TestStallSlowUpload: a registry that takes an upload slowly but without
// pause (16 KiB every 20 ms) is not cut off, though net/http reads no more
// of the body for longer than the stall limit while the socket's send
// buffer drains (found by review: all three upload rounds failed with
// "sent and took nothing for 1s"). The progress is seen at the socket.
func TestStallSlowUpload(t *testing.T) {
	f := startFake(t)
	c := newTestClient(t, f.host(), filepath.Join(t.TempDir(), "none.json"))
	f.hook = func(w http.ResponseWriter, req *http.Request) bool {
		if req.Method != http.MethodPut || !strings.Contains(req.URL.Path, "/blobs/uploads/") {
			return false
		}
		var buf bytes.Buffer
		for {
			n, err := io.CopyN(&buf, req.Body, 16<<10)
			if err != nil || n == 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		req.Body = io.NopCloser(&buf)
		return false
	}
	c.stall = time.Second
	arch := make([]byte, 4<<20)
	for i := range arch {
		arch[i] = byte(i * 2654435761 >> 13)
	}
	if _, err := c.Push(t.Context(), arch, testMeta); err != nil {
		t.Fatalf("Push of 4 MiB to a registry reading 16 KiB every 20 ms, 1 s stall limit: %v", err)
	}
}

// TestStallUploadStopped: a registry that stops taking an upload (reads
// none of the PUT's body, bytes stay queued in the socket) is still given
// up on: a send queue that does not go down is no progress.
func TestStallUploadStopped(t *testing.T) {
	f := startFake(t)
	c := newTestClient(t, f.host(), filepath.Join(t.TempDir(), "none.json"))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	f.hook = func(w http.ResponseWriter, req *http.Request) bool {
		if req.Method != http.MethodPut || !strings.Contains(req.URL.Path, "/blobs/uploads/") {
			return false
		}
		select {
		case <-release:
		case <-req.Context().Done():
		}
		return true
	}
	c.stall = 300 * time.Millisecond
	arch := make([]byte, 16<<20)
	for i := range arch {
		arch[i] = byte(i * 2654435761 >> 13)
	}
	_, err := c.Push(t.Context(), arch, testMeta)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "sent and took nothing for 300ms") {
		t.Fatalf("Push to a registry that reads none of the upload = %v, want ErrUnreachable saying it stalled", err)
	}
}

// TestWatchdogStop: after stop, neither a kick (a late body read) nor an
// expiry already under way re-arms the watchdog or cancels the attempt.
func TestWatchdogStop(t *testing.T) {
	var cancels atomic.Int32
	w := newWatchdog(20*time.Millisecond, func() { cancels.Add(1) })
	w.stop()
	w.kick()
	w.expire() // as a callback that raced with stop would
	time.Sleep(60 * time.Millisecond)
	if n := cancels.Load(); n != 0 || w.fired.Load() {
		t.Fatalf("after stop: %d cancels, fired %v", n, w.fired.Load())
	}
	// Without stop it fires, once. Waiting on the cancel itself, not on a
	// sleep, keeps this from failing on a starved runner.
	cancelled := make(chan struct{})
	w = newWatchdog(20*time.Millisecond, func() { cancels.Add(1); close(cancelled) })
	select {
	case <-cancelled:
	case <-time.After(30 * time.Second):
		t.Fatal("without stop: the watchdog did not fire in 30s")
	}
	w.expire() // a second expiry after firing cancels nothing more
	if n := cancels.Load(); n != 1 || !w.fired.Load() {
		t.Fatalf("without stop: %d cancels, fired %v; want 1, true", n, w.fired.Load())
	}
}
