package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/kheaders/kheaders/archive"
	"github.com/kheaders/kheaders/carrier"
	"github.com/kheaders/kheaders/internal/output"
	"github.com/kheaders/kheaders/locate"
)

// extractCmd is the extract command (listed in root.go).
var extractCmd = &Command{
	Name:  "extract",
	Short: "get the header archive out of a kernel artifact (-o FILE) or unpack it (-C DIR)",
	Usage: `Usage: kheaders extract SRC (-o FILE | -C DIR) [flags]
       kheaders extract --target SPEC (-o FILE | -C DIR) [flags]

Finds the kernel header archive (kheaders_data.tar.xz, CONFIG_IKHEADERS) in
SRC and writes it byte-exact to FILE (its sha256 equals the build's
kheaders_data.tar.xz), or unpacks it safely into the new directory DIR.
SRC is detected from its content, not its name, and may be:
  - /sys/kernel/kheaders.tar.xz or any kheaders .tar.xz,
  - kheaders.ko, kheaders.ko.xz, .ko.zst, .ko.gz (CONFIG_IKHEADERS=m),
  - vmlinux (=y), with symbols or stripped,
  - a kernel image: x86 bzImage/vmlinuz (any kernel compressor), arm64 Image
    and Image.gz/.lz4/.bz2/.lzma/.xz/.zst/.lzo, EFI zboot vmlinuz.efi, arm
    zImage,
  - an Android boot image (v0-v4), or an initramfs cpio holding one of these,
  - "-" for standard input.

-o FILE writes atomically (temporary file, then rename; nothing is left on
error); a device or FIFO is written through, a symlink is followed, never
replaced; "-o -" writes to stdout. -C DIR refuses absolute paths, "..", links leaving the tree, device
nodes and hard links, caps sizes against decompression bombs, and creates DIR
atomically: DIR must not exist or be an empty directory (as with tar -C; a
non-empty one is refused, never merged into), and on error nothing is left
behind.

Examples:
  kheaders extract /sys/kernel/kheaders.tar.xz -C /tmp/headers
  kheaders extract /boot/vmlinuz-$(uname -r) -o kheaders.tar.xz
  kheaders extract /lib/modules/$(uname -r)/kernel/kernel/kheaders.ko.xz -o - | tar -tJ
  kheaders extract boot.img -C ./headers --json
  kheaders extract --target adb:emulator-5554 -o device-kheaders.tar.xz
  kheaders extract --target ssh://root@board -C ./board-headers

--target SPEC (docs/remote.md) takes the archive of the kernel running on
the target instead of SRC: its /sys/kernel/kheaders.tar.xz or kheaders.ko
(also Android's /system_dlkm, /vendor_dlkm), verified against that kernel
(release, /proc/config.gz, version, arch) exactly as locate --target does,
and kept in the host cache (--cache-dir): a second call for the same target
kernel reads only its identity (one small command). Exit 3 when the target
has no archive, 4 when its archive is another kernel's, 1 when it may not be
read (Android SELinux: the report names the fixes) or the transfer failed;
nothing is written then.

Exit codes: 3 when SRC carries no header archive (kernel built without
CONFIG_IKHEADERS), 5 when SRC cannot provide one in this form (a directory).`,
	Run: runExtract,
}

type extractResult struct {
	Schema  string               `json:"schema"`
	Source  string               `json:"source"`
	Output  string               `json:"output,omitempty"`
	Dir     string               `json:"dir,omitempty"`
	Kind    string               `json:"kind"`
	Layers  []carrier.Layer      `json:"layers"`
	Archive *carrier.ArchiveInfo `json:"archive"`
	Files   int                  `json:"files,omitempty"`
	Entries int                  `json:"entries,omitempty"`
	Bytes   int64                `json:"bytes,omitempty"`
	Release string               `json:"release,omitempty"`
	Seconds float64              `json:"seconds"`
	// With --target: where on the target the archive came from and what
	// this call read from it.
	Origin string               `json:"origin,omitempty"`
	Target *locate.RemoteTarget `json:"target,omitempty"`
}

func runExtract(ctx context.Context, env *Env, args []string) error {
	c := commands["extract"]
	fs := newFlagSet(env, c)
	out := fs.String("o", "", "write the archive, byte-exact, to `FILE` (\"-\" = stdout)")
	dir := fs.String("C", "", "extract the archive into the new directory `DIR`")
	maxBytes := fs.Int64("max-bytes", archive.DefaultMaxBytes, "refuse archives whose files add up to more than `N` bytes")
	maxEntries := fs.Int("max-entries", archive.DefaultMaxEntries, "refuse archives with more than `N` members")
	maxInput := addInput(fs)
	tf := addTargetFlags(fs, env, "the verified archive")
	common := addCommon(fs)
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if err := tf.checkSrc(pos); err != nil {
		return err
	}
	if *out == "" && *dir == "" {
		return UsageErr("say where the archive goes: -o FILE or -C DIR")
	}
	if *out == "-" && common.JSON {
		return UsageErr("-o - and --json both want stdout")
	}
	log := common.logger(env)
	start := time.Now()
	var (
		data  []byte
		res   *extractResult
		chain string // where the archive was found, for messages
	)
	if tf.target != "" {
		// The target's running kernel: its verified archive, from the
		// host cache when a previous call kept it.
		arch, h, err := locate.TargetArchive(ctx, tf.options(env, common))
		if err != nil {
			return Fail(locateCode(err), err)
		}
		data = arch
		chain = h.Origin + " (verified against the kernel running on " + tf.target + ")"
		res = &extractResult{Schema: "kheaders.extract/v1", Source: tf.target, Kind: "target", Layers: []carrier.Layer{},
			Archive: &carrier.ArchiveInfo{How: "target", Size: int64(len(data)), SHA256: h.Key}, Release: h.Release,
			Origin: h.Origin, Target: h.Target}
	} else {
		// With -C alone, the archive is hashed once, by the extraction as
		// it reads it, not first by carrier as well.
		src, err := openSource(ctx, env, pos[0], log, maxInput, *out == "")
		if err != nil {
			return err
		}
		var info *carrier.Info
		data, info, err = src.Archive(ctx)
		if err != nil {
			return carrierFail(err)
		}
		chain = info.Chain()
		log.Debug("found archive", "chain", chain, "how", info.Archive.How, "bytes", len(data))
		res = &extractResult{Schema: "kheaders.extract/v1", Source: pos[0], Kind: info.Kind, Layers: info.Layers, Archive: info.Archive, Release: info.Release}
	}
	if *out != "" {
		// Decode the archive (xz block checks, index, tar) before a byte
		// of it is committed: a corrupt archive is refused, not written.
		if _, err := archive.Inspect(ctx, bytes.NewBuffer(data), &archive.Options{Logger: log, Limits: archive.Limits{MaxBytes: *maxBytes, MaxEntries: *maxEntries}, ArchiveSHA256: res.Archive.SHA256}); err != nil {
			return fmt.Errorf("verify the archive found in %s before writing it: %w", chain, err)
		}
		if err := output.WriteFile(*out, 0o644, env.Stdout, output.Bytes(data)); err != nil {
			return err
		}
		res.Output = *out
	}
	if *dir != "" {
		opts := &archive.Options{Logger: log, Limits: archive.Limits{MaxBytes: *maxBytes, MaxEntries: *maxEntries}, NoHash: true, ArchiveSHA256: res.Archive.SHA256,
			// --quiet without --json reports nothing: no hash to compute.
			NoArchiveSHA256: common.Quiet && !common.JSON}
		pr := newProgress(env, common, "kheaders: extracting")
		if pr != nil {
			opts.Progress = pr.percent
		}
		// Like tar -C, an existing empty directory is accepted: it is
		// removed (rmdir refuses a non-empty one, so nothing is clobbered)
		// and the tree is renamed into its place; on error it is put back.
		restore, err := takeEmptyDir(*dir)
		if err != nil {
			return err
		}
		m, err := archive.Extract(ctx, bytes.NewBuffer(data), *dir, opts)
		if err != nil {
			restore()
		}
		pr.clear()
		if err != nil {
			return archiveFail(err)
		}
		res.Dir, res.Files, res.Entries, res.Bytes = *dir, m.Files, len(m.Entries), m.Bytes
		res.Archive.SHA256 = m.ArchiveSHA256
		if m.Release != "" {
			res.Release = m.Release
		}
	}
	res.Seconds = time.Since(start).Seconds()
	if common.JSON {
		return writeJSON(env.Stdout, res)
	}
	if !common.Quiet {
		what := fmt.Sprintf("archive %d bytes, sha256 %s, found by %s in %s", len(data), res.Archive.SHA256, res.Archive.How, chain)
		if t := res.Target; t != nil {
			what = fmt.Sprintf("archive %d bytes, sha256 %s, from %s; %d bytes read from the target in %d commands", len(data), res.Archive.SHA256, chain, t.Bytes, t.Commands)
		}
		if res.Output != "" && res.Output != "-" {
			fmt.Fprintf(env.Stderr, "wrote %s: %s\n", res.Output, what)
		}
		if res.Dir != "" {
			fmt.Fprintf(env.Stderr, "extracted %d files (%d entries, %d bytes, release %s) into %s: %s\n", res.Files, res.Entries, res.Bytes, orUnknown(res.Release), res.Dir, what)
		}
	}
	return nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// carrierFail maps carrier errors to exit codes.
func carrierFail(err error) error {
	switch {
	case errors.Is(err, carrier.ErrNotFound):
		return Fail(ExitNotFound, err)
	case errors.Is(err, carrier.ErrNotSupported):
		return Fail(ExitNotSupported, err)
	}
	return err
}

// takeEmptyDir removes dir when it is an existing empty directory (not a
// symlink) and returns a function recreating it with its mode; for any
// other dir it does nothing (archive.Extract refuses what exists).
func takeEmptyDir(dir string) (restore func(), err error) {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() {
		return func() {}, nil
	}
	if err := os.Remove(dir); err != nil {
		// Not empty (ENOTEMPTY/EEXIST) or not removable: let Extract
		// report that the destination exists.
		return func() {}, nil
	}
	return func() { os.Mkdir(dir, fi.Mode().Perm()) }, nil
}

// archiveFail maps archive errors to exit codes.
func archiveFail(err error) error {
	if errors.Is(err, archive.ErrExist) {
		return Fail(ExitError, fmt.Errorf("%w (choose a directory that does not exist yet or is empty)", err))
	}
	return err
}
