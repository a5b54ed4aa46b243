package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kheaders/kheaders/internal/testbin"
)

// TestSIGINTDuringRead (issue 10 point 7): the built CLI reading a FIFO
// that is fed slowly and then stalls gets a real SIGINT: it exits 130
// with "interrupted" on stderr, without waiting for the writer, and leaves
// no output file, temp file or tree next to the FIFO.
func TestSIGINTDuringRead(t *testing.T) {
	bin := testbin.Kheaders(t)
	archive, err := os.ReadFile(filepath.Join(fixtureRoot(t), "sys/kernel/kheaders.tar.xz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args func(fifo, dir string) []string
	}{
		{"extract-C", func(fifo, dir string) []string { return []string{"extract", fifo, "-C", filepath.Join(dir, "tree")} }},
		{"extract-o", func(fifo, dir string) []string {
			return []string{"extract", fifo, "-o", filepath.Join(dir, "out.tar.xz")}
		}},
		{"inspect", func(fifo, dir string) []string { return []string{"inspect", fifo} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			fifo := filepath.Join(dir, "in.fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			cmd := exec.Command(bin, tc.args(fifo, dir)...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill() })
			// Opening the write end returns once kheaders has opened the
			// FIFO to read it; its signal handling is set up by the time it
			// reads (internal/input waits on the context's Done), and 5 ms
			// after it started in any case (Interruptible).
			w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			for i := 0; i < 4; i++ { // slowly: 4 KiB every 50 ms
				if _, err := w.Write(archive[i*4096 : (i+1)*4096]); err != nil {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond)
			}
			// The writer stalls (the FIFO stays open): kheaders is blocked
			// reading when Ctrl-C comes.
			if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				// Not a speed check: without the fix the read blocks until
				// the writer writes again, which here is never.
				t.Fatalf("%s still running 60 s after SIGINT (blocked reading the FIFO?)\n%s", tc.name, stderr.String())
			}
			if code := exitCode(err); code != ExitInterrupted {
				t.Errorf("%s after SIGINT: exit %d (%v), want 130\n%s", tc.name, code, err, stderr.String())
			}
			if want := "kheaders " + tc.args(fifo, dir)[0] + ": interrupted\n"; stderr.String() != want {
				t.Errorf("%s after SIGINT: stderr %q, want %q", tc.name, stderr.String(), want)
			}
			if stdout.Len() != 0 {
				t.Errorf("%s after SIGINT printed a result: %q", tc.name, stdout.String())
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if e.Name() != "in.fifo" {
					t.Errorf("%s after SIGINT left %s", tc.name, e.Name())
				}
			}
		})
	}
}
