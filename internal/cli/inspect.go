package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/kheaders/kheaders/archive"
	"github.com/kheaders/kheaders/carrier"
	"github.com/kheaders/kheaders/locate"
)

// inspectCmd is the inspect command (listed in root.go).
var inspectCmd = &Command{
	Name:  "inspect",
	Short: "say what a kernel artifact is and whether it carries headers, config, BTF",
	Usage: `Usage: kheaders inspect SRC [--json] [flags]
       kheaders inspect --target SPEC [--json] [flags]

Reports what SRC is (detected from its content: archive, kheaders.ko,
vmlinux, bzImage, arm64 Image, zboot, zImage, Android boot image, initramfs,
compressed variants, raw BTF such as /sys/kernel/btf/vmlinux, a directory of
headers), the chain of layers down to the
kernel or the archive, the architecture, the kernel release (from the
archive's include/generated/utsrelease.h, else the "Linux version" banner, a
module's vermagic or the image header), and whether it carries the header
archive (CONFIG_IKHEADERS), the config (CONFIG_IKCONFIG) and BTF (its size
and type count for raw BTF and a vmlinux's .BTF section). When it
carries the archive, inspect decodes it to verify it and count its members.

Examples:
  kheaders inspect /boot/vmlinuz-$(uname -r)
  kheaders inspect /sys/kernel/kheaders.tar.xz --json | jq .archive.sha256
  kheaders inspect boot.img
  kheaders inspect /sys/kernel/btf/vmlinux --json | jq .btf.types
  kheaders inspect --target adb:emulator-5554
  kheaders inspect --target ssh://root@board --json | jq '.carriers[] | select(.state != "ok")'

--target SPEC (docs/remote.md) reports the kernel running on the target
instead of SRC: its identity (release, machine, build-id, /proc/version)
and, for each file kheaders reads there (/sys/kernel/kheaders.tar.xz, every
kheaders.ko under /lib/modules/R and the Android module partitions,
/sys/kernel/btf/vmlinux, /proc/config.gz, /proc/version,
/sys/kernel/notes), whether it is readable, denied (it exists but the
target's user may not read it: Android's SELinux) or absent, and its size;
also whether the host cache already holds this kernel's headers. Two remote
commands; no archive or BTF crosses the link. JSON: kheaders.inspect-target/v1.

Exit codes: 0 when SRC was recognised (even without headers: see
"headers: no"), 1 when it is not a kernel artifact or is corrupt.`,
	Run: runInspect,
}

type inspectResult struct {
	Schema string `json:"schema"`
	Source string `json:"source"`
	*carrier.Info
	Chain string `json:"chain"`
}

func runInspect(ctx context.Context, env *Env, args []string) error {
	c := commands["inspect"]
	fs := newFlagSet(env, c)
	maxInput := addInput(fs)
	maxBytes := fs.Int64("max-bytes", carrier.MaxInspectBytes, "refuse archives whose files add up to more than `N` bytes (inspect holds them in memory)")
	tf := addTargetFlags(fs, env, "report")
	common := addCommon(fs)
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if err := tf.checkSrc(pos); err != nil {
		return err
	}
	if tf.target != "" {
		return inspectTarget(ctx, env, common, tf)
	}
	log := common.logger(env)
	maxInput.archive = &archive.Options{Logger: log, Limits: archive.Limits{MaxBytes: *maxBytes}}
	src, err := openSource(ctx, env, pos[0], log, maxInput, false)
	if err != nil {
		return err
	}
	info, err := src.Inspect(ctx)
	if err != nil {
		return carrierFail(err)
	}
	if common.JSON {
		return writeJSON(env.Stdout, &inspectResult{Schema: "kheaders.inspect/v1", Source: pos[0], Info: info, Chain: info.Chain()})
	}
	w := env.Stdout
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	fmt.Fprintf(w, "source:   %s\n", pos[0])
	fmt.Fprintf(w, "kind:     %s\n", info.Kind)
	if ch := info.Chain(); ch != "" {
		fmt.Fprintf(w, "layers:   %s\n", ch)
	}
	fmt.Fprintf(w, "arch:     %s\n", orUnknown(info.Arch))
	if info.Machine != "" {
		fmt.Fprintf(w, "machine:  %s\n", info.Machine)
	}
	if info.Release != "" {
		fmt.Fprintf(w, "release:  %s (from %s)\n", info.Release, info.ReleaseFrom)
	} else {
		fmt.Fprintf(w, "release:  unknown\n")
	}
	if a := info.Archive; a != nil {
		fmt.Fprintf(w, "headers:  yes (found by %s)\n", a.How)
		fmt.Fprintf(w, "  archive: %d bytes, sha256 %s\n", a.Size, a.SHA256)
		if a.Members > 0 {
			fmt.Fprintf(w, "  members: %d (%d files, %d bytes of data, %s)\n", a.Members, a.Files, a.Bytes, a.Format)
		}
	} else {
		fmt.Fprintf(w, "headers:  %s\n", yes(info.HasHeaders))
	}
	if info.HasConfig {
		if info.ConfigSize > 0 {
			fmt.Fprintf(w, "config:   yes (found by %s, %d bytes)\n", info.ConfigHow, info.ConfigSize)
		} else {
			fmt.Fprintf(w, "config:   yes (%s)\n", info.ConfigHow)
		}
	} else {
		fmt.Fprintf(w, "config:   no\n")
	}
	if b := info.BTF; b != nil {
		fmt.Fprintf(w, "btf:      yes (%s, %d bytes, %d types)\n", map[string]string{"raw": "raw BTF", "elf": ".BTF section"}[b.Format], b.Size, b.Types)
	} else {
		fmt.Fprintf(w, "btf:      %s\n", yes(info.HasBTF))
	}
	if len(info.Notes) > 0 && !common.Quiet {
		fmt.Fprintf(env.Stderr, "notes:\n  %s\n", strings.Join(info.Notes, "\n  "))
	}
	return nil
}

// inspectTarget prints what the kernel running on a target offers.
func inspectTarget(ctx context.Context, env *Env, common *Common, tf *targetFlags) error {
	r, err := locate.InspectTarget(ctx, tf.options(env, common))
	if err != nil {
		return err
	}
	if common.JSON {
		return writeJSON(env.Stdout, struct {
			Schema string `json:"schema"`
			*locate.TargetReport
		}{"kheaders.inspect-target/v1", r})
	}
	w := env.Stdout
	yes := map[bool]string{true: "yes", false: "no"}
	fmt.Fprintf(w, "target:   %s\n", r.Spec)
	fmt.Fprintf(w, "release:  %s\n", r.Release)
	fmt.Fprintf(w, "machine:  %s (arch %s)\n", r.Machine, orUnknown(r.Arch))
	if r.BuildID != "" {
		fmt.Fprintf(w, "build-id: %s\n", r.BuildID)
	}
	if r.Version != "" {
		fmt.Fprintf(w, "version:  %s\n", r.Version)
	}
	fmt.Fprintf(w, "identity: %s\n", r.Identity)
	fmt.Fprintf(w, "headers:  %s\n", yes[r.HasHeaders])
	fmt.Fprintf(w, "config:   %s\n", yes[r.HasConfig])
	fmt.Fprintf(w, "btf:      %s\n", yes[r.HasBTF])
	fmt.Fprintf(w, "carriers:\n")
	for _, f := range r.Carriers {
		state := f.State
		switch f.State {
		case "ok":
			state = fmt.Sprintf("readable, %d bytes", f.Size)
		case "denied":
			state = "denied (exists; the target's user may not read it)"
		}
		fmt.Fprintf(w, "  %-12s %-45s %s\n", f.Name, f.Path, state)
	}
	switch {
	case r.CacheKey != "" && r.CacheKind == locate.KindBTF:
		fmt.Fprintf(w, "cached:   %s (vmlinux.h derived from the target's BTF: locate and btf --target transfer only the identity)\n", r.CacheKey)
	case r.CacheKey != "":
		fmt.Fprintf(w, "cached:   %s (headers extracted from the target's archive: locate and extract --target transfer only the identity)\n", r.CacheKey)
	default:
		fmt.Fprintf(w, "cached:   no\n")
	}
	if !common.Quiet {
		fmt.Fprintf(env.Stderr, "read %d bytes from %s in %d commands\n", r.Bytes, r.Spec, r.Commands)
	}
	return nil
}
