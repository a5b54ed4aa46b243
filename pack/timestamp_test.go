package pack

import (
	"archive/tar"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var timestampForms = []struct {
	in   string
	want int64 // in UTC (tests run tar with TZ=UTC)
}{
	{"@1700000000", 1700000000},
	{"@0", 0},
	{"@1.5", 1},
	{"@-1.5", -2}, // toward the past, as GNU date and tar
	{"@-0.5", -1},
	{"@-1.0", -1},
	{"@-0.0", 0},
	{"Thu, 01 Jan 1970 00:00:00 +0000", 0},
	{"Tue, 14 Nov 2023 22:13:20 +0000", 1700000000},
	{"Tue, 14 Nov 2023 23:13:20 +0100", 1700000000},
	{"Sun Nov 22 05:20:37 UTC 2026", 1795324837},
	{"Tue Nov 14 22:13:20 2023", 1700000000},
	{"2023-11-14 22:13:20", 1700000000},
	{"2023-11-14 22:13:20 +0000", 1700000000},
	{"2023-11-14 17:13:20 -0500", 1700000000},
	{"2023-11-14 22:13:20 UTC", 1700000000},
	{"2023-11-14T22:13:20Z", 1700000000},
	{"2023-11-14T23:13:20+01:00", 1700000000},
	{"2023-11-14T22:13:20", 1700000000},
	{"2023-11-14", 1699920000},
}

func TestParseTimestamp(t *testing.T) {
	for _, tt := range timestampForms {
		got, err := parseTimestamp(tt.in, time.UTC)
		if err != nil || got.Unix() != tt.want {
			t.Errorf("parseTimestamp(%q) = %v (%d), %v; want %d", tt.in, got, got.Unix(), err, tt.want)
		}
	}
	for _, bad := range []string{"", "yesterday", "2023-13-40", "Sun Nov 22 05:20:37 CEST 2026", "@12x"} {
		if _, err := parseTimestamp(bad, time.UTC); !errors.Is(err, ErrBadTimestamp) {
			t.Errorf("parseTimestamp(%q) = %v, want ErrBadTimestamp", bad, err)
		}
	}
}

// TestParseTimestampLikeGNUTar checks each form against the mtime GNU tar
// stores for --mtime=FORM.
func TestParseTimestampLikeGNUTar(t *testing.T) {
	gtar, err := exec.LookPath("tar")
	if err != nil {
		t.Skip("tar not found (Debian package tar)")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range timestampForms {
		cmd := exec.Command(gtar, "--mtime="+tt.in, "-cf", "-", "-C", dir, "f")
		cmd.Env = append(os.Environ(), "TZ=UTC")
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("tar --mtime=%q: %v", tt.in, err)
			continue
		}
		h, err := tar.NewReader(bytes.NewReader(out)).Next()
		if err != nil {
			t.Fatal(err)
		}
		if h.ModTime.Unix() != tt.want {
			t.Errorf("GNU tar --mtime=%q gives %d, the table says %d", tt.in, h.ModTime.Unix(), tt.want)
		}
	}
}

func FuzzParseTimestamp(f *testing.F) {
	for _, tt := range timestampForms {
		f.Add(tt.in)
	}
	for _, s := range matcherInputs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkMatchers(t, s)
		checkMatchers(t, strings.TrimPrefix(s, "@"))
		ts, err := parseTimestamp(s, time.UTC)
		if err != nil && !errors.Is(err, ErrBadTimestamp) {
			t.Fatalf("parseTimestamp(%q): error %v does not wrap ErrBadTimestamp", s, err)
		}
		if err == nil && ts.Nanosecond() != 0 {
			t.Fatalf("parseTimestamp(%q) = %v keeps a fraction", s, ts)
		}
	})
}

// The regexps matchEpoch and matchNumZone replace (see timestamp.go).
var (
	reEpoch   = regexp.MustCompile(`^@(-?[0-9]+)(?:\.[0-9]+)?$`)
	reNumZone = regexp.MustCompile(`^([+-])([0-9]{2}):?([0-9]{2})$`)
)

var matcherInputs = []string{
	"@0", "@1700000000", "@-5", "@1.5", "@1.", "@.5", "@-", "@", "@--1", "@1.5.5", "@1x", "@+1", "@1 ", " @1", "@١٢",
	"+0100", "-05:00", "+01:0", "+010", "+0100 ", "0100", "+01:000", "+01::00", "-0000", "+ab00", "+01:ab", "+01-00", "+١٢٠٠",
}

// checkMatchers fails when a hand matcher disagrees with its regexp on s.
func checkMatchers(t *testing.T, s string) {
	t.Helper()
	num, ok := matchEpoch(s)
	if m := reEpoch.FindStringSubmatch(s); (m != nil) != ok || ok && m[1] != num {
		t.Errorf("matchEpoch(%q) = %q, %v; the regexp says %q", s, num, ok, m)
	}
	sign, hh, mm, ok := matchNumZone(s)
	if m := reNumZone.FindStringSubmatch(s); (m != nil) != ok || ok && (m[1] != string(sign) || m[2] != hh || m[3] != mm) {
		t.Errorf("matchNumZone(%q) = %q, %q, %q, %v; the regexp says %q", s, sign, hh, mm, ok, m)
	}
}

func TestTimestampMatchers(t *testing.T) {
	for _, s := range matcherInputs {
		checkMatchers(t, s)
	}
	for _, tt := range timestampForms {
		for _, f := range strings.Fields(tt.in) {
			checkMatchers(t, f)
		}
	}
}
