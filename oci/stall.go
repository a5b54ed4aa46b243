package oci

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// stallTimeout: a registry that neither takes request bytes nor sends
// response bytes for this long is given up on (then retried, as a
// timeout is). A slow registry that keeps moving is never cut off.
const stallTimeout = 30 * time.Second

// watchdog cancels one attempt's context when no byte has moved for d.
type watchdog struct {
	d     time.Duration
	t     *time.Timer
	fired atomic.Bool
}

func newWatchdog(d time.Duration, cancel context.CancelFunc) *watchdog {
	w := &watchdog{d: d}
	w.t = time.AfterFunc(d, func() {
		w.fired.Store(true)
		cancel()
	})
	return w
}

// kick restarts the wait: bytes moved.
func (w *watchdog) kick() { w.t.Reset(w.d) }

func (w *watchdog) stop() { w.t.Stop() }

// stallError: the registry went silent. It is a net.Error with Timeout
// true, so it is retried and reported as a registry that is unreachable.
type stallError struct {
	what string // "GET https://host/v2/..."
	d    time.Duration
}

func (e *stallError) Error() string {
	return fmt.Sprintf("%s: the registry sent and took nothing for %v", e.what, e.d)
}
func (e *stallError) Timeout() bool   { return true }
func (e *stallError) Temporary() bool { return true }

// progressBody is a request body whose reads kick the watchdog.
type progressBody struct {
	r io.Reader
	w *watchdog
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 {
		b.w.kick()
	}
	return n, err
}

func (b *progressBody) Close() error { return nil }

// stallBody is a response body whose reads kick the watchdog; closing it
// (or reading it to the end) ends the attempt.
type stallBody struct {
	rc     io.ReadCloser
	w      *watchdog
	cancel context.CancelFunc
	what   string
}

func (b *stallBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.w.kick()
	}
	switch {
	case err == io.EOF:
		b.w.stop()
	case err != nil && b.w.fired.Load():
		err = &stallError{what: b.what, d: b.w.d}
	}
	return n, err
}

func (b *stallBody) Close() error {
	b.w.stop()
	b.cancel()
	return b.rc.Close()
}
