// Package registrytest runs Debian's docker-registry (CNCF distribution
// 2.8) on 127.0.0.1 for tests: its own config file, a free port, storage in
// a temporary directory, optional htpasswd auth, stopped when the test ends.
// Tests skip with a message when docker-registry is not installed
// (scripts/install-deps.sh installs it).
package registrytest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Binary is the registry program Debian's docker-registry package installs.
const Binary = "docker-registry"

// Registry is a running registry.
type Registry struct {
	Host    string // 127.0.0.1:PORT
	Storage string // the filesystem driver's root directory
	// User and Password are set when the registry requires htpasswd auth.
	User, Password string
	log            *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Options tune Start.
type Options struct {
	// Auth makes the registry require basic auth for User/Password
	// (htpasswd from apache2-utils writes the bcrypt entry).
	Auth bool
}

// Start runs a registry for t and stops it at the end of t.
func Start(t testing.TB, opts *Options) *Registry {
	t.Helper()
	bin, err := exec.LookPath(Binary)
	if err != nil {
		t.Skipf("%s not installed (Debian package docker-registry; scripts/install-deps.sh): skipping the registry test", Binary)
	}
	if opts == nil {
		opts = &Options{}
	}
	dir := t.TempDir()
	r := &Registry{Storage: filepath.Join(dir, "storage"), log: &syncBuffer{}}
	authCfg := ""
	if opts.Auth {
		hp, err := exec.LookPath("htpasswd")
		if err != nil {
			t.Skip("htpasswd not installed (Debian package apache2-utils; scripts/install-deps.sh): skipping the registry auth test")
		}
		r.User, r.Password = "kheaders", "s3cret-pass"
		file := filepath.Join(dir, "htpasswd")
		if out, err := exec.Command(hp, "-B", "-b", "-c", file, r.User, r.Password).CombinedOutput(); err != nil {
			t.Fatalf("htpasswd: %v: %s", err, out)
		}
		authCfg = fmt.Sprintf("auth:\n  htpasswd:\n    realm: kheaders-test\n    path: %s\n", file)
	}
	// A free port: bind, note it, release it (the registry binds it next;
	// a race with another process is possible but rare, and fails loudly).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.Host = ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, r.Storage, r.Host, authCfg)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	// Only what it needs: no REGISTRY_* overrides from the environment.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	cmd.Stdout, cmd.Stderr = r.log, r.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://"+r.Host+"/v2/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.Header.Get("Docker-Distribution-Api-Version") == "registry/2.0" {
				return r
			}
		}
		select {
		case err := <-done:
			t.Fatalf("%s exited: %v\n%s", bin, err, r.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer on %s within 20 s: %v\n%s", bin, r.Host, err, r.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// DockerConfig writes a docker config.json holding the registry's
// credentials (the "auths" form docker login writes) and returns its path.
func (r *Registry) DockerConfig(t testing.TB) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	a := base64.StdEncoding.EncodeToString([]byte(r.User + ":" + r.Password))
	if err := os.WriteFile(p, []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, r.Host, a)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// BlobPath is where the filesystem driver stores the blob of digest
// ("sha256:hex"), for tests that tamper with it.
func (r *Registry) BlobPath(dgst string) string {
	hex := dgst[len("sha256:"):]
	return filepath.Join(r.Storage, "docker/registry/v2/blobs/sha256", hex[:2], hex, "data")
}

// Log returns what the registry printed.
func (r *Registry) Log() string { return r.log.String() }
