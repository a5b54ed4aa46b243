package pack

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// tree describes a small kernel tree for tests: path -> content; content
// "->target" makes a symlink.
type tree map[string]string

func (tr tree) write(t *testing.T, root string) {
	t.Helper()
	for p, c := range tr {
		f := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(c, "->"); ok {
			if err := os.Symlink(target, f); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(f, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var longDir = "include/" + strings.Repeat("d", 60) + "/" + strings.Repeat("e", 50)

func srcTree(version string) tree {
	maj, min, _ := strings.Cut(version, ".")
	return tree{
		"Makefile":                                     "# SPDX-License-Identifier: GPL-2.0\nVERSION = " + maj + "\nPATCHLEVEL = " + min + "\nSUBLEVEL = 3\nEXTRAVERSION =\n",
		"kernel/gen_kheaders.sh":                       "#!/bin/sh\n",
		"include/linux/a.h":                            "/* SPDX-License-Identifier: GPL-2.0 */\n#define A 1 /* one */\n",
		"include/linux/sub/b.h":                        "int b; // b\n",
		"include/linux-foo.h":                          "#define GLOB \"/sys/*\" /* c */\n",
		"include/linux/readme.txt":                     "not a header\n",
		"include/linux/link.h":                         "->a.h",
		"include/linux/over.h":                         "src version\n",
		"include/generated/stale.h":                    "in srctree generated\n",
		"arch/x86/include/asm/c.h":                     "#ifndef C\n/* multi\n line */\n#endif\n",
		"arch/x86/include/uapi/asm/u.h":                "struct u { int a/**/b; };\n",
		"arch/arm64/include/asm/other.h":               "other arch\n",
		longDir + "/" + strings.Repeat("f", 30) + ".h": "long\n",
	}
}

var objTree = tree{
	"include/generated/autoconf.h":                    "#define CONFIG_X 1\n",
	"include/generated/utsversion.h":                  "#define UTS_VERSION \"#1\"\n",
	"include/linux/over.h":                            "obj version\n",
	"include/config/auto.conf":                        "CONFIG_X=y\n",
	"arch/x86/include/generated/asm/gen.h":            "gen\n",
	"arch/x86/include/generated/uapi/asm/unistd_64.h": "#define __NR_read 0\n",
}

func setup(t *testing.T, version string) (src, obj string) {
	t.Helper()
	d := t.TempDir()
	src, obj = filepath.Join(d, "src"), filepath.Join(d, "obj")
	srcTree(version).write(t, src)
	objTree.write(t, obj)
	// An executable header: archived 0644 when the era normalizes modes.
	if err := os.Chmod(filepath.Join(src, "include/linux/sub/b.h"), 0o755); err != nil {
		t.Fatal(err)
	}
	return src, obj
}

func packBytes(t *testing.T, o Options) ([]byte, *Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Write(t.Context(), o, &buf)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes(), st
}

func names(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
}

func TestSelectionPerEra(t *testing.T) {
	long := "./" + longDir + "/" + strings.Repeat("f", 30) + ".h"
	common := []string{"./", "./arch/", "./arch/x86/", "./arch/x86/include/", "./arch/x86/include/asm/", "./arch/x86/include/asm/c.h",
		"./arch/x86/include/generated/", "./arch/x86/include/generated/asm/", "./arch/x86/include/generated/asm/gen.h",
		"./arch/x86/include/generated/uapi/", "./arch/x86/include/generated/uapi/asm/", "./arch/x86/include/generated/uapi/asm/unistd_64.h",
		"./arch/x86/include/uapi/", "./arch/x86/include/uapi/asm/", "./arch/x86/include/uapi/asm/u.h",
		"./include/", "./include/" + strings.Repeat("d", 60) + "/", "./" + longDir + "/", long,
		"./include/generated/", "./include/generated/autoconf.h"}
	tests := []struct {
		version string
		want    []string
	}{
		{"6.12", append(append([]string{}, common...), "./include/generated/stale.h", "./include/generated/utsversion.h",
			"./include/linux/", "./include/linux/a.h", "./include/linux/link.h", "./include/linux/over.h",
			"./include/linux/sub/", "./include/linux/sub/b.h", "./include/linux-foo.h")},
		{"6.14", append(append([]string{}, common...), "./include/generated/stale.h",
			"./include/linux/", "./include/linux/a.h", "./include/linux/link.h", "./include/linux/over.h",
			"./include/linux/sub/", "./include/linux/sub/b.h", "./include/linux-foo.h")},
		// 6.17+: no generated/ from srctree, only generated/ from objtree
		// (so over.h comes from srctree), no utsversion.h.
		{"6.17", append(append([]string{}, common...),
			"./include/linux/", "./include/linux/a.h", "./include/linux/link.h", "./include/linux/over.h",
			"./include/linux/sub/", "./include/linux/sub/b.h", "./include/linux-foo.h")},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			src, obj := setup(t, tt.version)
			b, st := packBytes(t, Options{SrcTree: src, ObjTree: obj, Compress: CompressNone, Timestamp: "@0"})
			if diff := cmp.Diff(tt.want, names(t, b)); diff != "" {
				t.Errorf("members (-want +got):\n%s", diff)
			}
			if st.SRCARCH != "x86" {
				t.Errorf("SRCARCH = %q, want x86 (derived)", st.SRCARCH)
			}
			over := readMember(t, b, "./include/linux/over.h")
			want := "obj version\n"
			if tt.version == "6.17" {
				want = "src version\n"
			}
			if over != want {
				t.Errorf("over.h = %q, want %q", over, want)
			}
		})
	}
}

func readMember(t *testing.T, b []byte, name string) string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in archive: %v", name, err)
		}
		if h.Name == name {
			d, _ := io.ReadAll(tr)
			return string(d)
		}
	}
}

func TestSelection52(t *testing.T) {
	src, obj := setup(t, "5.2")
	b, _ := packBytes(t, Options{SrcTree: src, ObjTree: obj, Compress: CompressNone, Timestamp: "@0", SRCARCH: "x86"})
	got := names(t, b)
	for _, want := range []string{"./include/linux/readme.txt", "./include/config/auto.conf", "./kernel/gen_kheaders.sh"} {
		if !contains(got, want) {
			t.Errorf("5.2 archive lacks %s", want)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// stage builds the directory Kbuild's copy step makes (by hand, not with
// the code under test) for the 6.12 selection of setup's trees.
func stage(t *testing.T, src, obj string) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), "stage")
	for _, p := range []struct{ root, rel string }{
		{src, "include/linux/a.h"}, {src, "include/linux/sub/b.h"}, {src, "include/linux-foo.h"}, {src, "include/linux/link.h"},
		{obj, "include/linux/over.h"}, {src, "include/generated/stale.h"}, {src, "arch/x86/include/asm/c.h"},
		{src, "arch/x86/include/uapi/asm/u.h"}, {src, longDir + "/" + strings.Repeat("f", 30) + ".h"},
		{obj, "include/generated/autoconf.h"}, {obj, "include/generated/utsversion.h"},
		{obj, "arch/x86/include/generated/asm/gen.h"}, {obj, "arch/x86/include/generated/uapi/asm/unistd_64.h"},
	} {
		to := filepath.Join(d, p.rel)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		from := filepath.Join(p.root, p.rel)
		if l, err := os.Readlink(from); err == nil {
			if err := os.Symlink(l, to); err != nil {
				t.Fatal(err)
			}
			continue
		}
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(from)
		if err := os.WriteFile(to, data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
		os.Chmod(to, fi.Mode().Perm())
	}
	return d
}

// TestTarMatchesGNUTar compares the archive with GNU tar's, byte for byte,
// for the 6.12 layout (--sort=name, --mode) and the 5.4-6.4 one
// (find | LC_ALL=C sort | tar --no-recursion -T -, no --mode).
func TestTarMatchesGNUTar(t *testing.T) {
	gtar, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("tar not found (Debian package tar)")
	}
	if out, _ := exec.Command(gtar, "--version").Output(); !bytes.Contains(out, []byte("GNU tar")) {
		t.Skip("tar is not GNU tar (Debian package tar)")
	}
	for _, tt := range []struct {
		version string
		args    []string
		list    bool
	}{
		{"6.12", []string{"--mtime=@1700000000", "--owner=0", "--group=0", "--sort=name", "--numeric-owner", "--mode=u=rw,go=r,a+X", "-cf", "-", "-C", "STAGE", "."}, false},
		{"6.4", []string{"--mtime=@1700000000", "--owner=0", "--group=0", "--numeric-owner", "--no-recursion", "-cf", "-", "-C", "STAGE", "-T", "-"}, true},
	} {
		t.Run(tt.version, func(t *testing.T) {
			src, obj := setup(t, tt.version)
			got, _ := packBytes(t, Options{SrcTree: src, ObjTree: obj, Compress: CompressNone, Strip: StripNone, Timestamp: "@1700000000"})
			st := stage(t, src, obj)
			args := append([]string{}, tt.args...)
			for i, a := range args {
				if a == "STAGE" {
					args[i] = st
				}
			}
			cmd := exec.Command(gtar, args...)
			if tt.list {
				find := exec.Command("sh", "-c", `find . -printf "./%P\n" | LC_ALL=C sort`)
				find.Dir = st
				l, err := find.Output()
				if err != nil {
					t.Fatal(err)
				}
				cmd.Stdin = bytes.NewReader(l)
			}
			want, err := cmd.Output()
			if err != nil {
				t.Fatalf("tar: %v", err)
			}
			if !bytes.Equal(got, want) {
				gn, wn := names(t, got), names(t, want)
				t.Errorf("archive differs from GNU tar's (%d vs %d bytes); members diff (-tar +ours):\n%s", len(got), len(want), cmp.Diff(wn, gn))
				for i := 0; i < len(got) && i < len(want); i++ {
					if got[i] != want[i] {
						t.Errorf("first difference at byte %d (block %d, offset %d)", i, i/512, i%512)
						break
					}
				}
			}
		})
	}
}

func TestStripModes(t *testing.T) {
	src, obj := setup(t, "6.12")
	for _, tt := range []struct {
		strip      Strip
		name, want string
	}{
		{StripKbuild, "./include/linux-foo.h", "#define GLOB \"/sys\n"},
		{StripDefault, "./include/linux-foo.h", "#define GLOB \"/sys/*\"\n"},
		{StripNone, "./include/linux-foo.h", "#define GLOB \"/sys/*\" /* c */\n"},
		{StripKbuild, "./arch/x86/include/uapi/asm/u.h", "struct u { int ab; };\n"},
		{StripDefault, "./arch/x86/include/uapi/asm/u.h", "struct u { int a b; };\n"},
		{StripDefault, "./include/linux/a.h", "/* SPDX-License-Identifier: GPL-2.0 */\n#define A 1\n"},
		{StripDefault, "./include/linux/sub/b.h", "int b;\n"},
		{StripKbuild, "./include/linux/sub/b.h", "int b; // b\n"},
	} {
		b, _ := packBytes(t, Options{SrcTree: src, ObjTree: obj, Compress: CompressNone, Strip: tt.strip})
		if got := readMember(t, b, tt.name); got != tt.want {
			t.Errorf("%s %s = %q, want %q", tt.strip, tt.name, got, tt.want)
		}
	}
}

func TestCompressRoundTrip(t *testing.T) {
	src, obj := setup(t, "6.12")
	plain, _ := packBytes(t, Options{SrcTree: src, ObjTree: obj, Compress: CompressNone, Timestamp: "@5"})
	for _, c := range []struct {
		name string
		o    Options
		dec  []string
	}{
		{"xz-go", Options{Compress: CompressXZ}, []string{"xz", "-dc"}},
		{"zstd", Options{Compress: CompressZstd}, []string{"zstd", "-dc"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := exec.LookPath(c.dec[0]); err != nil {
				t.Skipf("%s not found (Debian package %s)", c.dec[0], map[string]string{"xz": "xz-utils", "zstd": "zstd"}[c.dec[0]])
			}
			o := c.o
			o.SrcTree, o.ObjTree, o.Timestamp = src, obj, "@5"
			o.XZ.Mode = "go"
			b, st := packBytes(t, o)
			if st.ArchiveBytes != int64(len(b)) {
				t.Errorf("ArchiveBytes = %d, wrote %d", st.ArchiveBytes, len(b))
			}
			cmd := exec.Command(c.dec[0], c.dec[1:]...)
			cmd.Stdin = bytes.NewReader(b)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v: %v", c.dec, err)
			}
			if !bytes.Equal(out, plain) {
				t.Errorf("%s: decompressed archive differs from the uncompressed one", c.name)
			}
			if c.name == "xz-go" {
				test := exec.Command("xz", "-t")
				test.Stdin = bytes.NewReader(b)
				if out, err := test.CombinedOutput(); err != nil {
					t.Errorf("xz -t: %v: %s", err, out)
				}
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	src, obj := setup(t, "6.12")
	empty := t.TempDir()
	unprepared := t.TempDir()
	noArch := t.TempDir()
	tree{"include/generated/autoconf.h": "\n"}.write(t, noArch)
	for _, tt := range []struct {
		name string
		o    Options
		want error
		msg  string
	}{
		{"not a kernel tree", Options{SrcTree: empty, ObjTree: empty}, ErrNotKernelTree, "Makefile"},
		{"unprepared", Options{SrcTree: src, ObjTree: unprepared, SRCARCH: "x86"}, ErrUnprepared, "make prepare"},
		{"bad timestamp", Options{SrcTree: src, ObjTree: obj, Timestamp: "next tuesday"}, ErrBadTimestamp, "@SECONDS"},
		{"bad arch", Options{SrcTree: src, ObjTree: obj, SRCARCH: "mips"}, ErrNotKernelTree, "SRCARCH"},
		{"no arch", Options{SrcTree: src, ObjTree: noArch}, ErrNoArch, "--arch"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Write(t.Context(), tt.o, io.Discard)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Write = %v, want %v mentioning %q", err, tt.want, tt.msg)
			}
		})
	}
	t.Run("missing output dir", func(t *testing.T) {
		_, err := WriteFile(t.Context(), Options{SrcTree: src, ObjTree: obj}, filepath.Join(empty, "nope", "k.tar.xz"))
		if !errors.Is(err, ErrOutput) || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("WriteFile = %v, want ErrOutput saying the directory does not exist", err)
		}
	})
	t.Run("no partial output", func(t *testing.T) {
		out := filepath.Join(empty, "k.tar.xz")
		_, err := WriteFile(t.Context(), Options{SrcTree: src, ObjTree: obj, Timestamp: "bogus"}, out)
		if err == nil {
			t.Fatal("WriteFile with a bad timestamp succeeded")
		}
		ents, _ := os.ReadDir(empty)
		if len(ents) != 0 {
			t.Errorf("output dir holds %v after a failed pack, want nothing", ents)
		}
	})
	t.Run("unreadable file", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("running as root: file permissions do not stop reads")
		}
		f := filepath.Join(src, "include/linux/a.h")
		os.Chmod(f, 0)
		defer os.Chmod(f, 0o644)
		_, err := Write(t.Context(), Options{SrcTree: src, ObjTree: obj}, io.Discard)
		if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "a.h") {
			t.Errorf("Write = %v, want ErrUnreadable naming a.h", err)
		}
	})
}

func TestDeterministic(t *testing.T) {
	src, obj := setup(t, "6.12")
	o := Options{SrcTree: src, ObjTree: obj, Compress: CompressNone, Timestamp: "2024-01-02 03:04:05 +0000", Jobs: 4}
	a, _ := packBytes(t, o)
	o.Jobs = 1
	b, _ := packBytes(t, o)
	if !bytes.Equal(a, b) {
		t.Error("archives with 4 and 1 jobs differ")
	}
	o.Timestamp = ""
	o.Now = func() time.Time { return time.Unix(1234567890, 0) }
	c, _ := packBytes(t, o)
	h, _ := tar.NewReader(bytes.NewReader(c)).Next()
	if h.ModTime.Unix() != 1234567890 {
		t.Errorf("unset timestamp: mtime %v, want the build time", h.ModTime)
	}
}

func TestFingerprint(t *testing.T) {
	src, obj := setup(t, "6.12")
	o := Options{SrcTree: src, ObjTree: obj}
	fp1, err := fingerprint(o, "v1")
	if err != nil {
		t.Fatal(err)
	}
	fp2, _ := fingerprint(o, "v1")
	if fp1 != fp2 {
		t.Fatal("fingerprint not stable")
	}
	// Same size, same second: only the nanoseconds change.
	f := filepath.Join(src, "include/linux/a.h")
	fi, _ := os.Stat(f)
	os.Chtimes(f, fi.ModTime(), fi.ModTime().Add(time.Nanosecond))
	if fp3, _ := fingerprint(o, "v1"); fp3 == fp1 {
		t.Error("fingerprint ignores a sub-second mtime change")
	}
	if fp4, _ := fingerprint(Options{SrcTree: src, ObjTree: obj, Timestamp: "@1"}, "v1"); fp4 == fp1 {
		t.Error("fingerprint ignores the timestamp")
	}
	out := filepath.Join(t.TempDir(), "k.tar.xz")
	o.XZ.Mode = "go"
	if _, err := WriteFile(context.Background(), o, out); err != nil {
		t.Fatal(err)
	}
	fp, _ := fingerprint(o, "v1")
	if upToDate(out, fp) {
		t.Error("upToDate before writeStamp")
	}
	if err := writeStamp(out, fp); err != nil {
		t.Fatal(err)
	}
	if !upToDate(out, fp) {
		t.Error("not upToDate after writeStamp")
	}
	os.WriteFile(out, []byte("tampered"), 0o644)
	if upToDate(out, fp) {
		t.Error("upToDate after the output changed")
	}
}

// TestKbuild runs the drop-in entry point twice on an unchanged tree (the
// second call packs nothing and does not announce it), then after a
// header's mtime moves by a nanosecond (it packs again).
func TestKbuild(t *testing.T) {
	src, obj := setup(t, "6.12")
	o := Options{SrcTree: src, ObjTree: obj, Compress: CompressNone, Timestamp: "@1700000000"}
	out := filepath.Join(t.TempDir(), "kheaders_data.tar")
	gen := 0
	k := KbuildOptions{Tool: "test v1", Generating: func() { gen++ }}
	st, err := Kbuild(t.Context(), o, out, k)
	if err != nil || st == nil || gen != 1 {
		t.Fatalf("first Kbuild = %v, %v (Generating called %d times); want stats, one call", st, err, gen)
	}
	if st, err := Kbuild(t.Context(), o, out, k); err != nil || st != nil || gen != 1 {
		t.Errorf("second Kbuild = %v, %v (Generating called %d times); want nil stats: up to date", st, err, gen)
	}
	if _, err := os.Stat(stampPath(out)); err != nil {
		t.Errorf("stamp: %v", err)
	}
	f := filepath.Join(src, "include/linux/a.h")
	fi, _ := os.Stat(f)
	os.Chtimes(f, fi.ModTime(), fi.ModTime().Add(time.Nanosecond))
	if st, err := Kbuild(t.Context(), o, out, k); err != nil || st == nil || gen != 2 {
		t.Errorf("Kbuild after a header changed = %v, %v (Generating called %d times); want a new archive", st, err, gen)
	}
	k.Tool = "test v2"
	if st, err := Kbuild(t.Context(), o, out, k); err != nil || st == nil || gen != 3 {
		t.Errorf("Kbuild by another tool version = %v, %v; want a new archive", st, err)
	}
}

// TestWriteCanceled: a context cancelled once the archive is being
// written (a SIGINT to kheaders pack during the compression) ends Write
// with the context's error for every compressor, so that WriteFile
// commits nothing (found by review: the pure-Go compressors and "none"
// never looked at ctx, and pack wrote -o and exited 0).
func TestWriteCanceled(t *testing.T) {
	src, obj := setup(t, "6.12")
	for _, o := range []Options{
		{Compress: CompressXZ, XZ: XZOptions{Mode: XZGo}},
		{Compress: CompressZstd},
		{Compress: CompressNone},
	} {
		o.SrcTree, o.ObjTree, o.Timestamp = src, obj, "@5"
		ctx, cancel := context.WithCancel(t.Context())
		w := &hosttest.CancelOnWrite{Cancel: cancel}
		st, err := Write(ctx, o, w)
		cancel()
		if !errors.Is(err, context.Canceled) || st != nil {
			t.Errorf("%s: Write cancelled at its first output = %+v, %v after %d writes; want context.Canceled", o.Compress, st, err, w.N)
		}
	}
}
