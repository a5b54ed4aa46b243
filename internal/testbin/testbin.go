// Package testbin builds the kheaders CLI once per test process, for tests
// that run it as a separate process (concurrent callers, the Kbuild
// drop-in). Call Remove from TestMain to delete the build.
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	once sync.Once
	bin  string
	err  error
)

// Kheaders returns the path of a kheaders binary built from this module,
// building it on the first call; it skips t when no go toolchain is in PATH.
func Kheaders(t testing.TB) string {
	t.Helper()
	gobin, lookErr := exec.LookPath("go")
	if lookErr != nil {
		t.Skip("go toolchain not in PATH: cannot build the kheaders CLI")
	}
	once.Do(func() {
		d, e := os.MkdirTemp("", "kheaders-bin-")
		if e != nil {
			err = e
			return
		}
		out := filepath.Join(d, "kheaders")
		if b, e := exec.Command(gobin, "build", "-o", out, "github.com/kheaders/kheaders/cmd/kheaders").CombinedOutput(); e != nil {
			err = fmt.Errorf("go build ./cmd/kheaders: %v\n%s", e, b)
			return
		}
		bin = out
	})
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// Remove deletes the binary Kheaders built, if any.
func Remove() {
	if bin != "" {
		os.RemoveAll(filepath.Dir(bin))
	}
}
