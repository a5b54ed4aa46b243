package cache

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/kheaders/kheaders/archive"
)

// marshal returns the JSON of m, the same bytes as json.Marshal(m). A
// header tree's manifest has one entry per member (7,000 for a kernel's
// archive) and is written on the cold path after the last file, so it is
// built with appends instead of reflection (a few ms less per cold locate).
// Anything the appender does not handle byte for byte (a string needing
// escapes, a time json.Marshal refuses) is left to encoding/json.
func (m *Manifest) marshal() ([]byte, error) {
	if b, ok := m.appendJSON(make([]byte, 0, 64+len(m.Entries)*160)); ok {
		return b, nil
	}
	return json.Marshal(m)
}

func (m *Manifest) appendJSON(b []byte) ([]byte, bool) {
	ok := true
	str := func(s string) {
		if ok {
			b, ok = appendPlainString(b, s)
		}
	}
	b = append(b, `{"schema":`...)
	str(m.Schema)
	b = append(b, `,"key":`...)
	str(m.Key)
	if m.Kind != "" {
		b = append(b, `,"kind":`...)
		str(m.Kind)
	}
	if m.Origin != "" {
		b = append(b, `,"origin":`...)
		str(m.Origin)
	}
	if m.Release != "" {
		b = append(b, `,"release":`...)
		str(m.Release)
	}
	b = append(b, `,"created":`...)
	if b, ok = appendTime(b, m.Created); !ok {
		return nil, false
	}
	b = append(b, `,"files":`...)
	b = strconv.AppendInt(b, int64(m.Files), 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, m.Bytes, 10)
	b = append(b, `,"entries":`...)
	if m.Entries == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range m.Entries {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendEntry(b, &m.Entries[i]); !ok {
				return nil, false
			}
		}
		b = append(b, ']')
	}
	b = append(b, '}')
	return b, ok
}

// appendEntry appends e as encoding/json writes an archive.Entry.
func appendEntry(b []byte, e *archive.Entry) ([]byte, bool) {
	ok := true
	b = append(b, `{"name":`...)
	if b, ok = appendPlainString(b, e.Name); !ok {
		return nil, false
	}
	b = append(b, `,"type":`...)
	b = strconv.AppendUint(b, uint64(e.Type), 10)
	b = append(b, `,"mode":`...)
	b = strconv.AppendUint(b, uint64(e.Mode), 10)
	if e.Size != 0 {
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, e.Size, 10)
	}
	if e.SHA256 != "" {
		b = append(b, `,"sha256":`...)
		if b, ok = appendPlainString(b, e.SHA256); !ok {
			return nil, false
		}
	}
	if e.Target != "" {
		b = append(b, `,"target":`...)
		if b, ok = appendPlainString(b, e.Target); !ok {
			return nil, false
		}
	}
	b = append(b, `,"mtime":`...)
	if b, ok = appendTime(b, e.ModTime); !ok {
		return nil, false
	}
	return append(b, '}'), true
}

// appendPlainString quotes s when no byte of it needs an escape in
// encoding/json's output (printable ASCII other than '"', '\\', '<', '>'
// and '&'); otherwise it reports false.
func appendPlainString(b []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return nil, false
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), true
}

// appendTime appends t as time.Time.MarshalJSON does (RFC 3339 with
// nanoseconds); the years and zone offsets it refuses are left to
// encoding/json's error.
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, false
	}
	if _, off := t.Zone(); off%60 != 0 || off <= -24*3600 || off >= 24*3600 {
		return nil, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}
