package target

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the transport in its own process group and makes a
// cancelled context kill the whole group (ssh's or adb's children too), so
// a hung target cannot keep a pipe open past the timeout.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
