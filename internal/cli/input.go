package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/kheaders/kheaders/archive"
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

// inputFlag is --max-input, on the commands that read an artifact.
type inputFlag struct {
	max int64
	// archive is passed to carrier (inspect's --max-bytes).
	archive *archive.Options
}

// addInput adds --max-input to fs.
func addInput(fs *flag.FlagSet) *inputFlag {
	in := &inputFlag{}
	fs.Func("max-input", "read at most `BYTES` of SRC (e.g. 8e9; default 4 GiB from a file, 512 MiB from stdin, a device or a FIFO; env "+maxInputVar+" sets the default)", func(v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 1 || f > 1<<62 {
			return fmt.Errorf("want a number of bytes (e.g. 8e9), got %q", v)
		}
		in.max = int64(f)
		return nil
	})
	return in
}

// openSource reads SRC ("-" = stdin) as a carrier.Source, through
// internal/input's caps: --max-input, else KHEADERS_MAX_INPUT, else the
// defaults. noSum (extract -C) leaves the archive unhashed by carrier:
// the extraction hashes it while reading it.
func openSource(ctx context.Context, env *Env, path string, log *slog.Logger, in *inputFlag, noSum bool) (*carrier.Source, error) {
	max, err := inputCap(env)
	if err != nil {
		return nil, err
	}
	flag := "--max-input BYTES or " + maxInputVar + "=BYTES"
	if in != nil && in.max > 0 {
		max = in.max
	}
	opts := &carrier.Options{Logger: log, MaxInput: max, InputFlag: flag, NoSHA256: noSum}
	if in != nil {
		opts.Archive = in.archive
	}
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
