package importrules

import (
	"bufio"
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The rules, as import paths relative to the module:
//
//  1. Only internal/host imports golang.org/x/sys (it is the one package
//     that touches the host; elsewhere the standard syscall package, if at
//     all).
//  2. The non-test files of internal/cli import the module's public
//     packages and, of its internal ones, only cliInternal: the CLI parses
//     flags, calls a library function and prints; porcelain belongs in the
//     libraries. Its tests may use any package.
//  3. Nothing imports internal/cli but cmd/kheaders.
//  4. Nothing outside the e2e tree (e2e or internal/e2e and below) imports
//     it: e2e is a test harness, not an API.
//
// knownViolations are the exceptions of today, each with who removes it. An
// exception that no longer occurs fails the test too, so the list only
// shrinks.

// cliInternal are the internal packages the CLI must use: the one output
// writer and the one input reader (docs/design.md, shared decisions).
var cliInternal = []string{"internal/output", "internal/input"}

var knownViolations = map[string]string{
	// None left: the output buffer prefault moved to internal/host
	// (host.PrefaultWrite) and pack has its own XZOptions (issue 11).
}

func TestImportRules(t *testing.T) {
	root, mod := moduleRoot(t)
	imports := map[string]map[string]bool{} // importer package -> non-test imports
	testImports := map[string]map[string]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || exists(filepath.Join(p, "go.mod"))) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		pkg := filepath.ToSlash(rel)
		m := imports
		if strings.HasSuffix(name, "_test.go") {
			m = testImports
		}
		if m[pkg] == nil {
			m[pkg] = map[string]bool{}
		}
		for _, im := range f.Imports {
			ip, _ := strconv.Unquote(im.Path.Value)
			if ip == mod {
				ip = "."
			} else if r, ok := strings.CutPrefix(ip, mod+"/"); ok {
				ip = r
			}
			m[pkg][ip] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(imports) < 10 || imports["cmd/kheaders"] == nil {
		t.Fatalf("found only %d packages under %s; is this the module root?", len(imports), root)
	}

	found := map[string]bool{}
	check := func(importer string, ims map[string]bool, test bool) {
		for ip := range ims {
			var rule string
			switch {
			case (ip == "golang.org/x/sys" || strings.HasPrefix(ip, "golang.org/x/sys/")) && importer != "internal/host":
				rule = "only internal/host may import golang.org/x/sys"
			case importer == "internal/cli" && !test && isInternal(ip) && !slices.Contains(cliInternal, ip):
				rule = "internal/cli may import only public packages and " + strings.Join(cliInternal, ", ")
			case ip == "internal/cli" && importer != "cmd/kheaders" && importer != "internal/cli":
				rule = "only cmd/kheaders may import internal/cli"
			case inE2E(ip) && !inE2E(importer):
				rule = "nothing outside the e2e harness may import it"
			default:
				continue
			}
			v := importer + " imports " + ip
			if _, ok := knownViolations[v]; ok {
				found[v] = true
				continue
			}
			where := ""
			if test {
				where = " (in a test)"
			}
			t.Errorf("%s%s: %s", v, where, rule)
		}
	}
	for _, pkg := range sortedKeys(imports) {
		check(pkg, imports[pkg], false)
	}
	for _, pkg := range sortedKeys(testImports) {
		check(pkg, testImports[pkg], true)
	}
	for _, v := range sortedKeys(knownViolations) {
		if !found[v] {
			t.Errorf("known violation %q (%s) no longer occurs: remove it from knownViolations", v, knownViolations[v])
		} else {
			t.Logf("known violation, to be removed by the %s: %s", knownViolations[v], v)
		}
	}
}

func isInternal(p string) bool { return p == "internal" || strings.HasPrefix(p, "internal/") }

func inE2E(p string) bool {
	for _, top := range []string{"e2e", "internal/e2e"} {
		if p == top || strings.HasPrefix(p, top+"/") {
			return true
		}
	}
	return false
}

// moduleRoot finds go.mod above the test's directory and the module path.
func moduleRoot(t *testing.T) (dir, mod string) {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for !exists(filepath.Join(dir, "go.mod")) {
		if filepath.Dir(dir) == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = filepath.Dir(dir)
	}
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return dir, path.Clean(strings.Trim(strings.TrimSpace(m), `"`))
		}
	}
	t.Fatal(fmt.Errorf("no module line in %s/go.mod", dir))
	return "", ""
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
