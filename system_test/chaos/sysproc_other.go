//go:build !linux

package chaos

import "os/exec"

// setChildSysProcAttr does nothing here: outside Linux the child server
// exits when its stdin closes, which happens when the test binary dies.
func setChildSysProcAttr(cmd *exec.Cmd) {}
