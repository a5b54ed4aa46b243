// Package cli implements the kheaders command line. Each subcommand lives in
// its own file as a *Command variable, listed once in root.go's commandList; Main dispatches.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/kheaders/kheaders/locate"
)

// Exit codes, stable and documented in `kheaders help`.
const (
	ExitOK           = 0 // success
	ExitError        = 1 // any other error
	ExitUsage        = 2 // bad command line
	ExitNotFound     = 3 // no headers (or no archive, config, BTF) where asked
	ExitVerify       = 4 // headers found but they do not match the kernel
	ExitNotSupported = 5 // the kernel or artifact cannot carry what was asked
	// ExitInterrupted: SIGINT/SIGTERM arrived (Ctrl-C); 128+SIGINT as shells
	// report it. exec exits 128+N when its child died of signal N.
	ExitInterrupted = 130
)

// errReported is wrapped in an ExitErr whose message is already out (exec:
// the child spoke for itself); Main prints nothing more.
var errReported = errors.New("already reported")

// checkedWriter remembers the first write error, so that Main can fail a
// command whose result did not reach stdout (a full disk, /dev/full, a
// closed pipe).
type checkedWriter struct {
	w   io.Writer
	err error
}

func (c *checkedWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	if err != nil {
		c.err = &fs.PathError{Op: "write", Path: "stdout", Err: unwrapPathErr(err)}
		return n, c.err
	}
	return n, nil
}

// rawStdout is env's stdout without the check wrapper (for a child
// process, which should get the real file descriptor).
func rawStdout(env *Env) io.Writer {
	if c, ok := env.Stdout.(*checkedWriter); ok {
		return c.w
	}
	return env.Stdout
}

// Env is what a command may touch of the process: streams and environment.
// Tests build their own.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment; nil means no variables are set.
	Getenv func(string) string
	// Environ returns the whole environment (for exec); nil means empty.
	Environ func() []string
	// IsTTY reports whether stderr is a terminal (progress is shown only then).
	IsTTY bool
}

// OSEnv is the Env of the running process.
func OSEnv() *Env {
	tty := false
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		tty = true
	}
	return &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, Environ: os.Environ, IsTTY: tty}
}

func (e *Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// Command is one subcommand.
type Command struct {
	Name  string // e.g. "pack"
	Short string // one line for the command list
	// Usage is the full help text shown by `kheaders help NAME` and NAME --help,
	// before the flag list. It should teach: what, when, examples, env vars.
	Usage string
	// Run executes the command. Return a *ExitErr (see Fail) to pick an exit
	// code; any other error exits 1. Usage errors should use UsageErr.
	Run func(ctx context.Context, env *Env, args []string) error
}

// commandList is every command, in the order `kheaders help` lists them.
var commandList = []*Command{
	locateCmd, cflagsCmd, ccCmd, envCmd, execCmd, packCmd, extractCmd, inspectCmd,
	configCmd, btfCmd, initramfsCmd, bootimgCmd, pushCmd, pullCmd, cacheCmd, versionCmd, serveTargetCmd,
}

// commands maps each command's name to it (from commandList).
var commands = map[string]*Command{}

func init() {
	for _, c := range commandList {
		if _, dup := commands[c.Name]; dup {
			panic("cli: duplicate command " + c.Name)
		}
		commands[c.Name] = c
	}
}

// lazySignals are the commands whose warm path is a few milliseconds and
// writes nothing a signal could leave behind (a cold locate's cache temp
// directory is removed by cache gc, as after a crash): they leave the
// signal handling to their first wait on the context (Interruptible).
var lazySignals = map[string]bool{"locate": true, "cflags": true, "env": true, "exec": true, "version": true}

// ExitErr carries an exit code with an error.
type ExitErr struct {
	Code int
	Err  error
}

func (e *ExitErr) Error() string { return e.Err.Error() }
func (e *ExitErr) Unwrap() error { return e.Err }

// Fail wraps err with an exit code.
func Fail(code int, err error) error {
	if err == nil {
		return nil
	}
	return &ExitErr{Code: code, Err: err}
}

// UsageErr is a command-line error (exit 2).
func UsageErr(format string, a ...any) error {
	return &ExitErr{Code: ExitUsage, Err: fmt.Errorf(format, a...)}
}

// errHelp is returned when --help was asked; it exits 0.
var errHelp = errors.New("help requested")

// Main runs the command line args (without the program name) and returns the
// exit code.
func Main(ctx context.Context, env *Env, args []string) int {
	out := &checkedWriter{w: env.Stdout}
	if env.Stdout == nil {
		out.w = io.Discard
	}
	e := *env
	e.Stdout = out
	code := run(ctx, &e, args)
	if code == ExitOK && out.err != nil {
		name := "kheaders"
		if len(args) > 0 {
			name += " " + args[0]
		}
		fmt.Fprintf(env.Stderr, "%s: %v (the result did not reach its destination)\n", name, out.err)
		return ExitError
	}
	return code
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func run(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 {
		printHelp(env.Stderr)
		return ExitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help", "-help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				// The command prints its own help, flags included: the
				// same text as CMD --help.
				if err := c.Run(ctx, env, []string{"--help"}); err != nil && !errors.Is(err, errHelp) {
					fmt.Fprintf(env.Stderr, "kheaders help %s: %v\n", c.Name, err)
					return ExitError
				}
				return ExitOK
			}
			fmt.Fprintf(env.Stderr, "kheaders: unknown command %q\n", args[1])
			return ExitUsage
		}
		printHelp(env.Stdout)
		return ExitOK
	case "--version", "-version":
		name = "version"
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(env.Stderr, "kheaders: unknown command %q; run 'kheaders help' for the list\n", name)
		return ExitUsage
	}
	if !lazySignals[c.Name] {
		// Install the signal handling now (Interruptible): a command
		// that creates files before it first waits on ctx (pack's temp
		// output, with --xz=go it never waits) must not be killed
		// outright by a signal in its first milliseconds.
		_ = ctx.Done()
	}
	err := c.Run(ctx, env, args[1:])
	if err == nil || errors.Is(err, errHelp) {
		return ExitOK
	}
	code := ExitError
	var ee *ExitErr
	if errors.As(err, &ee) {
		code = ee.Code
	}
	if code == ExitError && errors.Is(err, locate.ErrTargetSpec) {
		code = ExitUsage // a --target SPEC that does not parse
	}
	if errors.Is(err, errReported) {
		return code
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintf(env.Stderr, "kheaders %s: interrupted\n", c.Name)
		return ExitInterrupted
	}
	fmt.Fprintf(env.Stderr, "kheaders %s: %v\n", c.Name, err)
	if code == ExitUsage {
		fmt.Fprintf(env.Stderr, "run 'kheaders %s --help' for usage\n", c.Name)
	}
	return code
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, `kheaders gives tracing and BPF tools the exact kernel headers of the kernel
they run on: found, extracted, verified and cached, from wherever the kernel
carries them (/sys/kernel/kheaders.tar.xz, kheaders.ko, vmlinux, boot images,
/lib/modules/R/build), or derived from BTF as vmlinux.h.

Usage: kheaders COMMAND [flags] [args]

Commands:
`)
	for _, c := range commandList {
		fmt.Fprintf(w, "  %-9s %s\n", c.Name, c.Short)
	}
	fmt.Fprint(w, `
Run 'kheaders help COMMAND' or 'kheaders COMMAND --help' for a command's
flags and examples.

Exit codes:
  0  success
  1  error
  2  usage error
  3  not found (no headers, archive, config or BTF where asked)
  4  verification failed (headers do not match the running kernel)
  5  not supported (the kernel or artifact cannot provide what was asked)
`)
}

func printCommandHelp(w io.Writer, c *Command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "kheaders %s: %s\n\n%s\n", c.Name, c.Short, strings.TrimRight(c.Usage, "\n"))
	n := 0
	if fs != nil {
		fs.VisitAll(func(*flag.Flag) { n++ })
	}
	if n > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

// newFlagSet returns a flag set for c whose -h/--help prints the command's
// help on stdout and whose errors are usage errors.
func newFlagSet(env *Env, c *Command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parse parses args into fs, handling --help and usage errors uniformly.
// Flags may follow positional arguments (`extract FILE -o OUT`).
func parse(env *Env, c *Command, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printCommandHelp(env.Stdout, c, fs)
				return nil, errHelp
			}
			return nil, UsageErr("%v", err)
		}
		rest := fs.Args()
		// flag.Parse stops at and consumes "--": everything after it is
		// positional, even if it looks like a flag.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return pos, nil
}

// Common holds the flags most commands share.
type Common struct {
	JSON    bool
	Verbose bool
	Quiet   bool
}

func addCommon(fs *flag.FlagSet) *Common {
	var c Common
	fs.BoolVar(&c.JSON, "json", false, "print the result as JSON on stdout (schema in docs/json.md)")
	fs.BoolVar(&c.Verbose, "v", false, "explain each decision on stderr")
	fs.BoolVar(&c.Quiet, "quiet", false, "print nothing on stderr but errors")
	fs.BoolVar(&c.Quiet, "q", false, "same as --quiet")
	return &c
}

// logger returns the slog logger for the common flags: debug with -v, warnings
// by default, errors only with --quiet.
func (c *Common) logger(env *Env) *slog.Logger {
	lvl := slog.LevelWarn
	if c.Verbose {
		lvl = slog.LevelDebug
	}
	if c.Quiet {
		lvl = slog.LevelError
	}
	return slog.New(newLineHandler(env.Stderr, lvl))
}

// writeJSON prints v as indented JSON with a trailing newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// version returns the module version from the build info.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v
}
