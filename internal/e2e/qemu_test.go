package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeQemu writes a shell script standing in for qemu and returns a Machine
// using it.
func fakeQemu(t *testing.T, script string) Machine {
	t.Helper()
	p := filepath.Join(t.TempDir(), "qemu-fake")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	m := MachineX86
	m.Qemu = p
	return m
}

func TestBootFake(t *testing.T) {
	m := fakeQemu(t, `
for a in "$@"; do echo "arg: $a"; done
printf 'Linux version 6.12.117\r\n@@E2E INIT uptime=0.5\r\n@@E2E BEGIN a\r\n'
sleep 0.2
printf '@@E2E OUT a|x\r\n@@E2E END a rc=0 t0=0.6 t1=0.8\r\n@@E2E DONE uptime=1\r\n'
`)
	var tee bytes.Buffer
	res := Boot(t.Context(), m, "/k", "/i", "quiet", 30*time.Second, &tee)
	if res.Err != nil || res.TimedOut {
		t.Fatalf("Boot = err %v timedOut %v, want success\n%s", res.Err, res.TimedOut, res.Log)
	}
	if !bytes.Equal(tee.Bytes(), res.Log) {
		t.Error("tee did not get the same bytes as Log")
	}
	log := string(res.Log)
	for _, want := range []string{"arg: -kernel\narg: /k\n", "arg: -initrd\narg: /i\n", "arg: console=ttyS0 panic=-1 loglevel=6 quiet\n", "arg: -no-reboot\n", "arg: tcg\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("qemu arguments lack %q:\n%s", want, log)
		}
	}
	// The host stamps a line when it reads it, so a stalled reader can
	// shorten the span between BEGIN and END; but it cannot read END
	// before the fake wrote it, 200ms after it started.
	d, ok := res.HostDur("a")
	if !ok || d <= 0 || d > res.Wall {
		t.Errorf("HostDur(a) = %v, %v; want ok and within (0, Wall %v]", d, ok, res.Wall)
	}
	if end := res.Stamps["END a"]; end < 200*time.Millisecond {
		t.Errorf("END a stamped at %v; the fake wrote it after sleeping 200ms", end)
	}
	if res.ToInit <= 0 || res.ToInit > res.Wall {
		t.Errorf("ToInit %v, Wall %v", res.ToInit, res.Wall)
	}
	if _, ok := res.HostDur("nope"); ok {
		t.Error("HostDur(nope) reported ok")
	}
}

func TestBootTimeout(t *testing.T) {
	m := fakeQemu(t, "echo booting; exec sleep 60\n")
	start := time.Now()
	// 5s: long enough for a starved runner to start sh and read "booting".
	res := Boot(t.Context(), m, "/k", "/i", "", 5*time.Second, nil)
	if !res.TimedOut || res.Err == nil {
		t.Errorf("Boot of a hanging qemu = timedOut %v err %v, want a timeout error", res.TimedOut, res.Err)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("Boot returned after %v; the timeout did not stop qemu", el)
	}
	if !strings.Contains(string(res.Log), "booting") {
		t.Errorf("Log %q lacks the output printed before the timeout", res.Log)
	}
}

func TestBootFailure(t *testing.T) {
	m := fakeQemu(t, "echo 'qemu: could not load kernel' >&2; exit 1\n")
	res := Boot(t.Context(), m, "/k", "/i", "", 30*time.Second, nil)
	if res.Err == nil || res.TimedOut || !strings.Contains(string(res.Log), "could not load kernel") {
		t.Errorf("Boot of a failing qemu = err %v timedOut %v log %q; want the exit error and its stderr", res.Err, res.TimedOut, res.Log)
	}
}
