package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kheaders/kheaders/internal/testbin"
)

// TestPackSignalEarly: a SIGINT that arrives as soon as pack has created
// its temp output (a few milliseconds after the start, before pack first
// waits on its context) ends pack as interrupted (exit 130) with nothing
// left beside -o; so does one during the compression (pure-Go xz). Found by review:
// with the signal handling installed only on the first Done or after 5
// ms, the default action killed pack and left .k.tar.xz.tmp-* behind.
func TestPackSignalEarly(t *testing.T) {
	bin := testbin.Kheaders(t)
	src, obj := packTree(t, "12")
	for i := range 3000 {
		p := filepath.Join(src, "include/linux", fmt.Sprintf("early%04d.h", i))
		if err := os.WriteFile(p, []byte(strings.Repeat("/* c */ int x;\n", 64)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for run := range 5 {
		dir := t.TempDir()
		cmd := exec.Command(bin, "pack", "--xz=go", "--src", src, "--timestamp", "@1700000000", "-o", filepath.Join(dir, "k.tar.xz"), obj)
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for time.Since(start) < 10*time.Second {
			if es, _ := os.ReadDir(dir); len(es) > 0 {
				break
			}
			time.Sleep(time.Millisecond) // leave the CPU to pack
		}
		at := time.Since(start)
		cmd.Process.Signal(syscall.SIGINT)
		err := cmd.Wait()
		es, _ := os.ReadDir(dir)
		var left []string
		for _, e := range es {
			left = append(left, e.Name())
		}
		// pack of 3,000 headers takes far longer than the few
		// milliseconds to its temp file: an exit 0 means the signal was
		// caught and ignored, not that pack was done.
		code := exitCode(err)
		if code != ExitInterrupted || len(left) != 0 {
			t.Errorf("run %d: SIGINT %v after start, once the temp output existed: exit %d (%v), left %q; want exit %d and nothing", run, at, code, err, left, ExitInterrupted)
		}
	}
}
