package pack

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// zone abbreviations accepted in timestamps; others are refused rather than
// guessed (Go's time package would silently read an unknown one as UTC+0).
var zoneAbbr = map[string]int{"UTC": 0, "GMT": 0, "UT": 0, "Z": 0}

// The two patterns below are matched by hand, not with package regexp:
// this was the binary's only use of it, and linking regexp (with
// regexp/syntax and the unicode tables it keeps alive) cost every kheaders
// call ~0.2 ms of start-up (issue 16). TestTimestampMatchers checks them
// against the regexps they replace.

// matchEpoch matches ^@(-?[0-9]+)(?:\.[0-9]+)?$ and returns the integer part.
func matchEpoch(s string) (string, bool) {
	rest, ok := strings.CutPrefix(s, "@")
	if !ok {
		return "", false
	}
	n := 0
	if strings.HasPrefix(rest, "-") {
		n = 1
	}
	d := digits(rest[n:])
	if d == 0 {
		return "", false
	}
	num, frac := rest[:n+d], rest[n+d:]
	if frac == "" {
		return num, true
	}
	if frac[0] != '.' || len(frac) == 1 || digits(frac[1:]) != len(frac)-1 {
		return "", false
	}
	return num, true
}

// matchNumZone matches ^([+-])([0-9]{2}):?([0-9]{2})$.
func matchNumZone(f string) (sign byte, hh, mm string, ok bool) {
	if len(f) == 6 && f[3] == ':' {
		f = f[:3] + f[4:]
	}
	if len(f) != 5 || (f[0] != '+' && f[0] != '-') || digits(f[1:]) != 4 {
		return 0, "", "", false
	}
	return f[0], f[1:3], f[3:5], true
}

// digits returns the number of ASCII digits s starts with.
func digits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// parseTimestamp reads a KBUILD_BUILD_TIMESTAMP value the way GNU tar's
// --mtime would for the forms Kbuild users pass:
//
//	@1700000000                          seconds since the epoch
//	Thu, 01 Jan 1970 00:00:00 +0000      RFC 2822 (date -R)
//	Sun Nov 22 05:20:37 UTC 2026         date(1) default output (C locale)
//	2024-01-02 03:04:05 [+0100|UTC]      (date '+%F %T %z')
//	2024-01-02T03:04:05[Z|+01:00]        ISO 8601 / RFC 3339
//	2024-01-02                           a day (midnight)
//
// A form without a zone is local time (loc, like tar). Zone names other than
// UTC/GMT/UT/Z, and the local zone's own abbreviation, are refused. Fractions
// of a second are dropped toward the past, as GNU date and tar drop them
// (tar headers hold whole seconds): @-1.5 is -2. The error wraps
// ErrBadTimestamp.
func parseTimestamp(s string, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.Local
	}
	s = strings.TrimSpace(s)
	if num, ok := matchEpoch(s); ok {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("%w: %q: %v", ErrBadTimestamp, s, err)
		}
		// The fraction is dropped toward the past, as GNU date and tar
		// do: @-1.5 is -2 (a second that began before), @-0.5 is -1.
		if num[0] == '-' && strings.Trim(s[1+len(num):], ".0") != "" {
			if n == math.MinInt64 {
				return time.Time{}, fmt.Errorf("%w: %q: out of range", ErrBadTimestamp, s)
			}
			n--
		}
		return time.Unix(n, 0).UTC(), nil
	}
	fields := strings.Fields(strings.ReplaceAll(s, ",", " "))
	// Pull a trailing or embedded zone out of the fields.
	var zone *time.Location
	var rest []string
	for _, f := range fields {
		if z, ok := parseZone(f, loc); ok && zone == nil && len(rest) > 0 {
			zone = z
			continue
		}
		rest = append(rest, f)
	}
	str := strings.Join(rest, " ")
	in := loc
	if zone != nil {
		in = zone
	}
	layouts := []string{
		"Mon 02 Jan 2006 15:04:05", // RFC 2822 without zone
		"Mon 2 Jan 2006 15:04:05",  //
		"02 Jan 2006 15:04:05",     // RFC 2822 without weekday
		"2 Jan 2006 15:04:05",      //
		"Mon Jan 2 15:04:05 2006",  // date(1) default, zone removed
		"Mon 2 Jan 15:04:05 2006",  //
		"2006-01-02 15:04:05",      // date '+%F %T'
		"2006-01-02 15:04",         //
		"2006-01-02T15:04:05",      // ISO 8601 without zone
		"2006-01-02T15:04:05.999999999",
		"2006-01-02",
	}
	for _, l := range layouts {
		if t, err := time.ParseInLocation(l, str, in); err == nil {
			return t.Truncate(time.Second), nil
		}
	}
	// ISO 8601 with its zone glued on.
	for _, l := range []string{time.RFC3339, time.RFC3339Nano, "2006-01-02T15:04:05-0700", "2006-01-02 15:04:05Z07:00"} {
		if t, err := time.Parse(l, s); err == nil {
			return t.Truncate(time.Second), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %q is not a form kheaders understands; use @SECONDS (e.g. $(date +@%%s)), "+
		"'YYYY-MM-DD HH:MM:SS +ZZZZ', RFC 2822 (date -R) or ISO 8601 (date -Iseconds)", ErrBadTimestamp, s)
}

// parseZone reads "+0100", "-05:00", "UTC", "GMT", "Z" or the local zone's
// abbreviation.
func parseZone(f string, loc *time.Location) (*time.Location, bool) {
	if off, ok := zoneAbbr[f]; ok {
		return time.FixedZone(f, off), true
	}
	if sign, hh, mm, ok := matchNumZone(f); ok {
		h, _ := strconv.Atoi(hh)
		mi, _ := strconv.Atoi(mm)
		off := (h*60 + mi) * 60
		if sign == '-' {
			off = -off
		}
		return time.FixedZone(f, off), true
	}
	if name, _ := time.Now().In(loc).Zone(); name == f && f != "" && !strings.ContainsAny(f, "0123456789") {
		return loc, true
	}
	return nil, false
}
