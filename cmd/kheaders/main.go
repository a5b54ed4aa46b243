// Command kheaders finds, builds, extracts, verifies and serves the kernel
// headers of the kernel it runs on. See `kheaders help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kheaders/kheaders/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.OSEnv(), os.Args[1:])
	stop()
	os.Exit(code)
}
