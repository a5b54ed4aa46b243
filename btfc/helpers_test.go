package btfc

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// needTool skips the test when name is not on PATH.
func needTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not found: install the Debian package %s", name, pkg)
	}
	return p
}

// compileBTF compiles a C snippet for BPF with debug info and returns the
// object file's bytes (an ELF with a .BTF section).
func compileBTF(t testing.TB, src string) []byte {
	t.Helper()
	return compileBTFTarget(t, src, "bpf")
}

// compileBTFTarget is compileBTF for a given clang -target.
func compileBTFTarget(t testing.TB, src, target string) []byte {
	t.Helper()
	clang := needTool(t, "clang", "clang")
	dir := t.TempDir()
	c := filepath.Join(dir, "x.c")
	o := filepath.Join(dir, "x.o")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(clang, "-g", "-O2", "-target", target, "-c", c, "-o", o).CombinedOutput()
	if err != nil {
		t.Fatalf("clang -g -target bpf -c: %v\n%s", err, out)
	}
	data, err := os.ReadFile(o)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func loadSpec(t testing.TB, data []byte) *BTF {
	t.Helper()
	b, _, err := Load(data, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	sameAsCilium(t, "snippet", b, ciliumGraph(t, data, nil))
	return b
}

func generateT(t testing.TB, spec *BTF, opts *Options) []byte {
	t.Helper()
	b, _, err := spec.Generate(opts)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", opts, err)
	}
	return b
}

// golden compares got with testdata/golden/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it):\n%s", path, lineDiff(want, got))
	}
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got []byte) string {
	wl := strings.Split(string(want), "\n")
	gl := strings.Split(string(got), "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(wl), len(gl)) && shown < 10; i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g + "\n")
			shown++
		}
	}
	return b.String()
}

// bpftoolDump runs Debian's bpftool on a BTF file and returns its C dump.
func bpftoolDump(t testing.TB, path string) []byte {
	t.Helper()
	bpftool := needTool(t, "bpftool", "bpftool")
	out, err := exec.Command(bpftool, "btf", "dump", "file", path, "format", "c").Output()
	if err != nil {
		t.Fatalf("bpftool btf dump file %s format c: %v", path, err)
	}
	return out
}

var failedRecord = regexp.MustCompile(`"(?:sizeof\()?((?:struct|union) [A-Za-z0-9_]+)`)

// layoutFailures compiles the header with the layout assertions of spec and
// returns the records whose assertions fail, with the number of failures.
func layoutFailures(t testing.TB, header, asserts []byte) (map[string]int, int) {
	t.Helper()
	clang := needTool(t, "clang", "clang")
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"vmlinux.h":   header,
		"asserts.inc": asserts,
		"check.c":     []byte("#include \"vmlinux.h\"\n#include \"asserts.inc\"\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(clang, "-target", "bpf", "-fsyntax-only", "-ferror-limit=0", "check.c")
	cmd.Dir = dir
	out, _ := cmd.CombinedOutput()
	recs := map[string]int{}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if !strings.Contains(line, "error:") {
			continue
		}
		n++
		if m := failedRecord.FindStringSubmatch(line); m != nil {
			recs[m[1]]++
		} else {
			recs["(other) "+line]++
		}
	}
	return recs, n
}
