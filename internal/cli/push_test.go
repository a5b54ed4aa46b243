package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"

	"github.com/kheaders/kheaders/internal/registrytest"
)

func TestPushPullCommands(t *testing.T) {
	reg := registrytest.Start(t, &registrytest.Options{Auth: true})
	cfg := reg.DockerConfig(t)
	repo := reg.Host + "/kheaders"
	vmlinux := hosttest.Fixture(t, "ikheaders-y/vmlinux")
	want, err := os.ReadFile(hosttest.Fixture(t, "ikheaders-y/kheaders_data.tar.xz"))
	if err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runKH(t, nil, "push", "--docker-config", cfg, vmlinux, repo)
	if code != 0 {
		t.Fatalf("push = %d: %s", code, errOut)
	}
	tags := strings.Fields(out)
	if len(tags) != 2 || !strings.HasPrefix(tags[0], repo+":buildid-") || tags[1] != repo+":release-6.12.117" {
		t.Fatalf("push printed %q, want the build-id and release tags", out)
	}
	out, errOut, code = runKH(t, nil, "push", "--json", "--docker-config", cfg, vmlinux, repo)
	var res struct {
		Schema  string `json:"schema"`
		Changed bool   `json:"changed"`
		Meta    struct {
			BuildID string `json:"build_id"`
			Arch    string `json:"arch"`
		} `json:"meta"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Schema != "kheaders.push/v1" || res.Changed || len(res.Meta.BuildID) != 40 || res.Meta.Arch != "x86" {
		t.Errorf("second push --json = %d %s %s; want unchanged with the build-id and arch", code, out, errOut)
	}
	for _, tag := range tags {
		f := filepath.Join(t.TempDir(), "k.tar.xz")
		if _, errOut, code := runKH(t, nil, "pull", "--docker-config", cfg, tag, "-o", f); code != 0 {
			t.Fatalf("pull %s = %d: %s", tag, code, errOut)
		}
		got, _ := os.ReadFile(f)
		if !bytes.Equal(got, want) {
			t.Errorf("pull %s wrote %d bytes, want the fixture archive (%d)", tag, len(got), len(want))
		}
	}
	f := filepath.Join(t.TempDir(), "none")
	if _, errOut, code := runKH(t, nil, "pull", "--docker-config", cfg, repo+":release-9.9", "-o", f); code != ExitNotFound || !strings.Contains(errOut, repo+":release-9.9") {
		t.Errorf("pull of an absent tag = %d %q, want 3 naming the reference", code, errOut)
	}
	if _, err := os.Stat(f); err == nil {
		t.Errorf("a failed pull left %s", f)
	}
	if _, errOut, code := runKH(t, nil, "pull", "--docker-config", filepath.Join(t.TempDir(), "no.json"), tags[1], "-o", f); code != ExitError || !strings.Contains(errOut, "docker login") {
		t.Errorf("pull without credentials = %d %q, want 1 with the docker login fix", code, errOut)
	}
	if _, _, code := runKH(t, nil, "pull", repo+":x"); code != ExitUsage {
		t.Errorf("pull without -o = %d, want 2", code)
	}
}
