// Package input is the one reader of kheaders' inputs: a file named on the
// command line, a device or FIFO, or standard input. Every read is capped,
// and the error for an input past its cap names the input, the cap and how
// to raise it, so an endless source (/dev/zero, "yes |") fails with a clear
// message instead of growing until the OOM killer stops the process.
//
// A regular file is read in one allocation of its size (no regrowth); a
// stream (stdin, a character device, a FIFO, a socket) is read in fixed
// chunks up to its cap, so an endless stream costs at most the cap before it
// is refused.
package input

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// Default caps. The largest real artifacts are vmlinux files with debug
// information (~1 GiB); kernel images, modules and archives are tens of MB.
const (
	DefaultMaxFile   = 4 << 30   // a regular file
	DefaultMaxStream = 512 << 20 // stdin, a device, a FIFO, a socket
)

// ErrTooLarge: the input is larger than its cap.
var ErrTooLarge = errors.New("input larger than its cap")

// Options sets the caps. The zero value (or nil) takes the defaults.
type Options struct {
	MaxFile   int64 // bytes read from a regular file
	MaxStream int64 // bytes read from a stream
	// Flag names the setting that raises the caps in the error message
	// ("--max-input"); empty means "Options.MaxFile/MaxStream".
	Flag string
}

func (o *Options) caps() (file, stream int64, flag string) {
	file, stream, flag = DefaultMaxFile, DefaultMaxStream, "Options.MaxFile/MaxStream"
	if o == nil {
		return
	}
	if o.MaxFile > 0 {
		file = o.MaxFile
	}
	if o.MaxStream > 0 {
		stream = o.MaxStream
	}
	if o.Flag != "" {
		flag = o.Flag
	}
	return
}

// ReadFile reads the file at path. A directory is an error wrapping
// fs.ErrInvalid (callers that accept directories check first).
//
// Errors: I/O errors (wrapping fs.ErrNotExist, fs.ErrPermission), ErrTooLarge,
// a context error.
func ReadFile(ctx context.Context, path string, opts *Options) ([]byte, error) {
	maxFile, maxStream, flag := opts.caps()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	switch m := fi.Mode(); {
	case m.IsDir():
		return nil, fmt.Errorf("read %s: is a directory: %w", path, fs.ErrInvalid)
	case m.IsRegular():
		return read(ctx, path, "file", f, fi.Size(), maxFile, flag)
	default:
		return read(ctx, path, "stream", f, 0, maxStream, flag)
	}
}

// ReadStream reads r (standard input, a pipe) to its end, named name in
// errors ("stdin"), with the stream cap. When r is an *os.File holding a
// regular file (stdin redirected from a file), the file cap applies.
//
// Errors: I/O errors, ErrTooLarge, a context error.
func ReadStream(ctx context.Context, name string, r io.Reader, opts *Options) ([]byte, error) {
	maxFile, maxStream, flag := opts.caps()
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			return read(ctx, name, "file", f, fi.Size(), maxFile, flag)
		}
	}
	return read(ctx, name, "stream", r, 0, maxStream, flag)
}

// chunk is the unit a stream is read in.
const chunk = 4 << 20

// read reads r to EOF, at most max bytes. hint is the expected size of a
// regular file (sysfs files report the size but read in pieces; procfs
// files report 0, so the hint is only where reading starts).
func read(ctx context.Context, name, what string, r io.Reader, hint, max int64, flag string) ([]byte, error) {
	tooLarge := func() error {
		return fmt.Errorf("%s: more than %s read; kheaders reads at most %s from a %s (%s raises the cap): %w",
			name, Size(max), Size(max), what, flag, ErrTooLarge)
	}
	if hint > max {
		return nil, tooLarge()
	}
	if f, ok := r.(*os.File); ok {
		// A read blocked on a pipe, FIFO or terminal returns when the
		// context ends (Ctrl-C), not when the writer next writes.
		// (Regular files and devices without a poller cannot take a
		// deadline; their reads do not block for long.)
		stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
		defer stop()
	}
	var chunks [][]byte
	total := int64(0)
	size := int64(chunk)
	if hint > 0 {
		size = hint + 1 // one read past the end sees EOF without regrowth
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		buf := make([]byte, 0, min(size, max+1-total))
		for len(buf) < cap(buf) {
			n, err := r.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err == io.EOF {
				chunks = append(chunks, buf)
				return join(chunks, total+int64(len(buf))), nil
			}
			if err != nil {
				if cerr := ctx.Err(); cerr != nil {
					return nil, cerr
				}
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
			if n == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
			}
		}
		chunks = append(chunks, buf)
		total += int64(len(buf))
		if total > max {
			return nil, tooLarge()
		}
		size = chunk
	}
}

// join concatenates chunks, dropping each as it is copied.
func join(chunks [][]byte, n int64) []byte {
	if len(chunks) == 1 {
		return chunks[0]
	}
	out := make([]byte, 0, n)
	for i := range chunks {
		out = append(out, chunks[i]...)
		chunks[i] = nil
	}
	return out
}

// Size renders n bytes for messages: "512 MiB", "4 GiB", "1000 bytes".
func Size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
