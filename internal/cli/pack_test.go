package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// packTree writes a minimal prepared out-of-tree kernel build: src and obj.
func packTree(t *testing.T, minor string) (src, obj string) {
	t.Helper()
	d := t.TempDir()
	src, obj = filepath.Join(d, "src"), filepath.Join(d, "obj")
	files := map[string]string{
		src + "/Makefile":                           "VERSION = 6\nPATCHLEVEL = " + minor + "\nSUBLEVEL = 0\n",
		src + "/include/linux/a.h":                  "/* SPDX-License-Identifier: GPL-2.0 */\n#define A 1 /* one */\n",
		src + "/arch/x86/include/asm/b.h":           "int b; // b\n",
		obj + "/include/generated/autoconf.h":       "#define CONFIG_X 1\n",
		obj + "/arch/x86/include/generated/asm/c.h": "int c;\n",
		obj + "/kernel/.keep":                       "",
	}
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return src, obj
}

func runPackCLI(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	env := &Env{Stdout: &o, Stderr: &e, Getenv: func(k string) string { return vars[k] }}
	code = Main(context.Background(), env, args)
	return code, o.String(), e.String()
}

func TestPackCLI(t *testing.T) {
	src, obj := packTree(t, "12")
	out := filepath.Join(t.TempDir(), "k.tar.xz")
	code, stdout, stderr := runPackCLI(t, nil, "pack", "--json", "--xz=go", "--src", src, "--timestamp", "@1700000000", "-o", out, obj)
	if code != 0 {
		t.Fatalf("pack: exit %d: %s", code, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json output %q: %v", stdout, err)
	}
	if res["schema"] != "kheaders.pack/v1" || res["files"].(float64) != 4 || res["srcarch"] != "x86" || res["mtime"].(float64) != 1700000000 {
		t.Errorf("--json = %v", res)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() != int64(res["archive_bytes"].(float64)) {
		t.Errorf("output %s: %v, size vs archive_bytes %v", out, err, res["archive_bytes"])
	}
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"pack", "--strip=perl", obj}, ExitUsage, "--strip"},
		{[]string{"pack", "--compress=gzip", obj}, ExitUsage, "--compress"},
		{[]string{"pack", "--src", t.TempDir(), "-o", out, obj}, ExitNotFound, "not a kernel source tree"},
		{[]string{"pack", "--src", src, "-o", out, t.TempDir()}, ExitNotFound, "make prepare"},
		{[]string{"pack", "--src", src, "--timestamp", "soon", "-o", out, obj}, ExitUsage, "cannot parse timestamp"},
		{[]string{"pack", "--src", src, "-o", filepath.Join(obj, "no/such/dir/k.tar.xz"), obj}, ExitError, "does not exist"},
	} {
		code, _, stderr := runPackCLI(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.msg) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tt.args, code, stderr, tt.code, tt.msg)
		}
	}
}

// TestPackKbuildDropIn runs the Kbuild contract twice: the second run finds
// nothing changed and skips; a sub-second change to a header repacks.
func TestPackKbuildDropIn(t *testing.T) {
	src, obj := packTree(t, "12")
	t.Chdir(obj)
	vars := map[string]string{"srctree": src, "building_out_of_srctree": "1", "SRCARCH": "x86", "KBUILD_BUILD_TIMESTAMP": "@1700000000"}
	args := []string{"pack", "--kbuild", "--xz=go", "kernel/kheaders_data.tar.xz"}
	code, _, stderr := runPackCLI(t, vars, args...)
	if code != 0 || !strings.Contains(stderr, "GEN     kernel/kheaders_data.tar.xz") {
		t.Fatalf("first run: exit %d, stderr %q; want GEN", code, stderr)
	}
	first, err := os.ReadFile("kernel/kheaders_data.tar.xz")
	if err != nil {
		t.Fatal(err)
	}
	if code, _, stderr = runPackCLI(t, vars, args...); code != 0 || strings.Contains(stderr, "GEN") {
		t.Errorf("second run: exit %d, stderr %q; want a silent skip", code, stderr)
	}
	h := filepath.Join(src, "include/linux/a.h")
	fi, _ := os.Stat(h)
	os.Chtimes(h, fi.ModTime(), fi.ModTime().Add(time.Millisecond))
	if code, _, stderr = runPackCLI(t, vars, args...); code != 0 || !strings.Contains(stderr, "GEN") {
		t.Errorf("after touching a header: exit %d, stderr %q; want GEN", code, stderr)
	}
	vars["KBUILD_BUILD_TIMESTAMP"] = "@1700000001"
	if code, _, stderr = runPackCLI(t, vars, args...); code != 0 || !strings.Contains(stderr, "GEN") {
		t.Errorf("after changing KBUILD_BUILD_TIMESTAMP: exit %d, stderr %q; want GEN", code, stderr)
	}
	if again, _ := os.ReadFile("kernel/kheaders_data.tar.xz"); bytes.Equal(again, first) {
		t.Error("archive unchanged after a new KBUILD_BUILD_TIMESTAMP")
	}
}

// TestPackKbuild617 passes the 6.17+ arguments: lists and timestamp; the
// depfile must appear as kernel/Makefile expects.
func TestPackKbuild617(t *testing.T) {
	src, obj := packTree(t, "17")
	t.Chdir(obj)
	os.WriteFile("kernel/kheaders-srclist", []byte(src+"/include/linux/a.h\n"+src+"/arch/x86/include/asm/b.h\n"), 0o644)
	os.WriteFile("kernel/kheaders-objlist", []byte("include/generated/autoconf.h\narch/x86/include/generated/asm/c.h\n"), 0o644)
	vars := map[string]string{"srctree": src, "building_out_of_srctree": "1", "SRCARCH": "x86"}
	code, stdout, stderr := runPackCLI(t, vars, "pack", "--kbuild", "--json", "--xz=go", "kernel/kheaders_data.tar.xz", "kernel/kheaders-srclist", "kernel/kheaders-objlist", "@5")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res map[string]any
	json.Unmarshal([]byte(stdout), &res)
	if res["files"] != 4.0 || res["mtime"] != 5.0 {
		t.Errorf("--json = %v, want 4 files, mtime 5", res)
	}
	dep, err := os.ReadFile("kernel/.kheaders_data.tar.xz.d")
	if err != nil {
		t.Fatalf("depfile: %v", err)
	}
	for _, want := range []string{"deps_kernel/kheaders_data.tar.xz := \\\n", "  " + src + "/include/linux/a.h \\\n", "  arch/x86/include/generated/asm/c.h \\\n", "kernel/kheaders_data.tar.xz: $(deps_kernel/kheaders_data.tar.xz)"} {
		if !strings.Contains(string(dep), want) {
			t.Errorf("depfile lacks %q:\n%s", want, dep)
		}
	}
	if strings.Contains(string(dep), "autoconf.h") {
		t.Errorf("depfile lists autoconf.h:\n%s", dep)
	}
}
