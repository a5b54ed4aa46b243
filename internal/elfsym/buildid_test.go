package elfsym

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"path/filepath"
	"testing"
)

func note(bo binary.ByteOrder, name string, typ uint32, desc []byte) []byte {
	var b bytes.Buffer
	w := func(v uint32) { binary.Write(&b, bo, v) }
	n := append([]byte(name), 0)
	w(uint32(len(n)))
	w(uint32(len(desc)))
	w(typ)
	b.Write(n)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	b.Write(desc)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func TestBuildID(t *testing.T) {
	id := bytes.Repeat([]byte{0xab, 0x01}, 10)
	linux := note(binary.LittleEndian, "Linux", 0, []byte{1, 2, 3, 4})
	for _, tc := range []struct {
		name  string
		notes []byte
		want  string
		err   error
	}{
		{"after Linux note", append(append([]byte{}, linux...), note(binary.LittleEndian, "GNU", 3, id)...), "ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01", nil},
		{"big-endian", note(binary.BigEndian, "GNU", 3, id), "ab01ab01ab01ab01ab01ab01ab01ab01ab01ab01", nil},
		{"none", linux, "", ErrNoBuildID},
		{"empty", nil, "", ErrNoBuildID},
		{"truncated", note(binary.LittleEndian, "GNU", 3, id)[:20], "", ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := BuildID(tc.notes)
			if got != tc.want || (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Errorf("BuildID = %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// TestBuildIDVmlinux reads the .notes section of the 6.12 fixture vmlinux
// (what /sys/kernel/notes exposes) and compares with debug/elf's view.
func TestBuildIDVmlinux(t *testing.T) {
	p := filepath.Join("..", "..", "..", "shared", "fixtures", "linux-6.12.117-x86_64", "ikheaders-y", "vmlinux")
	f, err := elf.Open(p)
	if err != nil {
		t.Skipf("shared fixture vmlinux absent (%v): skipping", err)
	}
	defer f.Close()
	s := f.Section(".notes")
	if s == nil {
		t.Fatal("fixture vmlinux has no .notes")
	}
	b, err := s.Data()
	if err != nil {
		t.Fatal(err)
	}
	id, err := BuildID(b)
	if err != nil || len(id) != 40 {
		t.Fatalf("BuildID(.notes) = %q, %v; want 40 hex digits", id, err)
	}
	if !bytes.Contains(b, mustHex(t, id)) {
		t.Errorf("build-id %s not in .notes", id)
	}
}

func mustHex(t *testing.T, s string) []byte {
	var out []byte
	for i := 0; i+1 < len(s); i += 2 {
		var v byte
		for _, c := range s[i : i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c-'a') + 10
			default:
				t.Fatalf("not hex: %q", s)
			}
		}
		out = append(out, v)
	}
	return out
}

func FuzzBuildID(f *testing.F) {
	id := bytes.Repeat([]byte{0x5a}, 20)
	f.Add(note(binary.LittleEndian, "GNU", 3, id))
	f.Add(append(note(binary.LittleEndian, "Linux", 0, []byte{1, 2, 3, 4}), note(binary.LittleEndian, "Xen", 1, id)...))
	f.Add(note(binary.BigEndian, "GNU", 3, id))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := BuildID(b)
		if err == nil && (len(id) == 0 || len(id)%2 != 0 || len(id) > 2*len(b)) {
			t.Fatalf("BuildID = %q for %d bytes", id, len(b))
		}
	})
}
