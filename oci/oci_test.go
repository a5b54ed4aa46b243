package oci_test

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/internal/registrytest"
	"github.com/kheaders/kheaders/oci"
)

func TestReleaseTag(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"6.12.117", "release-6.12.117"},
		{"6.1.21-v8+", "release-6.1.21-v8_2b"},
		{"5.15.0-1_foo", "release-5.15.0-1__foo"},
		{"4.9.46-4.9.46+76.1.container", "release-4.9.46-4.9.46_2b76.1.container"},
		{"6.6.0-microsoft-standard-WSL2", "release-6.6.0-microsoft-standard-WSL2"},
		{"a:b/c", "release-a_3ab_2fc"},
	} {
		if got := oci.ReleaseTag(tc.in); got != tc.want {
			t.Errorf("ReleaseTag(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	long := strings.Repeat("+", 64)
	if got := oci.ReleaseTag(long); !strings.HasPrefix(got, "release-sha256-") || len(got) > 128 {
		t.Errorf("ReleaseTag(64 x '+') = %q, want release-sha256-... within 128 chars", got)
	}
	// One to one: distinct releases, distinct tags.
	if oci.ReleaseTag("a_2b") == oci.ReleaseTag("a+") {
		t.Errorf("ReleaseTag(a_2b) == ReleaseTag(a+)")
	}
}

func TestManifestReproducible(t *testing.T) {
	m := oci.Meta{Release: "6.12.117", Machine: "x86_64", Arch: "x86", BuildID: strings.Repeat("ab", 20), VersionCode: 396405}
	a, err := oci.Manifest([]byte("archive"), m)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := oci.Manifest([]byte("archive"), m)
	if !bytes.Equal(a, b) {
		t.Fatalf("Manifest not reproducible:\n%s\n%s", a, b)
	}
	for _, want := range []string{oci.ArtifactType, oci.LayerMediaType, `"org.opencontainers.image.created":"` + oci.Created + `"`, oci.AnnotationBuildID, `"396405"`} {
		if !bytes.Contains(a, []byte(want)) {
			t.Errorf("manifest lacks %s:\n%s", want, a)
		}
	}
	if _, err := oci.Manifest(nil, oci.Meta{}); err == nil {
		t.Error("Manifest without release: no error")
	}
	if _, err := oci.Manifest(nil, oci.Meta{Release: "x", BuildID: "zz"}); err == nil {
		t.Error("Manifest with a non-hex build-id: no error")
	}
}

// fixtureArchives are the real archives pushed by the tests: the shared
// 6.12 fixtures (=y and =m builds) and testdata/kernels' net-n archive.
func fixtureArchives(t *testing.T) map[string][]byte {
	out := map[string][]byte{
		"ikheaders-y": hosttest.ReadFixture(t, "ikheaders-y/kheaders_data.tar.xz"),
		"ikheaders-m": hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz"),
	}
	b, err := os.ReadFile(filepath.Join("..", "testdata", "kernels", "kheaders-x86_64-net-n.tar.xz"))
	if err != nil {
		t.Fatalf("testdata/kernels: %v", err)
	}
	out["net-n"] = b
	return out
}

func TestPushPull(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ctx := t.Context()
	c, err := oci.NewClient(reg.Host+"/kheaders/x86", &oci.Options{DockerConfig: filepath.Join(t.TempDir(), "none.json")})
	if err != nil {
		t.Fatal(err)
	}
	for name, arch := range fixtureArchives(t) {
		t.Run(name, func(t *testing.T) {
			id := strings.Repeat("0", 38) + map[string]string{"ikheaders-y": "01", "ikheaders-m": "02", "net-n": "03"}[name]
			rel := "6.12.117-" + name + "+"
			m := oci.Meta{Release: rel, Machine: "x86_64", Arch: "x86", BuildID: id}
			r1, err := c.Push(ctx, arch, m)
			if err != nil {
				t.Fatalf("Push: %v", err)
			}
			if !r1.Changed {
				t.Errorf("first Push: Changed = false")
			}
			r2, err := c.Push(ctx, arch, m)
			if err != nil {
				t.Fatalf("second Push: %v", err)
			}
			if r2.Changed || r2.Digest != r1.Digest {
				t.Errorf("second Push = changed %v digest %s, want unchanged %s", r2.Changed, r2.Digest, r1.Digest)
			}
			for _, ref := range append(r1.Tags, r1.Digest) {
				a, err := c.Pull(ctx, ref)
				if err != nil {
					t.Fatalf("Pull(%s): %v", ref, err)
				}
				if !bytes.Equal(a.Archive, arch) || a.Meta != m || a.Digest != r1.Digest {
					t.Errorf("Pull(%s) = %d bytes, meta %+v, digest %s; want the pushed archive, %+v, %s", ref, len(a.Archive), a.Meta, a.Digest, m, r1.Digest)
				}
			}
			// Find: build-id first, then release.
			a, err := c.Find(ctx, id, rel)
			if err != nil || a.Reference != oci.BuildIDTag(id) {
				t.Errorf("Find(build-id) = %v, %v; want the build-id tag", a, err)
			}
			a, err = c.Find(ctx, strings.Repeat("f", 40), rel)
			if !errors.Is(err, oci.ErrMismatch) {
				t.Errorf("Find(other build-id, same release) = %v, %v; want ErrMismatch (the release tag is another build)", a, err)
			}
			a, err = c.Find(ctx, "", rel)
			if err != nil || a.Reference != oci.ReleaseTag(rel) {
				t.Errorf("Find(release) = %v, %v; want the release tag", a, err)
			}
		})
	}
	_, err = c.Find(ctx, strings.Repeat("e", 40), "9.9.9")
	if !errors.Is(err, oci.ErrNotFound) || !strings.Contains(err.Error(), reg.Host+"/kheaders/x86") {
		t.Errorf("Find(absent) = %v, want ErrNotFound naming the registry", err)
	}
}

func TestPullRefusals(t *testing.T) {
	reg := registrytest.Start(t, nil)
	ctx := t.Context()
	opts := &oci.Options{DockerConfig: filepath.Join(t.TempDir(), "none.json")}
	c, err := oci.NewClient(reg.Host+"/k", opts)
	if err != nil {
		t.Fatal(err)
	}
	arch := hosttest.ReadFixture(t, "ikheaders-y/kheaders_data.tar.xz")
	r, err := c.Push(ctx, arch, oci.Meta{Release: "6.12.117"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("other artifact type", func(t *testing.T) {
		mb, err := oci.Manifest(arch, oci.Meta{Release: "6.12.117"})
		if err != nil {
			t.Fatal(err)
		}
		mb = bytes.Replace(mb, []byte(oci.ArtifactType), []byte("application/vnd.example.other.v1"), 1)
		req, _ := http.NewRequest(http.MethodPut, "http://"+reg.Host+"/v2/k/manifests/other", bytes.NewReader(mb))
		req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT manifest: %v %v", err, resp)
		}
		resp.Body.Close()
		_, err = c.Pull(ctx, "other")
		if !errors.Is(err, oci.ErrArtifactType) || !strings.Contains(err.Error(), reg.Host+"/k:other") {
			t.Errorf("Pull of another artifact type = %v, want ErrArtifactType naming the reference", err)
		}
	})
	t.Run("size cap", func(t *testing.T) {
		small, _ := oci.NewClient(reg.Host+"/k", &oci.Options{DockerConfig: opts.DockerConfig, MaxSize: 1000})
		if _, err := small.Pull(ctx, r.Tags[0]); !errors.Is(err, oci.ErrTooLarge) {
			t.Errorf("Pull with a 1000-byte cap = %v, want ErrTooLarge", err)
		}
	})
	t.Run("tampered blob", func(t *testing.T) {
		p := reg.BlobPath("sha256:" + r.Archive)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("registry storage: %v", err)
		}
		b[len(b)/2] ^= 0xff
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = c.Pull(ctx, r.Tags[0])
		if !errors.Is(err, oci.ErrDigest) || !strings.Contains(err.Error(), reg.Host+"/k") {
			t.Errorf("Pull of a tampered blob = %v, want ErrDigest naming the registry", err)
		}
	})
	t.Run("not found", func(t *testing.T) {
		if _, err := c.Pull(ctx, "release-nothing"); !errors.Is(err, oci.ErrNotFound) || !strings.Contains(err.Error(), "release-nothing") {
			t.Errorf("Pull(absent tag) = %v, want ErrNotFound naming the tag", err)
		}
	})
	t.Run("down", func(t *testing.T) {
		d, _ := oci.NewClient("127.0.0.1:1/k", opts)
		if _, err := d.Pull(ctx, "x"); !errors.Is(err, oci.ErrUnreachable) || !strings.Contains(err.Error(), "127.0.0.1:1/k:x") {
			t.Errorf("Pull from a closed port = %v, want ErrUnreachable naming the reference", err)
		}
	})
	t.Run("bad reference", func(t *testing.T) {
		if _, err := oci.NewClient("Not/Lower", opts); !errors.Is(err, oci.ErrReference) {
			t.Errorf("NewClient(Not/Lower) = %v, want ErrReference", err)
		}
		if _, err := oci.NewClient(reg.Host+"/k:tag", opts); !errors.Is(err, oci.ErrReference) {
			t.Errorf("NewClient(with tag) = %v, want ErrReference", err)
		}
	})
}

func TestAuth(t *testing.T) {
	reg := registrytest.Start(t, &registrytest.Options{Auth: true})
	ctx := t.Context()
	arch := hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz")
	anon, _ := oci.NewClient(reg.Host+"/k", &oci.Options{DockerConfig: filepath.Join(t.TempDir(), "none.json")})
	if _, err := anon.Push(ctx, arch, oci.Meta{Release: "6.12.117"}); !errors.Is(err, oci.ErrAuth) {
		t.Errorf("Push without credentials = %v, want ErrAuth", err)
	}
	c, err := oci.NewClient(reg.Host+"/k", &oci.Options{DockerConfig: reg.DockerConfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Push(ctx, arch, oci.Meta{Release: "6.12.117"})
	if err != nil {
		t.Fatalf("Push with the docker config's credentials: %v", err)
	}
	a, err := c.Pull(ctx, r.Tags[0])
	if err != nil || !bytes.Equal(a.Archive, arch) {
		t.Errorf("Pull with credentials = %v", err)
	}
	if _, err := anon.Pull(ctx, r.Tags[0]); !errors.Is(err, oci.ErrAuth) || !strings.Contains(err.Error(), "docker login") {
		t.Errorf("Pull without credentials = %v, want ErrAuth with a fix", err)
	}
}
