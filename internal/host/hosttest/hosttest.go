// Package hosttest is the test helper of the module: it builds fake host
// roots for tests of kheaders' host probing (/proc/sys/kernel/{osrelease,
// arch}, /proc/config.gz, the vDSO note image, /sys/kernel/kheaders.tar.xz
// and /lib/modules/R) from real fixtures, and it is the one place that
// finds the tests' real inputs (inputs.go): the shared fixtures in
// ../shared, the repository's testdata/kernels, and the trees and
// downloads the setup scripts leave under /var/tmp. Each lookup skips the
// test, naming what is missing and how to get it, when the input is absent.
// It also holds the few test tools several packages share: XZ runs xz(1),
// CancelOnWrite interrupts an encoder at its first output.
package hosttest

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host"
)

// Root describes a fake root.
type Root struct {
	Release string // /proc/sys/kernel/osrelease
	Machine string // /proc/sys/kernel/arch
	BootID  string
	// Config is the .config text stored gzipped at /proc/config.gz ("" none).
	Config []byte
	// VersionCode, when non-zero, is written as the vDSO note image.
	VersionCode uint32
	// Files maps host paths to contents (e.g. /sys/kernel/kheaders.tar.xz).
	Files map[string][]byte
	// Links maps host paths to symlink targets.
	Links map[string]string
}

// Make writes r under a new temporary directory and returns it.
func Make(t testing.TB, r Root) string {
	t.Helper()
	dir := t.TempDir()
	MakeAt(t, dir, r)
	return dir
}

// MakeAt writes r under dir.
func MakeAt(t testing.TB, dir string, r Root) {
	t.Helper()
	put := func(p string, b []byte) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if r.Release != "" {
		put("proc/sys/kernel/osrelease", []byte(r.Release+"\n"))
	}
	if r.Machine != "" {
		put("proc/sys/kernel/arch", []byte(r.Machine+"\n"))
	}
	if r.BootID == "" {
		r.BootID = "00000000-0000-4000-8000-000000000001"
	}
	put("proc/sys/kernel/random/boot_id", []byte(r.BootID+"\n"))
	if r.Config != nil {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(r.Config)
		zw.Close()
		put("proc/config.gz", b.Bytes())
	}
	if r.VersionCode != 0 {
		put(host.VDSOFile, host.NoteImage(r.VersionCode))
	}
	for p, b := range r.Files {
		put(strings.TrimPrefix(p, "/"), b)
	}
	for p, target := range r.Links {
		full := filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(p, "/")))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, full); err != nil {
			t.Fatal(err)
		}
	}
}

// Kernel612 is the fake root of the running 6.12.117 =y fixture kernel:
// release, machine, config, version note and /sys/kernel/kheaders.tar.xz.
func Kernel612(t testing.TB) Root {
	return Root{
		Release:     "6.12.117",
		Machine:     "x86_64",
		Config:      ReadFixture(t, "ikheaders-y/config"),
		VersionCode: host.VersionCodeOf(6, 12, 117),
		Files: map[string][]byte{
			"/sys/kernel/kheaders.tar.xz": ReadFixture(t, "ikheaders-y/kheaders_data.tar.xz"),
		},
	}
}
