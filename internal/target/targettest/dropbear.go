package targettest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SSHServer is Debian's dropbear on 127.0.0.1 whose every session is
// forced into a fake target root (chroot) by a script that can also
// misbehave on purpose.
type SSHServer struct {
	Spec string // ssh://root@127.0.0.1:PORT
	// SSH is the client command (KHEADERS_SSH): the real ssh with the
	// test's key, known_hosts and no user configuration.
	SSH  string
	mode string
}

// Modes of SSHServer.Set for the archive command (the archive read, not the identity read): "ok", "disconnect" (the session is killed after 100 kB),
// "hang" (no answer for 20 s).
const (
	ModeOK         = "ok"
	ModeDisconnect = "disconnect"
	ModeHang       = "hang"
)

// Set selects the root served and the mode, for the next sessions.
func (s *SSHServer) Set(t testing.TB, mode, root string) {
	t.Helper()
	if err := os.WriteFile(s.mode, []byte(mode+" "+root+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

const forced = `#!/bin/sh
read mode root < %s
case "$SSH_ORIGINAL_COMMAND" in
*identity:*) mode=ok ;;
esac
case "$mode:$SSH_ORIGINAL_COMMAND" in
disconnect:*/sys/kernel/kheaders.tar.xz*)
  chroot "$root" /bin/sh -c "$SSH_ORIGINAL_COMMAND" | head -c 100000
  kill -9 $PPID ;;
hang:*/sys/kernel/kheaders.tar.xz*) exec sleep 20 ;;
*) exec chroot "$root" /bin/sh -c "$SSH_ORIGINAL_COMMAND" ;;
esac
`

// StartSSH starts dropbear (as root, in a private mount namespace where
// the test's home directory is bind-mounted over /root, so the real
// ~/.ssh is never read or written) and stops it at the end of the test.
func StartSSH(t testing.TB, root string) *SSHServer {
	t.Helper()
	RequireChroot(t)
	for _, p := range []string{"dropbear", "dropbearkey", "ssh", "ssh-keygen", "unshare"} {
		if _, err := exec.LookPath(p); err != nil {
			t.Skipf("%s not installed (Debian: dropbear-bin, openssh-client; scripts/install-deps.sh)", p)
		}
	}
	dir := t.TempDir()
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run("dropbearkey", "-t", "ed25519", "-f", filepath.Join(dir, "hostkey"))
	run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, "id"))
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(filepath.Join(dir, "id.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	s := &SSHServer{mode: filepath.Join(dir, "mode")}
	s.Set(t, ModeOK, root)
	script := filepath.Join(dir, "forced.sh")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(forced, s.mode)), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" /root && exec dropbear -F -E -s -m -r "$2" -p "127.0.0.1:$3" -P "$4" -c "$5"`, "x",
		home, filepath.Join(dir, "hostkey"), fmt.Sprint(port), filepath.Join(dir, "pid"), script)
	log, err := os.Create(filepath.Join(dir, "dropbear.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start dropbear in a mount namespace: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		log.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "dropbear.log"))
			t.Skipf("dropbear did not listen on 127.0.0.1:%d (no mount namespace here?): %s", port, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Spec = fmt.Sprintf("ssh://root@127.0.0.1:%d", port)
	s.SSH = strings.Join([]string{"ssh", "-F", "/dev/null", "-i", q(filepath.Join(dir, "id")), "-o", "IdentitiesOnly=yes",
		"-o", "UserKnownHostsFile=" + q(filepath.Join(dir, "known_hosts")), "-o", "StrictHostKeyChecking=accept-new"}, " ")
	return s
}

func q(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
