//go:build !unix

package oci

import "os/exec"

// killGroup: without process groups, cancellation kills the helper alone.
func killGroup(*exec.Cmd) {}
