package cli

import (
	"context"
	"fmt"
	"runtime"
)

func init() {
	register(&Command{
		Name:  "version",
		Short: "print the kheaders version",
		Usage: "Prints the module version and the Go runtime it was built with.",
		Run: func(ctx context.Context, env *Env, args []string) error {
			fmt.Fprintf(env.Stdout, "kheaders %s (%s, %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	})
}
