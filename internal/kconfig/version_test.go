package kconfig

import (
	"regexp"
	"strconv"
	"testing"
)

var versionCases = []struct {
	in   string
	want uint32
	ok   bool
}{
	{"#define LINUX_VERSION_CODE 396405\n#define KERNEL_VERSION(a,b,c) ...\n", 396405, true},
	{"/* x */\n#define  LINUX_VERSION_CODE\t263426\n", 263426, true},
	{"#define LINUX_VERSION_MAJOR 6\n", 0, false},
	{"#define LINUX_VERSION_CODE 99999999999\n", 0, false},
	{"", 0, false},
	{" #define LINUX_VERSION_CODE 1\n#define LINUX_VERSION_CODE 2\n", 2, true},
	{"#define\nLINUX_VERSION_CODE\r\n7x", 7, true},
	{"#defineLINUX_VERSION_CODE 1\n", 0, false},
	{"#define LINUX_VERSION_CODE\n\n", 0, false},
	{"#define LINUX_VERSION_CODE x1\n#define LINUX_VERSION_CODE 3", 3, true},
}

func TestVersionCode(t *testing.T) {
	for _, c := range versionCases {
		got, ok := VersionCode([]byte(c.in))
		if got != c.want || ok != c.ok {
			t.Errorf("VersionCode(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

// versionRE is the regexp VersionCode's hand matcher implements.
var versionRE = regexp.MustCompile(`(?m)^#define\s+LINUX_VERSION_CODE\s+(\d+)`)

func regexpVersionCode(b []byte) (uint32, bool) {
	m := versionRE.FindSubmatch(b)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseUint(string(m[1]), 10, 32)
	return uint32(v), err == nil
}

// FuzzVersionCode checks VersionCode against the regexp it replaces.
func FuzzVersionCode(f *testing.F) {
	for _, c := range versionCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := VersionCode(b)
		want, wok := regexpVersionCode(b)
		if !wok {
			want = 0
		}
		if got != want || ok != wok {
			t.Errorf("VersionCode(%q) = %d, %v; the regexp gives %d, %v", b, got, ok, want, wok)
		}
	})
}
