package cli

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kheaders/kheaders/archive"
	"github.com/kheaders/kheaders/bootimg"
	"github.com/kheaders/kheaders/cache"
	"github.com/kheaders/kheaders/carrier"
	"github.com/kheaders/kheaders/initramfs"
	"github.com/kheaders/kheaders/locate"
	"github.com/kheaders/kheaders/oci"
	"github.com/kheaders/kheaders/pack"
)

var updateSchema = flag.Bool("update", false, "rewrite testdata/library-schema.txt")

// schemaTypes are the library types whose JSON the commands print as part
// of their documented schemas (docs/json.md, "Library types in the
// schemas"); locate's own are pinned by locate's TestHeadersJSONGolden.
var schemaTypes = []any{
	archive.Entry{},
	bootimg.Info{},
	cache.Manifest{}, cache.Entry{}, cache.Report{}, cache.GCResult{},
	carrier.Info{},
	initramfs.Manifest{},
	locate.TargetReport{},
	oci.PushResult{}, oci.Artifact{},
	pack.Stats{}, pack.CheckResult{},
}

// TestLibrarySchema pins the JSON field names and kinds of schemaTypes (and
// of the types they hold) against testdata/library-schema.txt: renaming or
// removing a field of a stable schema fails it. After a deliberate addition
// documented in docs/json.md, go test -run TestLibrarySchema -update
// rewrites the file.
func TestLibrarySchema(t *testing.T) {
	var b strings.Builder
	seen := map[reflect.Type]bool{}
	for _, v := range schemaTypes {
		describeJSON(&b, reflect.TypeOf(v), seen)
	}
	got := b.String()
	path := filepath.Join("testdata", "library-schema.txt")
	if *updateSchema {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run TestLibrarySchema -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("the JSON of the library types differs from %s (a stable schema: fields are only added within v1; "+
			"after a documented addition, -update rewrites it):\ngot:\n%s", path, got)
	}
}

// describeJSON writes one line per JSON field of struct type t ("TYPE.name
// kind"), then the module's struct types it holds.
func describeJSON(b *strings.Builder, t reflect.Type, seen map[reflect.Type]bool) {
	if seen[t] {
		return
	}
	seen[t] = true
	var nested []reflect.Type
	var fields func(t reflect.Type)
	fields = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, ok := f.Tag.Lookup("json")
			if !f.IsExported() || tag == "-" {
				continue
			}
			if f.Anonymous && !ok {
				fields(deref(f.Type))
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" {
				name = f.Name
			}
			fmt.Fprintf(b, "%s.%s %s", t, name, kindOf(f.Type))
			if opts != "" {
				fmt.Fprintf(b, " (%s)", opts)
			}
			b.WriteByte('\n')
			if e := elem(f.Type); e != nil {
				nested = append(nested, e)
			}
		}
	}
	fields(t)
	for _, n := range nested {
		describeJSON(b, n, seen)
	}
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// elem returns the module struct type inside t (through pointers, slices
// and maps), or nil.
func elem(t reflect.Type) reflect.Type {
	for {
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			t = t.Elem()
			continue
		}
		break
	}
	if t.Kind() == reflect.Struct && strings.HasPrefix(t.PkgPath(), "github.com/kheaders/kheaders/") {
		return t
	}
	return nil
}

// kindOf names a field's JSON kind: its Go type for scalars (a named string
// type shows as string), element kinds for containers.
func kindOf(t reflect.Type) string {
	if t == reflect.TypeOf(time.Time{}) {
		return "time"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return kindOf(t.Elem())
	case reflect.Slice, reflect.Array:
		return "[]" + kindOf(t.Elem())
	case reflect.Map:
		return "map[" + kindOf(t.Key()) + "]" + kindOf(t.Elem())
	case reflect.Struct:
		return t.String()
	}
	return t.Kind().String()
}
