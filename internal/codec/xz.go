package codec

import (
	"errors"
	"fmt"
	"io"

	"github.com/kheaders/kheaders/internal/xz"
)

// xz decoding is internal/xz's (the module's one xz implementation); this
// file maps its errors onto this package's sentinels.

func decodeXZ(data []byte, max int64) ([]byte, int, error) {
	out, n, err := xz.Decode(data, max)
	if err != nil {
		return nil, 0, fmt.Errorf("decompress xz: %w", xzErr(err))
	}
	return out, n, nil
}

func newXZReader(r io.Reader) (io.ReadCloser, error) {
	zr, err := xz.NewReader(r)
	if err != nil {
		return nil, xzErr(err)
	}
	return xzErrReader{zr}, nil
}

// xzErr adds this package's sentinel to an internal/xz error.
func xzErr(err error) error {
	switch {
	case errors.Is(err, xz.ErrTooLarge):
		return fmt.Errorf("%w: %w", ErrTooLarge, err)
	case errors.Is(err, xz.ErrUnsupported):
		return fmt.Errorf("%w: %w", ErrUnsupported, err)
	case errors.Is(err, xz.ErrFormat), errors.Is(err, xz.ErrNotFound):
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return corrupt(err)
}

type xzErrReader struct{ r *xz.Reader }

func (x xzErrReader) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	if err != nil && err != io.EOF {
		err = xzErr(err)
	}
	return n, err
}

func (x xzErrReader) Close() error { return x.r.Close() }
