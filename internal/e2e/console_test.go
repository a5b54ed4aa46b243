package e2e

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseConsole(t *testing.T) {
	log := "Linux version 6.12.117\r\n" +
		"Run /init as init process\r\n" +
		"@@E2E INIT uptime=0.94\r\n" +
		"@@E2E BEGIN locate\r\n" +
		"@@E2E OUT locate|{\r\n" +
		"@@E2E OUT locate|  \"source\": \"sysfs\"\r\n" +
		"@@E2E OUT locate|}\r\n" +
		"@@E2E ERR locate|level=DEBUG msg=tried\r\n" +
		"[    1.2] random: crng init done@@E2E END locate rc=0 t0=1.00 t1=1.57\r\n" +
		"@@E2E BEGIN mismatch\n" +
		"@@E2E OUT mismatch|\n" +
		"@@E2E END mismatch rc=4 t0=2.00 t1=2.01\n" +
		"@@E2E DONE uptime=3.50\n" +
		"reboot: Restarting system\n"
	c, err := ParseConsole(strings.NewReader(log))
	if err != nil {
		t.Fatalf("ParseConsole: %v", err)
	}
	want := &Console{
		InitUptime: 940 * time.Millisecond, DoneUptime: 3500 * time.Millisecond, Init: true, Done: true,
		Steps: []*Step{
			{Name: "locate", Stdout: "{\n  \"source\": \"sysfs\"\n}", Stderr: "level=DEBUG msg=tried", RC: 0, Dur: 570 * time.Millisecond, Ended: true},
			{Name: "mismatch", Stdout: "", RC: 4, Dur: 10 * time.Millisecond, Ended: true},
		},
		Kernel: []string{"Linux version 6.12.117", "Run /init as init process", "[    1.2] random: crng init done", "reboot: Restarting system"},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("ParseConsole (-want +got):\n%s", diff)
	}
	if c.Step("nope") != nil {
		t.Error(`Step("nope") != nil`)
	}
}

func TestParseConsoleTruncated(t *testing.T) {
	// A guest that died mid-step: no END, no DONE. Not an error, but visible.
	c, err := ParseConsole(strings.NewReader("@@E2E INIT uptime=1\n@@E2E BEGIN locate\n@@E2E OUT locate|x\nKernel panic\n"))
	if err != nil {
		t.Fatalf("ParseConsole: %v", err)
	}
	if c.Done || len(c.Steps) != 1 || c.Steps[0].Ended {
		t.Errorf("ParseConsole(truncated) = done %v, steps %+v; want not done, one step not ended", c.Done, c.Steps)
	}
}

func TestParseConsoleErrors(t *testing.T) {
	tests := []string{
		"@@E2E BOGUS x\n",
		"@@E2E INIT uptime=abc\n",
		"@@E2E INIT uptime=NaN\n",
		"@@E2E DONE\n",
		"@@E2E BEGIN \n",
		"@@E2E BEGIN a b\n",
		"@@E2E BEGIN a\n@@E2E BEGIN a\n",
		"@@E2E BEGIN a\n@@E2E END a rc=0 t0=1 t1=2\n@@E2E BEGIN a\n",
		"@@E2E OUT a|x\n",
		"@@E2E BEGIN a\n@@E2E OUT a no bar\n",
		"@@E2E END a rc=0 t0=1 t1=2\n",
		"@@E2E BEGIN a\n@@E2E END a rc=x t0=1 t1=2\n",
		"@@E2E BEGIN a\n@@E2E END a 0 t0=1 t1=2\n",
		"@@E2E BEGIN a\n@@E2E END a rc=0 t0=2 t1=1\n",
		"@@E2E BEGIN a\n@@E2E END a rc=0 t0=1\n",
	}
	for _, in := range tests {
		if _, err := ParseConsole(strings.NewReader(in)); !errors.Is(err, errConsole) {
			t.Errorf("ParseConsole(%q) = %v, want an errConsole error", in, err)
		}
	}
}

// FuzzParseConsole: the console is bytes from a guest; the parser must not
// panic and must keep its invariants on any input.
func FuzzParseConsole(f *testing.F) {
	f.Add([]byte("@@E2E INIT uptime=0.94\r\n@@E2E BEGIN a\r\n@@E2E OUT a|x\r\n@@E2E END a rc=0 t0=1 t1=2\r\n@@E2E DONE uptime=3\r\n"))
	f.Add([]byte("noise@@E2E BEGIN a\n@@E2E ERR a|\n"))
	f.Add([]byte("@@E2E END a rc=-1 t0=1e9 t1=1e10\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConsole(strings.NewReader(string(b)))
		if err != nil {
			if c != nil {
				t.Fatalf("ParseConsole returned a console with error %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, s := range c.Steps {
			if s.Name == "" || seen[s.Name] || s.Dur < 0 {
				t.Fatalf("bad step %+v", s)
			}
			seen[s.Name] = true
		}
	})
}
