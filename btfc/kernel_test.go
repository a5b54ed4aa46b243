package btfc

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const hostBTF = "/sys/kernel/btf/vmlinux"

// debianVmlinux is where scripts/fetch-debian-btf.sh puts the vmlinux of
// Debian's linux-image-6.1.0-*-cloud-amd64-unsigned (KHEADERS_DEBIAN_DIR
// overrides the directory).
func debianDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KHEADERS_DEBIAN_DIR")
	if dir == "" {
		dir = "/var/tmp/debian-cloud"
	}
	if _, err := os.Stat(filepath.Join(dir, "vmlinux")); err != nil {
		t.Skipf("no Debian 6.1 cloud vmlinux in %s: run scripts/fetch-debian-btf.sh (or set KHEADERS_DEBIAN_DIR)", dir)
	}
	return dir
}

func readHostBTF(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(hostBTF)
	if err != nil {
		t.Skipf("%s not readable (kernel without CONFIG_DEBUG_INFO_BTF?): %v", hostBTF, err)
	}
	return data
}

// checkKernel runs the acceptance checks on one kernel's BTF: compat output
// equals bpftool's, the default output differs from it only by enum mode()
// attributes, and the layout oracle fails only on records holding a va_list.
func checkKernel(t *testing.T, path string, data []byte) {
	b, _, err := Load(data, nil)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	sameAsCilium(t, path, b, ciliumGraph(t, data, nil))
	compat := generateT(t, b, &Options{Compat: CompatBpftool71})
	def := generateT(t, b, &Options{})

	if _, err := exec.LookPath("bpftool"); err == nil {
		want := bpftoolDump(t, path)
		if !bytes.Equal(compat, want) {
			t.Errorf("--compat bpftool-7.1 differs from bpftool btf dump file %s format c:\n%s", path, lineDiff(want, compat))
		}
	} else {
		t.Logf("bpftool not installed (Debian package bpftool): compat output not compared")
	}

	stripped := bytes.ReplaceAll(def, []byte(" __attribute__((mode(byte)))"), nil)
	stripped = bytes.ReplaceAll(stripped, []byte(" __attribute__((mode(word)))"), nil)
	if !bytes.Equal(stripped, compat) {
		t.Errorf("default output differs from compat output by more than enum mode() attributes:\n%s", lineDiff(compat, stripped))
	}

	asserts, ast, err := b.LayoutAsserts(&Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d records, %d sizeof + %d offsetof assertions", path, ast.Records, ast.Sizeof, ast.Offsetof)
	recs, n := layoutFailures(t, def, asserts)
	allowed := vaListRecords(t, b)
	var bad []string
	for r := range recs {
		if !allowed[r] {
			bad = append(bad, r)
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("default output: %d layout failures in records without va_list: %v", n, bad)
	}
	t.Logf("default output: %d layout failures, all in va_list records: %v", n, keys(recs))

	recs71, n71 := layoutFailures(t, compat, asserts)
	t.Logf("bpftool-7.1 output: %d layout failures in %d records", n71, len(recs71))
}

func keys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// vaListRecords names the structs and unions that embed a va_list, whose
// BPF-target definition differs from the kernel's (documented exception).
func vaListRecords(t *testing.T, b *BTF) map[string]bool {
	g := b.g
	memo := map[int32]bool{}
	var holds func(id int32, depth int) bool
	holds = func(id int32, depth int) bool {
		if depth > 64 || !g.valid(id) {
			return false
		}
		if v, ok := memo[id]; ok {
			return v
		}
		n := &g.nodes[id]
		v := false
		switch n.kind {
		case kTypedef:
			v = strings.Contains(g.name(n), "va_list") || holds(n.ref, depth+1)
		case kConst, kVolatile, kRestrict, kTypeTag, kArray:
			v = holds(n.ref, depth+1)
		case kStruct, kUnion:
			for _, m := range g.mems(n) {
				if holds(m.typ, depth+1) {
					v = true
					break
				}
			}
		}
		memo[id] = v
		return v
	}
	out := map[string]bool{}
	for i := range g.nodes {
		n := &g.nodes[i]
		if (n.kind == kStruct || n.kind == kUnion) && n.name != 0 && holds(int32(i), 0) {
			tag := "struct "
			if n.kind == kUnion {
				tag = "union "
			}
			out[tag+g.name(n)] = true
		}
	}
	return out
}

func TestHostKernel(t *testing.T) {
	data := readHostBTF(t)
	checkKernel(t, hostBTF, data)
}

func TestDebian61Kernel(t *testing.T) {
	dir := debianDir(t)
	// The ELF (stripped vmlinux from the bzImage) and its raw .BTF section.
	checkKernel(t, filepath.Join(dir, "vmlinux"), mustRead(t, filepath.Join(dir, "vmlinux")))
}

// TestDebian61Modules compares split BTF of a few modules with bpftool -B.
func TestDebian61Modules(t *testing.T) {
	dir := debianDir(t)
	needTool(t, "bpftool", "bpftool")
	baseData := mustRead(t, filepath.Join(dir, "vmlinux"))
	base, _, err := Load(baseData, nil)
	if err != nil {
		t.Fatal(err)
	}
	baseRef := ciliumGraph(t, baseData, nil)
	raw, err := SectionBTF(baseData)
	if err != nil {
		t.Fatal(err)
	}
	rawPath := filepath.Join(t.TempDir(), "vmlinux.btf")
	if err := os.WriteFile(rawPath, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	mods, _ := filepath.Glob(filepath.Join(dir, "root/lib/modules/*/kernel/net/netfilter/nf_tables.ko"))
	more, _ := filepath.Glob(filepath.Join(dir, "root/lib/modules/*/kernel/fs/*/*.ko"))
	if len(more) > 3 {
		more = more[:3]
	}
	mods = append(mods, more...)
	if len(mods) == 0 {
		t.Skip("no modules under " + dir + "/root/lib/modules")
	}
	for _, m := range mods {
		t.Run(filepath.Base(m), func(t *testing.T) {
			mb, _, err := Load(mustRead(t, m), base)
			if err != nil {
				t.Fatalf("Load(%s) on the vmlinux base: %v", m, err)
			}
			sameAsCilium(t, m, mb, ciliumGraph(t, mustRead(t, m), baseRef))
			got := generateT(t, mb, &Options{Compat: CompatBpftool71})
			out, err := exec.Command("bpftool", "-B", rawPath, "btf", "dump", "file", m, "format", "c").Output()
			if err != nil {
				t.Fatalf("bpftool -B: %v", err)
			}
			if !bytes.Equal(got, out) {
				t.Errorf("split BTF of %s differs from bpftool:\n%s", m, lineDiff(out, got))
			}
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const coreProg = `#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("kprobe/do_unlinkat")
int BPF_KPROBE(do_unlinkat, int dfd, struct filename *name)
{
	pid_t pid = bpf_get_current_pid_tgid() >> 32;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	pid_t ppid = BPF_CORE_READ(task, real_parent, tgid);
	const char *fname = BPF_CORE_READ(name, name);
	unsigned long inode_count = BPF_CORE_READ(task, mm, map_count);
	bpf_printk("unlink pid=%d ppid=%d %s %lu", pid, ppid, fname, inode_count);
	return 0;
}
`

// TestCORECompiles builds a CO-RE kprobe program against the host's
// default header.
func TestCORECompiles(t *testing.T) {
	data := readHostBTF(t)
	clang := needTool(t, "clang", "clang")
	if _, err := os.Stat("/usr/include/bpf/bpf_core_read.h"); err != nil {
		t.Skip("/usr/include/bpf/bpf_core_read.h missing: install the Debian package libbpf-dev")
	}
	b, _, err := Load(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, opts := range []*Options{{}, {Sort: true, Kfuncs: true}, {Types: []string{"task_struct", "mm_struct", "filename", "pt_regs", "pid_t", "__be16", "__be32", "__wsum", "__u64", "__s64", "__u32", "__u16", "__u8"}}} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "vmlinux.h"), generateT(t, b, opts), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "prog.bpf.c"), []byte(coreProg), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(clang, "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86", "-I.", "-c", "prog.bpf.c", "-o", "prog.bpf.o")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("CO-RE program does not compile against the header (%+v): %v\n%s", opts, err, out)
		}
	}
}
