package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// The consumer cases: real bpftrace, bcc, clang + bpftool and a Go loader on
// cilium/ebpf compile and run kprobe programs, in booted kernels that have
// BPF and kprobes but no BTF, on the headers kheaders hands them. The guest
// gets the host's Debian tools by mounting the host's / read-only over 9p
// (HostRootArgs), an overlay with a tmpfs upper layer on it, fresh tmpfs on
// /tmp, /var/cache, /root and /run, then chroot (../shared/reference/
// consumers-e2e.md). Each case is one guest step (its time is the guest's
// END marker); the host parses what each printed.

// consumerMachine is MachineX86 with the host's / shared over 9p and the
// memory clang and bcc need.
var consumerMachine = func() Machine {
	m := MachineX86
	m.Args = []string{"-accel", "tcg", "-cpu", "max", "-smp", "1"}
	m.Extra = append([]string{"-m", "3G"}, HostRootArgs...)
	return m
}()

// guestSetup mounts the host's / as the guest's root filesystem (read-only
// lower layer, tmpfs upper) at /r and copies kheaders, the Go loader and
// the case files into it. The host's /lib/modules has nothing for the
// guest's release: no headers on disk.
const guestSetup = `mkdir -p /host /ov /r && mount -t 9p -o trans=virtio,version=9p2000.L,ro hostroot /host && mount -t tmpfs tmpfs /ov && mkdir -p /ov/u /ov/w && mount -t overlay overlay -o lowerdir=/host,upperdir=/ov/u,workdir=/ov/w /r && for d in tmp var/cache root run; do mount -t tmpfs tmpfs /r/$d || exit; done && mount -t proc proc /r/proc && mount -t sysfs sysfs /r/sys && mount -t devtmpfs devtmpfs /r/dev && mount -t debugfs debugfs /r/sys/kernel/debug && mount -t tracefs tracefs /r/sys/kernel/tracing && mount -t bpf bpf /r/sys/fs/bpf && mkdir -p /r/cases /r/usr/local/bin && cp /cases/* /r/cases/ && cp /bin/kheaders /bin/kprobe-pid /r/usr/local/bin/ && cp /r/bin/sleep /r/usr/local/bin/khchild && ls /r/lib/modules; uname -r; cat /proc/modules; chroot /r /usr/bin/bpftrace --version`

// inChroot runs a case script inside the host root.
func inChroot(script string, args ...string) string {
	return "chroot /r /bin/sh /cases/" + script + " " + strings.Join(args, " ")
}

// Case files copied to /cases in the guest.
var consumerCases = map[string]string{
	"lib.sh": `export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
O=/run/case
mkdir -p $O
# via MODE: the command prefix of a case. "via" runs the tool through
# kheaders exec and records that it was started (/run/case/ran); "alone"
# runs it with nothing from kheaders.
via() {
	rm -f $O/ran
	case $1 in
	via) VIA="kheaders exec -- sh -c 'touch /run/case/ran; exec \"\$@\"' sh" ;;
	*) VIA="" ;;
	esac
}
ran() { if [ -e $O/ran ]; then echo "tool_ran yes"; else echo "tool_ran no"; fi; }
`,
	// bt.sh MODE PROG: bpftrace PROG.bt in the background; once attached,
	// the trigger (a child with a known pid, a file with a known inode).
	"bt.sh": `. /cases/lib.sh
via $1; prog=$2; out=$O/bt-$prog-$1.out
eval "$VIA bpftrace /cases/$prog.bt" >$out 2>&1 &
bp=$!
i=0
while kill -0 $bp 2>/dev/null && ! grep -q '^Attaching' $out; do sleep 0.2; i=$((i+1)); [ $i -gt 400 ] && break; done
if grep -q '^Attaching' $out; then
	sleep 0.5
	case $prog in
	pid) khchild 0.3 & c=$!; wait $c; echo "child $c" ;;
	ino) echo x >$O/khfile; echo "stat $(stat -c %i $O/khfile)" ;;
	esac
	i=0
	while kill -0 $bp 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done
	kill $bp 2>/dev/null
fi
wait $bp
echo "tool_rc $?"
ran
cat $out
`,
	"pid.bt": `#include <linux/sched.h>
kprobe:do_nanosleep /comm == "khchild"/
{
	printf("task_pid %d helper_pid %d\n", ((struct task_struct *)curtask)->pid, pid);
	exit();
}
`,
	"ino.bt": `#include <linux/fs.h>
kprobe:vfs_getattr /str(((struct path *)arg0)->dentry->d_name.name) == "khfile"/
{
	printf("i_ino %lu\n", ((struct path *)arg0)->dentry->d_inode->i_ino);
	exit();
}
`,
	"bcc.sh": `. /cases/lib.sh
via $1
eval "$VIA python3 /cases/bccpid.py" 2>&1
echo "tool_rc $?"
ran
`,
	"bccpid.py": `import subprocess
from bcc import BPF
b = BPF(text=r"""
#include <linux/sched.h>
BPF_HASH(seen, u32, u32);
int kprobe__do_nanosleep(struct pt_regs *ctx)
{
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	u32 key = bpf_get_current_pid_tgid();
	u32 pid = t->pid;
	seen.update(&key, &pid);
	return 0;
}
""")
p = subprocess.Popen(["khchild", "0.3"])
p.wait()
v = b["seen"].get(b["seen"].Key(p.pid))
print("child %d" % p.pid)
print("task_pid %s" % (v.value if v is not None else "none"))
`,
	"cc.sh": `. /cases/lib.sh
kheaders cc -v /cases/kprobe.c -o $O/prog.o 2>&1
echo "cc_rc $?"
if [ -e $O/prog.o ]; then echo "object $(wc -c <$O/prog.o)"; fi
`,
	"bpftool.sh": `. /cases/lib.sh
bpftool prog load $O/prog.o /sys/fs/bpf/khprog 2>&1 && bpftool prog show pinned /sys/fs/bpf/khprog 2>&1
echo "bpftool_rc $?"
rm -f /sys/fs/bpf/khprog
`,
	"loader.sh": `. /cases/lib.sh
kprobe-pid -child khchild 2>&1
echo "loader_rc $?"
`,
	"checks.sh": `. /cases/lib.sh
if ls -d /tmp/kheaders-* >/dev/null 2>&1; then echo "tmp_unpacked yes"; else echo "tmp_unpacked no"; fi
echo "tmp_kconfig $(find /tmp -name kconfig.h | wc -l)"
echo "modules $(cut -d' ' -f1 /proc/modules | tr '\n' ,)."
`,
	"install-ko.sh": `. /cases/lib.sh
r=$(uname -r)
mkdir -p /lib/modules/$r/kernel/kernel && cp /kheaders.ko /lib/modules/$r/kernel/kernel/ && depmod $r && ls -R /lib/modules/$r | head -20
echo "modules $(cut -d' ' -f1 /proc/modules | tr '\n' ,)."
`,
}

// kv parses "key value" words of every line (later lines do not replace
// earlier keys): "task_pid 5 helper_pid 5" gives both.
func kv(s string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i += 2 {
			if _, ok := m[f[i]]; !ok {
				m[f[i]] = f[i+1]
			}
		}
	}
	return m
}

// consumerCase is one expected outcome.
type consumerCase struct {
	step  string
	cmd   string
	check func(s *Step, o map[string]string) string // "" when as expected, else what is wrong
	want  string                                    // the expectation, for the summary
}

// wantPid: the pid read from task_struct through the headers is the known
// child's.
func wantPid(s *Step, o map[string]string) string {
	if o["child"] == "" || o["task_pid"] != o["child"] || o["tool_rc"] != "0" && o["tool_rc"] != "" {
		return fmt.Sprintf("child %q task_pid %q rc %q", o["child"], o["task_pid"], o["tool_rc"])
	}
	if h, ok := o["helper_pid"]; ok && h != o["child"] {
		return "helper_pid " + h
	}
	if r, ok := o["tool_ran"]; ok && r != "yes" {
		return "tool not run"
	}
	return ""
}

func wantIno(s *Step, o map[string]string) string {
	if o["stat"] == "" || o["i_ino"] != o["stat"] || o["tool_rc"] != "0" || o["tool_ran"] != "yes" {
		return fmt.Sprintf("i_ino %q stat %q rc %q ran %q", o["i_ino"], o["stat"], o["tool_rc"], o["tool_ran"])
	}
	return ""
}

func wantCC(s *Step, o map[string]string) string {
	if o["cc_rc"] != "0" || o["object"] == "" || !strings.Contains(s.Stdout, "| ") || !strings.Contains(s.Stdout, "-march=bpf") {
		return fmt.Sprintf("cc_rc %q object %q (no clang | llc pipeline printed?)", o["cc_rc"], o["object"])
	}
	return ""
}

func wantBpftool(s *Step, o map[string]string) string {
	if o["bpftool_rc"] != "0" || !strings.Contains(s.Stdout, "kprobe") || !strings.Contains(s.Stdout, "kprobe_do_nanos") {
		return "bpftool_rc " + o["bpftool_rc"]
	}
	return ""
}

func wantLoader(s *Step, o map[string]string) string {
	if o["loader_rc"] != "0" || !strings.Contains(s.Stdout, "kprobe-pid: match") {
		return "loader_rc " + o["loader_rc"]
	}
	return ""
}

// wantRefused: kheaders refused with code and a report containing each of
// words, and the tool was not started.
func wantRefused(rcKey, code string, words ...string) func(*Step, map[string]string) string {
	return func(s *Step, o map[string]string) string {
		if o[rcKey] != code {
			return fmt.Sprintf("%s %q, want %s", rcKey, o[rcKey], code)
		}
		if r, ok := o["tool_ran"]; ok && r != "no" {
			return "the tool was run"
		}
		for _, w := range words {
			if !strings.Contains(s.Stdout, w) {
				return "report lacks " + w
			}
		}
		return ""
	}
}

// wantClean: nothing unpacked under /tmp, no module loaded.
func wantClean(s *Step, o map[string]string) string {
	if o["tmp_unpacked"] != "no" || o["tmp_kconfig"] != "0" || o["modules"] != "." {
		return fmt.Sprintf("tmp_unpacked %q tmp_kconfig %q modules %q", o["tmp_unpacked"], o["tmp_kconfig"], o["modules"])
	}
	return ""
}

// tyCases are the cases that must work wherever kheaders finds headers.
func toolCases(p string) []consumerCase {
	return []consumerCase{
		{p + "locate", "chroot /r /bin/sh -c '. /cases/lib.sh; kheaders locate --json'", func(s *Step, o map[string]string) string {
			if s.RC != 0 || !strings.Contains(s.Stdout, `"verified": true`) {
				return fmt.Sprintf("rc %d", s.RC)
			}
			return ""
		}, "verified headers"},
		{p + "bpftrace-pid", inChroot("bt.sh", "via", "pid"), wantPid, "task->pid == child pid"},
		{p + "bpftrace-ino", inChroot("bt.sh", "via", "ino"), wantIno, "inode->i_ino == stat -c %i"},
		{p + "bcc-pid", inChroot("bcc.sh", "via"), wantPid, "task->pid == child pid"},
		{p + "cc", inChroot("cc.sh"), wantCC, "BPF object"},
		{p + "bpftool", inChroot("bpftool.sh"), wantBpftool, "loaded"},
		{p + "go-loader", inChroot("loader.sh"), wantLoader, "task->pid == child pid"},
	}
}

func TestE2EConsumers(t *testing.T) {
	gate(t)
	dir := hosttest.FixtureDir(t, hosttest.BPFFixtureSet)
	for _, k := range []string{"bpf-y", "bpf-m", "bpf-stale"} {
		if !fileExists(filepath.Join(dir, k, "bzImage")) {
			t.Skipf("skipping: no %s/%s/bzImage (../shared fixtures; ../shared/tools/build-test-kernel.sh with PROFILE=bpf builds them)", dir, k)
		}
	}
	if ok, pkg := HaveQemu(consumerMachine); !ok {
		t.Skipf("skipping: %s not found (install Debian package %s)", consumerMachine.Qemu, pkg)
	}
	bb, why := staticBusybox("x86_64")
	if bb == "" {
		t.Skip("skipping: " + why)
	}
	for _, tool := range []string{"/usr/bin/bpftrace", "/usr/sbin/bpftool", "/usr/bin/clang", "/usr/bin/llc", "/usr/lib/python3/dist-packages/bcc/__init__.py", "/usr/include/bpf/bpf_helpers.h"} {
		if !fileExists(tool) {
			t.Skipf("skipping: the guest runs the host's %s, which is missing (scripts/install-deps.sh installs bpftrace, bpfcc-tools, python3-bpfcc, clang, llvm, bpftool, libbpf-dev)", tool)
		}
	}
	h := newHarness(t)
	defer h.summary()
	start := time.Now()
	kh := buildKheaders(t, "amd64", h.work)
	loader := filepath.Join(h.work, "kprobe-pid")
	cmd := exec.Command("go", "build", "-trimpath", "-o", loader, "./examples/kprobe-pid")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./examples/kprobe-pid: %v\n%s", err, b)
	}
	h.timings = append(h.timings, timing{"host", "go build kheaders + examples/kprobe-pid", time.Since(start), ""})
	prog, err := os.ReadFile(filepath.Join(repoRoot(t), "examples", "kprobe-pid", "bpf", "kprobe.c"))
	if err != nil {
		t.Fatal(err)
	}
	files := []Entry{{Name: "bin/kprobe-pid", Mode: 0o755, Src: loader}, {Name: "cases/kprobe.c", Mode: 0o644, Data: prog}}
	for n, s := range consumerCases {
		files = append(files, Entry{Name: "cases/" + n, Mode: 0o644, Data: []byte(s)})
	}
	clean := func(p string) consumerCase {
		return consumerCase{p + "clean", inChroot("checks.sh"), wantClean, "nothing in /tmp, no module"}
	}

	var all []caseResult
	// =y: the archive is in the kernel, nothing on disk.
	yCases := append(toolCases("y-"), clean("y-"))
	all = append(all, h.consumerBoot(t, "consumers-bpf-y", filepath.Join(dir, "bpf-y", "bzImage"), files, yCases, bb, kh)...)

	// =m: first nothing anywhere (every case fails with kheaders' report),
	// then kheaders.ko on disk and not loaded.
	notFound := "no kernel headers found"
	mCases := []consumerCase{
		{"m-none-bpftrace", inChroot("bt.sh", "via", "pid"), wantRefused("tool_rc", "3", notFound), "exit 3, report, tool not run"},
		{"m-none-bcc", inChroot("bcc.sh", "via"), wantRefused("tool_rc", "3", notFound), "exit 3, report, tool not run"},
		{"m-none-cc", inChroot("cc.sh"), wantRefused("cc_rc", "3", notFound), "exit 3, report"},
		{"m-none-go-loader", inChroot("loader.sh"), wantRefused("loader_rc", "1", notFound), "exit 1, locate's report"},
		{"m-install-ko", "cp " + filepath.Join("/", "kheaders.ko") + " /r/kheaders.ko && " + inChroot("install-ko.sh"), func(s *Step, o map[string]string) string {
			if s.RC != 0 || o["modules"] != "." {
				return fmt.Sprintf("rc %d modules %q", s.RC, o["modules"])
			}
			return ""
		}, "on disk, not loaded"},
	}
	mCases = append(mCases, toolCases("m-")...)
	mCases = append(mCases, clean("m-"))
	mFiles := append(append([]Entry{}, files...), Entry{Name: "kheaders.ko", Mode: 0o644, Src: filepath.Join(dir, "bpf-m", "kheaders.ko")})
	all = append(all, h.consumerBoot(t, "consumers-bpf-m", filepath.Join(dir, "bpf-m", "bzImage"), mFiles, mCases, bb, kh)...)

	// stale: the embedded archive is an older config's. kheaders refuses,
	// the tool does not run; bpftrace alone prints a wrong i_ino (control).
	sCases := []consumerCase{
		{"stale-bpftrace-ino", inChroot("bt.sh", "via", "ino"), wantRefused("tool_rc", "4", "CONFIG_FS_POSIX_ACL"), "exit 4 naming CONFIG_FS_POSIX_ACL, tool not run"},
		{"stale-bcc", inChroot("bcc.sh", "via"), wantRefused("tool_rc", "4", "CONFIG_FS_POSIX_ACL"), "exit 4, tool not run"},
		{"stale-cc", inChroot("cc.sh"), wantRefused("cc_rc", "4", "CONFIG_FS_POSIX_ACL"), "exit 4"},
		clean("stale-"),
		{"stale-control-bpftrace-alone", inChroot("bt.sh", "alone", "ino"), func(s *Step, o map[string]string) string {
			if o["tool_rc"] != "0" || o["stat"] == "" || o["i_ino"] == "" || o["i_ino"] == o["stat"] {
				return fmt.Sprintf("i_ino %q stat %q rc %q: the control should print a wrong value with exit 0", o["i_ino"], o["stat"], o["tool_rc"])
			}
			return ""
		}, "WRONG i_ino, exit 0 (why verification exists)"},
	}
	all = append(all, h.consumerBoot(t, "consumers-bpf-stale", filepath.Join(dir, "bpf-stale", "bzImage"), files, sCases, bb, kh)...)

	var b strings.Builder
	fmt.Fprintf(&b, "consumer cases (guest clock):\n")
	for _, r := range all {
		fmt.Fprintf(&b, "  %-30s %-5s %7.1fs  want: %s%s\n", r.name, r.result, r.d.Seconds(), r.want, r.detail)
	}
	t.Log(b.String())
}

type caseResult struct {
	name, result, want, detail string
	d                          time.Duration
}

// consumerBoot boots kernel with the host root and runs the cases after the
// setup step; it fails t for every case not as expected.
func (h *harness) consumerBoot(t *testing.T, name, kernel string, files []Entry, cases []consumerCase, busybox, kheaders string) []caseResult {
	steps := []GuestStep{{"setup", guestSetup}}
	for _, c := range cases {
		steps = append(steps, GuestStep{c.step, c.cmd})
	}
	var out []caseResult
	t.Run(name, func(t *testing.T) {
		c := h.boot(t, bootSpec{name: name, machine: consumerMachine, kernel: kernel, extra: files, steps: steps}, busybox, kheaders)
		if s := c.Step("setup"); s.RC != 0 {
			t.Fatalf("guest setup (9p host root, overlay, chroot): rc %d\n%s\n%s", s.RC, s.Stdout, s.Stderr)
		}
		for _, cc := range cases {
			s := c.Step(cc.step)
			r := caseResult{name: cc.step, want: cc.want, d: s.Dur, result: "ok"}
			if bad := cc.check(s, kv(s.Stdout)); bad != "" {
				r.result, r.detail = "FAIL", " -- got: "+bad
				t.Errorf("case %s: want %s; got %s (rc %d)\nstdout:\n%s\nstderr:\n%s", cc.step, cc.want, bad, s.RC, s.Stdout, s.Stderr)
			}
			out = append(out, r)
		}
	})
	return out
}
