package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kheaders/kheaders/cache"
)

// cacheCmd is the cache command (listed in root.go).
var cacheCmd = &Command{
	Name:  "cache",
	Short: "list, verify, clean the header cache (ls, verify, gc, rm, dir)",
	Usage: `Usage: kheaders cache SUBCOMMAND [flags] [KEY...]

The cache holds extracted header trees keyed by the sha256 of the archive
they came from (see 'kheaders locate'). Subcommands:
  ls              list objects: key, state, release, files, size, last use
  verify [KEY...] rehash every file against the object's manifest (all
                  objects when no KEY); a difference is reported, the object
                  is marked damaged and replaced on the next locate (exit 4)
  gc              remove damaged/incomplete objects, leftover temporary
                  directories, stale identity entries, and with
                  --older-than DURATION objects unused for that long
  rm KEY...|all   remove objects
  dir             print the cache directory

KEY may be abbreviated to a unique prefix.

Examples:
  kheaders cache ls
  kheaders cache verify --json
  kheaders cache gc --older-than 720h

Environment: KHEADERS_CACHE (same as --cache-dir).`,
	Run: runCache,
}

type cacheResult struct {
	Schema  string          `json:"schema"`
	Command string          `json:"command"`
	Dir     string          `json:"dir"`
	Reports []*cache.Report `json:"reports,omitempty"`
	GC      *cache.GCResult `json:"gc,omitempty"`
	Removed []string        `json:"removed,omitempty"`
}

func runCache(ctx context.Context, env *Env, args []string) error {
	c := commands["cache"]
	fs := newFlagSet(env, c)
	dir := fs.String("cache-dir", env.getenv(cache.EnvDir), "cache `DIR` (\"tmpfs\": /run/kheaders) (env KHEADERS_CACHE)")
	older := fs.Duration("older-than", 0, "gc: also remove objects not used for `DURATION` (e.g. 720h)")
	common := addCommon(fs)
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return UsageErr("cache needs a subcommand: ls, verify, gc, rm, dir")
	}
	sub, rest := pos[0], pos[1:]
	cc, err := cache.Open(*dir, &cache.Options{Logger: common.logger(env)})
	if err != nil {
		return err
	}
	defer cc.Close()
	res := cacheResult{Schema: "kheaders.cache/v1", Command: sub, Dir: cc.Dir()}
	switch sub {
	case "dir":
		if common.JSON {
			return writeJSON(env.Stdout, res)
		}
		fmt.Fprintln(env.Stdout, cc.Dir())
		return nil
	case "ls", "list":
		ents, err := cc.List()
		if err != nil {
			return err
		}
		if common.JSON {
			if ents == nil {
				ents = []cache.Entry{}
			}
			return writeJSON(env.Stdout, struct {
				Schema  string        `json:"schema"`
				Command string        `json:"command"`
				Dir     string        `json:"dir"`
				Objects []cache.Entry `json:"objects"`
			}{res.Schema, sub, res.Dir, ents})
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tSTATE\tKIND\tRELEASE\tFILES\tSIZE\tLAST USED\tORIGIN")
		for _, e := range ents {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", e.Key[:min(12, len(e.Key))], e.State, e.Kind, e.Release, e.Files, humanBytes(e.Bytes), e.LastUsed.Local().Format(time.DateTime), e.Origin)
		}
		return tw.Flush()
	case "verify":
		keys, err := resolveKeys(cc, rest, true)
		if err != nil {
			return err
		}
		bad := 0
		for _, k := range keys {
			r, err := cc.Verify(ctx, k)
			if err != nil {
				return err
			}
			res.Reports = append(res.Reports, r)
			if len(r.Problems) > 0 {
				bad++
			}
		}
		if res.Reports == nil {
			res.Reports = []*cache.Report{}
		}
		if common.JSON {
			if err := writeJSON(env.Stdout, res); err != nil {
				return err
			}
		} else {
			for _, r := range res.Reports {
				if len(r.Problems) == 0 {
					fmt.Fprintf(env.Stdout, "%s ok (%d files)\n", r.Key, r.Files)
					continue
				}
				fmt.Fprintf(env.Stdout, "%s DAMAGED: %d problems (marked; the next locate replaces it)\n", r.Key, len(r.Problems))
				for _, p := range r.Problems {
					fmt.Fprintf(env.Stdout, "  %s\n", p)
				}
			}
		}
		if bad > 0 {
			return Fail(ExitVerify, fmt.Errorf("%d of %d cached objects differ from their manifest", bad, len(keys)))
		}
		return nil
	case "gc":
		g, err := cc.GC(*older)
		if err != nil {
			return err
		}
		res.GC = g
		if common.JSON {
			return writeJSON(env.Stdout, res)
		}
		fmt.Fprintf(env.Stdout, "removed %d objects, %d temporary directories, %d stale keys\n", len(g.Removed), g.Temp, g.Keys)
		return nil
	case "rm", "remove":
		if len(rest) == 0 {
			return UsageErr("cache rm needs KEY... or all")
		}
		keys, err := resolveKeys(cc, rest, false)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := cc.Remove(k); err != nil {
				return err
			}
			res.Removed = append(res.Removed, k)
		}
		if common.JSON {
			return writeJSON(env.Stdout, res)
		}
		for _, k := range res.Removed {
			fmt.Fprintln(env.Stdout, "removed", k)
		}
		return nil
	}
	return UsageErr("unknown cache subcommand %q: want ls, verify, gc, rm, dir", sub)
}

// resolveKeys expands "all" (or nothing, when allOnEmpty) and unique
// prefixes to full keys.
func resolveKeys(cc *cache.Cache, args []string, allOnEmpty bool) ([]string, error) {
	ents, err := cc.List()
	if err != nil {
		return nil, err
	}
	if len(args) == 0 && allOnEmpty || len(args) == 1 && args[0] == "all" {
		var out []string
		for _, e := range ents {
			out = append(out, e.Key)
		}
		return out, nil
	}
	var out []string
	for _, a := range args {
		var match []string
		for _, e := range ents {
			if strings.HasPrefix(e.Key, a) {
				match = append(match, e.Key)
			}
		}
		switch len(match) {
		case 0:
			return nil, Fail(ExitNotFound, fmt.Errorf("no cached object %q: %w", a, cache.ErrNotFound))
		case 1:
			out = append(out, match[0])
		default:
			return nil, UsageErr("key prefix %q is ambiguous (%d objects)", a, len(match))
		}
	}
	return out, nil
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
