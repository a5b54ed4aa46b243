package xz

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// xzWith encodes data with the pure-Go encoder (no xz tool needed).
func xzWith(t testing.TB, check byte, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.WriterConfig{CheckSum: check}.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// xzTool runs the xz program on data, skipping when it is not installed.
func xzTool(t testing.TB, data []byte, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("xz"); err != nil {
		t.Skip("xz not installed (Debian package xz-utils)")
	}
	cmd := exec.Command("xz", args...)
	cmd.Stdin = bytes.NewReader(data)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz %v: %v", args, err)
	}
	return out
}

func tarOf(t testing.TB, name string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatGNU})
	tw.Close()
	return buf.Bytes()
}

func TestFindArchive(t *testing.T) {
	archive := xzWith(t, xz.CRC64, tarOf(t, "./"))
	crc32Tar := xzWith(t, xz.CRC32, tarOf(t, "./"))                // wrong check: a kernel payload, not the archive
	notDot := xzWith(t, xz.CRC64, tarOf(t, "usr/"))                // tar, but not ./ members
	notTar := xzWith(t, xz.CRC64, bytes.Repeat([]byte("x"), 4000)) // not a tar
	junk := []byte("\x00\x01junk\xfd7zXZ\x00\x00\x04junk-YZ--")
	var data []byte
	for _, part := range [][]byte{junk, crc32Tar, junk[:3], notDot, notTar, junk, archive, junk} {
		data = append(data, part...)
	}
	s, err := FindArchive(data)
	if err != nil {
		t.Fatalf("FindArchive = %v", err)
	}
	if got := s.Bytes(data); !bytes.Equal(got, archive) {
		t.Errorf("FindArchive found %d bytes at %d, want the %d-byte archive", len(got), s.Offset, len(archive))
	}
	n := 0
	for range All(data, AnyCheck) {
		n++
	}
	if n != 4 {
		t.Errorf("All(AnyCheck) found %d streams, want 4", n)
	}
	if _, err := FindArchive(append(bytes.Clone(junk), archive[:len(archive)-8]...)); !errors.Is(err, ErrNotFound) {
		t.Errorf("FindArchive(truncated) = %v, want ErrNotFound", err)
	}
	if _, err := Parse(archive[:len(archive)-1]); !errors.Is(err, ErrFormat) {
		t.Errorf("Parse(truncated) = %v, want ErrFormat", err)
	}
	if _, err := Parse([]byte("nope")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Parse(nope) = %v, want ErrNotFound", err)
	}
}

func TestFixtures(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ikheaders-y/vmlinux", "ikheaders-y/kheaders_data.tar.xz"},
		{"ikheaders-m/kheaders.ko", "ikheaders-m/kheaders_data.tar.xz"},
		{"ikheaders-y/kheaders_data.tar.xz", "ikheaders-y/kheaders_data.tar.xz"},
	} {
		data, want := hosttest.ReadFixture(t, tc.in), hosttest.ReadFixture(t, tc.want)
		s, err := FindArchive(data)
		if err != nil {
			t.Errorf("FindArchive(%s) = %v", tc.in, err)
			continue
		}
		if !bytes.Equal(s.Bytes(data), want) || s.Uncompressed != 34088960 && tc.in != "ikheaders-m/kheaders.ko" {
			t.Errorf("FindArchive(%s) = %d bytes at %#x (%d decoded), want %s (%d bytes)", tc.in, s.Len, s.Offset, s.Uncompressed, tc.want, len(want))
		}
	}
}

func TestUvarint(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		v    uint64
		n    int
		name string
	}{
		{[]byte{0}, 0, 1, "zero"},
		{[]byte{0x7f}, 127, 1, "one byte"},
		{[]byte{0x80, 0x01}, 128, 2, "two bytes"},
		{[]byte{0x80, 0x00}, 0, 0, "not minimal"},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, 1<<63 - 1, 9, "nine bytes"},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 0, 0, "ten bytes"},
		{[]byte{0x80}, 0, 0, "truncated"},
	} {
		if v, n := uvarint(tc.in); v != tc.v || n != tc.n {
			t.Errorf("uvarint(% x) (%s) = %d, %d; want %d, %d", tc.in, tc.name, v, n, tc.v, tc.n)
		}
	}
}

// decodeAll decodes data with the three entry points and checks they agree.
func decodeAll(t *testing.T, data []byte) []byte {
	t.Helper()
	got, n, err := Decode(data, 1<<30)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if n != len(data) {
		t.Errorf("Decode used %d of %d bytes", n, len(data))
	}
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	streamed, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("Reader: %v", err)
	}
	if !bytes.Equal(streamed, got) {
		t.Errorf("Reader: %d bytes differ from Decode's %d", len(streamed), len(got))
	}
	b, err := NewBuffer(data, 1<<30)
	if err != nil || b == nil {
		t.Fatalf("NewBuffer = %v, %v", b, err)
	}
	buffered, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("Buffer: %v", err)
	}
	if !bytes.Equal(buffered, got) {
		t.Errorf("Buffer: %d bytes differ from Decode's %d", len(buffered), len(got))
	}
	// The decoded start (FindArchive's), on whichever path it takes.
	for _, k := range []int{1, 512, 100000, 3 << 20} {
		if k > len(got) {
			continue
		}
		head, err := decodedStart(data, k)
		if err != nil || !bytes.Equal(head, got[:k]) {
			t.Errorf("decodedStart(%d) = %d bytes, %v; not Decode's first bytes", k, len(head), err)
		}
	}
	return got
}

// TestDecodedStart: the first bytes of a stream come from its first
// LZMA2 chunks only, decoded up to what is asked (a kheaders archive, a
// stream whose first chunk is stored), and from the streaming reader when
// they are not all in the first block's LZMA2 data (a BCJ filter, blocks
// shorter than the prefix); both give Decode's bytes.
func TestDecodedStart(t *testing.T) {
	text := bytes.Repeat([]byte("static inline int f(void) { return 0; }\n"), 20000)
	random := make([]byte, 70000) // xz stores incompressible data in uncompressed chunks
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	cases := []struct {
		name string
		data func() []byte
		n    int
		fast bool
	}{
		{"archive", func() []byte { return hosttest.ReadFixture(t, "ikheaders-y/kheaders_data.tar.xz") }, 512, true},
		{"archive-2MiB", func() []byte { return hosttest.ReadFixture(t, "ikheaders-y/kheaders_data.tar.xz") }, 2<<20 + 1000, true},
		{"go-encoder", func() []byte { return xzWith(t, xz.CRC64, text) }, 512, true},
		{"stored", func() []byte { return xzTool(t, append(bytes.Clone(random), text...), "-c") }, 100000, true},
		{"x86", func() []byte { return xzTool(t, text, "-c", "--x86", "--lzma2") }, 512, false},
		{"blocks", func() []byte { return xzTool(t, text, "-c", "--block-size=1000") }, 5000, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.data()
			want, _, err := Decode(data, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := chunkStart(data, tc.n); ok != tc.fast {
				t.Errorf("chunkStart(%d) ok = %v, want %v", tc.n, ok, tc.fast)
			}
			got, err := decodedStart(data, tc.n)
			if err != nil || !bytes.Equal(got, want[:tc.n]) {
				t.Errorf("decodedStart(%d) = %d bytes, %v; not Decode's first bytes", tc.n, len(got), err)
			}
			// A stream corrupted in its first chunk gives no prefix on
			// either path (the streaming reader reports the error).
			bad := bytes.Clone(data)
			for i := 40; i < 60; i++ {
				bad[i] ^= 0x55
			}
			if got, err := decodedStart(bad, tc.n); err == nil && bytes.Equal(got, want[:tc.n]) {
				t.Errorf("decodedStart of a corrupted stream = the original bytes, no error")
			}
		})
	}
}

// TestDecodeTool decodes what the xz program makes with every check, BCJ
// filter and a small dictionary (so the streaming window slides).
func TestDecodeTool(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	code := make([]byte, 256<<10) // random bytes: every filter finds candidates
	for i := range code {
		code[i] = byte(rng.Uint32())
	}
	code = append(code, bytes.Repeat([]byte("static inline int f(void) { return 0; }\n"), 5000)...)
	// More than a 64 KiB dictionary plus one 2 MiB chunk: the window slides.
	big := append(bytes.Clone(code), bytes.Repeat(code, 8)...)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"none", []string{"--check=none"}},
		{"crc32", []string{"--check=crc32"}},
		{"crc64-blocks", []string{"--check=crc64", "--block-size=300000"}},
		{"sha256", []string{"--check=sha256"}},
		{"x86", []string{"--check=crc32", "--x86", "--lzma2=dict=32MiB"}},
		{"x86-start", []string{"--check=crc32", "--x86=start=4096", "--lzma2"}},
		{"arm", []string{"--check=crc32", "--arm", "--lzma2"}},
		{"armthumb", []string{"--check=crc32", "--armthumb", "--lzma2"}},
		{"arm64", []string{"--check=crc32", "--arm64", "--lzma2"}},
		{"arm64-start", []string{"--check=crc64", "--arm64=start=4096", "--lzma2=dict=1MiB"}},
		{"powerpc", []string{"--check=crc32", "--powerpc", "--lzma2"}},
		{"sparc", []string{"--check=crc32", "--sparc", "--lzma2"}},
		{"small-dict", []string{"--check=crc64", "--lzma2=dict=64KiB"}},
		{"x86-small-dict-blocks", []string{"--check=crc64", "--x86", "--lzma2=dict=64KiB", "--block-size=900000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := code
			if strings.Contains(tc.name, "small-dict") {
				in = big
			}
			data := xzTool(t, in, append([]string{"-c"}, tc.args...)...)
			if got := decodeAll(t, data); !bytes.Equal(got, in) {
				t.Errorf("decoded %d bytes, not the %d encoded", len(got), len(in))
			}
		})
	}
}

// TestFixtureArchives decodes the real archives and compares with the xz
// tool's output.
func TestFixtureArchives(t *testing.T) {
	for _, rel := range []string{"ikheaders-y/kheaders_data.tar.xz", "ikheaders-m/kheaders_data.tar.xz"} {
		data := hosttest.ReadFixture(t, rel)
		got := decodeAll(t, data)
		if want := xzTool(t, data, "-dc"); !bytes.Equal(got, want) {
			t.Errorf("decode of %s differs: %d bytes, want %d", rel, len(got), len(want))
		}
	}
}

// TestBufferCheck: the block checks, computed while decoding, catch a
// corrupted check value in any block of a CRC64, CRC32 or SHA-256 stream,
// in every decoder.
func TestBufferCheck(t *testing.T) {
	plain := bytes.Repeat([]byte("static inline int f(void) { return 0; }\n"), 40000)
	for _, tc := range []struct {
		name  string
		args  []string
		width int
	}{
		{"crc64", []string{"--check=crc64"}, 8},
		{"crc32", []string{"--check=crc32"}, 4},
		{"sha256", []string{"--check=sha256"}, 32},
		{"crc64-3-blocks", []string{"--check=crc64", "--block-size=600000"}, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := xzTool(t, plain, append([]string{"-c"}, tc.args...)...)
			if got := decodeAll(t, data); !bytes.Equal(got, plain) {
				t.Fatalf("decode: %d bytes; want %d bytes", len(got), len(plain))
			}
			// The last block's check ends where the index starts: the
			// footer's backward size gives the index length.
			bsize := int(data[len(data)-8]) | int(data[len(data)-7])<<8 | int(data[len(data)-6])<<16 | int(data[len(data)-5])<<24
			index := len(data) - 12 - (bsize+1)*4
			bad := bytes.Clone(data)
			bad[index-tc.width] ^= 1
			r, _ := NewBuffer(bad, 1<<30)
			if r == nil {
				t.Fatal("NewBuffer declined the corrupted stream (its index is intact)")
			}
			if _, err := io.ReadAll(r); err == nil || !bytes.Contains([]byte(err.Error()), []byte("mismatch")) {
				t.Errorf("Buffer, corrupted check: err = %v, want a check mismatch", err)
			}
			if _, _, err := Decode(bad, 1<<30); !errors.Is(err, ErrFormat) {
				t.Errorf("Decode, corrupted check: err = %v, want ErrFormat", err)
			}
			sr, err := NewReader(bytes.NewReader(bad))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(sr); !errors.Is(err, ErrFormat) {
				t.Errorf("Reader, corrupted check: err = %v, want ErrFormat", err)
			}
		})
	}
}

// TestLimits: an index declaring more than the cap is refused before
// decoding; trailing bytes after a stream are ignored by Decode.
func TestLimits(t *testing.T) {
	plain := bytes.Repeat([]byte("abcabcabd"), 5000)
	data := xzWith(t, xz.CRC64, plain)
	if _, _, err := Decode(data, int64(len(plain)-1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Decode with cap %d: %v, want ErrTooLarge", len(plain)-1, err)
	}
	if _, err := NewBuffer(data, int64(len(plain)-1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("NewBuffer with cap %d: %v, want ErrTooLarge", len(plain)-1, err)
	}
	out, n, err := Decode(append(bytes.Clone(data), 1, 2, 3, 4, 0, 0), 1<<20)
	if err != nil || n != len(data) || !bytes.Equal(out, plain) {
		t.Errorf("Decode with a trailer = %d bytes, %d used, %v; want %d, %d", len(out), n, err, len(plain), len(data))
	}
	if b, err := NewBuffer(append(bytes.Clone(data), 0, 0, 0, 0), 1<<20); b != nil || err != nil {
		t.Errorf("NewBuffer(stream+padding) = %v, %v; want nil, nil (the streaming reader's case)", b, err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(xzWith(f, xz.CRC64, tarOf(f, "./")))
	f.Add(xzWith(f, xz.CRC32, []byte("hello")))
	two := append(append(xzWith(f, xz.CRC64, []byte("a")), 0, 0, 0, 0), xzWith(f, xz.CRC32, []byte("b"))...)
	f.Add(two)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err == nil && (s.Len > len(data) || s.Len < 32) {
			t.Fatalf("Parse = len %d of %d bytes", s.Len, len(data))
		}
		streams, end := Streams(data)
		n := len(streams)
		if end > len(data) || (n == 0) != (end == 0) || (n > 0) != (err == nil) || n > 0 && end < s.Len {
			t.Fatalf("Streams = %d streams ending at %d of %d bytes (Parse: %d, %v)", n, end, len(data), s.Len, err)
		}
		for i, st := range streams {
			if i > 0 && st.Offset < streams[i-1].Offset+streams[i-1].Len || st.Offset+st.Len > end {
				t.Fatalf("Streams: stream %d at %d+%d overlaps or passes the end %d", i, st.Offset, st.Len, end)
			}
		}
		for s := range All(data, AnyCheck) {
			if s.Offset+s.Len > len(data) {
				t.Fatalf("All: stream %d+%d past %d", s.Offset, s.Len, len(data))
			}
		}
		FindArchive(data)
	})
}

// FuzzDecode: the three decoders fail cleanly on any input and agree on
// every input one of them accepts whole.
func FuzzDecode(f *testing.F) {
	f.Add(xzWith(f, xz.CRC64, tarOf(f, "./")))
	f.Add(xzWith(f, xz.CRC32, bytes.Repeat([]byte("abcabcabd"), 5000)))
	f.Add(xzWith(f, xz.None, []byte("hello")))
	f.Add(xzWith(f, xz.SHA256, []byte("hello")))
	if _, err := exec.LookPath("xz"); err == nil {
		for _, args := range [][]string{
			{"--check=crc32", "--arm64", "--lzma2=dict=1MiB"},
			{"--check=crc64", "--x86", "--lzma2=dict=1MiB"},
			{"--check=sha256", "--lzma2=dict=64KiB"},
		} {
			f.Add(xzTool(f, bytes.Repeat([]byte("kheaders fuzz seed 0123456789 "), 200), append([]string{"-c"}, args...)...))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, n, err := Decode(data, 1<<24)
		if err == nil && (n > len(data) || n%4 != 0) {
			t.Fatalf("Decode consumed %d of %d bytes (%d out)", n, len(data), len(out))
		}
		var streamed []byte
		r, serr := NewReader(bytes.NewReader(data))
		if serr == nil {
			streamed, serr = io.ReadAll(io.LimitReader(r, 1<<24))
		}
		if err == nil && serr == nil && !bytes.Equal(out, streamed) {
			t.Fatalf("Decode and Reader disagree: %d and %d bytes", len(out), len(streamed))
		}
		if head, ok := chunkStart(data, 512); ok && err == nil && !bytes.Equal(head, out[:min(len(out), 512)]) {
			t.Fatalf("chunkStart and Decode disagree on the first %d bytes", len(head))
		}
		b, berr := NewBuffer(data, 1<<24)
		if b != nil {
			defer b.Stop()
			buffered, berr := io.ReadAll(b)
			if err == nil && berr == nil && !bytes.Equal(out, buffered) {
				t.Fatalf("Decode and Buffer disagree: %d and %d bytes", len(out), len(buffered))
			}
		}
		_ = berr
	})
}

func FuzzBCJ(f *testing.F) {
	f.Add([]byte{0x00, 0x00, 0x00, 0x94, 0x00, 0x00, 0x00, 0x90}, uint32(0), uint8(filterARM64))
	f.Add([]byte{0xe8, 0x00, 0x10, 0x00, 0x00, 0xe9, 0xff, 0xff, 0xff, 0xff}, uint32(16), uint8(filterX86))
	f.Fuzz(func(t *testing.T, data []byte, pos uint32, id uint8) {
		if checkBCJ(uint64(id), nil) != nil {
			return
		}
		b := bytes.Clone(data)
		f := newBCJ(filterSpec{id: uint64(id), props: []byte{byte(pos), byte(pos >> 8), byte(pos >> 16), byte(pos >> 24)}})
		if n := f.code(b); n > len(b) || n < 0 {
			t.Fatalf("filter %#x converted %d of %d bytes", id, n, len(b))
		}
	})
}

// TestRcProb: the one-formula probability update equals LZMA's two.
func TestRcProb(t *testing.T) {
	for prob := uint32(0); prob <= 2048; prob++ {
		if got, want := rcProb(prob, 0xffffffff), prob+(2048-prob)>>5; got != want {
			t.Fatalf("rcProb(%d) after a 0 bit = %d, want %d", prob, got, want)
		}
		if got, want := rcProb(prob, 0), prob-prob>>5; got != want {
			t.Fatalf("rcProb(%d) after a 1 bit = %d, want %d", prob, got, want)
		}
	}
}

func TestStreams(t *testing.T) {
	a, b := xzWith(t, xz.CRC64, []byte("a")), xzWith(t, xz.CRC32, []byte("bb"))
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	pad := make([]byte, 8)
	for _, c := range []struct {
		name       string
		data       []byte
		end, count int
	}{
		{"one", a, len(a), 1},
		{"one padded", cat(a, pad), len(a) + 8, 1},
		{"two", cat(a, b), len(a) + len(b), 2},
		{"two padded", cat(a, pad, b, pad[:4]), len(a) + 8 + len(b) + 4, 2},
		{"odd padding", cat(a, pad[:2], b), len(a), 1},
		{"garbage", cat(a, []byte("zz"), b), len(a), 1},
		{"truncated second", cat(a, b[:len(b)-1]), len(a), 1},
		{"none", []byte("plain"), 0, 0},
	} {
		streams, end := Streams(c.data)
		if end != c.end || len(streams) != c.count {
			t.Errorf("Streams(%s) = %d streams ending at %d; want %d ending at %d", c.name, len(streams), end, c.count, c.end)
		}
		if len(streams) == 2 && (streams[0].Offset != 0 || streams[1].Offset < len(a) || !bytes.Equal(streams[1].Bytes(c.data), b)) {
			t.Errorf("Streams(%s): extents %d+%d, %d+%d; want the second to be b", c.name, streams[0].Offset, streams[0].Len, streams[1].Offset, streams[1].Len)
		}
	}
}
