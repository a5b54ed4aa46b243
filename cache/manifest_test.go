package cache

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/kheaders/kheaders/archive"
)

// TestManifestMarshal checks that the appender writes exactly what
// encoding/json writes, including the cases it hands back to it.
func TestManifestMarshal(t *testing.T) {
	mt := time.Unix(1700000000, 123456789)
	odd := time.Date(2024, 3, 1, 12, 0, 0, 0, time.FixedZone("x", 5*3600+30*60))
	entries := []archive.Entry{
		{Name: "include", Type: 'd', Mode: 0o755, ModTime: mt},
		{Name: "include/linux/types.h", Type: 'f', Mode: 0o644, Size: 1234, SHA256: "ab" + string(bytes.Repeat([]byte("0"), 62)), ModTime: mt},
		{Name: "include/empty.h", Type: 'f', Mode: 0o600, ModTime: time.Unix(0, 0)},
		{Name: "include/dt-bindings/link.h", Type: 'l', Mode: 0o777, Target: "../x/link.h", ModTime: odd},
	}
	base := Manifest{Schema: ManifestSchema, Key: "k", Kind: "tree", Origin: "/sys/kernel/kheaders.tar.xz", Release: "6.12.117", Created: time.Now().UTC(), Files: 2, Bytes: 1234, Entries: entries}
	cases := map[string]func(m *Manifest){
		"plain":         func(*Manifest) {},
		"nil entries":   func(m *Manifest) { m.Entries = nil },
		"empty entries": func(m *Manifest) { m.Entries = []archive.Entry{} },
		"no optional":   func(m *Manifest) { m.Kind, m.Origin, m.Release = "", "", "" },
		"html in name":  func(m *Manifest) { m.Entries = append(m.Entries, archive.Entry{Name: "a<b>&c.h", Type: 'f'}) },
		"quote, escape": func(m *Manifest) { m.Entries = append(m.Entries, archive.Entry{Name: "a\"b\\c\n\x01.h", Type: 'f'}) },
		"non-ASCII":     func(m *Manifest) { m.Entries = append(m.Entries, archive.Entry{Name: "ü\u2028\xff.h", Type: 'f'}) },
		"zero time":     func(m *Manifest) { m.Entries = append(m.Entries, archive.Entry{Name: "z.h", Type: 'f'}) },
		"year 10000":    func(m *Manifest) { m.Entries[0].ModTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"offset secs":   func(m *Manifest) { m.Created = time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("s", 3601)) },
		"local time":    func(m *Manifest) { m.Created = time.Now() },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			m := base
			m.Entries = append([]archive.Entry(nil), base.Entries...)
			edit(&m)
			want, wantErr := json.Marshal(&m)
			got, gotErr := m.marshal()
			if (wantErr != nil) != (gotErr != nil) {
				t.Fatalf("marshal error = %v, json.Marshal error = %v", gotErr, wantErr)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("marshal =\n%s\nwant (json.Marshal)\n%s", got, want)
			}
		})
	}
}

// BenchmarkManifestMarshal: the appender against encoding/json on a
// manifest of kernel-archive size (7,000 entries).
func BenchmarkManifestMarshal(b *testing.B) {
	m := &Manifest{Schema: ManifestSchema, Key: "k", Created: time.Now().UTC()}
	for i := range 7000 {
		m.Entries = append(m.Entries, archive.Entry{Name: "include/linux/some/header" + string(rune('a'+i%26)) + ".h", Type: 'f', Mode: 0o644, Size: 4000, SHA256: string(bytes.Repeat([]byte("f"), 64)), ModTime: time.Unix(1700000000, 0)})
	}
	b.Run("append", func(b *testing.B) {
		for b.Loop() {
			if _, err := m.marshal(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
