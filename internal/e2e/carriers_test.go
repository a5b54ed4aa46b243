package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kheaders/kheaders/bootimg"
	"github.com/kheaders/kheaders/carrier"
	"github.com/kheaders/kheaders/initramfs"
)

// TestE2ECarriers boots the networked 6.12.117 kernels of testdata/kernels
// (see its README): bzImage-x86_64-net-n, built without CONFIG_IKHEADERS,
// with its headers appended to the initramfs as a `kheaders initramfs`
// segment, and bzImage-x86_64-net-y (=y) for the memory comparison of
// docs/carriers.md.
//
// The -net-n boot: locate finds the headers in rootfs (/kheaders), verified;
// the contrib/ initramfs-tools init-bottom script copies them to /run, the
// init switches root into a tmpfs copy of itself (switch_root deletes
// rootfs) and locate finds the copy in /run, verified; then another
// kernel's segment (-net-y's) unpacked in place of it is refused (exit 4).
func TestE2ECarriers(t *testing.T) {
	gate(t)
	h := newHarness(t)
	defer h.summary()
	if ok, pkg := HaveQemu(MachineX86); !ok {
		t.Skipf("skipping: %s not found (install Debian package %s)", MachineX86.Qemu, pkg)
	}
	bb, why := staticBusybox("x86_64")
	if bb == "" {
		t.Skip("skipping: " + why)
	}
	td := filepath.Join(repoRoot(t), "testdata", "kernels")
	netN, netY := filepath.Join(td, "bzImage-x86_64-net-n"), filepath.Join(td, "bzImage-x86_64-net-y")
	self, err := os.ReadFile(filepath.Join(td, "kheaders-x86_64-net-n.tar.xz"))
	if err != nil {
		t.Fatal(err)
	}
	yImage, err := os.ReadFile(netY)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := carrier.Archive(t.Context(), yImage, nil)
	if err != nil {
		t.Fatalf("the -net-y kernel's archive: %v", err)
	}
	kh := buildKheaders(t, "amd64", h.work)
	h.cmds = commandsOf(t, kh)

	var seg, otherSeg bytes.Buffer
	m, err := initramfs.Build(t.Context(), &seg, self, &initramfs.Options{Compression: initramfs.XZ})
	if err != nil {
		t.Fatal(err)
	}
	mo, err := initramfs.Build(t.Context(), &otherSeg, other, &initramfs.Options{Compression: initramfs.None})
	if err != nil {
		t.Fatal(err)
	}
	hook, err := os.ReadFile(filepath.Join(repoRoot(t), "contrib", "initramfs-tools", "scripts", "init-bottom", "kheaders"))
	if err != nil {
		t.Fatal(err)
	}
	const meminfo = "grep -E '^(MemTotal|MemFree|Shmem|Unevictable|Mlocked):' /proc/meminfo; grep ' / ' /proc/mounts"
	stage1 := []GuestStep{
		{"uname", "uname -r; uname -m"},
		{"no-sysfs", "test ! -e /sys/kernel/kheaders.tar.xz && zcat /proc/config.gz | grep IKHEADERS"},
		{"meminfo-rootfs", meminfo},
		{"rootfs-segment", "sha256sum " + initramfs.ArchivePath + "; cat " + initramfs.ManifestPath},
		{"locate-rootfs", "kheaders locate --json -v"},
		{"locate-rootfs-warm", "kheaders locate --json -v"},
	}
	stage2 := []GuestStep{
		{"after-switch", "test ! -e " + initramfs.ArchivePath + " && sha256sum " + initramfs.RunArchivePath + " && grep -E ' (/|/run) ' /proc/mounts"},
		{"meminfo-switched", meminfo},
		{"locate-run", "kheaders locate --json -v"},
		{"locate-other", "rm -r " + initramfs.RunDir + " && cd / && cpio -id < /other/seg.cpio && cat " + initramfs.ManifestPath + " >&2 && kheaders locate --json -v --cache-dir /tmp/cache-other"},
	}
	init2, err := InitScript(stage2, MachineX86.Halt)
	if err != nil {
		t.Fatal(err)
	}
	// Stage one ends by keeping the headers (the repo's init-bottom
	// script), building a tmpfs root and switching into it, /run moved
	// along as initramfs-tools does.
	switchRoot := `sh /scripts/init-bottom/kheaders
mkdir -p /newroot && mount -t tmpfs -o size=300m tmpfs /newroot
cp -a /bin /sbin /usr /init2 /other /newroot/
mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp /newroot/run /newroot/root /newroot/var/cache
mount --move /run /newroot/run
exec switch_root /newroot /init2`
	init1, err := InitScript(stage1, switchRoot)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c := h.boot(t, bootSpec{
		name:    "x86_64-net-n-initramfs",
		machine: MachineX86,
		kernel:  netN,
		init:    init1,
		steps:   append(append([]GuestStep{}, stage1...), stage2...),
		extra: []Entry{
			{Name: "init2", Mode: 0o755, Data: []byte(init2)},
			{Name: "scripts/init-bottom/kheaders", Mode: 0o755, Data: hook},
			{Name: "other/seg.cpio", Mode: 0o644, Data: otherSeg.Bytes()},
		},
		segment: seg.Bytes(),
	}, bb, kh)
	t.Logf("net-n + segment boot: %v; segment %d bytes (xz, CRC32)", time.Since(start).Round(time.Millisecond), seg.Len())
	for _, l := range c.Kernel {
		if strings.Contains(l, "Initramfs unpacking failed") {
			t.Errorf("kernel: %s", l)
		}
	}
	if s := c.Step("uname"); s.Stdout != "6.12.117-net-n\nx86_64" {
		t.Errorf("uname: %q, want 6.12.117-net-n x86_64", s.Stdout)
	}
	if s := c.Step("no-sysfs"); s.RC != 0 || !strings.Contains(s.Stdout, "# CONFIG_IKHEADERS is not set") {
		t.Errorf("no-sysfs: rc=%d %q: want no /sys/kernel/kheaders.tar.xz and CONFIG_IKHEADERS not set", s.RC, s.Stdout)
	}
	if s := c.Step("rootfs-segment"); !strings.HasPrefix(s.Stdout, m.ArchiveSHA256+" ") || !strings.Contains(s.Stdout, `"release": "6.12.117-net-n"`) {
		t.Errorf("rootfs-segment: %q; want the archive byte-exact (%s) and its manifest", s.Stdout, m.ArchiveSHA256)
	}
	checkCarrierLocate(t, c.Step("locate-rootfs"), m, initramfs.ArchivePath, false)
	checkCarrierLocate(t, c.Step("locate-rootfs-warm"), m, initramfs.ArchivePath, true)
	if s := c.Step("after-switch"); s.RC != 0 || !strings.Contains(s.Stdout, m.ArchiveSHA256) {
		t.Errorf("after-switch: rc=%d %q %q; want rootfs gone and the /run copy byte-exact", s.RC, s.Stdout, s.Stderr)
	}
	checkCarrierLocate(t, c.Step("locate-run"), m, initramfs.RunArchivePath, false)
	if s := c.Step("locate-other"); s.RC != 4 || !strings.Contains(s.Stdout, `"rejected"`) || !strings.Contains(s.Stdout, mo.Release) {
		t.Errorf("locate-other: rc=%d, want 4 with the initramfs attempt rejected naming %s\nstdout:\n%s\nstderr:\n%s", s.RC, mo.Release, s.Stdout, s.Stderr)
	}

	// The =y kernel, for the figures: the same tree with CONFIG_IKHEADERS=y.
	start = time.Now()
	cy := h.boot(t, bootSpec{
		name: "x86_64-net-y-builtin", machine: MachineX86, kernel: netY,
		steps: []GuestStep{
			{"uname", "uname -r"},
			{"meminfo-builtin", meminfo},
			{"sysfs-sha256", "sha256sum /sys/kernel/kheaders.tar.xz"},
		},
	}, bb, kh)
	t.Logf("net-y boot: %v", time.Since(start).Round(time.Millisecond))
	if s := cy.Step("sysfs-sha256"); !strings.HasPrefix(s.Stdout, carrierSHA256(other)+" ") {
		t.Errorf("net-y sysfs sha256 %q, want %s", s.Stdout, carrierSHA256(other))
	}
	// The figures of docs/carriers.md.
	fy, fn, fs := meminfoOf(cy.Step("meminfo-builtin")), meminfoOf(c.Step("meminfo-rootfs")), meminfoOf(c.Step("meminfo-switched"))
	for _, k := range []string{"MemTotal", "MemFree", "Shmem", "Unevictable"} {
		t.Logf("FIGURE meminfo %-12s =y %8d kB | net-n+segment in rootfs %8d kB | after switch_root (/run copy) %8d kB | =y minus initramfs %+d kB", k, fy[k], fn[k], fs[k], fy[k]-fn[k])
	}
	for _, f := range []string{netN, netY} {
		if fi, err := os.Stat(f); err == nil {
			t.Logf("FIGURE image %s: %d bytes", filepath.Base(f), fi.Size())
		}
	}
	t.Logf("FIGURE segment (xz CRC32): %d bytes; archive %d bytes", seg.Len(), len(self))
}

func carrierSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// meminfoOf reads "Key: N kB" lines.
func meminfoOf(s *Step) map[string]int {
	out := map[string]int{}
	if s == nil {
		return out
	}
	for _, l := range strings.Split(s.Stdout, "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && strings.HasSuffix(f[0], ":") {
			if n, err := strconv.Atoi(f[1]); err == nil {
				out[strings.TrimSuffix(f[0], ":")] = n
			}
		}
	}
	return out
}

// checkCarrierLocate checks a `kheaders locate --json -v` that must have
// used the initramfs carrier at origin (or the cache, warm), verified.
func checkCarrierLocate(t *testing.T, s *Step, m *initramfs.Manifest, origin string, warm bool) {
	t.Helper()
	if s == nil || s.RC != 0 {
		t.Errorf("guest locate: %+v, want rc 0", s)
		return
	}
	var r struct {
		Source, Origin, Release string
		Key                     string `json:"cache_key"`
		Cached, Verified        bool
		Checks                  []struct{ Name, Status string }
	}
	if err := json.Unmarshal([]byte(s.Stdout), &r); err != nil {
		t.Errorf("guest %s: %v\n%s", s.Name, err, s.Stdout)
		return
	}
	if r.Source != "initramfs" || r.Origin != origin || r.Release != m.Release || r.Key != m.ArchiveSHA256 || !r.Verified || r.Cached != warm {
		t.Errorf("guest %s: source %q origin %q release %q key %q verified %v cached %v; want initramfs, %s, %s, %s, true, %v\n%s", s.Name, r.Source, r.Origin, r.Release, r.Key, r.Verified, r.Cached, origin, m.Release, m.ArchiveSHA256, warm, s.Stderr)
	}
	ok := map[string]bool{}
	for _, c := range r.Checks {
		ok[c.Name] = c.Status == "ok"
	}
	for _, n := range wantChecks {
		if !ok[n] {
			t.Errorf("guest %s: check %s not ok (%+v)", s.Name, n, r.Checks)
		}
	}
}

// TestE2EBootimgARM64 builds an Android boot image (mkbootimg v2) around
// testdata/kernels/Image-arm64-net.gz and a busybox initramfs, adds the
// kernel's own headers to its ramdisk with bootimg.AddHeaders, unpacks the
// result with Debian's unpack_bootimg and boots that kernel and ramdisk in
// qemu-system-aarch64 (TCG): locate, limited to the initramfs source, hands
// out the headers from the ramdisk, verified.
func TestE2EBootimgARM64(t *testing.T) {
	gate(t)
	h := newHarness(t)
	defer h.summary()
	if ok, pkg := HaveQemu(MachineARM64); !ok {
		t.Skipf("skipping: %s not found (install Debian package %s)", MachineARM64.Qemu, pkg)
	}
	for _, tool := range []string{"mkbootimg", "unpack_bootimg"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s not found (install Debian package mkbootimg)", tool)
		}
	}
	bb, why := staticBusybox("arm64")
	if bb == "" {
		t.Skip("skipping: " + why + "; internal/e2e/run.sh fetches one with apt-get download")
	}
	kernel := filepath.Join(repoRoot(t), "testdata", "kernels", "Image-arm64-net.gz")
	kh := buildKheaders(t, "arm64", h.work)
	steps := []GuestStep{
		{"uname", "uname -r; uname -m"},
		{"locate-bootimg", "kheaders locate --json -v --sources initramfs"},
	}
	init, err := InitScript(steps, MachineARM64.Halt)
	if err != nil {
		t.Fatal(err)
	}
	var rd bytes.Buffer
	if err := WriteInitramfs(&rd, BaseEntries(bb, kh, init)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rp, img := filepath.Join(dir, "ramdisk.cpio"), filepath.Join(dir, "boot.img")
	if err := os.WriteFile(rp, rd.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("mkbootimg", "--header_version", "2", "--kernel", kernel, "--ramdisk", rp, "--dtb", rp,
		"--cmdline", "console=ttyAMA0", "-o", img).CombinedOutput(); err != nil {
		t.Fatalf("mkbootimg: %v\n%s", err, b)
	}
	orig, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	newImg, info, m, err := bootimg.AddHeaders(t.Context(), orig, nil)
	if err != nil {
		t.Fatalf("bootimg.AddHeaders: %v", err)
	}
	t.Logf("FIGURE boot image v%d: %d -> %d bytes, ramdisk %d -> %d bytes, headers of %s", info.HeaderVersion, len(orig), len(newImg), info.RamdiskBefore, info.RamdiskAfter, m.Release)
	np, out := filepath.Join(dir, "new.img"), filepath.Join(dir, "unpacked")
	if err := os.WriteFile(np, newImg, 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("unpack_bootimg", "--boot_img", np, "--out", out).CombinedOutput(); err != nil {
		t.Fatalf("unpack_bootimg: %v\n%s", err, b)
	}
	c := h.boot(t, bootSpec{
		name: "arm64-bootimg-headers", machine: MachineARM64, kernel: filepath.Join(out, "kernel"),
		init:  init, // the ramdisk is unpack_bootimg's, not built by boot()
		steps: steps, initrd: filepath.Join(out, "ramdisk"),
	}, bb, kh)
	if s := c.Step("uname"); s.Stdout != m.Release+"\naarch64" {
		t.Errorf("uname: %q, want %s aarch64", s.Stdout, m.Release)
	}
	checkCarrierLocate(t, c.Step("locate-bootimg"), m, initramfs.ArchivePath, false)
}
