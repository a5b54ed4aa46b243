package cache

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestFallbackAsNobody runs this test binary as uid 65534 with HOME=a
// root-only directory (as "sudo -u nobody" keeps HOME=/root): the default
// cache cannot be created, so Open("") warns with the path and the reason
// and opens a private 0700 fallback under TMPDIR (issue 10 point 7).
func TestFallbackAsNobody(t *testing.T) {
	if os.Getenv("KHEADERS_TEST_FALLBACK_CHILD") == "1" {
		fallbackChild(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("not root: running a child as another uid needs root")
	}
	base := t.TempDir()
	for d := base; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	home := filepath.Join(base, "root")
	tmp := filepath.Join(base, "tmp")
	for _, d := range []struct {
		p    string
		mode os.FileMode
	}{{home, 0o700}, {tmp, os.ModeSticky | 0o777}} {
		if err := os.Mkdir(d.p, 0); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d.p, d.mode); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "cache.test")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "-test.run=^TestFallbackAsNobody$", "-test.v")
	cmd.Env = []string{"KHEADERS_TEST_FALLBACK_CHILD=1", "HOME=" + home, "TMPDIR=" + tmp, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child as nobody: %v", err)
	}
	fb := filepath.Join(tmp, "kheaders-65534")
	fi, err := os.Lstat(fb)
	if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 || fi.Sys().(*syscall.Stat_t).Uid != 65534 {
		t.Errorf("fallback %s = %v, %v; want a 0700 directory owned by 65534", fb, fi, err)
	}
}

func fallbackChild(t *testing.T) {
	var log bytes.Buffer
	c, err := Open("", &Options{Logger: slog.New(slog.NewTextHandler(io.MultiWriter(&log, os.Stderr), nil))})
	if err != nil {
		t.Fatalf("Open(\"\") as nobody with an unusable HOME = %v, want the fallback", err)
	}
	defer c.Close()
	home := os.Getenv("HOME")
	if want := filepath.Join(os.Getenv("TMPDIR"), "kheaders-65534"); c.Dir() != want {
		t.Errorf("Dir() = %s, want %s", c.Dir(), want)
	}
	if !strings.Contains(c.Fallback, home) || !strings.Contains(c.Fallback, "permission denied") {
		t.Errorf("Fallback = %q, want the default path under %s and the reason", c.Fallback, home)
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), EnvDir) {
		t.Errorf("no warning naming %s in the log:\n%s", EnvDir, log.String())
	}
	// A planted default (XDG_CACHE_HOME/kheaders a symlink) is refused
	// and the fallback used.
	xdg, err := os.MkdirTemp("", "xdg-")
	if err != nil {
		t.Fatal(err)
	}
	os.Symlink(t.TempDir(), filepath.Join(xdg, "kheaders"))
	t.Setenv("XDG_CACHE_HOME", xdg)
	c2, err := Open("", nil)
	if err != nil || !strings.Contains(c2.Fallback, "symlink") {
		t.Errorf("Open(\"\") with a symlinked default = %v (fallback %q), want the fallback with the reason", err, c2.Fallback)
	} else {
		c2.Close()
	}
	// An explicit directory that is unusable stays an error with its path
	// and the fix.
	_, err = Open(filepath.Join(home, "x"), nil)
	if err == nil || !strings.Contains(err.Error(), home) || !strings.Contains(err.Error(), "--cache-dir") {
		t.Errorf("Open(explicit unusable) = %v, want the path and the fix", err)
	}
}

// TestFallbackUnsafeDefault: a planted default (XDG_CACHE_HOME/kheaders a
// symlink, or world-writable) is refused and the private fallback used.
func TestFallbackUnsafeDefault(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("as root the default is /var/cache/kheaders, which tests do not touch; TestFallbackAsNobody covers the fallback")
	}
	for _, plant := range []string{"symlink", "world-writable"} {
		t.Run(plant, func(t *testing.T) {
			xdg := t.TempDir()
			switch plant {
			case "symlink":
				os.Symlink(t.TempDir(), filepath.Join(xdg, "kheaders"))
			default:
				os.Mkdir(filepath.Join(xdg, "kheaders"), 0o777)
				os.Chmod(filepath.Join(xdg, "kheaders"), 0o777)
			}
			t.Setenv("XDG_CACHE_HOME", xdg)
			t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
			c, err := Open("", nil)
			if err != nil {
				t.Fatalf("Open(\"\") with a %s default = %v, want the fallback", plant, err)
			}
			defer c.Close()
			if c.Fallback == "" || c.Dir() != filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "kheaders") {
				t.Errorf("Dir %s Fallback %q, want the XDG_RUNTIME_DIR fallback with a reason", c.Dir(), c.Fallback)
			}
		})
	}
}
