//go:build !linux

package nats

import "os/exec"

// setParentDeathSignal does nothing where the kernel cannot kill children
// with their parent; spawned workers then stop when their run ends.
func setParentDeathSignal(cmd *exec.Cmd) {}
