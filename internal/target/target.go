// Package target runs shell commands on a remote kernel's machine (a
// device, a board, a VM, a container) through the user's own transport
// programs, with binary-safe stdout, and snapshots the few small files that
// identify the kernel running there.
//
// A target spec is one of:
//
//	ssh://[user@]host[:port]   the user's ssh (KHEADERS_SSH overrides the program and its options)
//	adb | adb:SERIAL           the user's adb: adb [-s SERIAL] exec-out (KHEADERS_ADB overrides the program)
//	cmd:PREFIX                 any argv prefix that runs "sh -c SCRIPT" on the target with binary-safe
//	                           stdout: "docker exec -i c", "kubectl exec -i pod --", "chroot DIR"
//
// Every command ends with a status line carrying a per-call random marker,
// so the exit status of the remote shell is known even through adb
// exec-out (which returns none), and a transfer cut short (a disconnect, a
// killed transport) is told apart from a complete one.
package target

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

var (
	// ErrSpec is returned for a target spec that cannot be parsed.
	ErrSpec = errors.New("bad target spec")
	// ErrTruncated is returned when the target's output ended before the
	// status line: the connection dropped or the transport was killed.
	ErrTruncated = errors.New("the target's output ended early (disconnected or truncated)")
	// ErrTooLarge is returned when a command printed more than its limit.
	ErrTooLarge = errors.New("the target's output exceeds the size limit")
	// ErrPermission wraps a remote "Permission denied".
	ErrPermission = fs.ErrPermission
	// ErrNotExist wraps a remote "No such file or directory".
	ErrNotExist = fs.ErrNotExist
)

// DefaultTimeout bounds one remote command (connection included).
const DefaultTimeout = 60 * time.Second

// Runner runs argv with stdin closed and returns when it exits; tests
// replace it.
type Runner func(ctx context.Context, argv []string, stdout, stderr io.Writer) error

// Target is a parsed spec.
type Target struct {
	Spec   string // as given
	Kind   string // "ssh", "adb" or "cmd"
	prefix []string
	// quote: the script is passed as one shell word to a remote login
	// shell (ssh) rather than as an argv element.
	quote bool
	// Timeout bounds each command (0: DefaultTimeout).
	Timeout time.Duration
	Logger  *slog.Logger
	// Runner (nil: run the program) executes the transport.
	Runner Runner
	// SendRunner (nil: run the program) executes the transport of Send,
	// with stdin.
	SendRunner func(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error

	received atomic.Int64
	commands atomic.Int64
}

// Parse parses a target spec; getenv (nil: os.Getenv) gives KHEADERS_SSH
// and KHEADERS_ADB.
func Parse(spec string, getenv func(string) string) (*Target, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	t := &Target{Spec: spec}
	switch {
	case strings.HasPrefix(spec, "ssh://"):
		user, host, port, err := parseSSH(strings.TrimPrefix(spec, "ssh://"))
		if err != nil {
			return nil, fmt.Errorf("%w %q: %v (want ssh://[user@]host[:port])", ErrSpec, spec, err)
		}
		prog := []string{"ssh"}
		if s := getenv("KHEADERS_SSH"); s != "" {
			if prog, err = SplitArgs(s); err != nil || len(prog) == 0 {
				return nil, fmt.Errorf("%w: KHEADERS_SSH=%q: %v", ErrSpec, s, err)
			}
		}
		t.Kind, t.quote = "ssh", true
		t.prefix = append(prog, "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-T")
		if port != "" {
			t.prefix = append(t.prefix, "-p", port)
		}
		if user != "" {
			t.prefix = append(t.prefix, "-l", user)
		}
		t.prefix = append(t.prefix, "--", host)
	case spec == "adb" || strings.HasPrefix(spec, "adb:"):
		serial := strings.TrimPrefix(strings.TrimPrefix(spec, "adb"), ":")
		if strings.HasPrefix(spec, "adb:") && (serial == "" || strings.ContainsAny(serial, " \t\n")) {
			return nil, fmt.Errorf("%w %q: want adb or adb:SERIAL (a serial from 'adb devices')", ErrSpec, spec)
		}
		prog := []string{"adb"}
		if s := getenv("KHEADERS_ADB"); s != "" {
			var err error
			if prog, err = SplitArgs(s); err != nil || len(prog) == 0 {
				return nil, fmt.Errorf("%w: KHEADERS_ADB=%q: %v", ErrSpec, s, err)
			}
		}
		t.Kind = "adb"
		t.prefix = prog
		if serial != "" {
			t.prefix = append(t.prefix, "-s", serial)
		}
		t.prefix = append(t.prefix, "exec-out")
	case strings.HasPrefix(spec, "cmd:"):
		argv, err := SplitArgs(strings.TrimPrefix(spec, "cmd:"))
		if err != nil || len(argv) == 0 {
			return nil, fmt.Errorf("%w %q: want cmd:PREFIX, a command that runs 'sh -c SCRIPT' on the target (e.g. cmd:docker exec -i CONTAINER): %v", ErrSpec, spec, err)
		}
		t.Kind = "cmd"
		t.prefix = append(argv, "sh", "-c")
	default:
		return nil, fmt.Errorf("%w %q: want ssh://[user@]host[:port], adb[:SERIAL] or cmd:PREFIX", ErrSpec, spec)
	}
	return t, nil
}

func parseSSH(s string) (user, host, port string, err error) {
	if i := strings.LastIndex(s, "@"); i >= 0 {
		user, s = s[:i], s[i+1:]
		if user == "" {
			return "", "", "", errors.New("empty user")
		}
	}
	host = s
	switch {
	case strings.HasPrefix(s, "["): // [v6addr]:port
		end := strings.Index(s, "]")
		if end < 0 {
			return "", "", "", errors.New("unclosed [")
		}
		host = s[1:end]
		rest := s[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "", "", "", errors.New("junk after ]")
			}
			port = rest[1:]
		}
	case strings.Count(s, ":") == 1:
		host, port, _ = strings.Cut(s, ":")
	}
	if host == "" || strings.HasPrefix(host, "-") || strings.ContainsAny(host, " \t\n/@") || strings.ContainsAny(user, " \t\n/:") {
		return "", "", "", errors.New("bad host or user")
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			return "", "", "", fmt.Errorf("bad port %q", port)
		}
	}
	return user, host, port, nil
}

// SplitArgs splits s into words as a POSIX shell would for a simple
// command without expansions: blanks separate words, '...' and "..."
// quote, a backslash escapes the next character (outside single quotes).
func SplitArgs(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false // a word is open
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unclosed single quote")
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			in = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unclosed double quote")
			}
			in = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
			in = true
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

// Quote quotes s as one POSIX shell word.
func Quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Received returns the stdout bytes received from the target so far, and
// the number of commands run.
func (t *Target) Received() (bytes, commands int64) { return t.received.Load(), t.commands.Load() }

// Error is a failed remote command.
type Error struct {
	Target string
	Script string // the command (first line)
	Status int    // remote exit status, -1 when unknown
	Stderr string
	Err    error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("target %s: %s: %v", e.Target, e.Script, e.Err)
	if e.Stderr != "" {
		s += ": " + e.Stderr
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Run runs the shell script on the target and returns its stdout, at most
// limit bytes (ErrTooLarge beyond). A non-zero remote status is an *Error
// wrapping ErrPermission or ErrNotExist when stderr says so.
func (t *Target) Run(ctx context.Context, script string, limit int64) ([]byte, error) {
	marker, err := newMarker()
	if err != nil {
		return nil, err
	}
	full := "{ " + script + "\n} </dev/null; printf '\\n" + marker + "%d\\n' $?"
	argv := append([]string(nil), t.prefix...)
	if t.quote {
		argv = append(argv, "exec sh -c "+Quote("LC_ALL=C; export LC_ALL; "+full))
	} else {
		argv = append(argv, "LC_ALL=C; export LC_ALL; "+full)
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	show := firstLine(script)
	if t.Logger != nil {
		t.Logger.Info("remote command", "target", t.Spec, "cmd", show)
	}
	start := time.Now()
	out := &capWriter{max: limit + int64(len(marker)) + 16}
	errb := &capWriter{max: 4096}
	run := t.Runner
	if run == nil {
		run = execRunner
	}
	t.commands.Add(1)
	rerr := run(ctx, argv, out, errb)
	t.received.Add(out.n)
	stderr := strings.TrimSpace(errb.buf.String())
	fail := func(status int, err error) (*Error, error) {
		e := &Error{Target: t.Spec, Script: show, Status: status, Stderr: stderr, Err: err}
		if t.Logger != nil {
			t.Logger.Info("remote command failed", "target", t.Spec, "cmd", show, "err", err, "bytes", out.n, "elapsed", time.Since(start).Round(time.Millisecond))
		}
		return e, e
	}
	if out.over {
		_, err := fail(-1, fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit))
		return nil, err
	}
	if ctx.Err() != nil {
		_, err := fail(-1, fmt.Errorf("no answer within %v after %d bytes (the target hangs or is unreachable): %w", timeout, out.n, ctx.Err()))
		return nil, err
	}
	data, status, perr := SplitStatus(out.buf.Bytes(), marker)
	if perr != nil {
		why := perr
		if rerr != nil {
			why = fmt.Errorf("%w after %d bytes (transport: %v)", ErrTruncated, out.n, rerr)
		} else {
			why = fmt.Errorf("%w after %d bytes", ErrTruncated, out.n)
		}
		_, err := fail(-1, why)
		return nil, err
	}
	if status != 0 {
		var why error = fmt.Errorf("exit status %d", status)
		switch {
		case strings.Contains(stderr, "Permission denied") || strings.Contains(stderr, "Operation not permitted"):
			why = fmt.Errorf("exit status %d: %w", status, ErrPermission)
		case strings.Contains(stderr, "No such file"):
			why = fmt.Errorf("exit status %d: %w", status, ErrNotExist)
		}
		_, err := fail(status, why)
		return nil, err
	}
	if int64(len(data)) > limit {
		_, err := fail(-1, fmt.Errorf("%w (%d bytes)", ErrTooLarge, limit))
		return nil, err
	}
	if t.Logger != nil {
		t.Logger.Info("remote command done", "target", t.Spec, "cmd", show, "bytes", len(data), "elapsed", time.Since(start).Round(time.Millisecond))
	}
	return data, nil
}

// ReadFile reads a file on the target (at most limit bytes).
func (t *Target) ReadFile(ctx context.Context, path string, limit int64) ([]byte, error) {
	return t.Run(ctx, "cat "+Quote(path), limit)
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

func newMarker() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "KHEADERS-STATUS-" + hex.EncodeToString(b[:]) + ":", nil
}

// SplitStatus separates a command's output from the status line the
// wrapper appends ("\n" MARKER STATUS "\n" at the very end).
func SplitStatus(out []byte, marker string) (data []byte, status int, err error) {
	tail := []byte("\n" + marker)
	i := bytes.LastIndex(out, tail)
	if i < 0 {
		return nil, 0, ErrTruncated
	}
	rest := out[i+len(tail):]
	if len(rest) < 2 || rest[len(rest)-1] != '\n' {
		return nil, 0, ErrTruncated
	}
	n, err := strconv.Atoi(string(rest[:len(rest)-1]))
	if err != nil || n < 0 || n > 255 {
		return nil, 0, fmt.Errorf("%w: bad status line %q", ErrTruncated, rest)
	}
	return out[:i], n, nil
}

type capWriter struct {
	buf  bytes.Buffer
	n    int64
	max  int64
	over bool
}

func (w *capWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	if room := w.max - int64(w.buf.Len()); room > 0 {
		w.buf.Write(p[:min(int64(len(p)), room)])
	}
	if w.n > w.max {
		w.over = true
		return 0, ErrTooLarge
	}
	return len(p), nil
}

func execRunner(ctx context.Context, argv []string, stdout, stderr io.Writer) error {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = 2 * time.Second
	setProcessGroup(cmd)
	err := cmd.Run()
	if err != nil && errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("%s not found on PATH (install it, or set KHEADERS_SSH / KHEADERS_ADB): %w", argv[0], err)
	}
	return err
}
