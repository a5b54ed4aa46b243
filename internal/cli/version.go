package cli

import (
	"context"
	"fmt"
	"runtime"
)

// versionCmd is the version command (listed in root.go).
var versionCmd = &Command{
	Name:  "version",
	Short: "print the kheaders version",
	Usage: `Usage: kheaders version

Prints the module version and the Go runtime it was built with.`,
	Run: func(ctx context.Context, env *Env, args []string) error {
		c := commands["version"]
		pos, err := parse(env, c, newFlagSet(env, c), args)
		if err != nil {
			return err
		}
		if len(pos) != 0 {
			return UsageErr("version takes no arguments, got %q", pos)
		}
		fmt.Fprintf(env.Stdout, "kheaders %s (%s, %s/%s)\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	},
}
