package cli

import (
	"context"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// interruptDelay is how long after Interruptible a command that has not
// asked its context for Done yet runs before the signal handling is
// installed anyway (for code that polls only ctx.Err).
const interruptDelay = 5 * time.Millisecond

// Interruptible returns a context cancelled by the first SIGINT or SIGTERM,
// like signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM), and its
// stop function, which cancels it and stops the signal handling (a second
// signal then kills the process as usual).
//
// The handling costs every kheaders call three OS threads (os/signal's
// locked signal thread, the template thread that locking starts, and one
// for the goroutine waiting for signals): ~0.3 ms of a warm call's 5 ms
// (issue 16). So it is installed only when needed: when the context is
// first asked for Done (every wait on it, exec.CommandContext,
// context.WithCancel/WithTimeout/AfterFunc on it), or interruptDelay
// after the start, whichever comes first. A call that ends sooner never
// pays for it. A signal before that terminates the process the way one
// does while the Go runtime starts (before main; ~3 ms of every call).
// Only the commands in lazySignals (root.go: warm locate and what wraps
// it, version) start that way; every other command asks Done before it
// runs, because some create files before their first wait (pack's temp
// output beside -o), which a signal's default action would leave behind.
// Err alone does not install: it truthfully reports nil until a signal
// could have been caught.
func Interruptible() (context.Context, context.CancelFunc) {
	inner, cancel := context.WithCancel(context.Background())
	c := &interruptCtx{Context: inner, cancel: cancel, ch: make(chan os.Signal, 1), installed: make(chan struct{})}
	c.timer = time.AfterFunc(interruptDelay, c.install)
	return c, c.stop
}

type interruptCtx struct {
	context.Context // the context the signal (or stop) cancels
	cancel          context.CancelFunc
	ch              chan os.Signal
	once            sync.Once
	installed       chan struct{} // closed once signals are caught (for tests)
	timer           *time.Timer
}

// install starts catching SIGINT and SIGTERM (once).
func (c *interruptCtx) install() {
	c.once.Do(func() {
		signal.Notify(c.ch, os.Interrupt, syscall.SIGTERM)
		go func() {
			select {
			case <-c.ch:
				c.cancel()
			case <-c.Context.Done():
			}
		}()
		close(c.installed)
	})
}

// Done installs the signal handling before it returns the channel.
func (c *interruptCtx) Done() <-chan struct{} {
	c.timer.Stop()
	c.install()
	return c.Context.Done()
}

func (c *interruptCtx) stop() {
	c.timer.Stop()
	c.cancel()
	c.once.Do(func() {}) // no installation after stop
	signal.Stop(c.ch)
}

func (c *interruptCtx) String() string { return "kheaders.Interruptible" }
