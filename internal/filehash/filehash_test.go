package filehash

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFile(t *testing.T) {
	data := strings.Repeat("kheaders ", 100000) // larger than io.Copy's buffer
	want := sha256.Sum256([]byte(data))
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := File(p)
	if err != nil || got != hex.EncodeToString(want[:]) {
		t.Errorf("File(%s) = %q, %v; want %x", p, got, err, want)
	}
	if got, err := Reader(strings.NewReader("")); err != nil || got != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("Reader(empty) = %q, %v; want the sha256 of nothing", got, err)
	}
	if _, err := File(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("File(missing) error %v, want fs.ErrNotExist", err)
	}
}
