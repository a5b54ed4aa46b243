package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/internal/testbin"
)

// startExec runs the built CLI as `kheaders exec -- sh -c script` on a
// fixture host and waits until the script printed "ready".
func startExec(t *testing.T, script string) (*exec.Cmd, *bufio.Reader, *bytes.Buffer) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh in PATH")
	}
	bin := testbin.Kheaders(t)
	root := hosttest.Make(t, hosttest.Kernel612(t))
	cmd := exec.Command(bin, "exec", "--host-root", root, "--cache-dir", sharedCacheDir(t), "--", "sh", "-c", script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pr, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r := bufio.NewReader(pr)
	line, err := r.ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("child did not get ready: %q %v\n%s", line, err, stderr.String())
	}
	return cmd, r, &stderr
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestExecForwardsSignals (issue 10 point 4): each signal sent to kheaders
// reaches the child, which handles it (a trap prints and exits 7), and
// kheaders exits with the child's status, adding no line of its own.
func TestExecForwardsSignals(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT} {
		name := strings.TrimPrefix(sigName(sig), "SIG")
		t.Run(name, func(t *testing.T) {
			cmd, r, stderr := startExec(t, "trap 'echo got "+name+"; exit 7' "+name+"; echo ready; while :; do sleep 0.05; done")
			cmd.Process.Signal(sig) // kheaders only, not its process group
			rest, _ := io.ReadAll(r)
			err := cmd.Wait()
			if string(rest) != "got "+name+"\n" {
				t.Errorf("child printed %q after %v, want %q", rest, sig, "got "+name+"\n")
			}
			if code := exitCode(err); code != 7 {
				t.Errorf("kheaders exit %d (%v) after the child handled %v and exited 7, want 7", code, err, sig)
			}
			if strings.Contains(stderr.String(), "exit status") {
				t.Errorf("kheaders added a line: %q", stderr.String())
			}
		})
	}
}

// TestExecSignalDeath: a child killed by signal N makes kheaders exit 128+N.
func TestExecSignalDeath(t *testing.T) {
	cmd, _, stderr := startExec(t, "echo ready; exec sleep 100")
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	if code := exitCode(err); code != 128+int(syscall.SIGTERM) {
		t.Errorf("kheaders exit %d (%v) when its child died of SIGTERM, want %d", code, err, 128+int(syscall.SIGTERM))
	}
	if stderr.Len() != 0 {
		t.Errorf("kheaders added to stderr: %q", stderr.String())
	}
}

func sigName(s syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM", syscall.SIGHUP: "SIGHUP", syscall.SIGQUIT: "SIGQUIT"}[s]
}

// TestExecExitStatus: a plain non-zero exit gets no extra "exit status" line.
func TestExecExitStatus(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh in PATH")
	}
	root := fixtureRoot(t)
	_, stderr, code := runCLI(t, nil, "exec", "--host-root", root, "--cache-dir", sharedCacheDir(t), "--", "sh", "-c", "echo own >&2; exit 3")
	if code != 3 || stderr != "own\n" {
		t.Errorf("exec of 'exit 3': exit %d, stderr %q; want 3 and only the child's line", code, stderr)
	}
}

// failWriter fails every write as a full disk does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, syscall.ENOSPC }

// TestStdoutErrors (issue 10 point 9): a result that cannot be written to
// stdout (here a writer failing like /dev/full) exits 1 with a message.
func TestStdoutErrors(t *testing.T) {
	root := fixtureRoot(t)
	loc := []string{"--host-root", root, "--cache-dir", sharedCacheDir(t)}
	for _, args := range [][]string{
		{"version"},
		{"help"},
		{"help", "locate"},
		{"locate", "--help"},
		append([]string{"locate"}, loc...),
		append([]string{"locate", "--json"}, loc...),
		append([]string{"cflags"}, loc...),
		append([]string{"env"}, loc...),
		{"cache", "ls", "--cache-dir", sharedCacheDir(t)},
		{"inspect", filepath.Join(root, "sys/kernel/kheaders.tar.xz")},
	} {
		var errb bytes.Buffer
		env := &Env{Stdin: strings.NewReader(""), Stdout: failWriter{}, Stderr: &errb}
		code := Main(context.Background(), env, args)
		if code != ExitError || !strings.Contains(errb.String(), "write stdout: no space left on device") {
			t.Errorf("%v with a full stdout: exit %d, stderr %q; want 1 and write stdout: no space left on device", args, code, errb.String())
		}
	}
}

// TestInterrupted (issue 10 point 7's Ctrl-C): a command whose context was
// cancelled by the root's Interruptible context exits 130 "interrupted",
// printing no result.
func TestInterrupted(t *testing.T) {
	root := fixtureRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{
		{"locate", "--host-root", root, "--cache-dir", filepath.Join(t.TempDir(), "c")},
		{"extract", filepath.Join(root, "sys/kernel/kheaders.tar.xz"), "-C", filepath.Join(t.TempDir(), "x")},
	} {
		var out, errb bytes.Buffer
		code := Main(ctx, &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, args)
		if code != ExitInterrupted || !strings.Contains(errb.String(), "interrupted") || out.Len() != 0 {
			t.Errorf("%v after Ctrl-C: exit %d, stdout %q, stderr %q; want 130, nothing on stdout, interrupted", args, code, out.String(), errb.String())
		}
	}
}
