//go:build linux

package chaos

import (
	"os/exec"
	"syscall"
)

// setChildSysProcAttr makes the kernel kill the child server if the test
// binary dies without killing it (a panic or a test timeout).
func setChildSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
