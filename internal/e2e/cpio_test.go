package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriteInitramfsWithCpioTool(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("skipping: cpio not found (install Debian package cpio)")
	}
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, []byte("from a host file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	entries := []Entry{
		{Name: "/init", Mode: 0o755, Data: []byte("#!/bin/sh\necho hi\n")},
		{Name: "bin/sh", Mode: os.ModeSymlink | 0o777, Link: "busybox"},
		{Name: "lib/modules/6.12.117/kernel/kernel/kheaders.ko", Mode: 0o644, Src: src},
		{Name: "empty", Mode: 0o600},
		{Name: "odd", Mode: 0o644, Data: []byte("abc")}, // size not a multiple of 4
		{Name: "dev/console", Mode: os.ModeDevice | os.ModeCharDevice | 0o600, Maj: 5, Min: 1},
	}
	var buf bytes.Buffer
	if err := WriteInitramfs(&buf, entries); err != nil {
		t.Fatalf("WriteInitramfs: %v", err)
	}
	if buf.Len()%512 != 0 {
		t.Errorf("archive size %d is not a multiple of 512", buf.Len())
	}

	// The listing shows every entry plus the implied parent directories.
	list := exec.Command("cpio", "-it", "--quiet")
	list.Stdin = bytes.NewReader(buf.Bytes())
	out, err := list.Output()
	if err != nil {
		t.Fatalf("cpio -it: %v", err)
	}
	got := strings.Fields(string(out))
	want := []string{"bin", "bin/sh", "dev", "dev/console", "empty", "init", "lib", "lib/modules",
		"lib/modules/6.12.117", "lib/modules/6.12.117/kernel", "lib/modules/6.12.117/kernel/kernel",
		"lib/modules/6.12.117/kernel/kernel/kheaders.ko", "odd"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cpio -it listing (-want +got):\n%s", diff)
	}

	// Extract (as GNU cpio would; devices are skipped when not root) and compare.
	dir := t.TempDir()
	ex := exec.Command("cpio", "-id", "--quiet", "--no-absolute-filenames", "--nonmatching", "dev/console")
	ex.Dir = dir
	ex.Stdin = bytes.NewReader(buf.Bytes())
	if b, err := ex.CombinedOutput(); err != nil {
		t.Fatalf("cpio -id: %v\n%s", err, b)
	}
	for _, f := range []struct {
		name, data string
		perm       os.FileMode
	}{
		{"init", "#!/bin/sh\necho hi\n", 0o755},
		{"lib/modules/6.12.117/kernel/kernel/kheaders.ko", "from a host file\n", 0o644},
		{"empty", "", 0o600},
		{"odd", "abc", 0o644},
	} {
		p := filepath.Join(dir, f.name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("extracted %s: %v", f.name, err)
			continue
		}
		if string(b) != f.data {
			t.Errorf("extracted %s = %q, want %q", f.name, b, f.data)
		}
		if fi, _ := os.Stat(p); fi.Mode().Perm() != f.perm {
			t.Errorf("extracted %s mode %v, want %v", f.name, fi.Mode().Perm(), f.perm)
		}
	}
	if l, err := os.Readlink(filepath.Join(dir, "bin/sh")); err != nil || l != "busybox" {
		t.Errorf("bin/sh link = %q, %v; want busybox", l, err)
	}
}

func TestWriteInitramfsDeterministic(t *testing.T) {
	a := []Entry{{Name: "b", Mode: 0o644, Data: []byte("1")}, {Name: "a/x", Mode: 0o644, Data: []byte("2")}}
	b := []Entry{a[1], a[0]}
	var ba, bb bytes.Buffer
	if err := WriteInitramfs(&ba, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteInitramfs(&bb, b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ba.Bytes(), bb.Bytes()) {
		t.Error("WriteInitramfs output depends on entry order")
	}
	if !bytes.HasPrefix(ba.Bytes(), []byte("070701")) {
		t.Errorf("archive starts %q, want newc magic 070701", ba.Bytes()[:6])
	}
}

func TestWriteInitramfsErrors(t *testing.T) {
	tests := []struct {
		name    string
		entries []Entry
	}{
		{"empty name", []Entry{{Name: "/", Mode: 0o644}}},
		{"duplicate", []Entry{{Name: "a", Mode: 0o644}, {Name: "/a", Mode: 0o644}}},
		{"symlink without target", []Entry{{Name: "l", Mode: os.ModeSymlink}}},
		{"missing source", []Entry{{Name: "f", Mode: 0o644, Src: "/nonexistent/kheaders-e2e"}}},
		{"named pipe", []Entry{{Name: "p", Mode: os.ModeNamedPipe | 0o644}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WriteInitramfs(&bytes.Buffer{}, tt.entries)
			if !errors.Is(err, errCPIO) {
				t.Errorf("WriteInitramfs(%v) = %v, want an errCPIO error", tt.entries, err)
			}
		})
	}
}
