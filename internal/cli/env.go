package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/kheaders/kheaders/locate"
)

// envCmd is the env command (listed in root.go).
var envCmd = &Command{
	Name:  "env",
	Short: "print BCC_KERNEL_SOURCE, BPFTRACE_KERNEL_SOURCE/BUILD and friends",
	Usage: `Usage: kheaders env [flags]

Locates the headers like 'kheaders locate' (same flags and exit codes) and
prints shell assignments for the tools that take kernel headers:
  BCC_KERNEL_SOURCE        bcc (set only for non-split trees: bcc cannot
                           describe split source/build trees with it)
  BPFTRACE_KERNEL_SOURCE   bpftrace
  BPFTRACE_KERNEL_BUILD    bpftrace (generated headers of split trees)
  KHEADERS_DIR, KHEADERS_BUILD_DIR, KHEADERS_RELEASE, KHEADERS_ARCH,
  KHEADERS_KIND, KHEADERS_CFLAGS

Examples:
  eval "$(kheaders env)"; export BCC_KERNEL_SOURCE BPFTRACE_KERNEL_SOURCE BPFTRACE_KERNEL_BUILD
  kheaders env --json

With --export each line starts with "export ".`,
	Run: runEnv,
}

type envResult struct {
	Schema   string            `json:"schema"`
	Vars     map[string]string `json:"vars"`
	Order    []string          `json:"order"`
	Verified bool              `json:"verified"`
	Source   string            `json:"source"`
}

func runEnv(ctx context.Context, env *Env, args []string) error {
	var export *bool
	h, common, err := locateCommand(ctx, env, args, "env", "kheaders.env/v1", func(fs *flag.FlagSet) {
		export = fs.Bool("export", false, "prefix each assignment with export")
	})
	if err != nil {
		return err
	}
	vars := h.Env()
	if common.JSON {
		r := envResult{Schema: "kheaders.env/v1", Vars: map[string]string{}, Verified: h.Verified, Source: h.Source}
		for _, v := range vars {
			r.Vars[v.Name] = v.Value
			r.Order = append(r.Order, v.Name)
		}
		return writeJSON(env.Stdout, r)
	}
	printEnv(env, vars, *export)
	return nil
}

func printEnv(env *Env, vars []locate.EnvVar, export bool) {
	for _, v := range vars {
		if export {
			fmt.Fprint(env.Stdout, "export ")
		}
		fmt.Fprintf(env.Stdout, "%s=%s\n", v.Name, shellQuote(v.Value))
	}
}
