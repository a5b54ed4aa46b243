package archive

import (
	"bytes"
	"io/fs"
	"testing"
	"testing/fstest"
)

func TestLoadFS(t *testing.T) {
	fsys, err := Load(t.Context(), bytes.NewReader(xzBytes(t, mkTar(t, good...))), nil)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if err := fstest.TestFS(fsys, "include/linux/a.h", "include/generated/utsrelease.h", "arch/x86/include/asm/empty.h", "ro/f.h"); err != nil {
		t.Error(err)
	}
	for name, want := range map[string]string{
		"include/linux/a.h":  "int a;\n",
		"include/linux/b.h":  "int a;\n",
		"include/linux/up.h": "#define UTS_RELEASE \"6.1.2-test\"\n",
	} {
		b, err := fs.ReadFile(fsys, name)
		if err != nil || string(b) != want {
			t.Errorf("ReadFile(%q) = %q, %v; want %q", name, b, err, want)
		}
	}
	if tgt, err := fsys.ReadLink("include/linux/b.h"); err != nil || tgt != "a.h" {
		t.Errorf("ReadLink(b.h) = %q, %v", tgt, err)
	}
	if fi, err := fsys.Lstat("include/linux/b.h"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(b.h) = %v, %v; want a symlink", fi, err)
	}
	if _, err := fsys.Open("include/../x"); err == nil {
		t.Error("Open(include/../x) succeeded")
	}
	if fsys.Manifest().Release != "6.1.2-test" {
		t.Errorf("release %q", fsys.Manifest().Release)
	}
}
