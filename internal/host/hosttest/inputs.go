package hosttest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Names of the shared fixture sets under ../shared/fixtures.
const (
	// FixtureSet is the 6.12.117 x86_64 kernels (ikheaders-y, ikheaders-m,
	// ...) that Fixtures returns.
	FixtureSet = "linux-6.12.117-x86_64"
	// BPFFixtureSet is the PROFILE=bpf kernels (bpf-y, bpf-m, ...).
	BPFFixtureSet = "linux-6.12.117-x86_64-bpf"
)

// repoRoot returns the first directory above the working directory (a
// test runs in its package's directory) that holds go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test directory")
		}
		dir = parent
	}
}

// RepoRoot returns the repository root: the first directory above the
// test's working directory that holds go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// FixtureDir returns the directory of one fixture set of ../shared/fixtures
// (FixtureSet, BPFFixtureSet), or skips the test when it is absent.
func FixtureDir(t testing.TB, set string) string {
	t.Helper()
	fx := filepath.Join(RepoRoot(t), "..", "shared", "fixtures", set)
	if _, err := os.Stat(fx); err != nil {
		t.Skipf("shared fixtures absent (%s): skipping the test on real kernel artifacts; they live in ../shared beside the repository", fx)
	}
	return fx
}

// Fixtures returns the directory of the shared 6.12 fixtures
// (../shared/fixtures/linux-6.12.117-x86_64 from the repository root), or
// skips the test when it is absent.
func Fixtures(t testing.TB) string {
	t.Helper()
	return FixtureDir(t, FixtureSet)
}

// Fixture returns the path of a file of the 6.12 fixtures
// ("ikheaders-y/vmlinux"), skipping the test when the fixtures are absent;
// a file missing from fixtures that are present fails the test.
func Fixture(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(Fixtures(t), filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("shared fixtures incomplete: %v", err)
	}
	return p
}

// ReadFixture reads a file of the 6.12 fixtures (skipping when they are
// absent, failing when the file is missing from them).
func ReadFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Fixtures(t), filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FixtureSeed reads a file of the 6.12 fixtures for seeding a fuzz target
// before it has a *testing.T; nil when the fixtures are absent (the target
// then runs on its other seeds).
func FixtureSeed(rel string) []byte {
	root, err := repoRoot()
	if err != nil {
		return nil
	}
	b, _ := os.ReadFile(filepath.Join(root, "..", "shared", "fixtures", FixtureSet, filepath.FromSlash(rel)))
	return b
}

// Kernels returns the repository's testdata/kernels (real kernel images and
// configs, see its README), or skips the test when it is absent.
func Kernels(t testing.TB) string {
	t.Helper()
	d := filepath.Join(RepoRoot(t), "testdata", "kernels")
	if _, err := os.Stat(filepath.Join(d, "kheaders.tsv")); err != nil {
		t.Skipf("testdata/kernels absent (%v): skipping the test on the repository's real kernels", err)
	}
	return d
}

// RealInput is an input too large for the repository that a setup script
// makes on the test machine (`make test` runs scripts/setup-real-inputs.sh),
// under /var/tmp unless its environment variable points elsewhere.
type RealInput struct {
	Env     string // variable that overrides Default
	Default string
	Script  string // what makes it
}

// The real inputs of the tests.
var (
	// KernelTrees: a prepared linux-source-6.12 and its build trees
	// (build-x86_64-y-xz, build-arm64-y-xz).
	KernelTrees = RealInput{"KHEADERS_KTREE", "/var/tmp/kheaders-ktree", "scripts/setup-real-inputs.sh"}
	// Artifacts: the builds of scripts/build-test-artifacts.sh (x86_64-y-xz,
	// arm64-y, ...), each with its kheaders_data.tar.xz.
	Artifacts = RealInput{"KHEADERS_ARTIFACTS", "/var/tmp/kheaders-artifacts", "scripts/build-test-artifacts.sh"}
	// DebianHeaders: Debian's split linux-headers packages unpacked as a
	// host root (root/, release).
	DebianHeaders = RealInput{"KHEADERS_DEBIAN_HEADERS", "/var/tmp/kheaders-debian-headers", "scripts/fetch-debian-headers.sh"}
	// DebianCloud: Debian 6.1's cloud kernel: vmlinux with BTF, root/boot,
	// modules.
	DebianCloud = RealInput{"KHEADERS_DEBIAN_DIR", "/var/tmp/debian-cloud", "scripts/fetch-debian-btf.sh"}
	// BPFTool75: a bpftool 7.5 binary.
	BPFTool75 = RealInput{"KHEADERS_BPFTOOL75", "/var/tmp/kheaders-bpftool75/bpftool", "scripts/build-bpftool75.sh"}
)

// Path returns where the input is ($Env, else Default), without checking.
func (r RealInput) Path() string {
	if p := os.Getenv(r.Env); p != "" {
		return p
	}
	return r.Default
}

// Need returns the input's location, skipping the test (naming the script
// and the variable) unless the path need inside it exists ("" checks the
// location itself).
func (r RealInput) Need(t testing.TB, need string) string {
	t.Helper()
	p := r.Path()
	if _, err := os.Stat(filepath.Join(p, filepath.FromSlash(need))); err != nil {
		what := p
		if need != "" {
			what = filepath.Join(p, need)
		}
		t.Skipf("real input absent: no %s (run %s, or set %s)", what, r.Script, r.Env)
	}
	return p
}

// XZ runs the xz program (Debian package xz-utils) with args on in and
// returns its output, e.g. XZ(t, tar, "-0", "-c") to make an input as
// xz(1) makes it; the test skips when xz is not installed.
func XZ(t testing.TB, in []byte, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("xz")
	if err != nil {
		t.Skip("xz not found (Debian package xz-utils)")
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz %v: %v", args, err)
	}
	return out
}
