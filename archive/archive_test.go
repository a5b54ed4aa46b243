package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kheaders/kheaders/internal/host/hosttest"

	"github.com/ulikunitz/xz"
)

// member describes one tar entry for mkTar.
type member struct {
	name, target string
	typ          byte
	data         string
	size         int64 // overrides len(data) in the header; no data is written then
	mode         int64
}

func mkTar(t testing.TB, ms ...member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, m := range ms {
		h := &tar.Header{Name: m.name, Typeflag: m.typ, Linkname: m.target, Mode: m.mode, ModTime: mt, Format: tar.FormatGNU}
		if h.Mode == 0 {
			h.Mode = 0o644
			if m.typ == tar.TypeDir {
				h.Mode = 0o755
			}
		}
		if m.typ == tar.TypeReg {
			h.Size = int64(len(m.data))
		}
		if m.size > 0 {
			h.Size = m.size
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if m.size > 0 {
			// The header promises more than follows: return what we have.
			tw.Flush()
			return append(buf.Bytes(), make([]byte, 1024)...)
		}
		if m.data != "" {
			if _, err := tw.Write([]byte(m.data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func xzBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var good = []member{
	{name: "./", typ: tar.TypeDir},
	{name: "./include/", typ: tar.TypeDir},
	{name: "./include/generated/", typ: tar.TypeDir},
	{name: "./include/generated/utsrelease.h", typ: tar.TypeReg, data: "#define UTS_RELEASE \"6.1.2-test\"\n"},
	{name: "./include/linux/", typ: tar.TypeDir},
	{name: "./include/linux/a.h", typ: tar.TypeReg, data: "int a;\n"},
	{name: "./include/linux/b.h", typ: tar.TypeSymlink, target: "a.h"},
	{name: "./include/linux/up.h", typ: tar.TypeSymlink, target: "../generated/utsrelease.h"},
	{name: "./arch/x86/include/asm/empty.h", typ: tar.TypeReg},
	{name: "./ro/", typ: tar.TypeDir, mode: 0o555},
	{name: "./ro/f.h", typ: tar.TypeReg, data: "x", mode: 0o444},
}

func TestExtract(t *testing.T) {
	plain := mkTar(t, good...)
	for _, tc := range []struct {
		name string
		data []byte
		fmt  string
	}{
		{"tar", plain, "tar"},
		{"xz", xzBytes(t, plain), "xz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			m, err := Extract(t.Context(), bytes.NewReader(tc.data), dir, nil)
			if err != nil {
				t.Fatalf("Extract = %v", err)
			}
			if m.Release != "6.1.2-test" || m.Format != tc.fmt || m.Files != 4 || len(m.Entries) != 10 {
				t.Errorf("manifest release %q format %q files %d entries %d; want 6.1.2-test %s 4 10", m.Release, m.Format, m.Files, len(m.Entries), tc.fmt)
			}
			sum := sha256.Sum256(tc.data)
			if m.ArchiveSHA256 != hex.EncodeToString(sum[:]) || m.ArchiveSize != int64(len(tc.data)) {
				t.Errorf("archive sha/size = %s %d, want %x %d", m.ArchiveSHA256, m.ArchiveSize, sum, len(tc.data))
			}
			b, err := os.ReadFile(filepath.Join(dir, "include/linux/b.h"))
			if err != nil || string(b) != "int a;\n" {
				t.Errorf("read through symlink b.h = %q, %v", b, err)
			}
			if tgt, err := os.Readlink(filepath.Join(dir, "include/linux/up.h")); err != nil || tgt != "../generated/utsrelease.h" {
				t.Errorf("Readlink(up.h) = %q, %v", tgt, err)
			}
			fi, err := os.Stat(filepath.Join(dir, "ro"))
			if err != nil || fi.Mode().Perm() != 0o555 {
				t.Errorf("mode of ro = %v, %v; want 0555", fi.Mode(), err)
			}
			if !fi.ModTime().Equal(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)) {
				t.Errorf("mtime of ro = %v", fi.ModTime())
			}
			for _, e := range m.Entries {
				if e.Name == "include/linux/a.h" {
					want := sha256.Sum256([]byte("int a;\n"))
					if e.SHA256 != hex.EncodeToString(want[:]) {
						t.Errorf("sha of a.h = %s", e.SHA256)
					}
				}
			}
			os.Chmod(filepath.Join(dir, "ro"), 0o755) // let t.TempDir clean up
			// A second extraction into the same place must refuse.
			if _, err := Extract(t.Context(), bytes.NewReader(tc.data), dir, nil); !errors.Is(err, ErrExist) {
				t.Errorf("Extract into existing dir = %v, want ErrExist", err)
			}
		})
	}
}

// TestExtractNoHash: NoHash extracts the same files and leaves the
// per-file hashes empty.
func TestExtractNoHash(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	m, err := Extract(t.Context(), bytes.NewReader(xzBytes(t, mkTar(t, good...))), dir, &Options{NoHash: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range m.Entries {
		if e.SHA256 != "" {
			t.Errorf("%s: SHA256 %q with NoHash", e.Name, e.SHA256)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "include/linux/a.h")); err != nil || string(b) != "int a;\n" || m.Files != 4 {
		t.Errorf("a.h = %q, %v; files %d, want 4", b, err, m.Files)
	}
	os.Chmod(filepath.Join(dir, "ro"), 0o755)
}

func TestExtractBad(t *testing.T) {
	big := mkTar(t, member{name: "./huge.h", typ: tar.TypeReg, size: 10 << 30})
	okXZ := xzBytes(t, mkTar(t, good...))
	corrupt := bytes.Clone(okXZ)
	corrupt[len(corrupt)/2] ^= 0x55
	many := make([]member, 0, 20)
	for i := range 20 {
		many = append(many, member{name: "./f" + string(rune('a'+i)), typ: tar.TypeReg, data: "x"})
	}
	for _, tc := range []struct {
		name string
		data []byte
		opts *Options
		want error
		msg  string
	}{
		{"dotdot", mkTar(t, member{name: "./a/../../evil", typ: tar.TypeReg, data: "x"}), nil, ErrUnsafe, `".."`},
		{"absolute", mkTar(t, member{name: "/etc/evil", typ: tar.TypeReg, data: "x"}), nil, ErrUnsafe, "absolute"},
		{"symlink-etc", mkTar(t, member{name: "./etc", typ: tar.TypeSymlink, target: "/etc"}), nil, ErrUnsafe, "absolute"},
		{"symlink-up", mkTar(t, member{name: "./a/l", typ: tar.TypeSymlink, target: "../../etc/passwd"}), nil, ErrUnsafe, "leaves"},
		{"through-symlink", mkTar(t, member{name: "./d", typ: tar.TypeSymlink, target: "."}, member{name: "./d/x", typ: tar.TypeReg, data: "x"}), nil, ErrUnsafe, "below the symlink"},
		{"hardlink", mkTar(t, member{name: "./h", typ: tar.TypeLink, target: "./a"}), nil, ErrUnsupportedEntry, "hard link"},
		{"device", mkTar(t, member{name: "./dev", typ: tar.TypeChar}), nil, ErrUnsupportedEntry, "device"},
		{"fifo", mkTar(t, member{name: "./p", typ: tar.TypeFifo}), nil, ErrUnsupportedEntry, "fifo"},
		{"10GB", big, nil, ErrLimit, "declares 10737418240 bytes"},
		{"total", mkTar(t, member{name: "./a", typ: tar.TypeReg, data: "12345"}, member{name: "./b", typ: tar.TypeReg, data: "12345"}), &Options{Limits: Limits{MaxBytes: 8}}, ErrLimit, "passes 8 bytes"},
		{"entries", mkTar(t, many...), &Options{Limits: Limits{MaxEntries: 10}}, ErrLimit, "more than 10 entries"},
		{"duplicate", mkTar(t, member{name: "./a", typ: tar.TypeReg, data: "1"}, member{name: "a", typ: tar.TypeReg, data: "2"}), nil, ErrExist, "twice"},
		{"wrong-magic", []byte("this is not an archive at all, just some text that goes on"), nil, ErrFormat, "unknown magic"},
		{"empty", nil, nil, ErrFormat, "empty"},
		{"truncated-xz", okXZ[:len(okXZ)/2], nil, ErrFormat, "truncated"},
		{"corrupt-xz", corrupt, nil, ErrFormat, "corrupt"},
		{"truncated-tar", mkTar(t, good...)[:1500], nil, ErrFormat, "truncated"},
		{"xz-over-cap", okXZ, &Options{Limits: Limits{MaxBytes: int64(len(okXZ)) - 1}}, ErrLimit, "compressed xz input larger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A bytes.Buffer holding xz is decoded in place: the same errors.
			for _, r := range []func() io.Reader{
				func() io.Reader { return bytes.NewReader(tc.data) },
				func() io.Reader { return bytes.NewBuffer(tc.data) },
			} {
				parent := t.TempDir()
				dir := filepath.Join(parent, "out")
				_, err := Extract(t.Context(), r(), dir, tc.opts)
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("Extract(%T) = %v, want %v containing %q", r(), err, tc.want, tc.msg)
				}
				left, _ := os.ReadDir(parent)
				if len(left) != 0 {
					t.Errorf("left behind in %s: %v", parent, left)
				}
				if _, err := Inspect(t.Context(), r(), tc.opts); !errors.Is(err, tc.want) {
					t.Errorf("Inspect(%T) = %v, want %v", r(), err, tc.want)
				}
			}
		})
	}
}

func TestExtractRootNotEmpty(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o644)
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := ExtractRoot(t.Context(), bytes.NewReader(mkTar(t, good...)), root, nil); !errors.Is(err, ErrExist) {
		t.Errorf("ExtractRoot(non-empty) = %v, want ErrExist", err)
	}
}

func TestExtractCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	parent := t.TempDir()
	_, err := Extract(ctx, bytes.NewReader(mkTar(t, good...)), filepath.Join(parent, "out"), nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Extract(canceled) = %v, want context.Canceled", err)
	}
	if left, _ := os.ReadDir(parent); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

func TestExtractFixture(t *testing.T) {
	p := hosttest.Fixture(t, "ikheaders-y/kheaders_data.tar.xz")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var calls int
	var last int64
	dir := filepath.Join(t.TempDir(), "h")
	m, err := Extract(t.Context(), f, dir, &Options{Progress: func(done, total int64) { calls++; last = done }})
	if err != nil {
		t.Fatalf("Extract(%s) = %v", p, err)
	}
	raw, _ := os.ReadFile(p)
	sum := sha256.Sum256(raw)
	if m.ArchiveSHA256 != hex.EncodeToString(sum[:]) || m.Release != "6.12.117" || len(m.Entries) != 7026 {
		t.Errorf("manifest sha %s release %q entries %d; want %x 6.12.117 7026", m.ArchiveSHA256, m.Release, len(m.Entries), sum)
	}
	if calls == 0 || last != int64(len(raw)) {
		t.Errorf("progress: %d calls, last %d; want >0 calls ending at %d", calls, last, len(raw))
	}
	// Every file on disk matches the manifest.
	links := 0
	for _, e := range m.Entries {
		switch e.Type {
		case 'f':
			b, err := os.ReadFile(filepath.Join(dir, e.Name))
			if err != nil {
				t.Fatal(err)
			}
			s := sha256.Sum256(b)
			if hex.EncodeToString(s[:]) != e.SHA256 {
				t.Fatalf("%s: sha mismatch", e.Name)
			}
		case 'l':
			links++
			if _, err := os.Stat(filepath.Join(dir, e.Name)); err != nil {
				t.Errorf("symlink %s dangles: %v", e.Name, err)
			}
		}
	}
	if links != 4 {
		t.Errorf("%d symlinks, want 4", links)
	}
	// Inspect agrees with Extract.
	m2, err := Inspect(t.Context(), bytes.NewReader(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m2.Entries) != len(m.Entries) || m2.Bytes != m.Bytes || m2.ArchiveSHA256 != m.ArchiveSHA256 {
		t.Errorf("Inspect = %d entries %d bytes, Extract = %d %d", len(m2.Entries), m2.Bytes, len(m.Entries), m.Bytes)
	}
	// ... file by file: Extract hashes the bytes it writes, which come from
	// the decoder's buffer while it gives back the memory behind the
	// written files; Inspect keeps them all.
	for i := range min(len(m.Entries), len(m2.Entries)) {
		if e, e2 := m.Entries[i], m2.Entries[i]; e.Name != e2.Name || e.SHA256 != e2.SHA256 {
			t.Fatalf("entry %d: Extract %s sha256 %s, Inspect %s sha256 %s", i, e.Name, e.SHA256, e2.Name, e2.SHA256)
		}
	}
	// The archive in a bytes.Buffer (decoded in place, as extract and the
	// cache pass it): the same manifest and progress, the buffer consumed.
	buf := bytes.NewBuffer(raw)
	calls, last = 0, 0
	m3, err := Extract(t.Context(), buf, filepath.Join(t.TempDir(), "h"), &Options{Progress: func(done, total int64) { calls++; last = done }})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m3, m) || buf.Len() != 0 || calls == 0 || last != int64(len(raw)) {
		t.Errorf("Extract(bytes.Buffer): manifest equal %v, %d bytes left, %d progress calls ending at %d; want equal, 0, >0 ending at %d",
			reflect.DeepEqual(m3, m), buf.Len(), calls, last, len(raw))
	}
}

func TestParseUTSRelease(t *testing.T) {
	for in, want := range map[string]string{
		"#define UTS_RELEASE \"6.12.117\"\n":              "6.12.117",
		"#define UTS_RELEASE \"5.4.0-150-generic\"":       "5.4.0-150-generic",
		"/* x */\n#define  UTS_RELEASE\t\"6.1.0-rc1+\"\n": "6.1.0-rc1+",
		"#define UTS_VERSION \"x\"":                       "",
	} {
		if got := ParseUTSRelease([]byte(in)); got != want {
			t.Errorf("ParseUTSRelease(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzExtract feeds arbitrary bytes to ExtractRoot: it must never write
// outside the root nor panic, and what it reports must be on disk.
func FuzzExtract(f *testing.F) {
	f.Add(mkTar(f, good...))
	f.Add(xzBytes(f, mkTar(f, good...)))
	if t := mkTar(f, good...); len(t) > 600 {
		// Two concatenated streams with stream padding (xzStreams).
		f.Add(append(append(xzBytes(f, t[:600]), 0, 0, 0, 0), xzBytes(f, t[600:])...))
	}
	f.Add(mkTar(f, member{name: "./a/../../evil", typ: tar.TypeReg, data: "x"}))
	f.Add(mkTar(f, member{name: "./d", typ: tar.TypeSymlink, target: "."}, member{name: "./d/x", typ: tar.TypeReg, data: "x"}))
	if b := hosttest.FixtureSeed("ikheaders-y/kheaders_data.tar.xz"); b != nil {
		f.Add(b[:8192]) // a slice of the real archive: truncated xz
	}
	fx := newFuzzExtract(f)
	f.Fuzz(func(t *testing.T, data []byte) { fx.check(t, data) })
}

// fuzzExtract holds what every input of FuzzExtract reuses: one directory
// and its open root for the whole run, each input extracted into a fresh
// numbered directory in it, removed afterwards. An input costs one mkdir of
// the test's, not a t.TempDir's three (mkdir on ext4 after many deletions is
// what the kernel spends most of a worker's time in, in recently_deleted).
type fuzzExtract struct {
	dir  string
	root *os.Root
	n    int
	left map[string]bool // directories of earlier inputs that could not be removed
	opts *Options
}

func newFuzzExtract(tb testing.TB) *fuzzExtract {
	dir := tb.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { root.Close() })
	return &fuzzExtract{dir: dir, root: root, left: map[string]bool{}, opts: &Options{Limits: Limits{MaxBytes: 1 << 20, MaxEntries: 1000}}}
}

// check extracts data through ExtractRoot into a fresh directory of fx.dir:
// nothing may appear in fx.dir beside it, and Inspect of the same bytes
// from a bytes.Buffer (the in-place xz path) must agree on the outcome, the
// entries and the hash; every entry reported must be on disk.
func (fx *fuzzExtract) check(t testing.TB, data []byte) {
	fx.n++
	name := strconv.Itoa(fx.n)
	if err := fx.root.Mkdir(name, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := fx.root.RemoveAll(name); err != nil {
			fx.left[name] = true
			t.Logf("removing %s: %v (left for the cleanup)", name, err)
		}
	}()
	sub, err := fx.root.OpenRoot(name)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	m, err := ExtractRoot(t.Context(), bytes.NewReader(data), sub, fx.opts)
	ents, _ := os.ReadDir(fx.dir)
	for _, e := range ents {
		if e.Name() != name && !fx.left[e.Name()] {
			t.Fatalf("ExtractRoot into %s wrote outside its root: %v", name, ents)
		}
	}
	// The in-place path (an xz input in a bytes.Buffer) agrees.
	m2, err2 := Inspect(t.Context(), bytes.NewBuffer(data), fx.opts)
	if (err == nil) != (err2 == nil) || err == nil && (len(m2.Entries) != len(m.Entries) || m2.ArchiveSHA256 != m.ArchiveSHA256) {
		t.Fatalf("ExtractRoot from a bytes.Reader: %v; Inspect from a bytes.Buffer: %v (entries and hash must agree)", err, err2)
	}
	if err != nil {
		return
	}
	for _, e := range m.Entries {
		if _, err := os.Lstat(filepath.Join(fx.dir, name, filepath.FromSlash(e.Name))); err != nil {
			t.Errorf("manifest entry %q not on disk: %v", e.Name, err)
		}
	}
}

// sharedOrEmpty returns ../shared next to the repository, or "".
func sharedOrEmpty() string {
	dir, _ := os.Getwd()
	for filepath.Dir(dir) != dir {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			s := filepath.Join(dir, "..", "shared")
			if _, err := os.Stat(s); err == nil {
				return s
			}
			return ""
		}
		dir = filepath.Dir(dir)
	}
	return ""
}

// TestExtractLargePlainTar covers files larger than any read buffer in a
// plain (uncompressed) tar.
func TestExtractLargePlainTar(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 40000) // 640 KB
	data := mkTar(t, member{name: "./big.h", typ: tar.TypeReg, data: big}, member{name: "./small.h", typ: tar.TypeReg, data: "x"})
	for _, in := range [][]byte{data, xzBytes(t, data)} {
		dir := filepath.Join(t.TempDir(), "out")
		if _, err := Extract(t.Context(), bytes.NewReader(in), dir, nil); err != nil {
			t.Fatalf("Extract = %v", err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "big.h")); err != nil || string(b) != big {
			t.Errorf("big.h = %d bytes, %v; want %d", len(b), err, len(big))
		}
	}
}

// TestExtractManyDirs: more directories than an extraction keeps open
// (the handles are dropped and reopened), with files going back into
// directories made much earlier; every file, its content and every
// directory's mtime must come out.
func TestExtractManyDirs(t *testing.T) {
	n := 2*maxOpenDirs + 10
	var ms []member
	for i := range n {
		d := fmt.Sprintf("d/%d/", i%100) + fmt.Sprintf("s%d", i)
		ms = append(ms, member{name: d + "/", typ: tar.TypeDir})
		ms = append(ms, member{name: d + "/f.h", typ: tar.TypeReg, data: d})
		if i >= 5 {
			back := fmt.Sprintf("d/%d/s%d", (i-5)%100, i-5)
			ms = append(ms, member{name: back + "/g.h", typ: tar.TypeReg, data: back})
		}
	}
	dir := filepath.Join(t.TempDir(), "out")
	m, err := Extract(t.Context(), bytes.NewReader(mkTar(t, ms...)), dir, nil)
	if err != nil {
		t.Fatalf("Extract = %v", err)
	}
	if want := 2*n - 5; m.Files != want {
		t.Errorf("files = %d, want %d", m.Files, want)
	}
	mt := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, e := range m.Entries {
		p := filepath.Join(dir, e.Name)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatalf("Lstat(%s) = %v", e.Name, err)
		}
		if !fi.ModTime().Equal(mt) {
			t.Errorf("mtime of %s = %v, want %v", e.Name, fi.ModTime(), mt)
		}
		if e.Type == 'f' {
			b, err := os.ReadFile(p)
			if err != nil || string(b) != path.Dir(e.Name) {
				t.Errorf("%s = %q, %v; want %q", e.Name, b, err, path.Dir(e.Name))
			}
		}
	}
}

// TestParseUTSReleaseRegexp: the hand-written matcher finds what the
// regular expression it replaced finds, on edge cases of every part.
func TestParseUTSReleaseRegexp(t *testing.T) {
	re := regexp.MustCompile(`(?m)^#define\s+UTS_RELEASE\s+"([^"\n]*)"`)
	ins := []string{
		"", "#define", "#define UTS_RELEASE", "#define UTS_RELEASE \"", "#define UTS_RELEASE \"6.1\n\"",
		"#define UTS_RELEASE \"\"", "#define\nUTS_RELEASE\n\"a\"", "#define\f\rUTS_RELEASE \v\"a\"",
		" #define UTS_RELEASE \"a\"", "x#define UTS_RELEASE \"a\"\n#define UTS_RELEASE \"b\"",
		"#define UTS_RELEASEX \"a\"", "#defineUTS_RELEASE \"a\"", "#define UTS_RELEASE\"a\"",
		"#define UTS_RELEASE \"a\nb\"\n#define UTS_RELEASE \"c\"", "\n\n#define UTS_RELEASE \"6.12.117\" /* x */",
		"#define UTS_RELEASE \"a\"\n#define UTS_RELEASE \"b\"", "#define  UTS_RELEASE \"ü\xff\"",
		"#define UTS_RELEASE 'a'", "#define UTS_RELEASE \"a\r\n", "\r\n#define UTS_RELEASE \"a\"",
	}
	for _, in := range ins {
		want := ""
		if m := re.FindSubmatch([]byte(in)); m != nil {
			want = string(m[1])
		}
		if got := ParseUTSRelease([]byte(in)); got != want {
			t.Errorf("ParseUTSRelease(%q) = %q, the regexp gives %q", in, got, want)
		}
	}
}

// TestArchiveSHA256Known: a caller that hashed the input already passes
// the hash; Extract, Inspect and Load report it instead of hashing the
// input again (so a value that is not the input's hash shows through).
func TestArchiveSHA256Known(t *testing.T) {
	data := xzBytes(t, mkTar(t, good...))
	known := strings.Repeat("ab", 32)
	opts := &Options{ArchiveSHA256: known}
	m, err := Extract(t.Context(), bytes.NewReader(data), filepath.Join(t.TempDir(), "out"), opts)
	if err != nil {
		t.Fatalf("Extract = %v", err)
	}
	m2, err := Inspect(t.Context(), bytes.NewBuffer(data), opts)
	if err != nil {
		t.Fatalf("Inspect = %v", err)
	}
	fsys, err := Load(t.Context(), bytes.NewBuffer(data), opts)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	for name, m := range map[string]*Manifest{"Extract": m, "Inspect": m2, "Load": fsys.Manifest()} {
		if m.ArchiveSHA256 != known || m.ArchiveSize != int64(len(data)) || m.Files != 4 {
			t.Errorf("%s with a known hash: sha %s size %d files %d; want %s %d 4", name, m.ArchiveSHA256, m.ArchiveSize, m.Files, known, len(data))
		}
	}
	// NoArchiveSHA256: no hash at all, for the xz and the tar path.
	for _, in := range [][]byte{data, mkTar(t, good...)} {
		m, err := Extract(t.Context(), bytes.NewReader(in), filepath.Join(t.TempDir(), "out"), &Options{NoArchiveSHA256: true})
		if err != nil || m.ArchiveSHA256 != "" || m.ArchiveSize != int64(len(in)) || m.Files != 4 {
			t.Errorf("Extract(NoArchiveSHA256) = %+v, %v; want no hash, size %d, 4 files", m, err, len(in))
		}
	}
	// Hashed, from a bytes.Buffer (decoded in place) and a bytes.Reader.
	sum := sha256.Sum256(data)
	for _, r := range []io.Reader{bytes.NewBuffer(data), bytes.NewReader(data)} {
		m, err := Extract(t.Context(), r, filepath.Join(t.TempDir(), "out"), nil)
		if err != nil || m.ArchiveSHA256 != hex.EncodeToString(sum[:]) || m.ArchiveSize != int64(len(data)) {
			t.Errorf("Extract(%T) = %+v, %v; want sha256 %x, size %d", r, m, err, sum, len(data))
		}
	}
}

// TestReadAll: the sized read of an xz input gives io.ReadAll's bytes for
// every kind of source, with bytes already buffered in front of it.
func TestReadAll(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 20000)
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, open := range map[string]func() io.Reader{
		"bytes.Reader": func() io.Reader { return bytes.NewReader(data) },
		"file":         func() io.Reader { f.Seek(0, io.SeekStart); return f },
		"no size":      func() io.Reader { return io.MultiReader(bytes.NewReader(data)) },
	} {
		for _, max := range []int64{1 << 30, int64(len(data)) / 2} {
			src := open()
			br := bufio.NewReaderSize(src, 64<<10)
			br.Peek(512)
			got, err := readAll(io.LimitReader(br, max), src, br.Buffered(), max)
			want := data[:min(int64(len(data)), max)]
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s, max %d: readAll = %d bytes, %v; want %d bytes", name, max, len(got), err, len(want))
			}
		}
	}
}

// TestExtractCheckMismatch: the xz block check (computed on another
// goroutine while the decoder runs) still fails the extraction when the
// stream's recorded CRC64 is wrong although every byte decodes: an error
// naming the mismatch, nothing left behind, for the archive in memory
// (decoded in place) and read from a reader.
func TestExtractCheckMismatch(t *testing.T) {
	inputs := map[string][]byte{"small": xzBytes(t, mkTar(t, good...))}
	if p := sharedOrEmpty(); p != "" {
		inputs["fixture"] = hosttest.ReadFixture(t, "ikheaders-y/kheaders_data.tar.xz")
	}
	for name, data := range inputs {
		// One block: its check is the 8 bytes before the index, whose
		// length the footer's backward size gives.
		bsize := int(data[len(data)-8]) | int(data[len(data)-7])<<8 | int(data[len(data)-6])<<16 | int(data[len(data)-5])<<24
		index := len(data) - 12 - (bsize+1)*4
		bad := bytes.Clone(data)
		bad[index-8] ^= 1
		readers := []func() io.Reader{
			func() io.Reader { return bytes.NewBuffer(bad) },
			func() io.Reader { return bytes.NewReader(bad) },
		}
		if name == "fixture" {
			readers = readers[:1] // the extract -C path (a 34 MB decode under -race each)
		}
		for _, r := range readers {
			parent := t.TempDir()
			_, err := Extract(t.Context(), r(), filepath.Join(parent, "out"), nil)
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "mismatch") {
				t.Errorf("%s, %T: Extract = %v, want ErrFormat naming the check mismatch", name, r(), err)
			}
			if left, _ := os.ReadDir(parent); len(left) != 0 {
				t.Errorf("%s, %T: left behind: %v", name, r(), left)
			}
			if _, err := Inspect(t.Context(), r(), nil); !errors.Is(err, ErrFormat) {
				t.Errorf("%s, %T: Inspect = %v, want ErrFormat", name, r(), err)
			}
		}
		// The intact stream extracts (the test's corruption is the cause).
		if name == "fixture" {
			continue // TestExtractFixture
		}
		if _, err := Extract(t.Context(), bytes.NewBuffer(data), filepath.Join(t.TempDir(), "out"), &Options{NoHash: true}); err != nil {
			t.Errorf("%s: Extract(intact) = %v", name, err)
		}
	}
}

// TestExtractConcatenatedStreams: a .tar.xz of several xz streams made by
// xz(1), with stream padding between them (xz -dc and tar -xJf read all
// of them), extracts to the same files as the single-stream fixture;
// bytes after the last stream that are no stream are an error.
func TestExtractConcatenatedStreams(t *testing.T) {
	p := hosttest.Fixture(t, "ikheaders-y/kheaders_data.tar.xz")
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Inspect(t.Context(), bytes.NewReader(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	tarData := hosttest.XZ(t, raw, "-dc")
	compress := func(b []byte) []byte { return hosttest.XZ(t, b, "-0", "-c") }
	// Three streams, cut in the middle of a member, with 8 bytes of
	// padding after the first.
	third := len(tarData) / 3
	var cat []byte
	cat = append(cat, compress(tarData[:third])...)
	cat = append(cat, make([]byte, 8)...)
	cat = append(cat, compress(tarData[third:2*third+17])...)
	cat = append(cat, compress(tarData[2*third+17:])...)
	if out := hosttest.XZ(t, cat, "-dc"); !bytes.Equal(out, tarData) {
		t.Fatalf("xz -dc of the concatenation: %d bytes, want %d", len(out), len(tarData))
	}
	// In a bytes.Buffer, as extract and the cache pass archives.
	for _, mode := range []string{"buffer"} {
		got, err := Extract(t.Context(), bytes.NewBuffer(cat), filepath.Join(t.TempDir(), "h"), nil)
		if err != nil {
			t.Fatalf("Extract(3 concatenated streams, %s) = %v", mode, err)
		}
		if len(got.Entries) != len(want.Entries) || got.Bytes != want.Bytes {
			t.Fatalf("%s: %d entries %d bytes, want %d %d", mode, len(got.Entries), got.Bytes, len(want.Entries), want.Bytes)
		}
		for i := range got.Entries {
			if g, w := got.Entries[i], want.Entries[i]; g.Name != w.Name || g.SHA256 != w.SHA256 {
				t.Fatalf("%s: entry %d: %s %s, want %s %s", mode, i, g.Name, g.SHA256, w.Name, w.SHA256)
			}
		}
	}
	// Bad tails, after two small streams of a small tar.
	var small bytes.Buffer
	tw := tar.NewWriter(&small)
	tw.WriteHeader(&tar.Header{Name: "./a.h", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
	tw.Write([]byte("ab\n"))
	tw.Close()
	two := append(compress(small.Bytes()[:700]), compress(small.Bytes()[700:])...)
	if got, err := Inspect(t.Context(), bytes.NewReader(two), nil); err != nil || len(got.Entries) != 1 {
		t.Fatalf("Inspect(two small streams) = %+v, %v", got, err)
	}
	secondCut := two[:len(two)-4]
	flipped := append([]byte(nil), two...)
	flipped[len(flipped)-6] ^= 1 // in the second stream's footer
	one := compress(small.Bytes())
	for name, bad := range map[string][]byte{
		"garbage":              append(append([]byte(nil), two...), "garbage!"...),
		"odd padding":          append(append(append([]byte(nil), two...), 0, 0), compress([]byte("x"))...),
		"second stream cut":    secondCut,
		"second footer flip":   flipped,
		"one stream + garbage": append(append([]byte(nil), one...), "garbage!"...),
		"one stream + 3 zeros": append(append([]byte(nil), one...), 0, 0, 0),
	} {
		if _, err := Inspect(t.Context(), bytes.NewReader(bad), nil); !errors.Is(err, ErrFormat) {
			t.Errorf("Inspect(%s) = %v, want ErrFormat (xz -dc fails too)", name, err)
		} else {
			t.Logf("Inspect(%s): %v", name, err)
		}
	}
}
