//go:build !linux

package host

import (
	"fmt"
	"runtime"
)

type utsname struct{ release, machine string }

func uname() (utsname, error) {
	return utsname{}, fmt.Errorf("uname on %s: %w", runtime.GOOS, ErrNotSupported)
}

func vdsoVersionCode() (uint32, error) {
	return 0, fmt.Errorf("version code on %s: %w", runtime.GOOS, ErrNotSupported)
}

func canLoadModules() (bool, string) { return false, "not Linux" }

func loadModule(string, func([]byte) ([]byte, error)) error {
	return fmt.Errorf("load module on %s: %w", runtime.GOOS, ErrNotSupported)
}

// Exchange is not supported off Linux.
func Exchange(a, b string) error { return fmt.Errorf("exchange: %w", ErrNotSupported) }
