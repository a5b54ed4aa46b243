package locate

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// The JSON of Headers, Attempt, Check and EnvVar is the documented schema
// kheaders.locate/v1 (docs/json.md): within v1 fields are only added. These
// tests pin it: a change of a tag or of a field's encoding fails them until
// the golden file is rewritten (go test -update) and docs/json.md agrees.

// TestHeadersJSONGolden marshals a Headers with every field set and
// compares it with testdata/headers-v1.json.
func TestHeadersJSONGolden(t *testing.T) {
	h := &Headers{
		Dir: "/var/cache/kheaders/objects/KEY/headers", BuildDir: "/var/cache/kheaders/objects/KEY/headers",
		FS: os.DirFS("/"), Release: "6.12.117", Machine: "x86_64", Arch: "x86", Kind: KindTree,
		Source: "sysfs", Origin: SysfsArchive, Key: "KEY", Cached: true, Verified: true,
		Checks: []Check{
			{Name: "files", Status: CheckOK},
			{Name: "config", Status: CheckMismatch, Want: "CONFIG_IKHEADERS=y", Got: "CONFIG_IKHEADERS=m", Detail: "1 symbols differ"},
		},
		Attempts: []Attempt{
			{Source: "override", Outcome: OutcomeSkipped, Reason: "no --source or KHEADERS_SOURCE given"},
			{Source: "sysfs", Outcome: OutcomeUsed, Origin: SysfsArchive, Reason: "verified: files", Fix: "a fix"},
		},
		Warnings: []string{"NOT VERIFIED: config: ..."},
		trust:    "not in JSON",
	}
	got, err := json.MarshalIndent(struct {
		*Headers
		Env []EnvVar `json:"env"`
	}{h, []EnvVar{{"KHEADERS_ARCH", "x86"}}}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "headers-v1.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the JSON of Headers differs from %s, the kheaders.locate/v1 schema (go test -update rewrites it after a deliberate, documented addition):\ngot:\n%s", path, got)
	}
}

// TestHeadersJSONDocumented: every JSON field of the four types is named in
// the kheaders.locate/v1 section of docs/json.md.
func TestHeadersJSONDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/json.md")
	if err != nil {
		t.Fatal(err)
	}
	sec := string(doc)
	i := strings.Index(sec, "## kheaders.locate/v1")
	j := strings.Index(sec[i+1:], "\n## ")
	if i < 0 || j < 0 {
		t.Fatal("docs/json.md has no kheaders.locate/v1 section")
	}
	sec = sec[i : i+1+j]
	for _, v := range []any{Headers{}, Attempt{}, Check{}, EnvVar{}} {
		ty := reflect.TypeOf(v)
		for k := range ty.NumField() {
			f := ty.Field(k)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				t.Errorf("%s.%s has no json tag: its name in the schema would follow the Go name", ty.Name(), f.Name)
				continue
			}
			if !regexp.MustCompile("`" + name + "`|[{,] ?" + name + "[?,}]").MatchString(sec) {
				t.Errorf("%s.%s (json %q) is not documented in the kheaders.locate/v1 section of docs/json.md", ty.Name(), f.Name, name)
			}
		}
	}
}
