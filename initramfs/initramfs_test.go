package initramfs

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/ulikunitz/xz"

	"github.com/kheaders/kheaders/carrier"
	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// netN is the archive of testdata/kernels/bzImage-x86_64-net-n.
func netN(t testing.TB) []byte {
	b, err := os.ReadFile(filepath.Join(hosttest.Kernels(t), "kheaders-x86_64-net-n.tar.xz"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWriteCPIOWithCpioTool(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("skipping: cpio not found (install Debian package cpio)")
	}
	entries := []Entry{
		{Name: "/init", Mode: 0o755, Data: []byte("#!/bin/sh\n")},
		{Name: "bin/sh", Mode: fs.ModeSymlink | 0o777, Link: "busybox"},
		{Name: "a/b/c/file", Mode: 0o600, Data: []byte("abc")},
		{Name: "tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Name: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Maj: 5, Min: 1},
	}
	var buf bytes.Buffer
	if err := WriteCPIO(&buf, entries); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%512 != 0 {
		t.Errorf("archive of %d bytes, want a multiple of 512", buf.Len())
	}
	cmd := exec.Command("cpio", "-itv", "--quiet")
	cmd.Stdin = bytes.NewReader(buf.Bytes())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio -itv: %v", err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(l)
		got = append(got, f[0]+" "+f[len(f)-1])
	}
	want := []string{"drwxr-xr-x a", "drwxr-xr-x a/b", "drwxr-xr-x a/b/c", "-rw------- a/b/c/file",
		"drwxr-xr-x bin", "lrwxrwxrwx busybox", "drwxr-xr-x dev", "crw------- dev/console",
		"-rwxr-xr-x init", "drwxrwxrwt tmp"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cpio -itv (-want +got):\n%s\n%s", diff, out)
	}
}

func TestWriteCPIODeterministic(t *testing.T) {
	a := []Entry{{Name: "b", Mode: 0o644, Data: []byte("1")}, {Name: "a/x", Mode: 0o644, Data: []byte("2")}}
	var x, y bytes.Buffer
	if err := WriteCPIO(&x, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteCPIO(&y, []Entry{a[1], a[0]}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x.Bytes(), y.Bytes()) {
		t.Error("WriteCPIO output depends on the order of entries")
	}
	// Inode 1 is the first member ("a"), mtime 0.
	if h := x.String()[:110]; h[6:14] != "00000001" || h[46:54] != "00000000" {
		t.Errorf("first header %q: want inode 1 and mtime 0", h)
	}
}

func TestWriteCPIOErrors(t *testing.T) {
	for name, entries := range map[string][]Entry{
		"empty name":     {{Name: "/", Mode: 0o644}},
		"duplicate":      {{Name: "a", Mode: 0o644}, {Name: "/a", Mode: 0o644}},
		"link no target": {{Name: "l", Mode: fs.ModeSymlink}},
		"fifo":           {{Name: "p", Mode: fs.ModeNamedPipe | 0o644}},
		"file as parent": {{Name: "a", Mode: 0o644}, {Name: "a/b", Mode: 0o644}},
		"long name":      {{Name: strings.Repeat("x", MaxName+1), Mode: 0o644}},
	} {
		if err := WriteCPIO(io.Discard, entries); !errors.Is(err, ErrEntry) {
			t.Errorf("%s: WriteCPIO = %v, want ErrEntry", name, err)
		}
	}
}

func TestSegment(t *testing.T) {
	arch := netN(t)
	m, err := NewManifest(t.Context(), arch)
	if err != nil {
		t.Fatal(err)
	}
	want := Manifest{Schema: ManifestSchema, Release: "6.12.117-net-n", Arch: "x86", Machine: "x86_64",
		Archive: ArchiveName, ArchiveSize: int64(len(arch)), ArchiveSHA256: sha256Hex(arch)}
	if diff := cmp.Diff(want, *m); diff != "" {
		t.Errorf("NewManifest (-want +got):\n%s", diff)
	}
	for _, c := range []Compression{None, XZ, Gzip} {
		t.Run(string(c), func(t *testing.T) {
			var a, b bytes.Buffer
			if err := WriteSegment(&a, arch, m, &Options{Compression: c}); err != nil {
				t.Fatal(err)
			}
			if err := WriteSegment(&b, arch, m, &Options{Compression: c}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Error("two segments of the same archive differ")
			}
			// Decode it as the kernel would, here through the repo's cpio
			// reader (carrier -> internal/kimage), appended to an initrd.
			initrd := append(gzipped(t, cpioOf(t, Entry{Name: "init", Mode: 0o755, Data: []byte("x")})), a.Bytes()...)
			if c == None {
				initrd = append(cpioOf(t, Entry{Name: "init", Mode: 0o755, Data: []byte("x")}), a.Bytes()...)
			}
			got, info, err := carrier.Archive(t.Context(), initrd, nil)
			if err != nil {
				t.Fatalf("carrier.Archive(initrd + segment): %v", err)
			}
			if !bytes.Equal(got, arch) {
				t.Errorf("archive read back from the segment: %d bytes, sha256 %s; want the input's %s", len(got), sha256Hex(got), m.ArchiveSHA256)
			}
			t.Logf("%s segment: %d bytes; found as %s", c, a.Len(), info.Chain())
			if c == XZ {
				r, err := xz.NewReader(bytes.NewReader(a.Bytes()))
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					t.Fatal(err)
				}
				// Stream flags byte 7: check type 0x01 = CRC32.
				if a.Bytes()[7] != 0x01 {
					t.Errorf("xz check type %#x, want 0x01 (CRC32: the kernel refuses CRC64)", a.Bytes()[7])
				}
			}
		})
	}
}

func cpioOf(t *testing.T, e ...Entry) []byte {
	var b bytes.Buffer
	if err := WriteCPIO(&b, e); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gzipped(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestXZToolReadsSegment(t *testing.T) {
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("skipping: xz not found (install Debian package xz-utils)")
	}
	arch := netN(t)
	m, err := NewManifest(t.Context(), arch)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "seg.cpio.xz")
	var b bytes.Buffer
	if err := WriteSegment(&b, arch, m, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xz", "--robot", "--list", p).CombinedOutput()
	if err != nil {
		t.Fatalf("xz --list: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "\tCRC32\t") {
		t.Errorf("xz --robot --list: no CRC32 check:\n%s", out)
	}
}

func TestParseManifest(t *testing.T) {
	good := Manifest{Schema: ManifestSchema, Release: "6.12.117", Arch: "x86", Archive: ArchiveName, ArchiveSize: 3, ArchiveSHA256: sha256Hex([]byte("abc"))}
	m, err := ParseManifest(good.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(good, *m); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if err := m.Check([]byte("abc")); err != nil {
		t.Errorf("Check(abc) = %v", err)
	}
	if err := m.Check([]byte("abd")); !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("Check(abd) = %v, want a sha256 ErrManifest", err)
	}
	bad := map[string]func(*Manifest){
		"schema":  func(m *Manifest) { m.Schema = "x" },
		"release": func(m *Manifest) { m.Release = "" },
		"path":    func(m *Manifest) { m.Archive = "../x" },
		"size":    func(m *Manifest) { m.ArchiveSize = 0 },
		"sha":     func(m *Manifest) { m.ArchiveSHA256 = "ABC" },
	}
	for name, f := range bad {
		m := good
		f(&m)
		if _, err := ParseManifest(m.JSON()); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: ParseManifest = %v, want ErrManifest", name, err)
		}
	}
	if _, err := ParseManifest(append(good.JSON(), "{}"...)); !errors.Is(err, ErrManifest) {
		t.Errorf("trailing data: ParseManifest = %v, want ErrManifest", err)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add((&Manifest{Schema: ManifestSchema, Release: "6.12.117", Archive: ArchiveName, ArchiveSize: 1, ArchiveSHA256: sha256Hex(nil)}).JSON())
	f.Add([]byte(`{"schema":"kheaders.initramfs/v1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		again, err := ParseManifest(m.JSON())
		if err != nil {
			t.Fatalf("a parsed manifest does not parse again: %v", err)
		}
		if *again != *m {
			t.Fatalf("round trip changed the manifest: %+v -> %+v", m, again)
		}
	})
}

// TestBuildCanceled: a context cancelled while the segment is compressed
// (a SIGTERM to kheaders initramfs) stops Build at the compressor's next
// output with the context's error, instead of finishing the segment
// (found by review: the compression never looked at the context, and the
// command committed its output and exited 0 after the signal).
func TestBuildCanceled(t *testing.T) {
	arch := netN(t)
	for _, c := range []Compression{XZ, Gzip, None} {
		ctx, cancel := context.WithCancel(t.Context())
		w := &hosttest.CancelOnWrite{Cancel: cancel}
		m, err := Build(ctx, w, arch, &Options{Compression: c})
		cancel()
		if !errors.Is(err, context.Canceled) || m != nil || w.N != 1 {
			t.Errorf("%s: Build cancelled after the first output = %v, %v after %d writes; want context.Canceled after 1", c, m, err, w.N)
		}
	}
}
