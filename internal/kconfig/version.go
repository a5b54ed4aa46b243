package kconfig

import (
	"bytes"
	"strconv"
)

// VersionFiles are the headers that define LINUX_VERSION_CODE, newest layout
// first: include/generated/uapi/linux/version.h since Linux 3.7, then the
// older include/linux/version.h.
var VersionFiles = []string{"include/generated/uapi/linux/version.h", "include/linux/version.h"}

// VersionCode returns the LINUX_VERSION_CODE that a version.h defines, and
// false when it defines none (or a value that is not a 32-bit number). The
// define is the first line matching the regexp
// (?m)^#define\s+LINUX_VERSION_CODE\s+(\d+), matched by hand (a regexp
// compiled at start-up costs every kheaders call).
func VersionCode(versionH []byte) (uint32, bool) {
	m := versionDigits(versionH)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseUint(string(m), 10, 32)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}

// versionDigits returns the digits of the first match of
// (?m)^#define\s+LINUX_VERSION_CODE\s+(\d+) in b, or nil.
func versionDigits(b []byte) []byte {
	for line := 0; line <= len(b); {
		if d := versionAt(b[line:]); d != nil {
			return d
		}
		nl := bytes.IndexByte(b[line:], '\n')
		if nl < 0 {
			break
		}
		line += nl + 1
	}
	return nil
}

// versionAt matches #define\s+LINUX_VERSION_CODE\s+(\d+) at the start of b.
func versionAt(b []byte) []byte {
	var ok bool
	if b, ok = bytes.CutPrefix(b, []byte("#define")); !ok {
		return nil
	}
	if b, ok = spaces(b); !ok {
		return nil
	}
	if b, ok = bytes.CutPrefix(b, []byte("LINUX_VERSION_CODE")); !ok {
		return nil
	}
	if b, ok = spaces(b); !ok {
		return nil
	}
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	if n == 0 {
		return nil
	}
	return b[:n]
}

// spaces drops one or more of \s ([\t\n\f\r ]) from the start of b.
func spaces(b []byte) ([]byte, bool) {
	n := 0
	for n < len(b) && (b[n] == ' ' || b[n] == '\t' || b[n] == '\n' || b[n] == '\f' || b[n] == '\r') {
		n++
	}
	return b[n:], n > 0
}
