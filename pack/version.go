package pack

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// kernelVersion is a kernel version as the top-level Makefile states it.
type kernelVersion struct {
	Major, Minor, Sub int
}

func (v kernelVersion) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Sub) }

// less reports whether v is older than major.minor.
func (v kernelVersion) less(major, minor int) bool {
	return v.Major < major || v.Major == major && v.Minor < minor
}

// atLeast reports whether v is major.minor or newer.
func (v kernelVersion) atLeast(major, minor int) bool { return !v.less(major, minor) }

// parseVersion parses "6.12" or "6.12.117".
func parseVersion(s string) (kernelVersion, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 || len(parts) > 3 {
		return kernelVersion{}, fmt.Errorf("%w: %q (want MAJOR.MINOR[.SUB])", ErrBadVersion, s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return kernelVersion{}, fmt.Errorf("%w: %q (want MAJOR.MINOR[.SUB])", ErrBadVersion, s)
		}
		n[i] = v
	}
	return kernelVersion{n[0], n[1], n[2]}, nil
}

// readVersion reads VERSION, PATCHLEVEL and SUBLEVEL from the Makefile at
// the top of the kernel source tree srctree. It returns ErrNotKernelTree
// when there is no such Makefile or it does not state a version.
func readVersion(srctree string) (kernelVersion, error) {
	mf := filepath.Join(srctree, "Makefile")
	data, err := os.ReadFile(mf)
	if err != nil {
		return kernelVersion{}, fmt.Errorf("%w: %s: read Makefile: %v", ErrNotKernelTree, srctree, err)
	}
	vals := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 0; sc.Scan() && n < 20; n++ {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "VERSION", "PATCHLEVEL", "SUBLEVEL":
			if i, err := strconv.Atoi(v); err == nil {
				vals[k] = i
			}
		}
	}
	maj, ok1 := vals["VERSION"]
	min, ok2 := vals["PATCHLEVEL"]
	if !ok1 || !ok2 {
		return kernelVersion{}, fmt.Errorf("%w: %s has no VERSION/PATCHLEVEL in its first lines", ErrNotKernelTree, mf)
	}
	return kernelVersion{maj, min, vals["SUBLEVEL"]}, nil
}
