package nats

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel kill a spawned worker when the
// driver dies, even by SIGKILL, so no worker outlives its driver.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
