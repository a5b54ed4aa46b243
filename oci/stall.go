package oci

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kheaders/kheaders/internal/host"
)

// stallTimeout: a registry that neither takes request bytes nor sends
// response bytes for this long is given up on (then retried, as a
// timeout is). A slow registry that keeps moving is never cut off: while
// a request is being sent, "taking bytes" is seen at the socket (the
// bytes queued in it go down), not only when net/http reads more of the
// body, which it does only after the socket's send buffer (up to several
// MiB) has half drained.
const stallTimeout = 30 * time.Second

// watchdog cancels one attempt's context when no byte has moved for d.
type watchdog struct {
	d      time.Duration
	cancel context.CancelFunc
	fired  atomic.Bool
	conn   atomic.Pointer[net.Conn] // the attempt's connection, once it has one

	mu      sync.Mutex
	t       *time.Timer
	lastQ   int  // bytes queued in the socket at the last expiry, -1 after a kick
	stopped bool // stop ran: an expiry already under way does nothing
}

func newWatchdog(d time.Duration, cancel context.CancelFunc) *watchdog {
	w := &watchdog{d: d, cancel: cancel, lastQ: -1}
	w.mu.Lock()
	w.t = time.AfterFunc(d, w.expire)
	w.mu.Unlock()
	return w
}

// expire runs when d passed with no kick. Bytes still queued in the
// socket, fewer than at the last expiry (or the first look since a kick),
// mean the registry is taking them: the wait starts again. Otherwise the
// attempt is cancelled.
func (w *watchdog) expire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || w.fired.Load() {
		return
	}
	if c := w.conn.Load(); c != nil {
		if q := host.SocketQueued(*c); q > 0 && (w.lastQ < 0 || q < w.lastQ) {
			w.lastQ = q
			w.t.Reset(w.d)
			return
		}
	}
	w.fired.Store(true)
	w.cancel()
}

// gotConn records the connection an attempt is sent on (httptrace).
func (w *watchdog) gotConn(c net.Conn) { w.conn.Store(&c) }

// kick restarts the wait: bytes moved.
func (w *watchdog) kick() {
	w.mu.Lock()
	if !w.stopped {
		w.lastQ = -1
		w.t.Reset(w.d)
	}
	w.mu.Unlock()
}

// stop ends the watch for good: no expiry fires after it, and kicks do
// not re-arm it.
func (w *watchdog) stop() {
	w.mu.Lock()
	w.stopped = true
	w.t.Stop()
	w.mu.Unlock()
}

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
