package e2e

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
)

// Field names of `kheaders locate --json` (schema kheaders.locate/v1, see
// docs/json.md).
const (
	jSchema  = "schema"
	jDir     = "dir"
	jRelease = "release"
	jArch    = "arch"
	jSource  = "source"
	jSHA256  = "cache_key" // the sha256 of the archive the tree was extracted from
	jCached  = "cached"
	jVerify  = "verified"
	jChecks  = "checks" // [{name, status, want, got, detail}]
)

// wantChecks are the verifications locate must have passed in a booted
// kernel: every input (utsrelease.h, vDSO note, /proc/config.gz, arch) is
// there, so none may be skipped.
var wantChecks = []string{"release", "version", "config", "arch"}

// decodeJSON parses a step's stdout as one JSON object.
func decodeJSON(t *testing.T, s *Step) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s.Stdout), &m); err != nil {
		t.Errorf("guest %s: stdout is not a JSON object: %v\nstdout:\n%s\nstderr:\n%s", s.Name, err, s.Stdout, s.Stderr)
		return nil
	}
	return m
}

// field returns m[path[0]][path[1]]... or nil.
func field(m map[string]any, path ...string) any {
	var v any = m
	for _, k := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func fieldStr(m map[string]any, path ...string) string {
	switch v := field(m, path...).(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// checkLocate checks one successful `kheaders locate --json`: which source
// was used, the verified release and arch, the archive's sha256 (that of the
// fixture build's kheaders_data.tar.xz) and whether the cache was reused.
func (h *harness) checkLocate(t *testing.T, s *Step, self build, wantSource string, wantCached bool) {
	t.Helper()
	if s.RC != 0 {
		t.Errorf("guest %s: rc=%d, want 0\nstdout:\n%s\nstderr:\n%s", s.Name, s.RC, s.Stdout, s.Stderr)
		return
	}
	m := decodeJSON(t, s)
	if m == nil {
		return
	}
	checks := []struct{ what, got, want string }{
		{jSchema, fieldStr(m, jSchema), "kheaders.locate/v1"},
		{jSource, fieldStr(m, jSource), wantSource},
		{jRelease, fieldStr(m, jRelease), release},
		{jSHA256, fieldStr(m, jSHA256), self.sha256},
		{jCached, fieldStr(m, jCached), strconv.FormatBool(wantCached)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("guest %s: %s = %q, want %q", s.Name, c.what, c.got, c.want)
		}
	}
	if fieldStr(m, jDir) == "" {
		t.Errorf("guest %s: no %s in the result", s.Name, jDir)
	}
	if v, _ := field(m, jVerify).(bool); !v {
		t.Errorf("guest %s: %s = %v, want true", s.Name, jVerify, field(m, jVerify))
	}
	status := map[string]string{}
	list, _ := field(m, jChecks).([]any)
	for _, c := range list {
		if cm, ok := c.(map[string]any); ok {
			status[fieldStr(cm, "name")] = fieldStr(cm, "status")
			t.Logf("guest %s: check %s %s: want %q got %q", s.Name, fieldStr(cm, "name"), fieldStr(cm, "status"), fieldStr(cm, "want"), fieldStr(cm, "got"))
		}
	}
	for _, name := range wantChecks {
		if status[name] != "ok" {
			t.Errorf("guest %s: check %q status %q, want ok (checks: %v)", s.Name, name, status[name], status)
		}
	}
}

// checkLocateDir checks the plain `kheaders locate` output and the tree it
// names: the generated autoconf.h of this build.
func (h *harness) checkLocateDir(t *testing.T, s *Step, self build) {
	t.Helper()
	lines := strings.Split(s.Stdout, "\n")
	if s.RC != 0 || len(lines) < 4 {
		t.Errorf("guest %s: rc=%d, output:\n%s\n%s", s.Name, s.RC, s.Stdout, s.Stderr)
		return
	}
	if !strings.HasPrefix(lines[0], "/") {
		t.Errorf("guest %s: locate printed %q, want an absolute directory", s.Name, lines[0])
	}
	wantDef := "#define CONFIG_IKHEADERS 1"
	if self.ikheaders == "m" {
		wantDef = "#define CONFIG_IKHEADERS_MODULE 1"
	}
	if got := lines[len(lines)-1]; got != wantDef {
		t.Errorf("guest %s: autoconf.h IKHEADERS line %q, want %q", s.Name, got, wantDef)
	}
	if n, err := strconv.Atoi(lines[len(lines)-2]); err != nil || n < 100 {
		t.Errorf("guest %s: autoconf.h has %q CONFIG_ defines, want a number >= 100", s.Name, lines[len(lines)-2])
	}
}

// checkMismatch checks that the headers of another build, given as the
// explicit source (--source or KHEADERS_SOURCE), were refused: locate exits
// 4 and hands out nothing (an explicit source is exclusive: locate never
// goes on to other headers, the running kernel's own included), and the
// override attempt is "rejected" with a reason naming each of wantDiff (for
// the two x86_64 fixture builds, which differ only there: CONFIG_IKHEADERS).
func (h *harness) checkMismatch(t *testing.T, s *Step, self, other build, wantDiff []string) {
	t.Helper()
	const exitVerify = 4 // internal/cli.ExitVerify
	dump := fmt.Sprintf("\nstdout:\n%s\nstderr:\n%s", s.Stdout, s.Stderr)
	if s.RC != exitVerify {
		t.Errorf("guest %s: rc=%d, want %d (verification failed): mismatched explicit headers must be refused, and nothing else handed out%s", s.Name, s.RC, exitVerify, dump)
		return
	}
	var r struct {
		Attempts []struct{ Source, Outcome, Reason string }
	}
	if err := json.Unmarshal([]byte(s.Stdout), &r); err != nil {
		t.Errorf("guest %s: stdout is not JSON: %v%s", s.Name, err, dump)
		return
	}
	for _, a := range r.Attempts {
		if a.Source != "override" {
			continue
		}
		if a.Outcome != "rejected" {
			t.Errorf("guest %s: override attempt %q (%s), want rejected", s.Name, a.Outcome, a.Reason)
		}
		for _, w := range wantDiff {
			if !strings.Contains(a.Reason, w) {
				t.Errorf("guest %s: the refusal does not name %q: %s", s.Name, w, a.Reason)
			}
		}
		return
	}
	t.Errorf("guest %s: no override attempt in the report%s", s.Name, dump)
}

// checkNoVerify checks the override: --no-verify hands out mismatched
// headers, but marks them unverified and warns naming the difference.
func (h *harness) checkNoVerify(t *testing.T, s *Step, other build, wantDiff []string) {
	t.Helper()
	if s.RC != 0 {
		t.Errorf("guest %s: rc=%d, want 0 with --no-verify\nstdout:\n%s\nstderr:\n%s", s.Name, s.RC, s.Stdout, s.Stderr)
		return
	}
	m := decodeJSON(t, s)
	if m == nil {
		return
	}
	if v, ok := field(m, jVerify).(bool); !ok || v {
		t.Errorf("guest %s: %s = %v, want false", s.Name, jVerify, field(m, jVerify))
	}
	if got := fieldStr(m, jSHA256); got != other.sha256 {
		t.Errorf("guest %s: %s = %q, want the other build's %s", s.Name, jSHA256, got, other.sha256)
	}
	w := fieldStr(m, "warnings") + s.Stderr
	for _, d := range wantDiff {
		if !strings.Contains(w, d) || !strings.Contains(strings.ToLower(w), "verif") {
			t.Errorf("guest %s: no warning naming %q (warnings and stderr: %q)", s.Name, d, w)
		}
	}
}

// checkInspect checks `kheaders inspect` on the archive (text, and JSON when
// given): it must report the archive's sha256 and the release.
func (h *harness) checkInspect(t *testing.T, text, js *Step, self build) {
	t.Helper()
	if text.RC != 0 {
		t.Errorf("guest %s: rc=%d\n%s\n%s", text.Name, text.RC, text.Stdout, text.Stderr)
	}
	for _, want := range []string{self.sha256, release} {
		if !strings.Contains(text.Stdout, want) {
			t.Errorf("guest %s: output does not contain %q:\n%s", text.Name, want, text.Stdout)
		}
	}
	if js == nil {
		return
	}
	if js.RC != 0 {
		t.Errorf("guest %s: rc=%d\n%s", js.Name, js.RC, js.Stderr)
		return
	}
	m := decodeJSON(t, js)
	if m == nil {
		return
	}
	if got := fieldStr(m, jSchema); got != "kheaders.inspect/v1" {
		t.Errorf("guest %s: schema %q, want kheaders.inspect/v1", js.Name, got)
	}
	if !strings.Contains(js.Stdout, self.sha256) {
		t.Errorf("guest %s: JSON does not carry the archive sha256 %s", js.Name, self.sha256)
	}
}

// checkCflags checks `kheaders cflags`: Kbuild's include order ingredients.
func (h *harness) checkCflags(t *testing.T, s *Step, mach Machine) {
	t.Helper()
	arch := map[string]string{"x86_64": "x86", "arm64": "arm64"}[mach.Arch]
	if s.RC != 0 {
		t.Errorf("guest %s: rc=%d\n%s", s.Name, s.RC, s.Stderr)
		return
	}
	for _, want := range []string{"arch/" + arch + "/include", "include/generated", "linux/kconfig.h", "-D__KERNEL__"} {
		if !strings.Contains(s.Stdout, want) {
			t.Errorf("guest %s: %q missing from:\n%s", s.Name, want, s.Stdout)
		}
	}
}

// checkExtract checks that `kheaders extract` of the sysfs archive wrote as
// many regular files as busybox tar lists in it (in the guest) and as the
// fixture archive holds (on the host, when the archive file is at hand).
func (h *harness) checkExtract(t *testing.T, s, oracle *Step, self build) {
	t.Helper()
	want, err := strconv.Atoi(strings.TrimSpace(oracle.Stdout))
	if err != nil || want < 1000 {
		t.Errorf("guest %s: busybox counted %q regular files (rc %d), want a number >= 1000\n%s", oracle.Name, oracle.Stdout, oracle.RC, oracle.Stderr)
		return
	}
	if self.archive != "" {
		host, err := countRegular(self.archive)
		if err != nil {
			t.Fatal(err)
		}
		if host != want {
			t.Errorf("guest busybox tar counts %d regular files in /sys/kernel/kheaders.tar.xz, host counts %d in %s", want, host, self.archive)
		}
	}
	if s.RC != 0 || strings.TrimSpace(s.Stdout) != strconv.Itoa(want) {
		t.Errorf("guest %s: rc=%d, %q regular files, want %d\n%s", s.Name, s.RC, s.Stdout, want, s.Stderr)
	}
}

// countRegular counts the regular files in a tar.xz.
func countRegular(p string) (int, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	xr, err := xz.NewReader(f)
	if err != nil {
		return 0, fmt.Errorf("xz %s: %w", p, err)
	}
	tr := tar.NewReader(xr)
	n := 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("tar %s: %w", p, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			n++
		}
	}
}
