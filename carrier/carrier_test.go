package carrier

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"

	"github.com/kheaders/kheaders/internal/karch"
	"github.com/kheaders/kheaders/internal/kconfig"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestFixtures(t *testing.T) {
	archM := hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz")
	archY := hosttest.ReadFixture(t, "ikheaders-y/kheaders_data.tar.xz")
	configY := hosttest.ReadFixture(t, "ikheaders-y/config")
	for _, tc := range []struct {
		file      string
		archive   []byte
		how       string
		kind      string
		chain     string
		config    []byte
		configHow string
	}{
		{"ikheaders-m/kheaders.ko", archM, "symbols", "module", "module", nil, ""},
		{"ikheaders-y/vmlinux", archY, "symbols", "vmlinux", "vmlinux", configY, "symbols"},
		{"ikheaders-y/bzImage", archY, "scan", "bzimage", "bzimage(xz) > vmlinux", configY, "marker"},
		{"ikheaders-y/kheaders_data.tar.xz", archY, "file", "archive", "archive", nil, ""},
		{"ikheaders-m/bzImage", nil, "", "bzimage", "bzimage(xz) > vmlinux", hosttest.ReadFixture(t, "ikheaders-m/config"), "marker"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data := hosttest.ReadFixture(t, tc.file)
			found, err := Search(t.Context(), data, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, info, err := found.Archive, found.Info, found.ArchiveErr()
			switch {
			case tc.archive == nil:
				if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "CONFIG_IKHEADERS") {
					t.Errorf("Archive = %v, want ErrNotFound naming CONFIG_IKHEADERS", err)
				}
			case err != nil:
				t.Fatalf("Archive = %v", err)
			default:
				if sum(got) != sum(tc.archive) {
					t.Errorf("Archive = %d bytes sha256 %s, want %d bytes %s", len(got), sum(got), len(tc.archive), sum(tc.archive))
				}
				if info.Archive.How != tc.how || info.Kind != tc.kind || info.Chain() != tc.chain {
					t.Errorf("Archive info how %q kind %q chain %q, want %q %q %q", info.Archive.How, info.Kind, info.Chain(), tc.how, tc.kind, tc.chain)
				}
			}
			cfg, err := found.Config, found.ConfigErr()
			switch {
			case tc.config == nil:
				if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "CONFIG_IKCONFIG") {
					t.Errorf("Config = %v, want ErrNotFound naming CONFIG_IKCONFIG", err)
				}
			case err != nil || !bytes.Equal(cfg, tc.config):
				t.Errorf("Config = %d bytes, %v; want the build's %d-byte config", len(cfg), err, len(tc.config))
			}
		})
	}
}

func TestInspectFixture(t *testing.T) {
	// Inspect decodes the whole archive (slow under -race): one case here;
	// the search paths are covered by TestFixtures.
	for _, file := range []string{"ikheaders-y/kheaders_data.tar.xz"} {
		t.Run(file, func(t *testing.T) {
			in, err := Inspect(t.Context(), hosttest.ReadFixture(t, file), nil)
			if err != nil {
				t.Fatalf("Inspect = %v", err)
			}
			if in.Release != "6.12.117" || in.ReleaseFrom != "utsrelease.h" || in.Arch != "x86" || in.Machine != "x86_64" || !in.HasHeaders {
				t.Errorf("Inspect = release %q from %q, arch %q machine %q, headers %v; want 6.12.117 utsrelease.h x86 x86_64 true", in.Release, in.ReleaseFrom, in.Arch, in.Machine, in.HasHeaders)
			}
			if in.Archive.VersionCode != 6<<16|12<<8|117 {
				t.Errorf("archive version code %d, want %d (6.12.117)", in.Archive.VersionCode, 6<<16|12<<8|117)
			}
			if in.Archive.Members != 7026 || in.Archive.Format != "xz" {
				t.Errorf("archive members %d format %q, want 7026 xz", in.Archive.Members, in.Archive.Format)
			}
			want := sum(hosttest.ReadFixture(t, file))
			if in.Archive.SHA256 != want {
				t.Errorf("archive sha256 %s, want %s", in.Archive.SHA256, want)
			}
			// NoSHA256: Archive leaves the hash to the caller; Inspect
			// takes it from the decoding, which hashes the bytes once.
			opts := &Options{NoSHA256: true}
			_, ai, err := Archive(t.Context(), hosttest.ReadFixture(t, file), opts)
			if err != nil {
				t.Fatalf("Archive(NoSHA256) = %v", err)
			}
			if ai.Archive.SHA256 != "" {
				t.Errorf("Archive(NoSHA256) = sha256 %q, want none", ai.Archive.SHA256)
			}
			if in, err := Inspect(t.Context(), hosttest.ReadFixture(t, file), opts); err != nil || in.Archive.SHA256 != want {
				t.Errorf("Inspect(NoSHA256) = sha256 %q, %v; want %s", in.Archive.SHA256, err, want)
			}
		})
	}
	in, err := Inspect(t.Context(), hosttest.ReadFixture(t, "ikheaders-m/bzImage"), nil)
	if err != nil || in.HasHeaders || !in.HasConfig || in.Release != "6.12.117" || in.ReleaseFrom != "banner" || in.Arch != "x86" || in.Machine != "x86_64" {
		t.Errorf("Inspect(=m bzImage) = %+v, %v; want no headers, config, release 6.12.117 from banner, x86 x86_64", in, err)
	}
}

// TestStrippedVmlinux hides the kheaders symbols of vmlinux: the archive is
// then found by scanning, with the same bytes.
func TestStrippedVmlinux(t *testing.T) {
	data := bytes.Clone(hosttest.ReadFixture(t, "ikheaders-y/vmlinux"))
	n := 0
	for _, name := range []string{"\x00kernel_headers_data\x00", "\x00kernel_headers_data_end\x00", "\x00kernel_config_data\x00", "\x00kernel_config_data_end\x00"} {
		i := bytes.Index(data, []byte(name))
		if i < 0 {
			t.Fatalf("symbol name %q not in the string table", name)
		}
		data[i+1] = 'X'
		n++
	}
	got, info, err := Archive(t.Context(), data, nil)
	if err != nil || info.Archive.How != "scan" || sum(got) != sum(hosttest.ReadFixture(t, "ikheaders-y/kheaders_data.tar.xz")) {
		t.Fatalf("Archive(renamed symbols) = %d bytes, %+v, %v; want the archive by scan", len(got), info, err)
	}
	cfg, err := Config(t.Context(), data, nil)
	if err != nil || !bytes.Equal(cfg, hosttest.ReadFixture(t, "ikheaders-y/config")) {
		t.Errorf("Config(renamed symbols) = %d bytes, %v", len(cfg), err)
	}
}

func gzipBytes(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zstdBytes(t testing.TB, b []byte) []byte {
	w, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	return w.EncodeAll(b, nil)
}

// xzModule compresses like Kbuild (xz --check=crc32 --lzma2=dict=1MiB),
// with the xz tool when present, else in Go.
func xzModule(t testing.TB, b []byte) []byte {
	if _, err := exec.LookPath("xz"); err == nil {
		cmd := exec.Command("xz", "--check=crc32", "--lzma2=dict=1MiB", "-c", "-T1", "-0")
		cmd.Stdin = bytes.NewReader(b)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	var buf bytes.Buffer
	w, err := xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// newc builds an initramfs cpio (newc) of the given files, with the trailer.
func newc(files ...[2][]byte) []byte {
	var buf bytes.Buffer
	ino := 1
	add := func(name string, mode int, data []byte) {
		fmt.Fprintf(&buf, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
		ino++
		buf.WriteString(name)
		buf.WriteByte(0)
		for buf.Len()%4 != 0 {
			buf.WriteByte(0)
		}
		buf.Write(data)
		for buf.Len()%4 != 0 {
			buf.WriteByte(0)
		}
	}
	add("lib", 0o40755, nil)
	for _, f := range files {
		add(string(f[0]), 0o100644, f[1])
	}
	add("TRAILER!!!", 0, nil)
	for buf.Len()%512 != 0 {
		buf.WriteByte(0)
	}
	return buf.Bytes()
}

func TestModulesAndInitramfs(t *testing.T) {
	ko := hosttest.ReadFixture(t, "ikheaders-m/kheaders.ko")
	want := sum(hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz"))
	koXZ := xzModule(t, ko)
	init := bytes.Repeat([]byte("#!/bin/sh\necho hello\n"), 40)
	cpioXZ := newc([2][]byte{[]byte("init"), init}, [2][]byte{[]byte("lib/modules/6.12.117/kernel/kernel/kheaders.ko.xz"), koXZ})
	for _, tc := range []struct {
		name, chain string
		data        []byte
	}{
		{"ko.gz", "gzip > module", gzipBytes(t, ko)},
		{"ko.zst", "zstd > module", zstdBytes(t, ko)},
		{"ko.xz", "xz > module", koXZ},
		{"cpio", "cpio[lib/modules/6.12.117/kernel/kernel/kheaders.ko.xz] > xz > module", cpioXZ},
		{"cpio.gz", "cpio(gzip)[lib/modules/6.12.117/kernel/kernel/kheaders.ko.xz] > xz > module", gzipBytes(t, cpioXZ)},
		{"cpio+cpio.gz", "cpio(gzip)[kheaders.ko] > module", append(newc([2][]byte{[]byte("init"), init}), gzipBytes(t, newc([2][]byte{[]byte("kheaders.ko"), ko}))...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, info, err := Archive(t.Context(), tc.data, nil)
			if err != nil {
				t.Fatalf("Archive = %v", err)
			}
			if sum(got) != want || info.Archive.How != "symbols" {
				t.Errorf("Archive = sha256 %s by %s, want %s by symbols", sum(got), info.Archive.How, want)
			}
			if info.Chain() != tc.chain {
				t.Errorf("chain %q, want %q", info.Chain(), tc.chain)
			}
			if info.Release != "6.12.117" || info.ReleaseFrom != "vermagic" || info.Arch != "x86" || info.Machine != "x86_64" {
				t.Errorf("release %q from %q arch %q machine %q, want 6.12.117 vermagic x86 x86_64", info.Release, info.ReleaseFrom, info.Arch, info.Machine)
			}
		})
	}
}

// tsvRow is a line of testdata/kernels/kheaders.tsv.
type tsvRow struct {
	file, arch, release, config, sha string
	n                                int
}

func kernelsTSV(t *testing.T) (string, []tsvRow) {
	dir := hosttest.Kernels(t)
	f, err := os.Open(filepath.Join(dir, "kheaders.tsv"))
	if err != nil {
		t.Skipf("testdata/kernels not available: %v", err)
	}
	defer f.Close()
	var rows []tsvRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 7 {
			continue
		}
		n, _ := strconv.Atoi(c[6])
		rows = append(rows, tsvRow{file: c[0], arch: c[1], release: c[3], config: c[4], sha: c[5], n: n})
	}
	return dir, rows
}

// kernelsRow returns the testdata/kernels directory and the kheaders.tsv
// row of file, or skips.
func kernelsRow(t *testing.T, file string) (string, tsvRow) {
	dir, rows := kernelsTSV(t)
	i := slices.IndexFunc(rows, func(r tsvRow) bool { return r.file == file })
	if i < 0 {
		t.Skipf("no %s row in kheaders.tsv", file)
	}
	return dir, rows[i]
}

// checkCarries searches data and checks that it gives row's archive byte
// for byte, its arch, release and config (dir/row.config).
func checkCarries(t *testing.T, dir string, row tsvRow, data []byte) *Found {
	t.Helper()
	found, err := Search(t.Context(), data, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, info, err := found.Archive, found.Info, found.ArchiveErr()
	if err != nil {
		t.Fatalf("Archive = %v", err)
	}
	if sum(got) != row.sha || len(got) != row.n {
		t.Errorf("Archive = %d bytes %s, want %d bytes %s", len(got), sum(got), row.n, row.sha)
	}
	want, err := os.ReadFile(filepath.Join(dir, row.config))
	if err != nil {
		t.Fatal(err)
	}
	// The arch the image tells (ELF or boot header) is the one its config
	// gives (the manifest's arch column is x86_64, a machine, or arm64, a
	// SRCARCH: either form names it).
	kc, err := kconfig.Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	tg, ok := karch.FromConfig(func(s string) bool { v, _ := kc.Get("CONFIG_" + s); return v == "y" })
	if !ok || tg.Arch != karch.SrcArch(row.arch) {
		t.Fatalf("config %s gives arch %+v, the manifest says %s", row.config, tg, row.arch)
	}
	if info.Arch != tg.Arch || info.Machine != tg.Machine || info.Release != row.release {
		t.Errorf("arch %q machine %q release %q, want %q %q %q (from %s)", info.Arch, info.Machine, info.Release, tg.Arch, tg.Machine, row.release, row.config)
	}
	cfg, err := found.Config, found.ConfigErr()
	if err != nil || !bytes.Equal(cfg, want) {
		t.Errorf("Config = %d bytes, %v; want %s (%d bytes)", len(cfg), err, row.config, len(want))
	}
	return found
}

// TestKernels runs every committed real kernel image through Archive and
// Config: the archive must be the build's, byte for byte.
func TestKernels(t *testing.T) {
	dir, rows := kernelsTSV(t)
	for _, row := range rows {
		t.Run(row.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, row.file))
			if err != nil {
				t.Skipf("%s not present: %v", row.file, err)
			}
			checkCarries(t, dir, row, data)
		})
	}
}

// arm64Image returns the uncompressed arm64 Image (Kbuild's
// arch/arm64/boot/Image: the committed Image-arm64.gz is gzip -n -9 of it).
func arm64Image(t *testing.T) (string, tsvRow, []byte) {
	dir, row := kernelsRow(t, "Image-arm64.gz")
	gz, err := os.ReadFile(filepath.Join(dir, row.file))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	image, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return dir, row, image
}

// TestArm64RawImage: the uncompressed arm64 Image carries the build's
// archive and config, and says it is an arm64 6.12.117 Image.
func TestArm64RawImage(t *testing.T) {
	dir, row, image := arm64Image(t)
	if found := checkCarries(t, dir, row, image); found.Info.Kind != "arm64-image" {
		t.Errorf("kind %q, want arm64-image", found.Info.Kind)
	}
}

// TestArm64ImageCompressions makes arch/arm64/boot/Image.{bz2,lz4,lzma,lzo,
// xz,zst} from the real Image with the commands of 6.12's
// scripts/Makefile.lib and scripts/xz_wrap.sh (Image.gz is committed), and
// checks each carries the build's archive and config.
func TestArm64ImageCompressions(t *testing.T) {
	dir, row, image := arm64Image(t)
	for _, c := range []struct{ target, pkg, cmd string }{
		{"Image.bz2", "bzip2", "bzip2 -9"},
		{"Image.lz4", "lz4", "lz4 -l -9 - -"},
		{"Image.lzma", "xz-utils", "lzma -9"},
		{"Image.lzo", "lzop", "lzop -9"},
		{"Image.xz", "xz-utils", "xz --check=crc32 --threads=1 --arm64 --lzma2=lp=2,lc=2,dict=128MiB"},
		{"Image.zst", "zstd", "zstd -22 --ultra"},
	} {
		t.Run(c.target, func(t *testing.T) {
			t.Parallel()
			argv := strings.Fields(c.cmd)
			if _, err := exec.LookPath(argv[0]); err != nil {
				t.Skipf("%s not installed (Debian package %s)", argv[0], c.pkg)
			}
			cmd := exec.Command(argv[0], argv[1:]...)
			cmd.Stdin = bytes.NewReader(image)
			data, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v", c.cmd, err)
			}
			checkCarries(t, dir, row, data)
		})
	}
}

// TestBuiltArtifacts covers what the background build leaves in
// /var/tmp/kheaders-artifacts (arm64 Image in every compression, vmlinux).
func TestBuiltArtifacts(t *testing.T) {
	root := filepath.Join(hosttest.Artifacts.Need(t, "arm64-y/kheaders_data.tar.xz"), "arm64-y")
	want, err := os.ReadFile(filepath.Join(root, "kheaders_data.tar.xz"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"Image", "Image.bz2", "Image.lzma", "Image.lzo", "Image.zst", "vmlinux"} {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(root, f))
			if err != nil {
				t.Skipf("%s absent: %v", f, err)
			}
			got, info, err := Archive(t.Context(), data, nil)
			if err != nil || !bytes.Equal(got, want) || info.Arch != "arm64" {
				t.Errorf("Archive(%s) = %d bytes, arch %q, %v; want the build's %d bytes, arm64", f, len(got), info.Arch, err, len(want))
			}
		})
	}
}

func TestAndroidBoot(t *testing.T) {
	if _, err := exec.LookPath("mkbootimg"); err != nil {
		t.Skip("mkbootimg not installed (Debian package mkbootimg)")
	}
	dir, row := kernelsRow(t, "Image-arm64.gz")
	kp := filepath.Join(dir, row.file)
	tmp := t.TempDir()
	rd := filepath.Join(tmp, "ramdisk.cpio.gz")
	os.WriteFile(rd, gzipBytes(t, newc([2][]byte{[]byte("init"), bytes.Repeat([]byte("x"), 1000)})), 0o644)
	// Layouts v0-v4 are covered by internal/kimage; here v2 (pages, dtb)
	// and v3 (fixed 4096-byte pages) end to end.
	for _, v := range []string{"2", "3"} {
		t.Run("v"+v, func(t *testing.T) {
			out := filepath.Join(tmp, "boot-v"+v+".img")
			cmd := exec.Command("mkbootimg", "--kernel", kp, "--ramdisk", rd, "--header_version", v, "-o", out)
			if v == "2" {
				cmd.Args = append(cmd.Args, "--dtb", rd)
			}
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("mkbootimg: %v\n%s", err, b)
			}
			img, _ := os.ReadFile(out)
			got, info, err := Archive(t.Context(), img, nil)
			if err != nil || sum(got) != row.sha || info.Kind != "android-boot" || info.Arch != "arm64" {
				t.Fatalf("Archive(boot v%s) = sha %s, %+v, %v; want %s, android-boot, arm64", v, sum(got), info, err, row.sha)
			}
			if want := "android-boot > gzip > arm64-image"; info.Chain() != want {
				t.Errorf("chain %q, want %q", info.Chain(), want)
			}
		})
	}
	// vendor_boot has no kernel: a module in its ramdisk is still found, and
	// without one the error is ErrNotFound with a note about boot.img.
	ko := hosttest.ReadFixture(t, "ikheaders-m/kheaders.ko")
	for _, withKO := range []bool{true, false} {
		files := [][2][]byte{{[]byte("init"), bytes.Repeat([]byte("y"), 1000)}}
		if withKO {
			files = append(files, [2][]byte{[]byte("lib/modules/kheaders.ko"), ko})
		}
		vr := filepath.Join(tmp, fmt.Sprintf("vendor-%v.cpio.gz", withKO))
		os.WriteFile(vr, gzipBytes(t, newc(files...)), 0o644)
		out := filepath.Join(tmp, fmt.Sprintf("vendor-%v.img", withKO))
		dtb := filepath.Join(tmp, "board.dtb")
		os.WriteFile(dtb, []byte("\xd0\x0d\xfe\xedfake dtb"), 0o644)
		if b, err := exec.Command("mkbootimg", "--header_version", "3", "--vendor_boot", out, "--vendor_ramdisk", vr, "--dtb", dtb).CombinedOutput(); err != nil {
			t.Fatalf("mkbootimg vendor_boot: %v\n%s", err, b)
		}
		img, _ := os.ReadFile(out)
		got, info, err := Archive(t.Context(), img, nil)
		if withKO {
			if err != nil || sum(got) != sum(hosttest.ReadFixture(t, "ikheaders-m/kheaders_data.tar.xz")) {
				t.Errorf("Archive(vendor_boot with kheaders.ko) = %v", err)
			}
			continue
		}
		if !errors.Is(err, ErrNotFound) || info == nil || !strings.Contains(strings.Join(info.Notes, "\n"), "boot.img") {
			t.Errorf("Archive(vendor_boot) = %v, notes %v; want ErrNotFound and a note naming boot.img", err, info)
		}
	}
}

func TestDirectory(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"include/linux/types.h":            "#define X 1\n",
		"include/generated/utsrelease.h":   "#define UTS_RELEASE \"6.12.117\"\n",
		"include/generated/autoconf.h":     "#define CONFIG_64BIT 1\n#define CONFIG_X86 1\n#define CONFIG_X86_64 1\n",
		"arch/x86/include/asm/processor.h": "",
	} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, err := OpenPath(t.Context(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := src.Inspect(t.Context())
	if err != nil || in.Kind != "directory" || in.Release != "6.12.117" || in.Arch != "x86" || in.Machine != "x86_64" || !in.HasHeaders {
		t.Errorf("Inspect(dir) = %+v, %v", in, err)
	}
	if _, _, err := src.Archive(t.Context()); !errors.Is(err, ErrNotSupported) {
		t.Errorf("Archive(dir) = %v, want ErrNotSupported", err)
	}
	if _, err := src.Config(t.Context()); !errors.Is(err, ErrNotFound) {
		t.Errorf("Config(dir) = %v, want ErrNotFound", err)
	}
	if _, err := (&Source{Path: t.TempDir(), Dir: true}).Inspect(t.Context()); !errors.Is(err, ErrFormat) {
		t.Errorf("Inspect(empty dir) = %v, want ErrFormat", err)
	}
}

func TestOpenPathReadsWholeFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a")
	want := bytes.Repeat([]byte("0123456789"), 100000)
	os.WriteFile(p, want, 0o644)
	src, err := OpenPath(t.Context(), p, nil)
	if err != nil || !bytes.Equal(src.Data, want) {
		t.Fatalf("OpenPath = %d bytes, %v", len(src.Data), err)
	}
	if _, err := OpenPath(t.Context(), p, &Options{MaxInput: 1000}); !errors.Is(err, ErrFormat) {
		t.Errorf("OpenPath(over MaxInput) = %v, want ErrFormat", err)
	}
}

func TestBadInput(t *testing.T) {
	bz := hosttest.ReadFixture(t, "ikheaders-y/bzImage")
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrFormat},
		{"text", []byte(strings.Repeat("hello world, not a kernel\n", 100)), ErrFormat},
		{"truncated-bzImage", bz[:len(bz)/2], nil},
		{"truncated-archive", hosttest.ReadFixture(t, "ikheaders-y/kheaders_data.tar.xz")[:100000], nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Archive(t.Context(), tc.data, nil)
			if err == nil {
				t.Fatal("Archive succeeded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Archive = %v, want %v", err, tc.want)
			}
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrNotFound) {
				t.Errorf("Archive = %v, want ErrFormat or ErrNotFound", err)
			}
		})
	}
}

func FuzzArchive(f *testing.F) {
	f.Add([]byte("IKCFG_ST\x1f\x8b\x08junk"))
	f.Add(newc([2][]byte{[]byte("kheaders.ko"), []byte("\x7fELF\x02\x01\x01")}))
	if a := hosttest.FixtureSeed("ikheaders-y/bzImage"); a != nil {
		f.Add(a[:4096])
	}
	if a := hosttest.FixtureSeed("ikheaders-m/kheaders.ko"); a != nil {
		f.Add(a[:2048])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, _, err := Archive(t.Context(), data, nil)
		if err == nil && len(got) == 0 {
			t.Fatal("Archive returned no bytes and no error")
		}
		Config(t.Context(), data, nil)
	})
}

// TestZbootAndZImage wraps the real arm64 Image.gz in an EFI zboot header
// and an arm zImage header built from their published layouts
// (drivers/firmware/efi/libstub/zboot-header.S, arch/arm/boot/compressed/head.S).
func TestZbootAndZImage(t *testing.T) {
	dir, row := kernelsRow(t, "Image-arm64.gz")
	gz, err := os.ReadFile(filepath.Join(dir, row.file))
	if err != nil {
		t.Skip(err)
	}
	le := func(b []byte, off int, v uint32) {
		b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	}
	zboot := make([]byte, 0x80, 0x80+len(gz))
	copy(zboot, "MZ\x00\x00zimg")
	le(zboot, 8, 0x80)
	le(zboot, 12, uint32(len(gz)))
	copy(zboot[24:], "gzip\x00")
	le(zboot, 0x3c, 0x40)
	copy(zboot[0x40:], "PE\x00\x00\x64\xaa")
	zboot = append(zboot, gz...)

	zimage := make([]byte, 0x200, 0x200+len(gz))
	le(zimage, 0x24, 0x016f2818)
	le(zimage, 0x28, 0)
	le(zimage, 0x2c, uint32(0x200+len(gz)))
	le(zimage, 0x30, 0x04030201)
	zimage = append(zimage, gz...)

	for _, tc := range []struct {
		name, kind, chain string
		data              []byte
	}{
		{"zboot", "zboot", "zboot(gzip) > arm64-image", zboot},
		{"zimage", "zimage", "zimage(gzip) > arm64-image", zimage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, info, err := Archive(t.Context(), tc.data, nil)
			if err != nil || sum(got) != row.sha {
				t.Fatalf("Archive = sha %s, %v; want %s", sum(got), err, row.sha)
			}
			if info.Kind != tc.kind || info.Chain() != tc.chain || info.Arch != "arm64" {
				t.Errorf("kind %q chain %q arch %q, want %q %q arm64", info.Kind, info.Chain(), info.Arch, tc.kind, tc.chain)
			}
		})
	}
}

// TestArchiveConcatenatedStreams: the fixture archive re-compressed by
// xz(1) as two concatenated streams, as a file handed to kheaders, is the
// archive whole (both streams), not its first stream; with bytes after the
// streams that are no stream, the first stream is taken as before.
func TestArchiveConcatenatedStreams(t *testing.T) {
	tarData := hosttest.XZ(t, hosttest.ReadFixture(t, "ikheaders-y/kheaders_data.tar.xz"), "-dc")
	compress := func(b []byte) []byte { return hosttest.XZ(t, b, "-0", "-c") }
	first := compress(tarData[:len(tarData)/2])
	cat := append(append(append([]byte(nil), first...), 0, 0, 0, 0), compress(tarData[len(tarData)/2:])...)
	got, _, err := Archive(t.Context(), cat, nil)
	if err != nil || !bytes.Equal(got, cat) {
		t.Fatalf("Archive(two concatenated streams) = %d bytes, %v; want all %d", len(got), err, len(cat))
	}
	trailing := append(append([]byte(nil), cat...), "trailing"...)
	got, _, err = Archive(t.Context(), trailing, nil)
	if err != nil || !bytes.Equal(got, cat) {
		t.Fatalf("Archive(streams + trailing bytes) = %d bytes, %v; want the streams' %d", len(got), err, len(cat))
	}
	// A second stream cut short (a copy that stopped early) stays with the
	// first, for the decoder to report, instead of being dropped.
	cut := cat[:len(cat)-4]
	got, _, err = Archive(t.Context(), cut, nil)
	if err != nil || !bytes.Equal(got, cut) {
		t.Fatalf("Archive(a stream + a truncated one) = %d bytes, %v; want all %d", len(got), err, len(cut))
	}
	if _, err := Inspect(t.Context(), cut, nil); err == nil {
		t.Errorf("Inspect(a stream + a truncated one) = nil error, want the truncation reported")
	}
}
