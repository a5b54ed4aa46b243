package codec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/kheaders/kheaders/internal/xz"
)

// XZMode picks the xz encoder.
type XZMode string

// The xz encoders.
const (
	// XZAuto uses the xz program when it can be found, else pure Go.
	XZAuto XZMode = "auto"
	// XZExec runs the xz program (Kbuild's $XZ), failing when it is missing.
	XZExec XZMode = "exec"
	// XZGo uses the pure-Go encoder (github.com/ulikunitz/xz/lzma in an
	// xz container of this package: xzwriter.go).
	XZGo XZMode = "go"
)

// ErrNoXZ: the xz program was asked for but cannot be run.
var ErrNoXZ = errors.New("xz program not found")

// EncodeOptions configures NewWriter. The zero value gives Kbuild's xz.
type EncodeOptions struct {
	// XZMode picks the xz encoder; "" means XZAuto.
	XZMode XZMode
	// XZCommand is the xz command line, split on blanks like GNU tar's -I
	// does with Kbuild's $XZ; "" means "xz". It is run with no further
	// options and reads stdin (exactly what `tar -I $XZ` does), so the
	// output is byte-identical to Kbuild's with the same xz, unless
	// XZThreads asks for more.
	XZCommand string
	// XZThreads > 1 adds "-T N --block-size=S" with S = ceil(SizeHint/N),
	// so N blocks compress in parallel (exec only; output differs from
	// Kbuild's single-threaded stream).
	XZThreads int
	// SizeHint is the number of bytes that will be written (0: unknown).
	SizeHint int64
	// Env is the environment of the xz process (nil: the current one).
	Env []string
}

// XZArgv returns the command line NewWriter runs for xz, and whether the
// program can be found.
func (o EncodeOptions) XZArgv() ([]string, bool) {
	argv := strings.Fields(o.XZCommand)
	if len(argv) == 0 {
		argv = []string{"xz"}
	}
	if o.XZThreads > 1 && o.SizeHint > 0 {
		bs := (o.SizeHint + int64(o.XZThreads) - 1) / int64(o.XZThreads)
		argv = append(argv, "-T", strconv.Itoa(o.XZThreads), "--block-size="+strconv.FormatInt(bs, 10))
	}
	p, err := exec.LookPath(argv[0])
	if err != nil {
		return argv, false
	}
	argv[0] = p
	return argv, true
}

// NewWriter returns a writer compressing into w with kind (XZ or Zstd).
// Close flushes, waits for an xz process and reports its failure. The
// ctx cancels a running xz process.
func NewWriter(ctx context.Context, kind Kind, w io.Writer, o EncodeOptions) (io.WriteCloser, error) {
	switch kind {
	case Zstd:
		// Level 19-like ratio at a usable speed: SpeedBestCompression.
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, fmt.Errorf("zstd writer: %w", err)
		}
		return zw, nil
	case XZ:
	default:
		return nil, fmt.Errorf("%w: cannot encode %q", ErrUnknownKind, kind)
	}
	mode := o.XZMode
	if mode == "" {
		mode = XZAuto
	}
	switch mode {
	case XZAuto, XZExec:
		argv, ok := o.XZArgv()
		if ok {
			return newExecWriter(ctx, argv, w, o.Env)
		}
		if mode == XZExec {
			return nil, fmt.Errorf("%w: %q (install xz-utils, set $XZ, or use the pure-Go encoder)", ErrNoXZ, argv[0])
		}
		fallthrough
	case XZGo:
		return newGoXZ(w)
	}
	return nil, fmt.Errorf("unknown xz mode %q (want auto, exec or go)", mode)
}

// newGoXZ returns the pure-Go xz writer with xz's defaults: CRC64 check,
// LZMA2 with an 8 MiB dictionary (preset 6).
func newGoXZ(w io.Writer) (io.WriteCloser, error) {
	return NewXZWriter(w, 8<<20, xz.CheckCRC64)
}

type execWriter struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	stderr *bytes.Buffer
	once   sync.Once
	err    error
}

func newExecWriter(ctx context.Context, argv []string, w io.Writer, env []string) (*execWriter, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = env
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", strings.Join(argv, " "), err)
	}
	return &execWriter{cmd: cmd, in: in, stderr: &stderr}, nil
}

func (e *execWriter) Write(p []byte) (int, error) {
	n, err := e.in.Write(p)
	if err != nil {
		// The process died: report why.
		if werr := e.Close(); werr != nil {
			return n, werr
		}
	}
	return n, err
}

func (e *execWriter) Close() error {
	e.once.Do(func() {
		e.in.Close()
		if err := e.cmd.Wait(); err != nil {
			e.err = fmt.Errorf("%s: %w: %s", strings.Join(e.cmd.Args, " "), err, strings.TrimSpace(e.stderr.String()))
		}
	})
	return e.err
}
