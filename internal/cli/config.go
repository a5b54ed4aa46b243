package cli

import (
	"context"

	"github.com/kheaders/kheaders/internal/output"
)

// configCmd is the config command (listed in root.go).
var configCmd = &Command{
	Name:  "config",
	Short: "print the kernel .config embedded in a kernel artifact (IKCONFIG)",
	Usage: `Usage: kheaders config SRC [-o FILE] [flags]

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

Exit codes: 3 when SRC carries no config (kernel built without
CONFIG_IKCONFIG).`,
	Run: runConfig,
}

func runConfig(ctx context.Context, env *Env, args []string) error {
	c := commands["config"]
	fs := newFlagSet(env, c)
	out := fs.String("o", "", "write the config to `FILE` (atomically) instead of stdout")
	maxInput := addInput(fs)
	common := addCommon(fs)
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return UsageErr("want exactly one SRC, got %d", len(pos))
	}
	if common.JSON {
		return UsageErr("config prints the .config itself; --json is not supported")
	}
	src, err := openSource(ctx, env, pos[0], common.logger(env), maxInput, false)
	if err != nil {
		return err
	}
	cfg, err := src.Config(ctx)
	if err != nil {
		return carrierFail(err)
	}
	dst := *out
	if dst == "" {
		dst = "-"
	}
	return output.WriteFile(dst, 0o644, env.Stdout, output.Bytes(cfg))
}
