package cache

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestPIDLockExcludes(t *testing.T) {
	c, err := Open(filepath.Join(t.TempDir(), "c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var inside, maxInside atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				unlock, err := c.pidLock(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				n := inside.Add(1)
				for {
					m := maxInside.Load()
					if n <= m || maxInside.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(time.Millisecond)
				inside.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	if got := maxInside.Load(); got != 1 {
		t.Errorf("pidLock let %d holders in at once, want 1", got)
	}
	if _, err := os.Lstat(filepath.Join(c.dir, pidLockName)); !os.IsNotExist(err) {
		t.Errorf("lock file left behind after the last unlock: %v", err)
	}
}

func TestPIDLockTakesOverStale(t *testing.T) {
	// A pid that existed and is gone: a child that has exited and been reaped.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	dead := cmd.Process.Pid
	for _, tt := range []struct {
		name    string
		content string
		age     time.Duration
	}{
		{"dead owner", fmt.Sprintf("%d\n", dead), 0},
		{"empty and old", "", 2 * pidLockStale},
		{"garbage and old", "xyz", 2 * pidLockStale},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Open(filepath.Join(t.TempDir(), "c"), nil)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(c.dir, pidLockName)
			if err := os.WriteFile(p, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-tt.age)
			os.Chtimes(p, old, old)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			unlock, err := c.pidLock(ctx)
			if err != nil {
				t.Fatalf("pidLock over a stale lock (%q): %v", tt.content, err)
			}
			b, _ := os.ReadFile(p)
			if want := fmt.Sprintf("%d\n", os.Getpid()); string(b) != want {
				t.Errorf("lock file holds %q, want %q", b, want)
			}
			unlock()
		})
	}
}

func TestPIDLockWaitsForLiveOwner(t *testing.T) {
	c, err := Open(filepath.Join(t.TempDir(), "c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// A live owner that is not us: our parent (the go test driver or shell).
	p := filepath.Join(c.dir, pidLockName)
	if err := os.WriteFile(p, fmt.Appendf(nil, "%d\n", os.Getppid()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if unlock, err := c.pidLock(ctx); err == nil {
		unlock()
		t.Fatal("pidLock took a lock whose owner is alive")
	}
}
