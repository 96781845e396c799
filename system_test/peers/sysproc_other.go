//go:build !linux

package peers

import "os/exec"

// setPeerSysProcAttr does nothing here: outside Linux a peer notices that the
// test binary died when its stdin closes.
func setPeerSysProcAttr(cmd *exec.Cmd) {}
