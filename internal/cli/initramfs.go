package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/kheaders/kheaders/initramfs"
	"github.com/kheaders/kheaders/internal/output"
)

// initramfsCmd is the initramfs command (listed in root.go).
var initramfsCmd = &Command{
	Name:  "initramfs",
	Short: "write a cpio segment carrying the header archive, to append to an initramfs",
	Usage: `Usage: kheaders initramfs [SRC] -o FILE [flags]

Writes an initramfs segment: a newc cpio archive holding the header archive
of SRC as ` + initramfs.ArchivePath + ` and its manifest (release, arch,
archive size and sha256) as ` + initramfs.ManifestPath + `, with every
parent directory, deterministic bytes. The kernel unpacks concatenated
segments in order, so appending it to any initramfs puts the headers into
rootfs without pinning kernel memory (CONFIG_IKHEADERS=y keeps ~4 MB resident
for the kernel's lifetime):

  cat /boot/initrd.img-$(uname -r) kheaders.cpio.xz > initrd-with-headers.img

kheaders locate finds them there (source "initramfs"), and in
` + initramfs.RunDir + `/ after switch_root when the initramfs-tools or
dracut hook of contrib/ copied them (switch_root deletes rootfs).

SRC is any artifact carrying the archive (see kheaders extract: the .tar.xz,
kheaders.ko, vmlinux, a kernel or boot image, an initramfs); default
/sys/kernel/kheaders.tar.xz, the running kernel's own.

--compress xz (default) uses a CRC32 check: the kernel's XZ decoder refuses
xz's default CRC64 ("Initramfs unpacking failed: ... not supported by this XZ
decoder"); the kernel needs CONFIG_RD_XZ. gzip needs CONFIG_RD_GZIP. none
writes a plain cpio, which the kernel only finds at a 4-aligned offset: after
another uncompressed cpio, or after NUL padding.

Examples:
  kheaders initramfs -o kheaders.cpio.xz
  kheaders initramfs /boot/vmlinuz-6.12.0 -o - --compress gzip >> initrd.img
  kheaders initramfs kheaders_data.tar.xz -o seg.cpio --compress none --json

Exit codes: 3 when SRC carries no header archive.`,
	Run: runInitramfs,
}

type initramfsResult struct {
	Schema      string              `json:"schema"`
	Source      string              `json:"source"`
	Output      string              `json:"output"`
	Compression string              `json:"compression"`
	Size        int64               `json:"size"`
	Manifest    *initramfs.Manifest `json:"manifest"`
}

// defaultArchiveSource is SRC when none is given.
const defaultArchiveSource = "/sys/kernel/kheaders.tar.xz"

func runInitramfs(ctx context.Context, env *Env, args []string) error {
	c := commands["initramfs"]
	fs := newFlagSet(env, c)
	out := fs.String("o", "", "write the segment to `FILE` (\"-\" = stdout)")
	comp := fs.String("compress", "xz", "segment compression: `xz` (CRC32), gzip or none")
	maxInput := addInput(fs)
	common := addCommon(fs)
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return UsageErr("want at most one SRC, got %d", len(pos))
	}
	if *out == "" {
		return UsageErr("say where the segment goes: -o FILE (\"-o -\" for stdout)")
	}
	if *out == "-" && common.JSON {
		return UsageErr("-o - and --json both want stdout")
	}
	cz, err := initramfs.ParseCompression(*comp)
	if err != nil {
		return UsageErr("--compress: %v", err)
	}
	srcPath := defaultArchiveSource
	if len(pos) == 1 {
		srcPath = pos[0]
	}
	log := common.logger(env)
	src, err := openSource(ctx, env, srcPath, log, maxInput, false)
	if err != nil {
		return err
	}
	data, _, err := src.Archive(ctx)
	if err != nil {
		return carrierFail(err)
	}
	var seg bytes.Buffer
	m, err := initramfs.Build(ctx, &seg, data, &initramfs.Options{Compression: cz})
	if err != nil {
		return err
	}
	if err := output.WriteFile(*out, 0o644, env.Stdout, func(w io.Writer) error {
		_, err := w.Write(seg.Bytes())
		return err
	}); err != nil {
		return err
	}
	res := &initramfsResult{Schema: "kheaders.initramfs/v1", Source: srcPath, Output: *out, Compression: string(cz), Size: int64(seg.Len()), Manifest: m}
	if common.JSON {
		return writeJSON(env.Stdout, res)
	}
	if !common.Quiet {
		fmt.Fprintf(env.Stderr, "wrote %s: %s segment of %d bytes, headers of %s (%s), archive sha256 %s\n", *out, cz, seg.Len(), m.Release, orUnknown(m.Arch), m.ArchiveSHA256)
	}
	return nil
}
