// Command kheaders finds, builds, extracts, verifies and serves the kernel
// headers of the kernel it runs on. See `kheaders help`.
package main

import (
	"os"

	"github.com/kheaders/kheaders/internal/cli"
)

func main() {
	ctx, stop := cli.Interruptible()
	code := cli.Main(ctx, cli.OSEnv(), os.Args[1:])
	stop()
	os.Exit(code)
}
