package targettest

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ADBServer speaks the adb host ("smart socket") protocol on 127.0.0.1 as
// the adb server would, for the real adb client (ADB_SERVER_SOCKET=Socket):
// host:version, host:features, host:transport[-any|:SERIAL], host:tport:...,
// then exec:CMD and shell:CMD run CMD, with the connection as its stdin
// (exec-in), with "sh -c" as uid 65534 in a chroot
// of the fake device root (as adbd runs them as the shell user).
type ADBServer struct {
	Socket string // tcp:127.0.0.1:PORT
	Serial string

	mu       sync.Mutex
	Requests []string // every request received, in order
}

// StartADB serves root as the device Serial until the test ends.
func StartADB(t testing.TB, root, serial string) *ADBServer {
	t.Helper()
	RequireChroot(t)
	if _, err := exec.LookPath("adb"); err != nil {
		t.Skip("adb not installed (Debian: adb; scripts/install-deps.sh)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &ADBServer{Socket: "tcp:" + l.Addr().String(), Serial: serial}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		l.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				s.serve(ctx, c, root)
			}()
		}
	}()
	return s
}

func okay(w io.Writer, payload string) {
	fmt.Fprintf(w, "OKAY%04x%s", len(payload), payload)
}

func fail(w io.Writer, msg string) { fmt.Fprintf(w, "FAIL%04x%s", len(msg), msg) }

func (s *ADBServer) serve(ctx context.Context, c net.Conn, root string) {
	// Unbuffered: after an exec: request the rest of the connection is
	// the command's stdin (adb exec-in), which a buffer would swallow.
	r := c
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n, err := strconv.ParseUint(string(hdr[:]), 16, 16)
		if err != nil {
			fail(c, "bad length")
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		req := string(buf)
		s.mu.Lock()
		s.Requests = append(s.Requests, req)
		s.mu.Unlock()
		switch {
		case req == "host:version":
			okay(c, fmt.Sprintf("%04x", 41))
			return
		case strings.HasSuffix(req, ":features") || req == "host:host-features":
			okay(c, "")
			return
		case req == "host:transport-any" || req == "host:transport:"+s.Serial:
			c.Write([]byte("OKAY"))
		case req == "host:tport:any" || req == "host:tport:serial:"+s.Serial:
			c.Write([]byte("OKAY"))
			var id [8]byte
			binary.LittleEndian.PutUint64(id[:], 1)
			c.Write(id[:])
		case strings.HasPrefix(req, "host:transport:") || strings.HasPrefix(req, "host:tport:serial:"):
			fail(c, "device '"+req[strings.LastIndex(req, ":")+1:]+"' not found")
			return
		case strings.HasPrefix(req, "exec:") || strings.HasPrefix(req, "shell:"):
			_, cmdline, _ := strings.Cut(req, ":")
			c.Write([]byte("OKAY"))
			cmd := exec.CommandContext(ctx, "chroot", "--userspec=65534:65534", root, "/bin/sh", "-c", cmdline)
			cmd.Stdout = c
			// The socket itself is the command's stdin (a dup: no copying
			// goroutine that would outlive the command): what adb exec-in
			// forwards until it closes the connection.
			if tc, ok := c.(*net.TCPConn); ok {
				if f, err := tc.File(); err == nil {
					defer f.Close()
					cmd.Stdin = f
				}
			}
			if strings.HasPrefix(req, "shell:") {
				cmd.Stderr = c // a v1 shell merges the streams (no pty here)
			}
			cmd.Run()
			return
		default:
			fail(c, "unsupported request "+req)
			return
		}
	}
}

// Seen returns the requests received so far.
func (s *ADBServer) Seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.Requests...)
}
