package cli

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"

	"github.com/kheaders/kheaders/pack"
)

// packCmd is the pack command (listed in root.go).
var packCmd = &Command{
	Name:  "pack",
	Short: "build the in-kernel header archive (kheaders_data.tar.xz) from a kernel tree",
	Usage: `Usage: kheaders pack [flags] [BUILD_TREE]

Builds the archive CONFIG_IKHEADERS embeds in the kernel (the file behind
/sys/kernel/kheaders.tar.xz) from a prepared kernel tree, like the kernel's
kernel/gen_kheaders.sh: the same headers for the tree's kernel version
(read from its Makefile), the same GNU tar layout, in a few seconds.

BUILD_TREE is the build (object) tree, default ".": the kernel source tree
for in-tree builds, the O= directory otherwise (its "source" link gives the
source tree; or pass --src). It must be prepared ('make prepare'), so that
include/generated/ exists.

Comment stripping (--strip):
  default  a C lexer: removes /* */ and // comments (not those naming SPDX),
           never inside string/char literals, never pasting tokens together
  kbuild   Kbuild's perl regex exactly (its flaws included): with the same
           KBUILD_BUILD_TIMESTAMP and xz, the archive is byte-identical to
           gen_kheaders.sh's
  none     headers as they are

xz: the xz program ($XZ, as Kbuild) when present, else a pure-Go encoder
(--xz). With --strip=kbuild xz runs exactly as Kbuild runs it (no options);
otherwise it compresses in --xz-threads parallel blocks.

Examples:
  kheaders pack -o /tmp/kheaders.tar.xz /var/tmp/linux/build
  KBUILD_BUILD_TIMESTAMP=@1700000000 kheaders pack --strip=kbuild --src ~/linux -o k.tar.xz ~/linux/out
  kheaders pack --compress=zstd --json -o kheaders.tar.zst .

Kbuild drop-in (--kbuild): run in the build tree with Kbuild's environment and
arguments, as kernel/Makefile runs kernel/gen_kheaders.sh (see
scripts/kbuild/gen_kheaders.sh and docs/pack.md); skips the work when
nothing changed since the last run.

Environment: srctree (--src), SRCARCH (--arch), KBUILD_BUILD_TIMESTAMP
(--timestamp; unset: every member gets the build time), XZ (xz command,
default "xz"), KHEADERS_STRIP (--strip default).`,
	Run: runPack,
}

func runPack(ctx context.Context, env *Env, args []string) error {
	c := commands["pack"]
	fs := newFlagSet(env, c)
	com := addCommon(fs)
	out := fs.String("o", "", "output file (default kheaders_data.tar.xz, .tar.zst or .tar by --compress)")
	src := fs.String("src", env.getenv("srctree"), "kernel source tree (env srctree; default BUILD_TREE/source, else BUILD_TREE)")
	arch := fs.String("arch", env.getenv("SRCARCH"), "SRCARCH: arch/ directory name, e.g. x86, arm64 (env SRCARCH; default derived from the build tree)")
	stripDef := env.getenv("KHEADERS_STRIP")
	if stripDef == "" {
		stripDef = "default"
	}
	strip := fs.String("strip", stripDef, "comment stripping: default, kbuild or none (env KHEADERS_STRIP)")
	keepLines := fs.Bool("keep-lines", false, "default stripping: keep line numbers (removed comments leave their line breaks)")
	compress := fs.String("compress", "xz", "compression: xz, zstd or none")
	xzMode := fs.String("xz", "auto", "xz encoder: auto (the xz program if found, else Go), exec or go")
	xzThreads := fs.Int("xz-threads", 0, "xz program threads/blocks; 0: 1 with --strip=kbuild (Kbuild's exact invocation), else the number of CPUs")
	ts := fs.String("timestamp", env.getenv("KBUILD_BUILD_TIMESTAMP"), "mtime of every member, as KBUILD_BUILD_TIMESTAMP (@SECONDS, RFC 2822, ISO 8601, date output)")
	kver := fs.String("kernel-version", "", "kernel version whose layout to follow, e.g. 6.12 (default: from the source tree's Makefile)")
	srclist := fs.String("srclist", "", "Kbuild 6.17+ kheaders-srclist file")
	objlist := fs.String("objlist", "", "Kbuild 6.17+ kheaders-objlist file")
	jobs := fs.Int("j", 0, "files processed in parallel (default GOMAXPROCS)")
	check := fs.Bool("check", false, "write no archive: check that default stripping keeps every header's token stream, and list the headers Kbuild's regex damages (with -v also every header whose two strippings differ, and why); exit 4 if the default mode changed one")
	kbuild := fs.Bool("kbuild", false, "Kbuild drop-in mode: args TARFILE [SRCLIST OBJLIST [TIMESTAMP]], environment as gen_kheaders.sh")
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	o := pack.Options{
		SrcTree: *src, SRCARCH: *arch, Version: *kver, SrcList: *srclist, ObjList: *objlist,
		Strip: pack.Strip(*strip), KeepLines: *keepLines, Timestamp: *ts,
		Compress: pack.Compress(*compress), Jobs: *jobs, Logger: com.logger(env),
	}
	switch o.Strip {
	case pack.StripDefault, pack.StripKbuild, pack.StripNone:
	default:
		return UsageErr("--strip=%q: want default, kbuild or none", *strip)
	}
	switch o.Compress {
	case pack.CompressXZ, pack.CompressZstd, pack.CompressNone:
	default:
		return UsageErr("--compress=%q: want xz, zstd or none", *compress)
	}
	switch pack.XZMode(*xzMode) {
	case pack.XZAuto, pack.XZExec, pack.XZGo:
	default:
		return UsageErr("--xz=%q: want auto, exec or go", *xzMode)
	}
	threads := *xzThreads
	if threads == 0 {
		threads = runtime.NumCPU()
		if o.Strip == pack.StripKbuild {
			threads = 1
		}
	}
	o.XZ = pack.XZOptions{Mode: pack.XZMode(*xzMode), Command: env.getenv("XZ"), Threads: threads}
	if env.Environ != nil {
		o.XZ.Env = env.Environ()
	}

	if *kbuild {
		return runPackKbuild(ctx, env, com, o, pos)
	}
	if len(pos) > 1 {
		return UsageErr("at most one BUILD_TREE argument, got %d", len(pos))
	}
	if len(pos) == 1 {
		o.ObjTree = pos[0]
	}
	if *check {
		return runPackCheck(ctx, env, com, o)
	}
	if *out == "" {
		*out = map[pack.Compress]string{pack.CompressXZ: "kheaders_data.tar.xz", pack.CompressZstd: "kheaders_data.tar.zst", pack.CompressNone: "kheaders_data.tar"}[o.Compress]
	}
	pr := newProgress(env, com, "kheaders pack:")
	if pr != nil {
		o.Progress = pr.count
	}
	st, err := pack.WriteFile(ctx, o, *out)
	pr.clear()
	if err != nil {
		return packFail(err)
	}
	return packReport(env, com, st, *out, false)
}

func packFail(err error) error {
	switch {
	case errors.Is(err, pack.ErrNotKernelTree), errors.Is(err, pack.ErrUnprepared):
		return Fail(ExitNotFound, err)
	case errors.Is(err, pack.ErrBadTimestamp), errors.Is(err, pack.ErrBadVersion), errors.Is(err, pack.ErrNoArch):
		return Fail(ExitUsage, err)
	}
	return err
}

type packJSON struct {
	Schema  string `json:"schema"`
	Output  string `json:"output"`
	Skipped bool   `json:"skipped,omitempty"`
	*pack.Stats
}

func packReport(env *Env, com *Common, st *pack.Stats, out string, skipped bool) error {
	if com.JSON {
		return writeJSON(env.Stdout, packJSON{Schema: "kheaders.pack/v1", Output: out, Skipped: skipped, Stats: st})
	}
	if com.Quiet || st == nil {
		return nil
	}
	pct := 0.0
	if st.BytesIn > 0 {
		pct = 100 * float64(st.BytesIn-st.BytesOut) / float64(st.BytesIn)
	}
	fmt.Fprintf(env.Stderr, "kheaders pack: %s (Linux %s, %s): %d files, %d symlinks, %d dirs; headers %s -> %s after stripping (%s, -%.1f%%); tar %s; %s %s; %.2fs\n",
		out, st.Version, st.SRCARCH, st.Files, st.Symlinks, st.Dirs, human(st.BytesIn), human(st.BytesOut), st.Strip, pct,
		human(st.TarBytes), st.Compressor, human(st.ArchiveBytes), st.Seconds)
	return nil
}

func human(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 2, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// runPackKbuild is the gen_kheaders.sh contract: cwd is the build tree,
// $1 the tar file (relative to it), 6.17+ adds $2 srclist, $3 objlist,
// $4 timestamp; env srctree, building_out_of_srctree, SRCARCH,
// KBUILD_BUILD_TIMESTAMP, XZ.
func runPackKbuild(ctx context.Context, env *Env, com *Common, o pack.Options, pos []string) error {
	if len(pos) != 1 && len(pos) != 3 && len(pos) != 4 {
		return UsageErr("--kbuild takes TARFILE [SRCLIST OBJLIST [TIMESTAMP]], got %d arguments", len(pos))
	}
	tarfile := pos[0]
	o.ObjTree = "."
	if env.getenv("building_out_of_srctree") == "" {
		// In-tree build: Kbuild archives only the current tree.
		o.SrcTree = "."
	}
	if len(pos) >= 3 {
		o.SrcList, o.ObjList = pos[1], pos[2]
		o.SrcTreeArg = env.getenv("srctree")
		if o.Version == "" {
			o.Version = "6.17" // only 6.17+ passes the lists
		}
		if len(pos) == 4 {
			o.Timestamp = pos[3]
		}
	}
	st, err := pack.Kbuild(ctx, o, tarfile, pack.KbuildOptions{
		Tool: "kheaders " + version(),
		Generating: func() {
			if !com.Quiet && !com.JSON {
				fmt.Fprintf(env.Stderr, "  GEN     %s\n", tarfile)
			}
		},
	})
	if err != nil {
		return packFail(err)
	}
	if st == nil {
		return packReport(env, com, nil, tarfile, true)
	}
	if com.Verbose || com.JSON {
		return packReport(env, com, st, tarfile, false)
	}
	return nil
}

func runPackCheck(ctx context.Context, env *Env, com *Common, o pack.Options) error {
	res, err := pack.Check(ctx, o)
	if err != nil {
		return packFail(err)
	}
	bad := 0
	for _, f := range res.Findings {
		if f.Mode == pack.StripDefault {
			bad++
		}
	}
	if com.JSON {
		if err := writeJSON(env.Stdout, struct {
			Schema string `json:"schema"`
			*pack.CheckResult
		}{"kheaders.pack-check/v1", res}); err != nil {
			return err
		}
	} else {
		for _, f := range res.Findings {
			fmt.Fprintf(env.Stdout, "%-7s %s: %s\n", f.Mode, f.Path, f.Reason)
		}
		if com.Verbose {
			for _, f := range res.Differences {
				fmt.Fprintf(env.Stdout, "%-7s %s: %s\n", f.Mode, f.Path, f.Reason)
			}
		}
		if !com.Quiet {
			fmt.Fprintf(env.Stderr, "kheaders pack --check: %d headers; token stream changed by default stripping: %d, by Kbuild's regex: %d; bytes differ between the two: %d (-v lists them)\n",
				res.Files, bad, len(res.Findings)-bad, len(res.Differences))
		}
	}
	if bad > 0 {
		return Fail(ExitVerify, fmt.Errorf("default stripping changed the token stream of %d headers (a kheaders bug: please report it)", bad))
	}
	return nil
}
