package locate

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/cache"
	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/internal/xz"
)

func configCheck(t *testing.T, h *Headers) Check {
	t.Helper()
	i := slices.IndexFunc(h.Checks, func(c Check) bool { return c.Name == "config" })
	if i < 0 {
		t.Fatalf("no config check in %+v", h.Checks)
	}
	return h.Checks[i]
}

// fingerprintOf returns the fingerprint a config check of the cached
// object h against the running kernel under root would have.
func fingerprintOf(t *testing.T, root string, h *Headers) *fingerprint {
	t.Helper()
	env, err := newEnv(&Options{HostRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(h.BuildDir, "include/generated/autoconf.h"))
	if err != nil {
		t.Fatal(err)
	}
	return readKernelFacts(env).fingerprint(b)
}

// TestConfigFingerprint: a passed config check on a cached object records
// its fingerprint (the running config file and autoconf.h, hashed), the
// next call answers the check from it with the same result, and a change
// of either file makes the full comparison run again.
func TestConfigFingerprint(t *testing.T) {
	root := hosttest.Make(t, hosttest.Kernel612(t))
	opts := testOpts(t, root)
	h, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("cold Locate: %v", err)
	}
	want := configCheck(t, h)
	cc, err := cache.Open(opts.CacheDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	fp := fingerprintOf(t, root, h)
	if key, note, err := cc.LookupIDNote(fp.id(h.Key)); err != nil || key != h.Key || note+" symbols agree" != want.Got {
		t.Fatalf("fingerprint entry after a passed check = %q, %q, %v; want key %s and the count of %q", key, note, err, h.Key, want.Got)
	}

	// Warm: answered from the fingerprint, the same check as the comparison's.
	h2, err := Locate(t.Context(), opts)
	if err != nil || h2.Source != "cache" {
		t.Fatalf("warm Locate = %v, %v; want a cache hit", h2, err)
	}
	if got := configCheck(t, h2); got != want {
		t.Errorf("warm config check = %+v, want %+v", got, want)
	}
	checkStatus(t, h2, allOK)

	// The running kernel's config changes (the =m build's, same path):
	// another fingerprint, so the comparison runs and refuses the headers.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(hosttest.ReadFixture(t, "ikheaders-m/config"))
	zw.Close()
	cfgPath := filepath.Join(root, "proc/config.gz")
	good, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Locate(t.Context(), opts)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "CONFIG_IKHEADERS=m, headers CONFIG_IKHEADERS=y") {
		t.Fatalf("Locate after the running config changed = %v, want ErrMismatch naming CONFIG_IKHEADERS", err)
	}
	if err := os.WriteFile(cfgPath, good, 0o644); err != nil {
		t.Fatal(err)
	}

	// autoconf.h of the cached object is edited (one value, same size): its
	// hash no longer matches the fingerprint, the comparison runs, fails,
	// and the object is quarantined and rebuilt from the archive.
	ac := filepath.Join(h.Dir, "include/generated/autoconf.h")
	b, err := os.ReadFile(ac)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(b, []byte("#define CONFIG_IKHEADERS 1"), []byte("#define CONFIG_IKHEADERS 0"), 1)
	if bytes.Equal(edited, b) {
		t.Fatal("autoconf.h has no #define CONFIG_IKHEADERS 1 to edit")
	}
	os.Chmod(ac, 0o644)
	if err := os.WriteFile(ac, edited, 0o644); err != nil {
		t.Fatal(err)
	}
	h3, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("Locate with an edited autoconf.h = %v, want it rebuilt", err)
	}
	if h3.Source != "sysfs" || h3.Key != h.Key {
		t.Errorf("Locate with an edited autoconf.h = source %s key %s, want sysfs rebuilding %s", h3.Source, h3.Key, h.Key)
	}
	if !slices.ContainsFunc(h3.Attempts, func(a Attempt) bool {
		return a.Source == "cache" && a.Outcome == OutcomeFailed && strings.Contains(a.Reason, "differs from its manifest")
	}) {
		t.Errorf("the edited autoconf.h was not caught by the comparison: %+v", h3.Attempts)
	}
	if b, err := os.ReadFile(ac); err != nil || bytes.Contains(b, []byte("CONFIG_IKHEADERS 0")) {
		t.Errorf("rebuilt autoconf.h = %v; want the archive's", err)
	}
}

// TestConfigFingerprintForeign: a fingerprint entry recorded for another
// object, or owned by another user, is not taken.
func TestConfigFingerprintForeign(t *testing.T) {
	root := hosttest.Make(t, hosttest.Kernel612(t))
	opts := testOpts(t, root)
	h, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("cold Locate: %v", err)
	}
	cc, err := cache.Open(opts.CacheDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	// The running config becomes the =m one; a fingerprint claiming that
	// (=m config, this autoconf.h) agreed is planted, naming another key.
	r := hosttest.Kernel612(t)
	r.Config = hosttest.ReadFixture(t, "ikheaders-m/config")
	mroot := hosttest.Make(t, r)
	fp := fingerprintOf(t, mroot, h)
	if err := cc.SetIDNote(fp.id(h.Key), strings.Repeat("0", 64), "1128"); err != nil {
		t.Fatal(err)
	}
	opts.HostRoot = mroot
	if _, err := Locate(t.Context(), opts); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Locate with a fingerprint of another object = %v, want ErrMismatch", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("the entry owned by another user needs root to chown it")
	}
	// For this key but owned by uid 65534: ignored.
	if err := cc.SetIDNote(fp.id(h.Key), h.Key, "1128"); err != nil {
		t.Fatal(err)
	}
	entries, _ := filepath.Glob(filepath.Join(opts.CacheDir, "keys", "*"))
	for _, e := range entries {
		if err := os.Lchown(e, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Locate(t.Context(), opts); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Locate with a fingerprint owned by another user = %v, want ErrMismatch", err)
	}
}

// TestVerifyTreeFingerprintHit: a hit answers the config check without
// decompressing or parsing the running kernel's config.
func TestVerifyTreeFingerprintHit(t *testing.T) {
	root := hosttest.Make(t, hosttest.Kernel612(t))
	opts := testOpts(t, root)
	opts.CacheDir = sharedCache
	h, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	env, err := newEnv(&Options{HostRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	k := readKernelFacts(env)
	var asked *fingerprint
	cs, passed := verifyTree(k, h.Dir, h.BuildDir, func(fp *fingerprint) (int, bool) { asked = fp; return 42, true })
	if k.config != nil || k.cfg.Data != nil {
		t.Errorf("a fingerprint hit decompressed or parsed the config")
	}
	if passed != nil || asked == nil || asked.id(h.Key) != fingerprintOf(t, root, h).id(h.Key) {
		t.Errorf("verifyTree asked %+v, passed %+v; want the tree's fingerprint asked and nothing to record", asked, passed)
	}
	i := slices.IndexFunc(cs, func(c Check) bool { return c.Name == "config" })
	if i < 0 || cs[i].Status != CheckOK || cs[i].Got != "42 symbols agree" {
		t.Errorf("config check on a hit = %+v", cs)
	}
	// A miss compares and returns the fingerprint to record.
	k = readKernelFacts(env)
	_, passed = verifyTree(k, h.Dir, h.BuildDir, func(*fingerprint) (int, bool) { return 0, false })
	if passed == nil || passed.symbols != k.kconfig().Len() || k.config == nil {
		t.Errorf("verifyTree on a miss: passed %+v, parsed %v", passed, k.config != nil)
	}
	// The rules, the config's path and both files are in the fingerprint.
	other := *k
	other.cfgSum, other.configFrom = "", "/boot/config-6.12.117"
	if other.fingerprint(nil).id("K") == k.fingerprint(nil).id("K") || !strings.Contains(k.fingerprint(nil).id("K"), configRules) {
		t.Errorf("the fingerprint does not cover the config's path or the rules: %s", k.fingerprint(nil).id("K"))
	}
}

// TestConfigFingerprintTwoObjects: two cached objects with the same
// autoconf.h (here the sysfs archive and the same tar uncompressed, named by
// --source) each keep their own fingerprint entry, so calls alternating
// between them do not replace each other's.
func TestConfigFingerprintTwoObjects(t *testing.T) {
	r := hosttest.Kernel612(t)
	root := hosttest.Make(t, r)
	opts := testOpts(t, root)
	a, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("Locate from sysfs: %v", err)
	}
	xr, err := xz.NewReader(bytes.NewReader(r.Files["/sys/kernel/kheaders.tar.xz"]))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(xr)
	if err != nil {
		t.Fatal(err)
	}
	tarPath := filepath.Join(t.TempDir(), "kheaders.tar")
	if err := os.WriteFile(tarPath, plain, 0o644); err != nil {
		t.Fatal(err)
	}
	sopts := *opts
	sopts.Override = tarPath
	b, err := Locate(t.Context(), &sopts)
	if err != nil {
		t.Fatalf("Locate --source %s: %v", tarPath, err)
	}
	if a.Key == b.Key {
		t.Fatalf("the xz and plain archives share the key %s", a.Key)
	}
	fa, fb := fingerprintOf(t, root, a), fingerprintOf(t, root, b)
	if fa.autoconf != fb.autoconf {
		t.Fatal("the two objects' autoconf.h differ")
	}
	for range 2 {
		if _, err := Locate(t.Context(), opts); err != nil {
			t.Fatal(err)
		}
		if _, err := Locate(t.Context(), &sopts); err != nil {
			t.Fatal(err)
		}
	}
	cc, err := cache.Open(opts.CacheDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for _, h := range []*Headers{a, b} {
		if key, _, err := cc.LookupIDNote(fa.id(h.Key)); err != nil || key != h.Key {
			t.Errorf("fingerprint entry of %s (%s) = %q, %v; want its own key", h.Key, h.Origin, key, err)
		}
	}
}
