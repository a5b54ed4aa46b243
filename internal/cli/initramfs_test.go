package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInitramfsCommand(t *testing.T) {
	src := filepath.Join("..", "..", "testdata", "kernels", "kheaders-x86_64-net-n.tar.xz")
	want := fileSum(t, src)
	dir := t.TempDir()
	seg := filepath.Join(dir, "seg.cpio.gz")
	out, errs, code := runKH(t, nil, "initramfs", src, "-o", seg, "--compress", "gzip", "--json")
	if code != 0 {
		t.Fatalf("initramfs: exit %d\n%s", code, errs)
	}
	var r initramfsResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if r.Manifest == nil || r.Manifest.Release != "6.12.117-net-n" || r.Manifest.ArchiveSHA256 != want || r.Compression != "gzip" {
		t.Errorf("result %+v, manifest %+v; want release 6.12.117-net-n, sha256 %s, gzip", r, r.Manifest, want)
	}
	// The segment is itself a carrier: extract reads the archive back.
	back := filepath.Join(dir, "back.tar.xz")
	if _, errs, code := runKH(t, nil, "extract", seg, "-o", back); code != 0 {
		t.Fatalf("extract of the segment: exit %d\n%s", code, errs)
	}
	if got := fileSum(t, back); got != want {
		t.Errorf("archive from the segment sha256 %s, want %s", got, want)
	}

	// Usage and not-found errors leave nothing behind.
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"initramfs", src}, 2, "-o FILE"},
		{[]string{"initramfs", src, "-o", filepath.Join(dir, "x"), "--compress", "bzip2"}, 2, "bzip2"},
		{[]string{"initramfs", filepath.Join(dir, "missing"), "-o", filepath.Join(dir, "x")}, 3, "missing"},
		{[]string{"initramfs", src, "-o", dir}, 1, "directory"},
	} {
		_, errs, code := runKH(t, nil, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("kheaders %v: exit %d, stderr %q; want exit %d naming %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("a failed run left its output file")
	}
}
