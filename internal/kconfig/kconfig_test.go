package kconfig

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	in := `#
# Automatically generated file; DO NOT EDIT.
#
CONFIG_A=y
CONFIG_B=m
# CONFIG_C is not set
CONFIG_S="a \"q\" b"
CONFIG_N=-12
CONFIG_H=0x1f
`
	c, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Symbol{{"CONFIG_A", "y"}, {"CONFIG_B", "m"}, {"CONFIG_C", "n"}, {"CONFIG_S", `"a \"q\" b"`}, {"CONFIG_N", "-12"}, {"CONFIG_H", "0x1f"}}
	if diff := cmp.Diff(want, c.Symbols); diff != "" {
		t.Errorf("Parse symbols (-want +got):\n%s", diff)
	}
	if v, ok := c.Get("CONFIG_B"); !ok || v != "m" {
		t.Errorf("Get(CONFIG_B) = %q, %v", v, ok)
	}
	for _, bad := range []string{"hello world\n", "CONFIG_=y\n", "FOO=y\n", "CONFIG_A B=y\n"} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want ErrSyntax", bad, err)
		}
	}
}

func TestCompare(t *testing.T) {
	cfg := "CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_S=\"x\"\nCONFIG_H=0x10\nCONFIG_I=100\n"
	good := "#define CONFIG_A 1\n#define CONFIG_B_MODULE 1\n#define CONFIG_S \"x\"\n#define CONFIG_H 0x10\n#define CONFIG_I 100\n"
	tests := []struct {
		name, autoconf string
		want           []Diff
	}{
		{"equal", good, nil},
		{"y became m", "#define CONFIG_A_MODULE 1\n#define CONFIG_B_MODULE 1\n#define CONFIG_S \"x\"\n#define CONFIG_H 0x10\n#define CONFIG_I 100\n",
			[]Diff{{"CONFIG_A", "y", "m"}}},
		{"m became y", "#define CONFIG_A 1\n#define CONFIG_B 1\n#define CONFIG_S \"x\"\n#define CONFIG_H 0x10\n#define CONFIG_I 100\n",
			[]Diff{{"CONFIG_B", "m", "y"}}},
		{"string differs", "#define CONFIG_A 1\n#define CONFIG_B_MODULE 1\n#define CONFIG_S \"y\"\n#define CONFIG_H 0x10\n#define CONFIG_I 100\n",
			[]Diff{{"CONFIG_S", `"x"`, `"y"`}}},
		{"int differs and missing", "#define CONFIG_A 1\n#define CONFIG_B_MODULE 1\n#define CONFIG_S \"x\"\n#define CONFIG_I 250\n",
			[]Diff{{"CONFIG_H", "0x10", ""}, {"CONFIG_I", "100", "250"}}},
		{"extra symbols", good + "#define CONFIG_C 1\n#define CONFIG_Z_MODULE 1\n#define CONFIG_Y 7\n",
			[]Diff{{"CONFIG_C", "n", "y"}, {"CONFIG_Y", "", "7"}, {"CONFIG_Z", "", "m"}}},
	}
	c, err := Parse([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseAutoconf([]byte(tt.autoconf))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, Compare(c, a)); diff != "" {
				t.Errorf("Compare (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExpectedHex(t *testing.T) {
	c, _ := Parse([]byte("CONFIG_H=10\n"))
	a, _ := ParseAutoconf([]byte("#define CONFIG_H 0x10\n"))
	// Kconfig writes hex symbols with a 0x prefix even when .config lacks it.
	if d := Compare(c, a); len(d) != 0 {
		t.Errorf("Compare(hex without prefix) = %v, want none", d)
	}
}

// fixtureAutoconf reads include/generated/autoconf.h from a fixture archive
// with the xz tool.
func fixtureAutoconf(t testing.TB, archive string) []byte {
	t.Helper()
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("xz not installed (Debian package xz-utils)")
	}
	cmd := exec.Command("xz", "-dc", archive)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer io.Copy(io.Discard, out)
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no autoconf.h in %s: %v", archive, err)
		}
		if h.Name == "./include/generated/autoconf.h" {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
}

func TestFixture(t *testing.T) {
	fx := hosttest.Fixtures(t)
	auto := fixtureAutoconf(t, filepath.Join(fx, "ikheaders-y", "kheaders_data.tar.xz"))
	a, err := ParseAutoconf(auto)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		config string
		want   []Diff
	}{
		{"ikheaders-y/config", nil},
		{"ikheaders-m/config", []Diff{{"CONFIG_IKHEADERS", "m", "y"}}},
	} {
		data, err := os.ReadFile(filepath.Join(fx, tt.config))
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse(data)
		if err != nil {
			t.Fatalf("Parse(%s): %v", tt.config, err)
		}
		if c.Len() < 500 {
			t.Errorf("Parse(%s) gave %d symbols, want a real config", tt.config, c.Len())
		}
		if diff := cmp.Diff(tt.want, Compare(c, a)); diff != "" {
			t.Errorf("Compare(%s, ikheaders-y autoconf.h) (-want +got):\n%s", tt.config, diff)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_S=\"x\"\n"))
	f.Add([]byte("#\n# comment\nCONFIG_H=0x10\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err != nil {
			return
		}
		for _, s := range c.Symbols {
			if v, ok := c.Get(s.Name); !ok || v != s.Value {
				t.Fatalf("Get(%q) = %q, %v; symbol says %q", s.Name, v, ok, s.Value)
			}
		}
		// The autoconf.h Kconfig would write for c must agree with c.
		var auto strings.Builder
		for name, v := range c.Expected() {
			fmt.Fprintf(&auto, "#define %s %s\n", name, v)
		}
		a, err := ParseAutoconf([]byte(auto.String()))
		if err != nil {
			return // no symbol set
		}
		if d := Compare(c, a); len(d) != 0 {
			t.Fatalf("Compare(c, Expected(c)) = %v, want none", d)
		}
	})
}

func FuzzParseAutoconf(f *testing.F) {
	f.Add([]byte("#define CONFIG_A 1\n#define CONFIG_B_MODULE 1\n"), []byte("CONFIG_A=y\nCONFIG_B=m\n"))
	f.Add([]byte("#define CONFIG_S \"x\"\n"), []byte("CONFIG_S=\"y\"\n"))
	f.Fuzz(func(t *testing.T, auto, cfg []byte) {
		a, err := ParseAutoconf(auto)
		if err != nil {
			return
		}
		c, err := Parse(cfg)
		if err != nil {
			return
		}
		_ = Compare(c, a)
	})
}

// TestParseLines: lines are split as bufio.ScanLines splits them (CRLF,
// no final newline) and a line over 1 MiB is refused, as before the
// scanner was replaced.
func TestParseLines(t *testing.T) {
	c, err := Parse([]byte("CONFIG_A=y\r\n# CONFIG_B is not set\r\n\nCONFIG_C=\"x\""))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": `"x"`} {
		if v, _ := c.Get(name); v != want {
			t.Errorf("Get(%s) = %q, want %q", name, v, want)
		}
	}
	long := []byte("CONFIG_A=y\nCONFIG_L=\"" + strings.Repeat("x", 1<<20) + "\"\n")
	if _, err := Parse(long); !errors.Is(err, bufio.ErrTooLong) {
		t.Errorf("Parse(1 MiB line) = %v, want bufio.ErrTooLong", err)
	}
	a, err := ParseAutoconf([]byte("#define CONFIG_A 1\r\n#define CONFIG_B_MODULE 1"))
	if err != nil || a.Defines["CONFIG_A"] != "1" || a.Defines["CONFIG_B_MODULE"] != "1" {
		t.Errorf("ParseAutoconf = %v, %v", a, err)
	}
	if _, err := ParseAutoconf([]byte("#define CONFIG_X " + strings.Repeat("1", 1<<20))); !errors.Is(err, bufio.ErrTooLong) {
		t.Errorf("ParseAutoconf(1 MiB line) = %v, want bufio.ErrTooLong", err)
	}
}
