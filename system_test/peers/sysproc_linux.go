//go:build linux

package peers

import (
	"os/exec"
	"syscall"
)

// setPeerSysProcAttr makes the kernel kill a peer process if the test binary
// dies without running its cleanups (a panic or a test timeout), so that no
// peer outlives the test run and holds go test's output open.
func setPeerSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
