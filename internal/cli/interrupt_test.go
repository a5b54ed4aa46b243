package cli

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

// waitCtx waits for ctx to end, failing the test after a minute (a hang
// guard, not a timing assertion). It polls Err only, as code that never
// asks for Done does.
func waitCtx(t *testing.T, ctx context.Context) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ctx.Err() == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("context not cancelled a minute after the signal")
		}
	}
}

func installedChan(t *testing.T, ctx context.Context) chan struct{} {
	t.Helper()
	c, ok := ctx.(*interruptCtx)
	if !ok {
		t.Fatalf("Interruptible() = %T, want *interruptCtx", ctx)
	}
	return c.installed
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestInterruptibleDone: asking for Done installs the handling at once; a
// real SIGINT then cancels the context instead of killing the process.
func TestInterruptibleDone(t *testing.T) {
	ctx, stop := Interruptible()
	defer stop()
	inst := installedChan(t, ctx)
	done := ctx.Done()
	if !isClosed(inst) {
		t.Fatal("Done returned before the signal handling was installed")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-done
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("ctx.Err() after SIGINT = %v, want context.Canceled", ctx.Err())
	}
}

// TestInterruptibleDerived: a context derived from it (what commands pass
// down) installs the handling when it is made, and SIGTERM reaches it.
func TestInterruptibleDerived(t *testing.T) {
	ctx, stop := Interruptible()
	defer stop()
	inst := installedChan(t, ctx)
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	if !isClosed(inst) {
		t.Fatal("context.WithCancel(ctx) did not install the signal handling")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitCtx(t, child)
}

// TestInterruptibleErrOnly: code that only polls Err gets the handling
// after interruptDelay, without asking for Done; until then Err is nil.
func TestInterruptibleErrOnly(t *testing.T) {
	ctx, stop := Interruptible()
	defer stop()
	inst := installedChan(t, ctx)
	if err := ctx.Err(); err != nil {
		t.Fatalf("ctx.Err() = %v before any signal, want nil", err)
	}
	select {
	case <-inst:
	case <-time.After(time.Minute):
		t.Fatal("signal handling not installed a minute after Interruptible")
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	waitCtx(t, ctx)
}

// TestInterruptibleStop: stop cancels the context, and the handling is
// never installed afterwards (a later signal kills the process as usual:
// not sent here).
func TestInterruptibleStop(t *testing.T) {
	ctx, stop := Interruptible()
	inst := installedChan(t, ctx)
	stop()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("ctx.Err() after stop = %v, want context.Canceled", ctx.Err())
	}
	ctx.(*interruptCtx).install()
	ctx.Done()
	if isClosed(inst) {
		t.Error("signal handling installed after stop")
	}
}
