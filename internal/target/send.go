package target

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Send runs the shell script on the target with data on its stdin (the
// script reads it, e.g. "cat > FILE"). Over ssh and cmd: the status line
// gives the remote exit status as for Run; adb exec-out forwards no stdin,
// so adb uses exec-in, which returns no output at all: the caller checks
// the result with a later command (e.g. the file's size).
func (t *Target) Send(ctx context.Context, script string, data []byte) error {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	argv := append([]string(nil), t.prefix...)
	var marker string
	if t.Kind == "adb" {
		// exec-in takes the place of exec-out (the last word of the prefix).
		if i := slices.Index(argv, "exec-out"); i >= 0 {
			argv[i] = "exec-in"
		}
		argv = append(argv, "LC_ALL=C; export LC_ALL; "+script)
	} else {
		var err error
		if marker, err = newMarker(); err != nil {
			return err
		}
		full := "LC_ALL=C; export LC_ALL; { " + script + "\n}; printf '\\n" + marker + "%d\\n' $?"
		if t.quote {
			argv = append(argv, "exec sh -c "+Quote(full))
		} else {
			argv = append(argv, full)
		}
	}
	show := firstLine(script)
	if t.Logger != nil {
		t.Logger.Info("remote command", "target", t.Spec, "cmd", show, "sent", len(data))
	}
	start := time.Now()
	out := &capWriter{max: 1 << 16}
	errb := &capWriter{max: 4096}
	t.commands.Add(1)
	err := t.sendRunner(ctx, argv, bytes.NewReader(data), out, errb)
	t.received.Add(out.n)
	stderr := strings.TrimSpace(errb.buf.String())
	fail := func(status int, why error) error {
		if t.Logger != nil {
			t.Logger.Info("remote command failed", "target", t.Spec, "cmd", show, "err", why, "elapsed", time.Since(start).Round(time.Millisecond))
		}
		return &Error{Target: t.Spec, Script: show, Status: status, Stderr: stderr, Err: why}
	}
	if ctx.Err() != nil {
		return fail(-1, fmt.Errorf("no answer within %v while sending %d bytes (the target hangs or is unreachable): %w", timeout, len(data), ctx.Err()))
	}
	if marker == "" {
		if err != nil {
			return fail(-1, fmt.Errorf("%w (transport: %v)", ErrTruncated, err))
		}
	} else {
		_, status, perr := SplitStatus(out.buf.Bytes(), marker)
		switch {
		case perr != nil && err != nil:
			return fail(-1, fmt.Errorf("%w (transport: %v)", ErrTruncated, err))
		case perr != nil:
			return fail(-1, perr)
		case status != 0:
			return fail(status, fmt.Errorf("exit status %d", status))
		}
	}
	if t.Logger != nil {
		t.Logger.Info("remote command done", "target", t.Spec, "cmd", show, "sent", len(data), "elapsed", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func (t *Target) sendRunner(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if t.SendRunner != nil {
		return t.SendRunner(ctx, argv, stdin, stdout, stderr)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.WaitDelay = 2 * time.Second
	setProcessGroup(cmd)
	return cmd.Run()
}
