package cli

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/kheaders/kheaders/internal/output"
	"github.com/kheaders/kheaders/locate"
)

// serveTargetCmd is the serve-target command (listed in root.go).
var serveTargetCmd = &Command{
	Name:  "serve-target",
	Short: "the program the host runs on a target with --push (not for people)",
	Usage: `Usage: kheaders serve-target [--timeout DURATION]

Not for people: this is what "kheaders locate --target SPEC --push" (and
cflags, env, exec, cc, extract, inspect with --push) runs on the target,
either the kheaders installed there or a static one the host copied to a
temporary directory. It locates the headers of the kernel it runs on with
the local chain (cache, sysfs, initramfs, module-file, module-load,
registry, btf; header trees are not sent), verifies them, and writes one
binary stream (kheaders-target-stream/1, docs/remote.md) to stdout: a JSON
report, then the archive as found or the raw BTF. The host trusts none of
it: it verifies the archive against the kernel identity it read itself.

The cache is private (a temporary directory under $TMPDIR, removed on
exit) unless --cache-dir or KHEADERS_CACHE names one. KHEADERS_HOST_ROOT
(--host-root) works as for locate.

Examples (what the host runs, through ssh, adb exec-out or cmd:):
  TMPDIR=/data/local/tmp/kheaders-push-XXXX /data/local/tmp/kheaders-push-XXXX/kheaders serve-target --timeout 54s
  kheaders serve-target > stream.bin      # by hand, to see what a device sends

Exit codes: 0 when the stream was written (a report that no headers were
found included: the host reads the reasons from it), 1 otherwise.`,
	Run: runServeTarget,
}

func runServeTarget(ctx context.Context, env *Env, args []string) error {
	c := commands["serve-target"]
	fs := newFlagSet(env, c)
	timeout := fs.Duration("timeout", 0, "stop after `DURATION` (the host gives up on the target a little later)")
	hostRoot := fs.String("host-root", env.getenv("KHEADERS_HOST_ROOT"), "read the machine's /proc, /sys and /lib/modules under `DIR` (a container seeing it there) (env KHEADERS_HOST_ROOT)")
	cacheDir := fs.String("cache-dir", env.getenv("KHEADERS_CACHE"), "cache `DIR` (default: a private temporary one) (env KHEADERS_CACHE)")
	common := addCommon(fs)
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return UsageErr("serve-target takes no arguments, got %q", pos)
	}
	if common.JSON {
		return UsageErr("serve-target writes its own binary stream; --json is not supported")
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	start := time.Now()
	var serr error
	werr := output.WriteFile("-", 0, env.Stdout, func(w io.Writer) error {
		serr = locate.ServeTarget(ctx, w, &locate.Options{HostRoot: *hostRoot, CacheDir: *cacheDir, Logger: common.logger(env)})
		var le *locate.Error
		if serr != nil && errors.As(serr, &le) {
			return nil // the stream holds the error report
		}
		return serr
	})
	common.logger(env).Debug("served", "elapsed", time.Since(start).Round(time.Millisecond), "err", serr)
	// An error report is a complete stream: exit 0 so that the host reads
	// it (a non-zero status means the stream is not to be trusted whole).
	return werr
}
