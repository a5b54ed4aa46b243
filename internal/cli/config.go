package cli

import (
	"context"
	"errors"
	iofs "io/fs"

	"github.com/kheaders/kheaders/internal/output"
	"github.com/kheaders/kheaders/locate"
)

// configCmd is the config command (listed in root.go).
var configCmd = &Command{
	Name:  "config",
	Short: "print the kernel .config embedded in a kernel artifact (IKCONFIG)",
	Usage: `Usage: kheaders config SRC [-o FILE] [flags]
       kheaders config --target SPEC [-o FILE] [flags]

Prints the .config a kernel was built with, as embedded by CONFIG_IKCONFIG,
like scripts/extract-ikconfig: from the symbols kernel_config_data and
kernel_config_data_end, else the "IKCFG_ST" marker followed by gzip. SRC is
any artifact kheaders extract accepts (vmlinux, bzImage, arm64 Image.*, boot
images, configs.ko ...), /proc/config.gz, or a kernel build tree (its
.config).

Examples:
  kheaders config /boot/vmlinuz-$(uname -r) | grep CONFIG_IKHEADERS
  kheaders config /proc/config.gz -o running.config
  kheaders config boot.img -o device.config
  kheaders config --target adb:emulator-5554 -o device.config
  kheaders config --target ssh://root@board | grep CONFIG_DEBUG_INFO_BTF

--target SPEC (docs/remote.md) prints the .config of the kernel running on
the target, from its /proc/config.gz (read with the kernel's identity: one
remote command), decompressed. Exit 3 when the target has no
/proc/config.gz (CONFIG_IKCONFIG_PROC off), 1 when its user may not read it
or the transfer failed; nothing is written then.

Exit codes: 3 when SRC carries no config (kernel built without
CONFIG_IKCONFIG).`,
	Run: runConfig,
}

func runConfig(ctx context.Context, env *Env, args []string) error {
	c := commands["config"]
	fs := newFlagSet(env, c)
	out := fs.String("o", "", "write the config to `FILE` (atomically) instead of stdout")
	maxInput := addInput(fs)
	tf := addTargetFlags(fs, env, "print the .config")
	common := addCommon(fs)
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if err := tf.checkSrc(pos); err != nil {
		return err
	}
	if common.JSON {
		return UsageErr("config prints the .config itself; --json is not supported")
	}
	var cfg []byte
	if tf.target != "" {
		var t *locate.RemoteTarget
		if cfg, t, err = locate.TargetConfig(ctx, tf.options(env, common)); err != nil {
			if errors.Is(err, iofs.ErrNotExist) {
				return Fail(ExitNotFound, err)
			}
			return err
		}
		common.logger(env).Debug("read the target's config", "target", t.Spec, "bytes", t.Bytes, "commands", t.Commands, "size", len(cfg))
	} else {
		src, err := openSource(ctx, env, pos[0], common.logger(env), maxInput, false)
		if err != nil {
			return err
		}
		if cfg, err = src.Config(ctx); err != nil {
			return carrierFail(err)
		}
	}
	dst := *out
	if dst == "" {
		dst = "-"
	}
	return output.WriteFile(dst, 0o644, env.Stdout, output.Bytes(cfg))
}
