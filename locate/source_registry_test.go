package locate

import (
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/kheaders/kheaders/internal/elfsym"
	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/internal/registrytest"
	"github.com/kheaders/kheaders/oci"
)

// counter is a reverse proxy in front of a registry that counts the
// requests and the blob downloads it forwards.
type counter struct {
	srv         *httptest.Server
	reqs, blobs atomic.Int64
}

func newCounter(t *testing.T, reg *registrytest.Registry) *counter {
	u, _ := url.Parse("http://" + reg.Host)
	p := httputil.NewSingleHostReverseProxy(u)
	c := &counter{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.reqs.Add(1)
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			c.blobs.Add(1)
		}
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *counter) host() string { return strings.TrimPrefix(c.srv.URL, "http://") }

// notesOf builds /sys/kernel/notes content holding build-id id.
func notesOf(id []byte) []byte {
	var b []byte
	le := binary.LittleEndian
	b = le.AppendUint32(b, 4)
	b = le.AppendUint32(b, uint32(len(id)))
	b = le.AppendUint32(b, 3)
	b = append(b, "GNU\x00"...)
	return append(b, id...)
}

// registryKernel is a fixture kernel with no header source of its own.
type registryKernel struct {
	name    string
	root    hosttest.Root
	archive []byte
	notes   []byte // nil: no build-id
}

func registryKernels(t *testing.T) []registryKernel {
	fx := hosttest.Fixtures(t)
	vm, err := elf.Open(filepath.Join(fx, "ikheaders-y", "vmlinux"))
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Close()
	realNotes, err := vm.Section(".notes").Data()
	if err != nil {
		t.Fatal(err)
	}
	netCfg, err := os.ReadFile("../testdata/kernels/config-x86_64-net-n")
	if err != nil {
		t.Fatal(err)
	}
	netArch, err := os.ReadFile("../testdata/kernels/kheaders-x86_64-net-n.tar.xz")
	if err != nil {
		t.Fatal(err)
	}
	mid, _ := hex.DecodeString(strings.Repeat("6d", 20))
	return []registryKernel{
		{"ikheaders-y", hosttest.Root{Release: "6.12.117", Machine: "x86_64", Config: hosttest.ReadFixture(t, "ikheaders-y/config"), VersionCode: host.VersionCodeOf(6, 12, 117)},
			hosttest.ReadFixture(t, "ikheaders-y/kheaders_data.tar.xz"), realNotes},
		{"ikheaders-m", hosttest.Root{Release: "6.12.117", Machine: "x86_64", Config: hosttest.ReadFixture(t, "ikheaders-m/config"), VersionCode: host.VersionCodeOf(6, 12, 117)},
			hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz"), notesOf(mid)},
		{"net-n", hosttest.Root{Release: "6.12.117-net-n", Machine: "x86_64", Config: netCfg, VersionCode: host.VersionCodeOf(6, 12, 117)},
			netArch, nil},
	}
}

func (k registryKernel) makeRoot(t *testing.T, withNotes bool) string {
	r := k.root
	r.Files = map[string][]byte{}
	if withNotes && k.notes != nil {
		r.Files[SysfsNotes] = k.notes
	}
	return hosttest.Make(t, r)
}

func (k registryKernel) push(t *testing.T, repo string, m oci.Meta) *oci.PushResult {
	c, err := oci.NewClient(repo, &oci.Options{DockerConfig: filepath.Join(t.TempDir(), "none.json")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Push(t.Context(), k.archive, m)
	if err != nil {
		t.Fatalf("push %s: %v", k.name, err)
	}
	return r
}

func registryOpts(t *testing.T, root, repo string) *Options {
	o := testOpts(t, root)
	o.Registry = repo
	o.RegistryOptions = &oci.Options{DockerConfig: filepath.Join(t.TempDir(), "none.json")}
	return o
}

func TestLocateRegistry(t *testing.T) {
	reg := registrytest.Start(t, nil)
	for _, k := range registryKernels(t) {
		t.Run(k.name, func(t *testing.T) {
			cnt := newCounter(t, reg)
			repo := cnt.host() + "/kheaders/" + k.name
			m := oci.Meta{Release: k.root.Release, Machine: "x86_64", Arch: "x86"}
			if k.notes != nil {
				id, err := elfsym.BuildID(k.notes)
				if err != nil {
					t.Fatal(err)
				}
				m.BuildID = id
			}
			k.push(t, repo, m)
			modes := []bool{false}
			if k.notes != nil {
				modes = []bool{true, false} // by build-id, then by release alone
			}
			for _, byID := range modes {
				root := k.makeRoot(t, byID)
				opts := registryOpts(t, root, repo)
				h, err := Locate(t.Context(), opts)
				if err != nil {
					t.Fatalf("Locate(build-id %v): %v", byID, err)
				}
				if h.Source != "registry" || !h.Verified || h.Cached {
					t.Errorf("Locate = source %s verified %v cached %v, want registry, verified, fresh", h.Source, h.Verified, h.Cached)
				}
				checkStatus(t, h, allOK)
				wantTag := oci.ReleaseTag(k.root.Release)
				if byID {
					wantTag = oci.BuildIDTag(m.BuildID)
				}
				if !strings.Contains(h.Origin, wantTag) {
					t.Errorf("origin %q does not name %s", h.Origin, wantTag)
				}
				// Warm: no network call at all.
				before := cnt.reqs.Load()
				h2, err := Locate(t.Context(), opts)
				if err != nil || h2.Dir != h.Dir || !h2.Cached {
					t.Fatalf("warm Locate = %+v, %v; want the same cached dir %s", h2, err, h.Dir)
				}
				if n := cnt.reqs.Load() - before; n != 0 {
					t.Errorf("warm Locate made %d registry requests, want 0", n)
				}
			}
		})
	}
}

func TestLocateRegistryBad(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ks := registryKernels(t)
	y, netn := ks[0], ks[2]
	root := y.makeRoot(t, false)
	noObjects := func(t *testing.T, o *Options) {
		t.Helper()
		ents, _ := os.ReadDir(filepath.Join(o.CacheDir, "objects"))
		tmp, _ := os.ReadDir(filepath.Join(o.CacheDir, "tmp"))
		if len(ents)+len(tmp) != 0 {
			t.Errorf("cache holds %d objects and %d tmp entries after a refused answer, want none", len(ents), len(tmp))
		}
	}
	// registryAttempt checks that the registry attempt is failed or
	// rejected, names want, and that the chain went on after it.
	registryAttempt := func(t *testing.T, err error, outcome, want string) {
		t.Helper()
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Locate = %v, want *Error", err)
		}
		for i, a := range e.Attempts {
			if a.Source != "registry" {
				continue
			}
			if a.Outcome != outcome || !strings.Contains(a.Reason, want) {
				t.Errorf("registry attempt = %s %q, want %s naming %q", a.Outcome, a.Reason, outcome, want)
			}
			if i+1 >= len(e.Attempts) || e.Attempts[i+1].Source != "btf" {
				t.Errorf("the chain stopped at the registry: %+v", e.Attempts)
			}
			return
		}
		t.Errorf("no registry attempt in %+v", e.Attempts)
	}

	t.Run("down", func(t *testing.T) {
		o := registryOpts(t, root, "127.0.0.1:1/kheaders")
		_, err := Locate(t.Context(), o)
		registryAttempt(t, err, OutcomeFailed, "127.0.0.1:1/kheaders")
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("Locate = %v, want ErrNotFound", err)
		}
		noObjects(t, o)
	})
	t.Run("404", func(t *testing.T) {
		o := registryOpts(t, root, reg.Host+"/empty")
		_, err := Locate(t.Context(), o)
		registryAttempt(t, err, OutcomeFailed, reg.Host+"/empty")
		noObjects(t, o)
	})
	t.Run("another kernel's archive", func(t *testing.T) {
		// net-n's archive pushed as if it were 6.12.117's: the registry
		// answer is verified like a local file and refused.
		repo := reg.Host + "/liar"
		netn.push(t, repo, oci.Meta{Release: "6.12.117"})
		o := registryOpts(t, root, repo)
		_, err := Locate(t.Context(), o)
		registryAttempt(t, err, OutcomeRejected, "release")
		if !errors.Is(err, ErrMismatch) {
			t.Errorf("Locate = %v, want ErrMismatch", err)
		}
	})
	t.Run("annotation of another release", func(t *testing.T) {
		repo := reg.Host + "/mislabelled"
		c, _ := oci.NewClient(repo, &oci.Options{DockerConfig: filepath.Join(t.TempDir(), "none.json")})
		// The release tag of 6.12.117 naming a manifest of another release.
		r, err := c.Push(t.Context(), y.archive, oci.Meta{Release: "6.12.118"})
		if err != nil {
			t.Fatal(err)
		}
		tagAs(t, reg.Host, "mislabelled", r.Tags[0], oci.ReleaseTag("6.12.117"))
		o := registryOpts(t, root, repo)
		_, err = Locate(t.Context(), o)
		registryAttempt(t, err, OutcomeFailed, "6.12.118")
		noObjects(t, o)
	})
	t.Run("401", func(t *testing.T) {
		areg := registrytest.Start(t, &registrytest.Options{Auth: true})
		repo := areg.Host + "/locked"
		c, _ := oci.NewClient(repo, &oci.Options{DockerConfig: areg.DockerConfig(t)})
		if _, err := c.Push(t.Context(), y.archive, oci.Meta{Release: "6.12.117"}); err != nil {
			t.Fatal(err)
		}
		o := registryOpts(t, root, repo) // no credentials
		_, err := Locate(t.Context(), o)
		registryAttempt(t, err, OutcomeFailed, "docker login")
		noObjects(t, o)
		// With the docker config's credentials the same registry answers.
		o = registryOpts(t, root, repo)
		o.RegistryOptions.DockerConfig = areg.DockerConfig(t)
		if h, err := Locate(t.Context(), o); err != nil || h.Source != "registry" {
			t.Errorf("Locate with credentials = %v, %v", h, err)
		}
	})
	t.Run("tampered blob", func(t *testing.T) {
		repo := reg.Host + "/tampered"
		r := y.push(t, repo, oci.Meta{Release: "6.12.117"})
		p := reg.BlobPath("sha256:" + r.Archive)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		orig := append([]byte(nil), b...)
		b[100] ^= 1
		os.WriteFile(p, b, 0o644)
		defer os.WriteFile(p, orig, 0o644) // the blob is shared by digest
		o := registryOpts(t, root, repo)
		_, err = Locate(t.Context(), o)
		registryAttempt(t, err, OutcomeFailed, "does not match its digest")
		noObjects(t, o)
	})
}

// tagAs copies the manifest of tag from to tag to (a registry answer under
// a tag it was not pushed with).
func tagAs(t *testing.T, host, repo, from, to string) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+repo+"/manifests/"+from, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	put, _ := http.NewRequest(http.MethodPut, "http://"+host+"/v2/"+repo+"/manifests/"+to, strings.NewReader(string(body)))
	put.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	pr, err := http.DefaultClient.Do(put)
	if err != nil || pr.StatusCode != http.StatusCreated {
		t.Fatalf("PUT manifest %s: %v %v", to, err, pr)
	}
	pr.Body.Close()
}

func TestLocateRegistryConcurrent(t *testing.T) {
	reg := registrytest.Start(t, nil)
	y := registryKernels(t)[0]
	cnt := newCounter(t, reg)
	repo := cnt.host() + "/concurrent"
	id, _ := elfsym.BuildID(y.notes)
	y.push(t, repo, oci.Meta{Release: "6.12.117", Machine: "x86_64", Arch: "x86", BuildID: id})
	root := y.makeRoot(t, true)
	cacheDir := filepath.Join(t.TempDir(), "cache")
	before := cnt.blobs.Load()
	var wg sync.WaitGroup
	dirs := make([]string, 16)
	errs := make([]error, 16)
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := registryOpts(t, root, repo)
			o.CacheDir = cacheDir
			h, err := Locate(t.Context(), o)
			errs[i] = err
			if h != nil {
				dirs[i] = h.Dir
			}
		}()
	}
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil || dirs[i] != dirs[0] || !strings.HasPrefix(dirs[i], cacheDir) {
			t.Errorf("locate %d = %q, %v; want %q", i, dirs[i], errs[i], dirs[0])
		}
	}
	if n := cnt.blobs.Load() - before; n != 1 {
		t.Errorf("16 concurrent locates downloaded %d blobs, want 1 (the archive)", n)
	}
}
