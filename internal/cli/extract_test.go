package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

func runKH(t *testing.T, stdin []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: bytes.NewReader(stdin), Stdout: &out, Stderr: &errb}
	code = Main(context.Background(), env, args)
	return out.String(), errb.String(), code
}

func fileSum(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestExtractCommand(t *testing.T) {
	ko := hosttest.Fixture(t, "ikheaders-m/kheaders.ko")
	want := fileSum(t, hosttest.Fixture(t, "ikheaders-m/kheaders_data.tar.xz"))
	dir := t.TempDir()

	out := filepath.Join(dir, "k.tar.xz")
	if _, stderr, code := runKH(t, nil, "extract", ko, "-o", out); code != 0 || fileSum(t, out) != want {
		t.Fatalf("extract -o: code %d, stderr %s, sha %s; want 0 and %s", code, stderr, fileSum(t, out), want)
	}
	// stdin in, stdout out.
	raw, _ := os.ReadFile(ko)
	stdout, _, code := runKH(t, raw, "extract", "-", "-o", "-")
	if s := sha256.Sum256([]byte(stdout)); code != 0 || hex.EncodeToString(s[:]) != want {
		t.Errorf("extract - -o -: code %d, sha %x", code, s)
	}
	// -C with --json.
	tree := filepath.Join(dir, "tree")
	stdout, stderr, code := runKH(t, nil, "extract", ko, "-C", tree, "--json")
	if code != 0 {
		t.Fatalf("extract -C: code %d: %s", code, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("extract --json: %v\n%s", err, stdout)
	}
	if res["schema"] != "kheaders.extract/v1" || res["release"] != "6.12.117" || res["files"].(float64) != 6679 {
		t.Errorf("extract --json = %v", res)
	}
	// The archive's sha256 comes from the extraction (carrier does not
	// hash it first with -C alone): the same as the file's.
	if a, _ := res["archive"].(map[string]any); a == nil || a["sha256"] != want {
		t.Errorf("extract -C --json archive = %v, want sha256 %s", res["archive"], want)
	}
	if _, err := os.Stat(filepath.Join(tree, "include", "generated", "utsrelease.h")); err != nil {
		t.Error(err)
	}
	// --quiet: no hash computed, nothing printed, the same tree.
	quiet := filepath.Join(dir, "quiet")
	if stdout, stderr, code := runKH(t, nil, "extract", ko, "-C", quiet, "--quiet"); code != 0 || stdout != "" || stderr != "" {
		t.Errorf("extract -C --quiet: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(quiet, "include", "generated", "utsrelease.h")); err != nil {
		t.Error(err)
	}
	// Again into the same directory: refused, tree untouched.
	if _, stderr, code := runKH(t, nil, "extract", ko, "-C", tree); code != ExitError || !strings.Contains(stderr, "already exists") {
		t.Errorf("extract -C existing: code %d, stderr %q", code, stderr)
	}
}

func TestExtractCommandErrors(t *testing.T) {
	noHeaders := hosttest.Fixture(t, "ikheaders-m/bzImage")
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"extract", noHeaders, "-o", filepath.Join(t.TempDir(), "x")}, ExitNotFound, "CONFIG_IKHEADERS"},
		{[]string{"extract", noHeaders}, ExitUsage, "-o FILE or -C DIR"},
		{[]string{"extract", "-o", "x"}, ExitUsage, "exactly one SRC"},
		{[]string{"extract", "/nonexistent/file", "-o", "x"}, ExitNotFound, "no such file"},
		{[]string{"extract", t.TempDir(), "-o", "x"}, ExitNotSupported, "directory"},
		{[]string{"config", hosttest.Fixture(t, "ikheaders-m/kheaders.ko")}, ExitNotFound, "CONFIG_IKCONFIG"},
	} {
		_, stderr, code := runKH(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.msg) {
			t.Errorf("%v: code %d stderr %q; want %d containing %q", tc.args, code, stderr, tc.code, tc.msg)
		}
	}
}

func TestInspectAndConfigCommands(t *testing.T) {
	vmlinux := hosttest.Fixture(t, "ikheaders-y/vmlinux")
	stdout, stderr, code := runKH(t, nil, "inspect", vmlinux, "--json")
	if code != 0 {
		t.Fatalf("inspect: code %d: %s", code, stderr)
	}
	var in struct {
		Schema, Kind, Arch, Machine, Release, Chain string
		HasHeaders                                  bool `json:"has_headers"`
		HasConfig                                   bool `json:"has_config"`
		Archive                                     struct {
			SHA256  string
			Members int
		}
	}
	if err := json.Unmarshal([]byte(stdout), &in); err != nil {
		t.Fatal(err)
	}
	want := fileSum(t, hosttest.Fixture(t, "ikheaders-y/kheaders_data.tar.xz"))
	if in.Schema != "kheaders.inspect/v1" || in.Kind != "vmlinux" || in.Arch != "x86" || in.Machine != "x86_64" || in.Release != "6.12.117" ||
		!in.HasHeaders || !in.HasConfig || in.Archive.SHA256 != want || in.Archive.Members != 7026 {
		t.Errorf("inspect --json = %+v", in)
	}
	stdout, _, code = runKH(t, nil, "inspect", hosttest.Fixture(t, "ikheaders-m/bzImage"))
	if code != 0 || !strings.Contains(stdout, "headers:  no") || !strings.Contains(stdout, "release:  6.12.117 (from banner)") {
		t.Errorf("inspect =m bzImage: code %d\n%s", code, stdout)
	}
	cfg := filepath.Join(t.TempDir(), "config")
	if _, stderr, code := runKH(t, nil, "config", vmlinux, "-o", cfg); code != 0 || fileSum(t, cfg) != fileSum(t, hosttest.Fixture(t, "ikheaders-y/config")) {
		t.Errorf("config -o: code %d %s", code, stderr)
	}
	stdout, _, code = runKH(t, nil, "config", vmlinux)
	if code != 0 || !strings.Contains(stdout, "CONFIG_IKHEADERS=y\n") {
		t.Errorf("config to stdout: code %d, %d bytes", code, len(stdout))
	}
	if stdout, _, code := runKH(t, nil, "extract", "--help"); code != 0 || !strings.Contains(stdout, "Examples:") {
		t.Errorf("extract --help: code %d\n%s", code, stdout)
	}
}

// TestExtractIntoEmptyDir (issue 10 point 10): -C accepts an existing empty
// directory like tar -C, refuses a non-empty one without touching it, and
// puts an empty one back when extraction fails.
func TestExtractIntoEmptyDir(t *testing.T) {
	ko := hosttest.Fixture(t, "ikheaders-m/kheaders.ko")
	base := t.TempDir()
	empty := filepath.Join(base, "empty")
	os.Mkdir(empty, 0o750)
	if _, stderr, code := runKH(t, nil, "extract", ko, "-C", empty); code != 0 {
		t.Fatalf("extract -C <empty dir>: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(empty, "include/generated/utsrelease.h")); err != nil {
		t.Errorf("extract -C <empty dir> did not fill it: %v", err)
	}
	full := filepath.Join(base, "full")
	os.Mkdir(full, 0o755)
	os.WriteFile(filepath.Join(full, "mine"), []byte("keep"), 0o644)
	if _, stderr, code := runKH(t, nil, "extract", ko, "-C", full); code != ExitError || !strings.Contains(stderr, "exists") {
		t.Errorf("extract -C <non-empty dir>: exit %d, %s; want 1 and 'exists'", code, stderr)
	}
	if ents, _ := os.ReadDir(full); len(ents) != 1 {
		t.Errorf("non-empty dir changed: %d entries, want only mine", len(ents))
	}
	bad := filepath.Join(base, "bad")
	os.Mkdir(bad, 0o700)
	if _, _, code := runKH(t, nil, "extract", ko, "-C", bad, "--max-entries", "3"); code == 0 {
		t.Fatal("extract with --max-entries 3 succeeded")
	}
	if fi, err := os.Stat(bad); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("empty dir not put back after a failed extraction: %v %v", fi, err)
	} else if ents, _ := os.ReadDir(bad); len(ents) != 0 {
		t.Errorf("failed extraction left %d entries in the empty dir", len(ents))
	}
}
