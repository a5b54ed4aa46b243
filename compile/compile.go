// Package compile compiles kprobe/BPF C programs against located kernel
// headers (locate.Headers) with the compilers a Debian machine has: what a
// Go BPF tool calls between locate.Locate and loading the object with
// cilium/ebpf.
//
// Two kinds of headers take two pipelines:
//
//   - a full kernel header tree (locate.KindTree) is compiled as bcc and the
//     kernel's samples/bpf do: clang for the kernel's own target to LLVM IR
//     with Kbuild's flags (Headers.BPFFlags), then llc emits BPF:
//
//     clang -target TRIPLE FLAGS -fno-asynchronous-unwind-tables -fno-unwind-tables -O2 -g ARGS -emit-llvm -c FILE -o - | llc -march=bpf -filetype=obj -o -
//
//     One-step "clang -target bpf" rejects the inline assembly of x86 and
//     other arches' kernel-internal headers ("invalid output constraint").
//
//   - a vmlinux.h derived from BTF (locate.KindBTF) is compiled in one step,
//     as libbpf-tools do:
//
//     clang -target bpf -g -O2 -D__TARGET_ARCH_A -IDIR ARGS -c FILE -o -
//
// clang's and llc's diagnostics are passed through unchanged; the object is
// checked to be a BPF ELF file before it is returned.
package compile

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kheaders/kheaders/internal/karch"
	"github.com/kheaders/kheaders/locate"
)

var (
	// ErrNoTool: clang (or, for a header tree, llc) is not installed; the
	// error is a *ToolError naming the Debian package.
	ErrNoTool = errors.New("compiler not found")
	// ErrFailed: clang or llc exited with an error (its diagnostics went
	// to Options.Stderr); the error is an *ExitError.
	ErrFailed = errors.New("compile failed")
	// ErrNotSupported: the headers cannot be compiled with clang (an arch
	// the kernel builds only with GCC, or an unknown kind of headers).
	ErrNotSupported = errors.New("cannot compile against these headers")
	// ErrBadObject: the compiler succeeded but its output is not a BPF ELF
	// object.
	ErrBadObject = errors.New("compiler output is not a BPF object")
)

// ToolError says which tool is missing, what was tried and which Debian
// package provides it.
type ToolError struct {
	Tool    string   // "clang" or "llc"
	Tried   []string // names looked up on $PATH (or the path given)
	Package string   // Debian package, e.g. "clang (Debian 12: clang-14)"
}

func (e *ToolError) Error() string {
	return fmt.Sprintf("%s not found (tried %s on $PATH): install the Debian package %s, or name the binary (kheaders cc --%s PATH)",
		e.Tool, strings.Join(e.Tried, ", "), e.Package, e.Tool)
}

// Is makes errors.Is(err, ErrNoTool) true.
func (e *ToolError) Is(target error) bool { return target == ErrNoTool }

// ExitError is a failed compiler command.
type ExitError struct {
	Argv []string // the command that failed
	Err  error    // its *exec.ExitError or start error
	// Stderr is what the command printed on stderr when Options.Stderr was
	// nil (otherwise it went there, unchanged, and this is empty).
	Stderr string
}

func (e *ExitError) Error() string {
	s := fmt.Sprintf("%s: %v", filepath.Base(e.Argv[0]), e.Err)
	if e.Stderr != "" {
		s += "\n" + strings.TrimRight(e.Stderr, "\n")
	}
	return s
}

// Is makes errors.Is(err, ErrFailed) true.
func (e *ExitError) Is(target error) bool { return target == ErrFailed }

// Unwrap gives the exec error.
func (e *ExitError) Unwrap() error { return e.Err }

// Options configure Compile. The zero value works: clang and llc from
// $PATH, diagnostics collected into the error.
type Options struct {
	// Args are extra clang arguments (-I, -D, -O0 ...), placed after the
	// header flags and the defaults so that they win.
	Args []string
	// Clang and LLC name the binaries (a name looked up on $PATH or a
	// path). Empty: clang, then clang-N; llc-N matching a clang-N, then
	// llc, then llc-N (Debian 12's clang-14 installs clang-14 and
	// llc-14; the clang and llvm packages add the plain names).
	Clang, LLC string
	// Stdin is the program's source when the file is "-".
	Stdin io.Reader
	// Stderr gets clang's and llc's diagnostics unchanged (nil: they are
	// kept in the *ExitError of a failure).
	Stderr io.Writer
	// Trace, if set, is called with the commands of the pipeline before
	// they run (one for a BTF tree, clang then llc for a header tree).
	Trace func(cmds [][]string)
}

// versions are the clang/llc suffixes looked for after the plain names,
// newest first (Debian 12 ships 13 to 16, 14 being its default).
var versions = []string{"19", "18", "17", "16", "15", "14", "13"}

func find(tool, given, prefer, pkg string) (string, error) {
	var cands []string
	if given != "" {
		cands = []string{given}
	} else {
		if prefer != "" {
			cands = append(cands, tool+"-"+prefer)
		}
		cands = append(cands, tool)
		for _, v := range versions {
			if v != prefer {
				cands = append(cands, tool+"-"+v)
			}
		}
	}
	for _, c := range cands {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", &ToolError{Tool: tool, Tried: cands, Package: pkg}
}

// suffix returns the version of a clang-N binary name ("" for clang).
func suffix(path string) string {
	b := filepath.Base(path)
	if i := strings.LastIndexByte(b, '-'); i >= 0 {
		if _, err := strconv.Atoi(b[i+1:]); err == nil {
			return b[i+1:]
		}
	}
	return ""
}

// Commands returns the commands Compile runs for file with h: one for a
// BTF tree, clang then llc (clang's stdout piped into llc) for a header
// tree. The binaries are resolved on $PATH. Errors: ErrNoTool (a
// *ToolError), ErrNotSupported.
func Commands(h *locate.Headers, file string, opts *Options) ([][]string, error) {
	if opts == nil {
		opts = &Options{}
	}
	if h == nil {
		return nil, fmt.Errorf("compile %s: %w: no headers", file, ErrNotSupported)
	}
	kind := h.Kind
	if kind == "" {
		kind = locate.KindTree
	}
	switch kind {
	case locate.KindBTF:
		clang, err := find("clang", opts.Clang, "", "clang (Debian 12: clang-14)")
		if err != nil {
			return nil, err
		}
		// A BTF tree's Flags already carry what CO-RE needs (-target bpf,
		// -g, -O2, __TARGET_ARCH_).
		c := append([]string{clang}, h.Flags()...)
		c = append(c, opts.Args...)
		return [][]string{append(c, "-c", file, "-o", "-")}, nil
	case locate.KindTree:
		t := karch.Target{Arch: h.Arch, Machine: h.Machine}
		triple := t.ClangTriple()
		if triple == "" {
			return nil, fmt.Errorf("compile %s: %w: the kernel builds arch %q only with GCC (scripts/Makefile.clang has no clang target for it)", file, ErrNotSupported, h.Arch)
		}
		clang, err := find("clang", opts.Clang, "", "clang (Debian 12: clang-14)")
		if err != nil {
			return nil, err
		}
		llc, err := find("llc", opts.LLC, suffix(clang), "llvm (Debian 12: llvm-14)")
		if err != nil {
			return nil, err
		}
		c := []string{clang, "-target", triple}
		c = append(c, h.BPFFlags()...)
		// Without them clang emits .eh_frame, which libbpf reports as an
		// unrecognized data section (bcc passes them too).
		c = append(c, "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-O2", "-g")
		c = append(c, opts.Args...)
		c = append(c, "-emit-llvm", "-c", file, "-o", "-")
		return [][]string{c, {llc, "-march=bpf", "-filetype=obj", "-o", "-"}}, nil
	}
	return nil, fmt.Errorf("compile %s: %w: unknown kind of headers %q", file, ErrNotSupported, h.Kind)
}

// Compile compiles the C file (or "-": Options.Stdin) against h and returns
// the BPF object. clang's and llc's diagnostics go to Options.Stderr
// unchanged. Errors: ErrNoTool (*ToolError), ErrFailed (*ExitError),
// ErrNotSupported, ErrBadObject, or the context's error.
func Compile(ctx context.Context, h *locate.Headers, file string, opts *Options) ([]byte, error) {
	if opts == nil {
		opts = &Options{}
	}
	if file != "-" {
		// clang's own "no such file" is clear too, but this one comes
		// before any tool lookup.
		if _, err := os.Stat(file); err != nil {
			return nil, fmt.Errorf("compile: %w", err)
		}
	}
	cmds, err := Commands(h, file, opts)
	if err != nil {
		return nil, err
	}
	if opts.Trace != nil {
		opts.Trace(cmds)
	}
	var obj bytes.Buffer
	if len(cmds) == 1 {
		err = run1(ctx, cmds[0], opts, &obj)
	} else {
		err = run2(ctx, cmds[0], cmds[1], opts, &obj)
	}
	if err != nil {
		return nil, err
	}
	if err := CheckObject(obj.Bytes()); err != nil {
		return nil, fmt.Errorf("compile %s: %w", file, err)
	}
	return obj.Bytes(), nil
}

// stderrFor returns where a command's stderr goes and, when Options.Stderr
// is nil, the buffer keeping it.
func stderrFor(opts *Options) (io.Writer, *bytes.Buffer) {
	if opts.Stderr != nil {
		return opts.Stderr, nil
	}
	b := &bytes.Buffer{}
	return b, b
}

func exitErr(argv []string, err error, kept *bytes.Buffer) error {
	e := &ExitError{Argv: argv, Err: err}
	if kept != nil {
		e.Stderr = kept.String()
	}
	return e
}

func run1(ctx context.Context, argv []string, opts *Options, out io.Writer) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = opts.Stdin
	cmd.Stdout = out
	w, kept := stderrFor(opts)
	cmd.Stderr = w
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return exitErr(argv, err, kept)
	}
	return nil
}

// run2 runs clang | llc. When clang fails, its error is the one reported
// and llc's complaint about the truncated IR is dropped; llc's stderr is
// shown only when clang succeeded.
func run2(ctx context.Context, clangArgv, llcArgv []string, opts *Options, out io.Writer) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("compile: pipe: %w", err)
	}
	c1 := exec.CommandContext(ctx, clangArgv[0], clangArgv[1:]...)
	c1.Stdin = opts.Stdin
	c1.Stdout = pw
	w1, kept1 := stderrFor(opts)
	c1.Stderr = w1
	c2 := exec.CommandContext(ctx, llcArgv[0], llcArgv[1:]...)
	c2.Stdin = pr
	c2.Stdout = out
	var llcErr bytes.Buffer
	c2.Stderr = &llcErr
	if err := c1.Start(); err != nil {
		pr.Close()
		pw.Close()
		return exitErr(clangArgv, err, kept1)
	}
	pw.Close()
	err2 := c2.Start()
	pr.Close()
	err1 := c1.Wait()
	if err2 == nil {
		err2 = c2.Wait()
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err1 != nil {
		return exitErr(clangArgv, err1, kept1)
	}
	if opts.Stderr != nil {
		opts.Stderr.Write(llcErr.Bytes())
	}
	if err2 != nil {
		var kept2 *bytes.Buffer
		if opts.Stderr == nil {
			kept2 = &llcErr
		}
		return exitErr(llcArgv, err2, kept2)
	}
	return nil
}

// CheckObject reports whether obj is a relocatable BPF ELF object (e_type
// ET_REL, e_machine EM_BPF). Errors wrap ErrBadObject.
func CheckObject(obj []byte) error {
	f, err := elf.NewFile(bytes.NewReader(obj))
	if err != nil {
		return fmt.Errorf("%w: %d bytes: %w", ErrBadObject, len(obj), err)
	}
	defer f.Close()
	if f.Machine != elf.EM_BPF || f.Type != elf.ET_REL {
		return fmt.Errorf("%w: ELF %v %v, want EM_BPF ET_REL", ErrBadObject, f.Machine, f.Type)
	}
	return nil
}
