package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/kheaders/kheaders/archive"
	"github.com/kheaders/kheaders/internal/host"
)

// files is the tree the synthetic fill writes.
var files = map[string]string{
	"include/linux/kconfig.h":             "#define __LINUX_KCONFIG_H\n",
	"include/generated/autoconf.h":        "#define CONFIG_X 1\n",
	"include/generated/utsrelease.h":      "#define UTS_RELEASE \"6.12.117\"\n",
	"arch/x86/include/asm/types.h":        "typedef int x;\n",
	"include/generated/uapi/linux/vers.h": "#define LINUX_VERSION_CODE 396405\n",
}

func writeFiles(_ context.Context, root *os.Root) ([]archive.Entry, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := root.MkdirAll(filepath.Dir(n), 0o755); err != nil {
			return nil, err
		}
		if err := root.WriteFile(n, []byte(files[n]), 0o644); err != nil {
			return nil, err
		}
	}
	return nil, nil // let the cache hash the tree
}

func testKey(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func open(t *testing.T, dir string) *Cache {
	t.Helper()
	c, err := Open(dir, &Options{Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestOpenCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "cache")
	c := open(t, dir)
	for _, d := range []string{dir, filepath.Join(dir, "objects"), filepath.Join(dir, "keys"), filepath.Join(dir, "tmp")} {
		fi, err := os.Lstat(d)
		if err != nil {
			t.Fatal(err)
		}
		if !fi.IsDir() || fi.Mode().Perm() != 0o755 || host.Owner(fi) != os.Geteuid() {
			t.Errorf("%s: mode %v owner %d, want a 0755 directory owned by %d", d, fi.Mode(), host.Owner(fi), os.Geteuid())
		}
	}
	if c.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", c.Dir(), dir)
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to plant files owned by another user (os.Lchown)")
	}
}

func TestOpenRefusesPlanted(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name  string
		plant func(t *testing.T, dir string)
	}{
		{"symlink to another dir", func(t *testing.T, dir string) {
			target := filepath.Join(filepath.Dir(dir), "elsewhere")
			os.Mkdir(target, 0o755)
			if err := os.Symlink(target, dir); err != nil {
				t.Fatal(err)
			}
			os.Lchown(dir, 65534, 65534)
		}},
		{"dangling symlink", func(t *testing.T, dir string) {
			if err := os.Symlink("/nonexistent/kheaders", dir); err != nil {
				t.Fatal(err)
			}
		}},
		{"directory of another user", func(t *testing.T, dir string) {
			os.Mkdir(dir, 0o755)
			if err := os.Lchown(dir, 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}},
		{"world-writable directory", func(t *testing.T, dir string) {
			os.Mkdir(dir, 0o755)
			os.Chmod(dir, 0o777)
		}},
		{"file", func(t *testing.T, dir string) {
			os.WriteFile(dir, nil, 0o644)
		}},
		{"ancestor of another user", func(t *testing.T, dir string) {
			// dir is parent/cache; make parent a foreign directory.
			os.Lchown(filepath.Dir(dir), 65534, 65534)
		}},
		{"world-writable ancestor without sticky bit", func(t *testing.T, dir string) {
			os.Chmod(filepath.Dir(dir), 0o777)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := filepath.Join(t.TempDir(), "parent")
			os.Mkdir(parent, 0o755)
			dir := filepath.Join(parent, "cache")
			tt.plant(t, dir)
			c, err := Open(dir, nil)
			if err == nil {
				c.Close()
				t.Fatalf("Open(%s) succeeded on a planted location", dir)
			}
			if !errors.Is(err, ErrUnsafe) {
				t.Fatalf("Open(%s) = %v, want ErrUnsafe", dir, err)
			}
			if !strings.Contains(err.Error(), "--cache-dir") {
				t.Errorf("error %q does not say how to fix it", err)
			}
		})
	}
}

func TestStickyAncestorOK(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "tmp")
	os.Mkdir(parent, 0o755)
	os.Chmod(parent, os.ModeSticky|0o777)
	open(t, filepath.Join(parent, "cache"))
}

func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestEnsureVerifyTamper(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "cache"))
	ctx := t.Context()
	key := testKey("a")
	if _, err := c.Get(key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get on empty cache = %v, want ErrNotFound", err)
	}
	o, created, err := c.Ensure(ctx, key, Info{Kind: "tree", Origin: "test", Release: "6.12.117"}, writeFiles)
	if err != nil || !created {
		t.Fatalf("Ensure = %v, created %v", err, created)
	}
	if diff := cmp.Diff(files, treeOf(t, o.Dir)); diff != "" {
		t.Fatalf("tree (-want +got):\n%s", diff)
	}
	o2, created, err := c.Ensure(ctx, key, Info{}, func(context.Context, *os.Root) ([]archive.Entry, error) {
		return nil, errors.New("fill called on a warm cache")
	})
	if err != nil || created || o2.Dir != o.Dir {
		t.Fatalf("second Ensure = %v, %v, %v", o2, created, err)
	}
	r, err := c.Verify(ctx, key)
	if err != nil || len(r.Problems) != 0 || r.Files != len(files) {
		t.Fatalf("Verify clean = %+v, %v", r, err)
	}
	// Tamper with one file, delete another, add one.
	tampered := filepath.Join(o.Dir, "include/generated/autoconf.h")
	if err := os.WriteFile(tampered, []byte("#define CONFIG_X 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(o.Dir, "include/linux/kconfig.h"))
	os.WriteFile(filepath.Join(o.Dir, "include/evil.h"), []byte("x"), 0o644)
	r, err = c.Verify(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range r.Problems {
		got = append(got, p.What+" "+p.Path)
	}
	want := []string{"extra include/evil.h", "modified include/generated/autoconf.h", "missing include/linux/kconfig.h"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Verify problems (-want +got):\n%s", diff)
	}
	if !r.Marked {
		t.Errorf("Verify did not mark the object damaged")
	}
	if _, err := c.Get(key); !errors.Is(err, ErrDamaged) {
		t.Errorf("Get(damaged) = %v, want ErrDamaged", err)
	}
	ents, _ := c.List()
	if len(ents) != 1 || ents[0].State != "damaged" {
		t.Errorf("List = %+v, want one damaged", ents)
	}
	// The next Ensure replaces it.
	o3, created, err := c.Ensure(ctx, key, Info{}, writeFiles)
	if err != nil || !created {
		t.Fatalf("Ensure after tamper = %v, created %v", err, created)
	}
	if diff := cmp.Diff(files, treeOf(t, o3.Dir)); diff != "" {
		t.Fatalf("replaced tree (-want +got):\n%s", diff)
	}
	if tmps, _ := os.ReadDir(filepath.Join(c.Dir(), "tmp")); len(tmps) != 0 {
		t.Errorf("tmp/ holds %d entries after the replacement, want none", len(tmps))
	}
	if _, err := os.Stat(filepath.Join(c.Dir(), "objects", key, "damaged")); err == nil {
		t.Errorf("replaced object still marked damaged")
	}
	if r, err := c.Verify(ctx, key); err != nil || len(r.Problems) != 0 {
		t.Fatalf("Verify after replace = %+v, %v", r, err)
	}
}

func TestPlantedObjectReplaced(t *testing.T) {
	needRoot(t)
	c := open(t, filepath.Join(t.TempDir(), "cache"))
	key := testKey("b")
	// A complete-looking object owned by someone else.
	d := filepath.Join(c.Dir(), "objects", key)
	os.MkdirAll(filepath.Join(d, "headers", "include"), 0o755)
	os.WriteFile(filepath.Join(d, "headers", "include", "evil.h"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(d, "manifest.json"), []byte(`{"schema":"kheaders.cache-manifest/v1"}`), 0o644)
	for _, p := range []string{d, filepath.Join(d, "headers"), filepath.Join(d, "manifest.json")} {
		if err := os.Lchown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Get(key); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("Get(planted) = %v, want ErrUnsafe", err)
	}
	o, created, err := c.Ensure(t.Context(), key, Info{}, writeFiles)
	if err != nil || !created {
		t.Fatalf("Ensure(planted) = %v, created %v", err, created)
	}
	if diff := cmp.Diff(files, treeOf(t, o.Dir)); diff != "" {
		t.Fatalf("tree (-want +got):\n%s", diff)
	}
	// A planted symlink in place of an object is replaced too.
	key2 := testKey("c")
	os.Symlink(o.Dir+"/..", filepath.Join(c.Dir(), "objects", key2))
	if _, err := c.Get(key2); err == nil {
		t.Fatal("Get(symlink object) succeeded")
	}
	o2, _, err := c.Ensure(t.Context(), key2, Info{}, writeFiles)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Dir(o2.Dir)); err != nil || !fi.IsDir() {
		t.Fatalf("object %s is not a real directory: %v %v", o2.Dir, fi.Mode(), err)
	}
}

func TestIdentity(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "cache"))
	if _, err := c.LookupID("sysfs:1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("LookupID(empty) = %v", err)
	}
	key := testKey("d")
	if err := c.SetID("sysfs:1", key); err != nil {
		t.Fatal(err)
	}
	if got, err := c.LookupID("sysfs:1"); err != nil || got != key {
		t.Fatalf("LookupID = %q, %v; want %q", got, err, key)
	}
	if err := c.SetID("x", "../../etc"); !errors.Is(err, ErrKey) {
		t.Errorf("SetID(bad key) = %v, want ErrKey", err)
	}
	// A note travels with the key; the entry without one reads as before.
	if _, note, err := c.LookupIDNote("sysfs:1"); err != nil || note != "" {
		t.Errorf("LookupIDNote(no note) = %q, %v", note, err)
	}
	if err := c.SetIDNote("check|a", key, "1128"); err != nil {
		t.Fatal(err)
	}
	if got, note, err := c.LookupIDNote("check|a"); err != nil || got != key || note != "1128" {
		t.Errorf("LookupIDNote = %q, %q, %v; want %q, 1128", got, note, err, key)
	}
	if got, err := c.LookupID("check|a"); err != nil || got != key {
		t.Errorf("LookupID(entry with a note) = %q, %v", got, err)
	}
	if err := c.SetIDNote("check|b", key, "two\nlines"); err == nil {
		t.Errorf("SetIDNote(two lines) succeeded")
	}
	if os.Geteuid() == 0 {
		p := filepath.Join(c.Dir(), "keys", idName("sysfs:1"))
		os.Lchown(p, 65534, 65534)
		if _, err := c.LookupID("sysfs:1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("LookupID(foreign entry) = %v, want ErrNotFound", err)
		}
	}
}

func TestRemoveGC(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "cache"))
	ctx := t.Context()
	k1, k2 := testKey("1"), testKey("2")
	for _, k := range []string{k1, k2} {
		if _, _, err := c.Ensure(ctx, k, Info{Release: "r"}, writeFiles); err != nil {
			t.Fatal(err)
		}
	}
	c.SetID("id1", k1)
	c.SetID("id2", k2)
	c.SetIDNote("note2", k2, "note") // kept by GC(0): its object is there
	os.Mkdir(filepath.Join(c.Dir(), "tmp", "leftover.123"), 0o700)
	ents, err := c.List()
	if err != nil || len(ents) != 2 || ents[0].Files != len(files) || ents[0].State != "ok" {
		t.Fatalf("List = %+v, %v", ents, err)
	}
	if err := c.Remove(k1); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(k1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove twice = %v, want ErrNotFound", err)
	}
	res, err := c.GC(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 0 || res.Temp != 1 || res.Keys != 1 {
		t.Errorf("GC(0) = %+v, want 0 objects, 1 temp, 1 key", res)
	}
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(filepath.Join(c.Dir(), "objects", k2), old, old)
	res, err = c.GC(24 * time.Hour)
	if err != nil || len(res.Removed) != 1 || res.Removed[0] != k2 {
		t.Errorf("GC(24h) = %+v, %v; want %s removed", res, err, k2)
	}
}

// TestConcurrentProcesses starts 16 processes of this test binary on one
// empty cache: exactly one fills, all see the same complete tree.
func TestConcurrentProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	log := filepath.Join(t.TempDir(), "fills.log")
	const n = 16
	var wg sync.WaitGroup
	outs := make([][]byte, n)
	errs := make([]error, n)
	start := time.Now().Add(300 * time.Millisecond).UnixNano()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestChild$")
			cmd.Env = append(os.Environ(), "KHEADERS_CACHE_CHILD="+dir, "KHEADERS_CACHE_LOG="+log, fmt.Sprintf("KHEADERS_CACHE_START=%d", start))
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			outs[i], errs[i] = cmd.Output()
			if errs[i] != nil {
				errs[i] = fmt.Errorf("%v: %s", errs[i], stderr.String())
			}
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("child %d: %v", i, errs[i])
		}
		if !bytes.Equal(outs[i], outs[0]) {
			t.Errorf("child %d printed %q, child 0 %q", i, outs[i], outs[0])
		}
	}
	if !bytes.Contains(outs[0], []byte("files=5 ")) {
		t.Errorf("child output %q lacks the complete tree", outs[0])
	}
	b, _ := os.ReadFile(log)
	if fills := strings.Count(string(b), "fill\n"); fills != 1 {
		t.Errorf("%d fills for %d processes, want 1", fills, n)
	}
}

// TestChild is the body of one process of TestConcurrentProcesses.
func TestChild(t *testing.T) {
	dir := os.Getenv("KHEADERS_CACHE_CHILD")
	if dir == "" {
		t.Skip("helper process for TestConcurrentProcesses")
	}
	var start int64
	fmt.Sscan(os.Getenv("KHEADERS_CACHE_START"), &start)
	time.Sleep(time.Until(time.Unix(0, start)))
	c, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := c.Ensure(context.Background(), testKey("conc"), Info{}, func(ctx context.Context, root *os.Root) ([]archive.Entry, error) {
		f, err := os.OpenFile(os.Getenv("KHEADERS_CACHE_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		f.WriteString("fill\n")
		f.Close()
		time.Sleep(200 * time.Millisecond) // widen the window for a race
		return writeFiles(ctx, root)
	})
	if err != nil {
		t.Fatal(err)
	}
	tree := treeOf(t, o.Dir)
	names := make([]string, 0, len(tree))
	for n := range tree {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%s\x00", n, tree[n])
	}
	fmt.Printf("dir=%s files=%d tree=%x\n", o.Dir, len(tree), h.Sum(nil))
}

func TestReleaseFromTree(t *testing.T) {
	c := open(t, filepath.Join(t.TempDir(), "cache"))
	if _, _, err := c.Ensure(t.Context(), testKey("rel"), Info{}, writeFiles); err != nil {
		t.Fatal(err)
	}
	ents, err := c.List()
	if err != nil || len(ents) != 1 || ents[0].Release != "6.12.117" {
		t.Errorf("List = %+v, %v; want release 6.12.117 read from utsrelease.h", ents, err)
	}
}
