package target

import (
	"bytes"
	"testing"
)

func FuzzParseFrames(f *testing.F) {
	f.Add([]byte("\nKHF release ok 8\n6.12.117\nKHF sysfs denied 0\n"))
	f.Add([]byte("\nKHF x ok 99\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseFrames(b)
		if err != nil {
			return
		}
		n := 0
		for _, f := range fr {
			n += len(f.Data)
		}
		if n > len(b) {
			t.Fatal("frames longer than input")
		}
	})
}

func FuzzSplitStatus(f *testing.F) {
	f.Add([]byte("abc\nM:0\n"))
	f.Add([]byte("M:0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, s, err := SplitStatus(b, "M:")
		if err == nil && (len(d) > len(b) || s < 0 || s > 255) {
			t.Fatal("bad split")
		}
	})
}

func FuzzBuildID(f *testing.F) {
	f.Add([]byte("\x04\x00\x00\x00\x14\x00\x00\x00\x03\x00\x00\x00GNU\x00abcdefghijklmnopqrst"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if id := BuildID(b); len(id) > 128 {
			t.Fatal("long id")
		}
	})
}

func FuzzSpec(f *testing.F) {
	for _, s := range []string{"ssh://u@h:22", "adb:S", "cmd:a 'b c' \"d\\\"\"", "ssh://[::1]:2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := Parse(s, func(string) string { return "" })
		if err == nil && len(tg.prefix) == 0 {
			t.Fatal("empty argv")
		}
		ModuleList([]byte(s))
	})
}

func FuzzParseProbe(f *testing.F) {
	f.Add([]byte("\nKHF 0 ok 7\n4345612\nKHF 1 denied 0\n"), 2)
	f.Add([]byte("\nKHF 0 absent 0\n"), 1)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		n = n & 7
		paths := make([]string, n)
		for i := range paths {
			paths[i] = "/p"
		}
		st, err := parseProbe(b, paths)
		if err != nil {
			return
		}
		if len(st) != n {
			t.Fatalf("%d states for %d paths", len(st), n)
		}
		for _, s := range st {
			if s.Size < 0 || s.State != StateOK && s.Size != 0 {
				t.Fatalf("bad state %+v", s)
			}
		}
	})
}

func FuzzParseStream(f *testing.F) {
	var b bytes.Buffer
	WriteStream(&b, StreamReport{Kind: PayloadArchive, Release: "6.12.117", Source: "sysfs"}, []byte("payload"))
	f.Add(b.Bytes())
	b.Reset()
	WriteStream(&b, StreamReport{Kind: PayloadError, Error: "none"}, nil)
	f.Add(b.Bytes())
	f.Add([]byte("\nKHF report ok 2\n{}"))
	f.Fuzz(func(t *testing.T, in []byte) {
		rep, data, err := ParseStream(in)
		if err != nil {
			return
		}
		if rep.Stream != StreamVersion || int64(len(data)) != rep.Size && rep.Kind != PayloadError || len(data) > len(in) {
			t.Fatalf("accepted %+v with %d bytes", rep, len(data))
		}
	})
}
