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

// Version is a kernel version as the top-level Makefile states it.
type Version struct {
	Major, Minor, Sub int
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Sub) }

// less reports whether v is older than major.minor.
func (v Version) less(major, minor int) bool {
	return v.Major < major || v.Major == major && v.Minor < minor
}

// atLeast reports whether v is major.minor or newer.
func (v Version) atLeast(major, minor int) bool { return !v.less(major, minor) }

// ParseVersion parses "6.12" or "6.12.117".
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("%w: %q (want MAJOR.MINOR[.SUB])", ErrBadVersion, s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Version{}, fmt.Errorf("%w: %q (want MAJOR.MINOR[.SUB])", ErrBadVersion, s)
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2]}, nil
}

// ReadVersion reads VERSION, PATCHLEVEL and SUBLEVEL from the Makefile at
// the top of the kernel source tree srctree. It returns ErrNotKernelTree
// when there is no such Makefile or it does not state a version.
func ReadVersion(srctree string) (Version, error) {
	mf := filepath.Join(srctree, "Makefile")
	data, err := os.ReadFile(mf)
	if err != nil {
		return Version{}, fmt.Errorf("%w: %s: read Makefile: %v", ErrNotKernelTree, srctree, err)
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
		return Version{}, fmt.Errorf("%w: %s has no VERSION/PATCHLEVEL in its first lines", ErrNotKernelTree, mf)
	}
	return Version{maj, min, vals["SUBLEVEL"]}, nil
}
