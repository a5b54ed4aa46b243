package kconfig

import "testing"

func TestVersionCode(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"#define LINUX_VERSION_CODE 396405\n#define KERNEL_VERSION(a,b,c) ...\n", 396405, true},
		{"/* x */\n#define  LINUX_VERSION_CODE\t263426\n", 263426, true},
		{"#define LINUX_VERSION_MAJOR 6\n", 0, false},
		{"#define LINUX_VERSION_CODE 99999999999\n", 0, false},
		{"", 0, false},
	} {
		got, ok := VersionCode([]byte(c.in))
		if got != c.want || ok != c.ok {
			t.Errorf("VersionCode(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
