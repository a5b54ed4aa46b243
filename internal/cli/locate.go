package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/kheaders/kheaders/cache"
	"github.com/kheaders/kheaders/locate"
)

// locateCmd is the locate command (listed in root.go).
var locateCmd = &Command{
	Name:  "locate",
	Short: "print the directory of verified headers for the running kernel (the main job)",
	Usage: `Usage: kheaders locate [flags]

Finds the kernel headers of the running kernel, verifies them against it,
caches extractions, and prints the header directory on stdout.

With --source PATH (or KHEADERS_SOURCE=PATH) those headers are used and no
others: a header tree, or a file carrying the archive (kheaders.tar.xz,
kheaders.ko[.xz|.zst|.gz], vmlinux, bzImage, Image, boot.img). If they are
missing, unusable or another kernel's, locate fails with the reason; it never
falls back to other headers.

Otherwise these sources are tried in order, each reported with -v or --json:
  cache        an earlier extraction of this kernel's archive
  modules-dir  /lib/modules/R/build and /lib/modules/R/source (split layouts
               such as Debian's linux-headers-R + linux-headers-R-common)
  distro       /usr/src/linux-headers-R, /usr/src/kernels/R
  sysfs        /sys/kernel/kheaders.tar.xz (CONFIG_IKHEADERS)
  initramfs    /run/kheaders/initramfs/kheaders.tar.xz, /kheaders/kheaders.tar.xz
               (a kheaders initramfs segment; contrib/ hooks keep it after switch_root)
  module-file  kheaders.ko read from /lib/modules/R without loading it
  module-load  load kheaders.ko (root/CAP_SYS_MODULE; never unloaded)
  registry     the archive from an OCI registry (--registry, KHEADERS_REGISTRY): by build-id, then release
  btf          vmlinux.h made from /sys/kernel/btf/vmlinux: for CO-RE BPF
               programs only, not a kernel header tree
Trees are used only when complete (include/linux/kconfig.h, generated
autoconf.h, utsrelease.h, version.h).

Before anything is handed out it is verified: UTS_RELEASE against the
running release, LINUX_VERSION_CODE against the vDSO note, every CONFIG_
symbol of autoconf.h against /proc/config.gz (or /boot/config-R), and the
arch. Headers of another kernel are refused (exit 4) with the first
differences; --no-verify hands them out with a loud warning.

Archives are extracted once into a content-addressed cache (sha256 of the
archive): /var/cache/kheaders for root, $XDG_CACHE_HOME/kheaders or
~/.cache/kheaders otherwise; --cache-dir tmpfs uses /run/kheaders.

Examples:
  kheaders locate
  kheaders locate -v --json
  kheaders locate --host-root /host        # in a container seeing the host at /host
  kheaders locate --target ssh://root@board        # a board's kernel, over the user's ssh
  kheaders locate --target adb:emulator-5554       # an Android device, over adb exec-out
  kheaders locate --target 'cmd:docker exec -i c'  # any command running 'sh -c' there
  BCC_KERNEL_SOURCE=$(kheaders locate) python3 prog.py   (a bcc program; kheaders exec does this)

--target SPEC reads the identity of the kernel running on SPEC (release,
machine, /proc/version, /proc/config.gz, build-id) and, on a cache miss,
its archive (/sys/kernel/kheaders.tar.xz or kheaders.ko, also from
Android's /system_dlkm and /vendor_dlkm), and verifies it against that
kernel; a target with no readable archive but with BTF gets a vmlinux.h
derived from its /sys/kernel/btf/vmlinux (kind btf, as the local btf
source). A second call for the same target kernel transfers no archive or
BTF. --target-timeout bounds each remote command; a transfer cut short or
timed out exits 1. extract, inspect, config and btf take --target too.
-v shows each remote command; KHEADERS_SSH and KHEADERS_ADB replace the
ssh and adb programs (with options, e.g. KHEADERS_SSH='ssh -F my.conf').

Environment: KHEADERS_SOURCE, KHEADERS_TARGET, KHEADERS_SOURCES, KHEADERS_CACHE,
KHEADERS_HOST_ROOT, KHEADERS_LOAD_MODULE (defaults for the flags below).

Exit codes: 3 no headers found (the report lists every source and its fix;
with --source: nothing there, i.e. no such path, an empty directory, no
header tree, or a file carrying no header archive), 4 headers found but they
do not match the running kernel, 1 other errors (with --source: unreadable,
not a kernel artifact, corrupt, or the cache refused).`,
	Run: runLocate,
}

// locFlags are the flags shared by locate, cflags, env and exec.
type locFlags struct {
	hostRoot, source, sources, cacheDir, load, target string
	timeout                                           time.Duration
	noVerify                                          bool
	push                                              pushFlags
	registry                                          string
	reg                                               *registryFlags
}

func addLocateFlags(fs *flag.FlagSet, env *Env) *locFlags {
	f := &locFlags{}
	fs.StringVar(&f.hostRoot, "host-root", env.getenv("KHEADERS_HOST_ROOT"), "read the host's /proc, /sys, /lib/modules, /boot and /usr/src under `DIR` (containers) (env KHEADERS_HOST_ROOT)")
	fs.StringVar(&f.source, "source", env.getenv(locate.EnvSource), "use only the header tree or archive-carrying file at `PATH`, never other headers (env KHEADERS_SOURCE)")
	fs.StringVar(&f.sources, "sources", env.getenv("KHEADERS_SOURCES"), "comma-separated `LIST` of sources to try (names as in --help); -NAME removes one, e.g. -module-load; ignored with --source (env KHEADERS_SOURCES)")
	fs.StringVar(&f.cacheDir, "cache-dir", env.getenv(cache.EnvDir), "cache `DIR` (\"tmpfs\": /run/kheaders; default /var/cache/kheaders for root, ~/.cache/kheaders otherwise) (env KHEADERS_CACHE)")
	fs.StringVar(&f.load, "load-module", env.getenv("KHEADERS_LOAD_MODULE"), "load kheaders.ko when needed: auto (real host only, with CAP_SYS_MODULE), never, always (env KHEADERS_LOAD_MODULE)")
	fs.StringVar(&f.registry, "registry", env.getenv(locate.EnvRegistry), "fetch the running kernel's archive from the OCI repository `HOST/REPO` (published with kheaders push) when no local source has it (env KHEADERS_REGISTRY)")
	f.reg = addRegistryFlags(fs, env)
	fs.StringVar(&f.target, "target", env.getenv("KHEADERS_TARGET"), "the headers of the kernel running on `SPEC`: ssh://[user@]host[:port], adb[:SERIAL] or cmd:PREFIX (docs/remote.md) (env KHEADERS_TARGET)")
	fs.DurationVar(&f.timeout, "target-timeout", envDuration(env, "KHEADERS_TARGET_TIMEOUT"), "with --target, bound each remote command to `DURATION` (default 1m) (env KHEADERS_TARGET_TIMEOUT)")
	f.push.add(fs)
	fs.BoolVar(&f.noVerify, "no-verify", false, "hand out headers even if they do not match the running kernel (loud warning)")
	return f
}

// envDuration parses a duration variable (0 when unset or malformed: the
// default applies; timeoutEnvErr reports a malformed one).
func envDuration(env *Env, k string) time.Duration {
	d, _ := time.ParseDuration(env.getenv(k))
	return d
}

// timeoutEnvErr: with --target and no --target-timeout, a malformed
// KHEADERS_TARGET_TIMEOUT is a usage error naming it, not a silent 1m.
func timeoutEnvErr(env *Env, target string, timeout time.Duration) error {
	const k = "KHEADERS_TARGET_TIMEOUT"
	v := env.getenv(k)
	if target == "" || timeout != 0 || v == "" {
		return nil
	}
	if _, err := time.ParseDuration(v); err != nil {
		return UsageErr("%s=%q is not a duration (want e.g. 90s or 2m): %v", k, v, err)
	}
	return nil
}

// targetFlags are the flags of extract, inspect, config and btf acting on
// a remote target's running kernel instead of a file.
type targetFlags struct {
	target, cacheDir string
	timeout          time.Duration
	push             pushFlags
	env              *Env
}

// pushFlags are --push and --push-binary, with --target.
type pushFlags struct {
	push   bool
	binary string
}

func (p *pushFlags) add(fs *flag.FlagSet) {
	fs.BoolVar(&p.push, "push", false, "with --target, run kheaders on the target: the one on its PATH if it speaks this version's stream, else a static kheaders copied to a temporary directory there and removed after; its answer is verified here (docs/remote.md)")
	fs.StringVar(&p.binary, "push-binary", "", "with --push, the static kheaders `PATH` built for the target's machine (default: this program, when it is static and the target's machine is this one's)")
}

func (p *pushFlags) check(target string) error {
	switch {
	case p.binary != "" && !p.push:
		return UsageErr("--push-binary goes with --push")
	case p.push && target == "":
		return UsageErr("--push runs kheaders on a target: give --target SPEC")
	}
	return nil
}

func addTargetFlags(fs *flag.FlagSet, env *Env, what string) *targetFlags {
	f := &targetFlags{env: env}
	// No default from KHEADERS_TARGET here: these commands also act on a
	// local SRC (and btf on this machine's BTF with none), which a
	// variable exported for locate/cflags/env/exec/cc must not redirect.
	fs.StringVar(&f.target, "target", "", what+" of the kernel running on `SPEC` instead of SRC: ssh://[user@]host[:port], adb[:SERIAL] or cmd:PREFIX (docs/remote.md); KHEADERS_TARGET does not apply here, only the flag")
	fs.StringVar(&f.cacheDir, "cache-dir", env.getenv(cache.EnvDir), "with --target, the host cache `DIR` (as for locate) (env KHEADERS_CACHE)")
	fs.DurationVar(&f.timeout, "target-timeout", envDuration(env, "KHEADERS_TARGET_TIMEOUT"), "with --target, bound each remote command to `DURATION` (default 1m) (env KHEADERS_TARGET_TIMEOUT)")
	f.push.add(fs)
	return f
}

// checkSrc: with --target no SRC, without it exactly one.
func (f *targetFlags) checkSrc(pos []string) error {
	switch {
	case f.target != "" && len(pos) != 0:
		return UsageErr("--target reads the target's running kernel: give no SRC (got %q)", pos)
	case f.target == "" && len(pos) != 1:
		return UsageErr("want exactly one SRC, got %d", len(pos))
	}
	if err := timeoutEnvErr(f.env, f.target, f.timeout); err != nil {
		return err
	}
	return f.push.check(f.target)
}

func (f *targetFlags) options(env *Env, c *Common) *locate.Options {
	return &locate.Options{Target: f.target, CacheDir: f.cacheDir, TargetTimeout: f.timeout, Logger: c.logger(env), Push: f.push.push, PushBinary: f.push.binary}
}

// locateCode maps a locate error to its exit code.
func locateCode(err error) int {
	switch {
	case errors.Is(err, locate.ErrTargetSpec):
		return ExitUsage
	case errors.Is(err, cache.ErrUnsafe) && !errors.Is(err, locate.ErrMismatch):
		// Headers may exist but the cache is refused: an error to fix,
		// not "not found".
		return ExitError
	case errors.Is(err, locate.ErrNotFound), errors.Is(err, locate.ErrNotArchive):
		return ExitNotFound
	case errors.Is(err, locate.ErrMismatch):
		return ExitVerify
	}
	return ExitError
}

func (f *locFlags) options(env *Env, c *Common) (*locate.Options, error) {
	o := &locate.Options{HostRoot: f.hostRoot, Override: f.source, CacheDir: f.cacheDir, NoVerify: f.noVerify, Target: f.target, TargetTimeout: f.timeout, Logger: c.logger(env), Registry: f.registry, RegistryOptions: f.reg.options(c.logger(env))}
	if f.target != "" && f.hostRoot != "" {
		return nil, UsageErr("--target and --host-root exclude each other: the target's kernel is read from the target")
	}
	if err := f.push.check(f.target); err != nil {
		return nil, err
	}
	if err := timeoutEnvErr(env, f.target, f.timeout); err != nil {
		return nil, err
	}
	o.Push, o.PushBinary = f.push.push, f.push.binary
	switch f.load {
	case "", "auto":
		o.Load = locate.LoadAuto
	case "never":
		o.Load = locate.LoadNever
	case "always":
		o.Load = locate.LoadAlways
	default:
		return nil, UsageErr("--load-module %q: want auto, never or always", f.load)
	}
	known := map[string]bool{}
	for _, s := range locate.DefaultSources() {
		known[s.Name()] = true
	}
	for _, n := range strings.Split(f.sources, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		name, disable := strings.CutPrefix(n, "-")
		if name == "override" && !disable {
			// The explicit source is not in the chain: --source alone
			// already means "only these headers".
			if o.Override == "" {
				return nil, UsageErr("--sources override: name the headers with --source PATH or %s=PATH", locate.EnvSource)
			}
			continue
		}
		if !known[name] && !disable {
			var names []string
			for _, s := range locate.DefaultSources() {
				names = append(names, s.Name())
			}
			return nil, UsageErr("--sources: unknown source %q (known: %s)", name, strings.Join(names, ", "))
		}
		if disable {
			o.Disable = append(o.Disable, name)
		} else {
			o.Only = append(o.Only, name)
		}
	}
	return o, nil
}

// locateResult is the JSON of locate (schema kheaders.locate/v1).
type locateResult struct {
	Schema string `json:"schema"`
	*locate.Headers
	Flags []string        `json:"flags"`
	Env   []locate.EnvVar `json:"env"`
}

// failureResult is the JSON printed by locate/cflags/env/exec when no
// headers could be handed out.
type failureResult struct {
	Schema   string           `json:"schema"`
	Error    string           `json:"error"`
	Exit     int              `json:"exit"`
	Release  string           `json:"release,omitempty"`
	Attempts []locate.Attempt `json:"attempts"`
	Hints    []string         `json:"hints,omitempty"`
}

// doLocate runs locate.Locate for a command and maps its errors to exit
// codes; with --json a failure report is printed on stdout.
func doLocate(ctx context.Context, env *Env, c *Common, f *locFlags, schema string) (*locate.Headers, error) {
	opts, err := f.options(env, c)
	if err != nil {
		return nil, err
	}
	pr := newProgress(env, c, "kheaders: extracting headers")
	if pr != nil {
		opts.Progress = pr.percent
	}
	h, err := locate.Locate(ctx, opts)
	pr.clear()
	if err != nil {
		code := locateCode(err)
		if c.JSON {
			fr := failureResult{Schema: schema, Error: err.Error(), Exit: code, Attempts: []locate.Attempt{}}
			var le *locate.Error
			if errors.As(err, &le) {
				fr.Error = le.Err.Error()
				fr.Release = le.Release
				fr.Attempts = le.Attempts
				fr.Hints = le.Hints
			}
			writeJSON(env.Stdout, fr)
		}
		return nil, Fail(code, err)
	}
	for _, w := range h.Warnings {
		fmt.Fprintf(env.Stderr, "kheaders: WARNING: %s\n", w)
	}
	if len(h.Warnings) > 0 {
		fmt.Fprintf(env.Stderr, "kheaders: WARNING: these headers are NOT those of the running kernel (%s); programs built with them may read wrong offsets\n", h.Release)
	}
	if h.Kind == locate.KindBTF && !c.Quiet {
		fmt.Fprint(env.Stderr, btfNote(h))
	}
	return h, nil
}

// locateCommand is the start of the commands that take no arguments and
// report on the located headers (locate, cflags, env): it parses the locate
// flags, the command's own (added by own) and the common ones, and locates.
func locateCommand(ctx context.Context, env *Env, args []string, name, schema string, own func(*flag.FlagSet)) (*locate.Headers, *Common, error) {
	c := commands[name]
	fs := newFlagSet(env, c)
	lf := addLocateFlags(fs, env)
	own(fs)
	common := addCommon(fs)
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return nil, nil, err
	}
	if len(pos) != 0 {
		return nil, nil, UsageErr("%s takes no arguments, got %q", name, pos)
	}
	h, err := doLocate(ctx, env, common, lf, schema)
	return h, common, err
}

func runLocate(ctx context.Context, env *Env, args []string) error {
	var build *bool
	h, common, err := locateCommand(ctx, env, args, "locate", "kheaders.locate/v1", func(fs *flag.FlagSet) {
		build = fs.Bool("build", false, "print the build (generated headers) directory instead; differs only for split layouts")
	})
	if err != nil {
		return err
	}
	if common.JSON {
		return writeJSON(env.Stdout, locateResult{Schema: "kheaders.locate/v1", Headers: h, Flags: h.Flags(), Env: h.Env()})
	}
	if *build {
		fmt.Fprintln(env.Stdout, h.BuildDir)
	} else {
		fmt.Fprintln(env.Stdout, h.Dir)
	}
	return nil
}

// btfNote labels a BTF-derived result on stderr (issue 10 point 6): it is a
// vmlinux.h for CO-RE programs, not a header tree, and env/exec leave out
// the variables that promise one.
func btfNote(h *locate.Headers) string {
	return fmt.Sprintf("kheaders: note: %s is BTF-derived: it holds only vmlinux.h, for CO-RE BPF programs (built with -g -O2, which the cflags carry), not a kernel header tree; "+
		"BCC_KERNEL_SOURCE, BPFTRACE_KERNEL_SOURCE and BPFTRACE_KERNEL_BUILD are left out of env/exec because bcc and bpftrace would look for kernel headers there "+
		"(for those, install the kernel's headers package or use a kernel with CONFIG_IKHEADERS)\n", h.Dir)
}
