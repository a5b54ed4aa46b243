package kconfig

import (
	"regexp"
	"strconv"
)

// VersionFiles are the headers that define LINUX_VERSION_CODE, newest layout
// first: include/generated/uapi/linux/version.h since Linux 3.7, then the
// older include/linux/version.h.
var VersionFiles = []string{"include/generated/uapi/linux/version.h", "include/linux/version.h"}

var versionRE = regexp.MustCompile(`(?m)^#define\s+LINUX_VERSION_CODE\s+(\d+)`)

// VersionCode returns the LINUX_VERSION_CODE that a version.h defines, and
// false when it defines none (or a value that is not a 32-bit number).
func VersionCode(versionH []byte) (uint32, bool) {
	m := versionRE.FindSubmatch(versionH)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseUint(string(m[1]), 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}
