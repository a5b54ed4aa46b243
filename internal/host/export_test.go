package host

import (
	"encoding/binary"
	"testing"
)

func TestAuxv(t *testing.T) {
	le := binary.LittleEndian
	var b []byte
	for _, kv := range [][2]uint64{{6, 4096}, {33, 0x7fff0000}, {0, 0}} {
		b = le.AppendUint64(b, kv[0])
		b = le.AppendUint64(b, kv[1])
	}
	if v, err := auxvValue(b, 33, 8, le); err != nil || v != 0x7fff0000 {
		t.Errorf("auxvValue = %#x, %v", v, err)
	}
	if _, err := auxvValue(b, 99, 8, le); err == nil {
		t.Errorf("auxvValue(missing) succeeded")
	}
}

func TestLinuxNote(t *testing.T) {
	le := binary.LittleEndian
	var n []byte
	// A GNU note first, then the Linux one.
	n = le.AppendUint32(n, 4)
	n = le.AppendUint32(n, 4)
	n = le.AppendUint32(n, 3)
	n = append(n, "GNU\x00"...)
	n = le.AppendUint32(n, 0xdead)
	n = le.AppendUint32(n, 6)
	n = le.AppendUint32(n, 4)
	n = le.AppendUint32(n, 0)
	n = append(n, "Linux\x00\x00\x00"...)
	n = le.AppendUint32(n, 396405)
	if v, ok := linuxNote(n, le); !ok || v != 396405 {
		t.Errorf("linuxNote = %d, %v", v, ok)
	}
	if _, ok := linuxNote(n[:30], le); ok {
		t.Errorf("linuxNote on truncated notes succeeded")
	}
}
