package locate

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// btfSeed is raw BTF clang made from btfc's "basic" test snippet; it stands
// in for a kernel's /sys/kernel/btf/vmlinux.
const btfSeed = "../btfc/testdata/seeds/basic.btf"

func btfRoot(t *testing.T, btf []byte) string {
	r := hosttest.Root{Release: "6.18.44", Machine: "x86_64", Config: []byte("CONFIG_DEBUG_INFO_BTF=y\n"), VersionCode: host.VersionCodeOf(6, 18, 44)}
	if btf != nil {
		r.Files = map[string][]byte{SysfsBTF: btf}
	}
	return hosttest.Make(t, r)
}

func TestLocateBTFFallback(t *testing.T) {
	seed, err := os.ReadFile(btfSeed)
	if err != nil {
		t.Fatal(err)
	}
	opts := testOpts(t, btfRoot(t, seed))
	h, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("Locate with only BTF = %v, want the btf source", err)
	}
	if h.Kind != KindBTF || h.Source != "btf" || h.Origin != SysfsBTF {
		t.Errorf("Headers = kind %q source %q origin %q, want btf/btf/%s", h.Kind, h.Source, h.Origin, SysfsBTF)
	}
	if !strings.HasPrefix(h.Key, "btf-v"+btfGenVersion+"-") || h.Cached {
		t.Errorf("Key %q cached %v, want a fresh btf-v%s- key", h.Key, h.Cached, btfGenVersion)
	}
	checkStatus(t, h, map[string]string{"trust": CheckOK})
	vh, err := os.ReadFile(filepath.Join(h.Dir, "vmlinux.h"))
	if err != nil || !strings.Contains(string(vh), "struct nested {") {
		t.Fatalf("vmlinux.h in %s: %v (%.200s)", h.Dir, err, vh)
	}
	readme, err := os.ReadFile(filepath.Join(h.Dir, btfReadme))
	if err != nil || !strings.Contains(string(readme), "DERIVED FROM BTF") || !strings.Contains(string(readme), "6.18.44") {
		t.Errorf("%s: %v\n%s", btfReadme, err, readme)
	}
	flags := h.Flags()
	if !slices.Contains(flags, "-I"+h.Dir) || !slices.Contains(flags, "-D__TARGET_ARCH_x86") {
		t.Errorf("Flags() = %v, want -I%s and -D__TARGET_ARCH_x86", flags, h.Dir)
	}

	// The second call finds the generated header in the cache.
	h2, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("second Locate: %v", err)
	}
	if h2.Dir != h.Dir || !h2.Cached || h2.Kind != KindBTF {
		t.Errorf("second Locate = dir %s cached %v kind %s, want %s cached btf", h2.Dir, h2.Cached, h2.Kind, h.Dir)
	}

	// A CO-RE-style program compiles with the flags.
	if clang, err := exec.LookPath("clang"); err == nil {
		prog := filepath.Join(t.TempDir(), "p.c")
		os.WriteFile(prog, []byte("#include \"vmlinux.h\"\nint f(struct nested *n) { return n->kind + sizeof(struct bits); }\n"), 0o644)
		args := append([]string{"-target", "bpf", "-fsyntax-only"}, flags...)
		if out, err := exec.Command(clang, append(args, prog)...).CombinedOutput(); err != nil {
			t.Errorf("clang %v: %v\n%s", args, err, out)
		}
	}
}

func TestLocateBTFAbsent(t *testing.T) {
	opts := testOpts(t, btfRoot(t, nil))
	opts.Only = []string{"btf"}
	_, err := Locate(t.Context(), opts)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "CONFIG_DEBUG_INFO_BTF") {
		t.Fatalf("Locate without BTF = %v, want ErrNotFound naming CONFIG_DEBUG_INFO_BTF", err)
	}
}

func TestLocateBTFNotBTF(t *testing.T) {
	opts := testOpts(t, btfRoot(t, []byte("garbage, not BTF")))
	opts.Only = []string{"btf"}
	if _, err := Locate(t.Context(), opts); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Locate with a non-BTF %s = %v, want ErrNotFound", SysfsBTF, err)
	}
}

// TestLocateBTFWarmByIdentity: a warm call finds the header by the BTF's
// identity (boot id, path, file identity, size, mtime) and does not read
// it: BTF rewritten in place with the same size and mtime still gives the
// cached directory, while a new boot id makes the call read (and hash) it
// again.
func TestLocateBTFWarmByIdentity(t *testing.T) {
	seed, err := os.ReadFile(btfSeed)
	if err != nil {
		t.Fatal(err)
	}
	root := btfRoot(t, seed)
	opts := testOpts(t, root)
	h, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("first Locate: %v", err)
	}
	p := filepath.Join(root, SysfsBTF)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	// Same size, same mtime, contents no longer BTF: only a read would see it.
	if err := os.WriteFile(p, make([]byte, len(seed)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	h2, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("warm Locate: %v (it read the BTF instead of using its identity)", err)
	}
	if h2.Dir != h.Dir || h2.Key != h.Key || !h2.Cached || h2.Kind != KindBTF {
		t.Errorf("warm Locate = dir %s key %s cached %v kind %s, want %s %s cached btf", h2.Dir, h2.Key, h2.Cached, h2.Kind, h.Dir, h.Key)
	}
	checkStatus(t, h2, map[string]string{"trust": CheckOK})

	// Another boot: the identity changes, the (now invalid) BTF is read.
	if err := os.WriteFile(filepath.Join(root, "proc/sys/kernel/random/boot_id"), []byte("00000000-0000-4000-8000-000000000002\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if h3, err := Locate(t.Context(), opts); err == nil && h3.Kind == KindBTF {
		t.Errorf("Locate after a new boot id = %s from the btf source, want the BTF read again (and refused: it is zeros)", h3.Dir)
	}
}

// TestLocateBTFIdentityAfterFill: the BTF source's identity is recorded
// like every other (Candidate.Identity, by Locate once the object exists),
// not by the source before the fill: a BTF that starts with the magic but
// does not parse fails the call and leaves no identity entry in keys/.
func TestLocateBTFIdentityAfterFill(t *testing.T) {
	bad := append([]byte{0x9f, 0xeb, 1, 0}, make([]byte, 60)...)
	opts := testOpts(t, btfRoot(t, bad))
	opts.Only = []string{"btf"}
	if _, err := Locate(t.Context(), opts); err == nil {
		t.Fatalf("Locate with a BTF that does not parse succeeded")
	}
	keys, err := os.ReadDir(filepath.Join(opts.CacheDir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("keys/ after a failed BTF fill holds %d entries, want none", len(keys))
	}
}

// rejectedWithBTF is a kernel whose sysfs archive verification refuses
// (6.12.117's archive, release 6.12.118) and which has BTF (btfc's seed).
func rejectedWithBTF(t *testing.T) hosttest.Root {
	t.Helper()
	seed, err := os.ReadFile(btfSeed)
	if err != nil {
		t.Fatal(err)
	}
	r := hosttest.Kernel612(t)
	r.Release = "6.12.118"
	if r.Files == nil {
		r.Files = map[string][]byte{}
	}
	r.Files[SysfsBTF] = seed
	return r
}

// TestLocateBTFAfterRejection: when a header source was found and refused
// by verification, the btf source does not turn the call into a success
// (bcc and bpftrace cannot use vmlinux.h): Locate fails with ErrMismatch
// and the btf attempt says how to ask for it; named in --sources, the BTF
// is used.
func TestLocateBTFAfterRejection(t *testing.T) {
	root := hosttest.Make(t, rejectedWithBTF(t))
	opts := testOpts(t, root)
	h, err := Locate(t.Context(), opts)
	var le *Error
	if !errors.Is(err, ErrMismatch) || !errors.As(err, &le) {
		t.Fatalf("Locate after a rejected archive, with BTF = %+v, %v, want ErrMismatch", h, err)
	}
	i := slices.IndexFunc(le.Attempts, func(a Attempt) bool { return a.Source == "btf" })
	if i < 0 || le.Attempts[i].Outcome != OutcomeSkipped || !strings.Contains(le.Attempts[i].Fix, "--sources btf") {
		t.Fatalf("btf attempt = %+v, want skipped with the --sources btf fix:\n%v", le.Attempts, err)
	}
	opts = testOpts(t, root)
	opts.Only = []string{"sysfs", "btf"}
	h, err = Locate(t.Context(), opts)
	if err != nil || h.Kind != KindBTF {
		t.Fatalf("Locate --sources sysfs,btf = %v, %v; want the BTF", h, err)
	}
}

// TestBTFIdentityAcrossHostRoots: two host roots that share a boot_id
// value and hold BTFs of the same size and mtime are two kernels: the
// second is not handed the first one's vmlinux.h (the identity holds the
// file's device and inode and the release).
func TestBTFIdentityAcrossHostRoots(t *testing.T) {
	seed, err := os.ReadFile(btfSeed)
	if err != nil {
		t.Fatal(err)
	}
	other := append([]byte(nil), seed...)
	other[len(other)-2] ^= 1 // same size, another BTF
	a, b := btfRoot(t, seed), btfRoot(t, other)
	mt := time.Unix(1700000000, 0)
	for _, r := range []string{a, b} {
		if err := os.Chtimes(filepath.Join(r, SysfsBTF), mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	cacheDir := t.TempDir()
	ha, err := Locate(t.Context(), &Options{HostRoot: a, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	hb, err := Locate(t.Context(), &Options{HostRoot: b, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	if hb.Key == ha.Key || hb.Cached {
		t.Errorf("root b got key %s (cached %v), root a's is %s: another kernel's vmlinux.h", hb.Key, hb.Cached, ha.Key)
	}
}
