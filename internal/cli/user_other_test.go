//go:build !linux

package cli

import "syscall"

func userAttr(uint32) *syscall.SysProcAttr { return nil }
