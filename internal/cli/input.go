package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/kheaders/kheaders/carrier"
	"github.com/kheaders/kheaders/internal/input"
)

// maxInputVar raises the input caps of extract, inspect, config and btf.
const maxInputVar = "KHEADERS_MAX_INPUT"

// inputCap reads KHEADERS_MAX_INPUT (bytes; 0 or unset: the defaults, 4 GiB
// for a file and 512 MiB for stdin, a device or a FIFO).
func inputCap(env *Env) (int64, error) {
	if env.Getenv == nil {
		return 0, nil
	}
	v := env.Getenv(maxInputVar)
	if v == "" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 1<<62 {
		return 0, UsageErr("%s=%q: want a number of bytes (e.g. 2e9)", maxInputVar, v)
	}
	return int64(f), nil
}

// openSource reads SRC ("-" = stdin) as a carrier.Source, through
// internal/input's caps.
func openSource(ctx context.Context, env *Env, path string, log *slog.Logger) (*carrier.Source, error) {
	max, err := inputCap(env)
	if err != nil {
		return nil, err
	}
	flag := maxInputVar + "=BYTES"
	opts := &carrier.Options{Logger: log, MaxInput: max, InputFlag: flag}
	if path == "-" {
		data, err := input.ReadStream(ctx, "stdin", env.Stdin, &input.Options{MaxFile: max, MaxStream: max, Flag: flag})
		if err != nil {
			return nil, fmt.Errorf("read standard input: %w", err)
		}
		return carrier.FromBytes("-", data, opts), nil
	}
	src, err := carrier.OpenPath(ctx, path, opts)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, Fail(ExitNotFound, err)
		}
		return nil, err
	}
	return src, nil
}
