package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kheaders/kheaders/bootimg"
	"github.com/kheaders/kheaders/initramfs"
	"github.com/kheaders/kheaders/internal/output"
)

// bootimgCmd is the bootimg command (listed in root.go).
var bootimgCmd = &Command{
	Name:  "bootimg",
	Short: "add the header archive to an Android boot image's ramdisk (bootimg add-headers)",
	Usage: `Usage: kheaders bootimg add-headers BOOT.img [SRC] -o NEW.img [flags]

Appends a kheaders initramfs segment (see kheaders initramfs: the archive at
` + initramfs.ArchivePath + ` plus its manifest) to the ramdisk of the
Android boot image BOOT.img (header versions 0 to 4) and writes the result
to NEW.img: ramdisk size, section offsets and page padding updated, and for
v0-v2 the id (SHA-1) recomputed as mkbootimg does, so unpack_bootimg and
mkbootimg read it back. The headers then travel with the kernel
(fastboot boot NEW.img sends kernel and ramdisk together) without
CONFIG_IKHEADERS=y keeping ~4 MB in kernel memory.

SRC is any artifact carrying the archive (see kheaders extract); default:
the archive the image's own kernel carries (a kernel built with
CONFIG_IKHEADERS=y that should move to =n).

Not supported yet: vendor_boot images (v3/v4 ramdisk fragments) and images
with an AVB footer (add the headers before signing). A v4 boot signature is
kept but no longer covers the image (reported as signature_stale).

Examples:
  kheaders bootimg add-headers boot.img -o boot-headers.img
  kheaders bootimg add-headers boot.img out/kheaders_data.tar.xz -o new.img --json
  unpack_bootimg --boot_img new.img --out unpacked

Exit codes: 3 when neither SRC nor the image carries a header archive,
5 for an image kind that is not rewritten.`,
	Run: runBootimg,
}

type bootimgResult struct {
	Schema   string              `json:"schema"`
	Image    string              `json:"image"`
	Source   string              `json:"source,omitempty"`
	Output   string              `json:"output"`
	Boot     *bootimg.Info       `json:"boot"`
	Manifest *initramfs.Manifest `json:"manifest"`
}

func runBootimg(ctx context.Context, env *Env, args []string) error {
	c := commands["bootimg"]
	fs := newFlagSet(env, c)
	out := fs.String("o", "", "write the new image to `FILE` (\"-\" = stdout)")
	comp := fs.String("compress", "xz", "segment compression: `xz` (CRC32), gzip or none")
	maxInput := addInput(fs)
	common := addCommon(fs)
	if len(args) == 0 || args[0] != "add-headers" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			// The same text as help bootimg: usage and add-headers' flags.
			printCommandHelp(env.Stdout, c, fs)
			return nil
		}
		return UsageErr("want a subcommand: kheaders bootimg add-headers BOOT.img [SRC] -o NEW.img")
	}
	pos, err := parse(env, c, fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) < 1 || len(pos) > 2 {
		return UsageErr("want BOOT.img and at most one SRC, got %d arguments", len(pos))
	}
	if *out == "" {
		return UsageErr("say where the new image goes: -o NEW.img")
	}
	if *out == "-" && common.JSON {
		return UsageErr("-o - and --json both want stdout")
	}
	cz, err := initramfs.ParseCompression(*comp)
	if err != nil {
		return UsageErr("--compress: %v", err)
	}
	log := common.logger(env)
	img, err := os.ReadFile(pos[0])
	if err != nil {
		if os.IsNotExist(err) {
			return Fail(ExitNotFound, err)
		}
		return err
	}
	o := &bootimg.Options{Compression: cz}
	res := &bootimgResult{Schema: "kheaders.bootimg/v1", Image: pos[0], Output: *out}
	if len(pos) == 2 {
		src, err := openSource(ctx, env, pos[1], log, maxInput, false)
		if err != nil {
			return err
		}
		if o.Archive, _, err = src.Archive(ctx); err != nil {
			return carrierFail(err)
		}
		res.Source = pos[1]
	}
	newImg, info, m, err := bootimg.AddHeaders(ctx, img, o)
	if err != nil {
		return bootimgFail(carrierFail(err))
	}
	if err := output.WriteFile(*out, 0o644, env.Stdout, func(w io.Writer) error {
		_, err := w.Write(newImg)
		return err
	}); err != nil {
		return err
	}
	res.Boot, res.Manifest = info, m
	if common.JSON {
		return writeJSON(env.Stdout, res)
	}
	if !common.Quiet {
		fmt.Fprintf(env.Stderr, "wrote %s: boot image v%d, ramdisk %d -> %d bytes, headers of %s (archive sha256 %s)\n", *out, info.HeaderVersion, info.RamdiskBefore, info.RamdiskAfter, m.Release, m.ArchiveSHA256)
		if info.SignatureStale {
			fmt.Fprintf(env.Stderr, "WARNING: the v4 boot signature no longer covers the image: sign it again\n")
		}
	}
	return nil
}

func bootimgFail(err error) error {
	var ee *ExitErr
	if errors.As(err, &ee) {
		return err
	}
	if errors.Is(err, bootimg.ErrNotSupported) {
		return Fail(ExitNotSupported, err)
	}
	return err
}
