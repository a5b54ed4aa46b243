package cache

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestKeepSource: the bytes an object was made from are kept beside its
// tree and handed back only when they hash to the expected sum; cache
// verify does not see them; an object without them says ErrNotFound.
func TestKeepSource(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	data := []byte("the archive bytes")
	key := testKey(string(data))
	if err := c.KeepSource(key, data); !errors.Is(err, ErrNotFound) {
		t.Fatalf("KeepSource before the object exists = %v, want ErrNotFound", err)
	}
	if _, _, err := c.Ensure(t.Context(), key, Info{}, writeFiles); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Source(key, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Source of an object made without KeepSource = %v, want ErrNotFound", err)
	}
	if err := c.KeepSource(key, data); err != nil {
		t.Fatal(err)
	}
	got, err := c.Source(key, key)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Source = %q, %v; want %q", got, err, data)
	}
	if r, err := c.Verify(t.Context(), key); err != nil || len(r.Problems) != 0 {
		t.Fatalf("Verify with a kept source = %+v, %v; want no problems", r, err)
	}
	// Tampered bytes are refused.
	if err := os.WriteFile(filepath.Join(dir, "objects", key, "source"), []byte("other bytes!!!!!!"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Source(key, key); !errors.Is(err, ErrDamaged) {
		t.Fatalf("Source of tampered bytes = %v, want ErrDamaged", err)
	}
	// The next KeepSource (a re-read from the target) repairs them, though
	// the damaged file has the same size.
	if err := c.KeepSource(key, data); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Source(key, key); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Source after KeepSource over damaged bytes = %q, %v; want %q", got, err, data)
	}
	// A symlink planted in its place is refused.
	p := filepath.Join(dir, "objects", key, "source")
	os.Remove(p)
	if err := os.Symlink("/etc/hostname", p); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Source(key, key); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("Source through a symlink = %v, want ErrUnsafe", err)
	}
	if _, err := c.Source("../x", key); !errors.Is(err, ErrKey) {
		t.Fatalf("Source(../x) = %v, want ErrKey", err)
	}
}
