package target

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// StreamVersion names the format kheaders serve-target writes on the
// target's stdout and the host reads back (docs/remote.md): frames as in
// the identity snapshot ("\nKHF NAME STATE SIZE\n" + SIZE bytes), first
// "report" (a StreamReport as JSON), then, unless the report is an error,
// "payload" (the archive or the raw BTF).
const StreamVersion = "kheaders-target-stream/1"

// Payload kinds of a stream.
const (
	PayloadArchive = "archive" // a kheaders archive (tar.xz), byte-exact as found on the target
	PayloadBTF     = "btf"     // raw BTF (/sys/kernel/btf/vmlinux)
	PayloadError   = "error"   // no headers: Error and Attempts say why
)

// StreamReport is what the on-target kheaders found, as it says. The host
// trusts none of it but the framing: the payload is verified against the
// identity the host read itself.
type StreamReport struct {
	Stream  string `json:"stream"` // StreamVersion
	Kind    string `json:"kind"`   // PayloadArchive, PayloadBTF or PayloadError
	Release string `json:"release"`
	Machine string `json:"machine"`
	// Source and Origin name where the target found the payload (its
	// locate source and path).
	Source string `json:"source,omitempty"`
	Origin string `json:"origin,omitempty"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	// Error and Attempts (one line per source) explain a PayloadError.
	Error    string   `json:"error,omitempty"`
	Attempts []string `json:"attempts,omitempty"`
}

// WriteStream writes rep and payload as a stream (rep's Stream, Size and
// SHA256 are set from payload).
func WriteStream(w io.Writer, rep StreamReport, payload []byte) error {
	rep.Stream = StreamVersion
	if rep.Kind != PayloadError {
		sum := sha256.Sum256(payload)
		rep.Size, rep.SHA256 = int64(len(payload)), hex.EncodeToString(sum[:])
	}
	j, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	frame := func(name string, data []byte) {
		b.WriteString("\nKHF " + name + " ok " + strconv.Itoa(len(data)) + "\n")
		b.Write(data)
	}
	frame("report", j)
	if rep.Kind != PayloadError {
		frame("payload", payload)
	}
	_, err = w.Write(b.Bytes())
	return err
}

// ParseStream parses a stream: the report, and the payload whose size and
// sha256 are the report's (a payload cut short or altered is an error).
func ParseStream(b []byte) (*StreamReport, []byte, error) {
	frames, err := ParseFrames(b)
	if err != nil {
		return nil, nil, fmt.Errorf("stream: %w", err)
	}
	if len(frames) == 0 || frames[0].Name != "report" {
		return nil, nil, fmt.Errorf("stream: no report frame first (%d bytes): not a %s stream", len(b), StreamVersion)
	}
	var rep StreamReport
	if err := json.Unmarshal(frames[0].Data, &rep); err != nil {
		return nil, nil, fmt.Errorf("stream: report: %w", err)
	}
	if rep.Stream != StreamVersion {
		return nil, nil, fmt.Errorf("stream: version %q, want %q (the kheaders on the target is older or newer than this one)", rep.Stream, StreamVersion)
	}
	switch rep.Kind {
	case PayloadError:
		if len(frames) != 1 {
			return nil, nil, fmt.Errorf("stream: %d frames after an error report", len(frames)-1)
		}
		return &rep, nil, nil
	case PayloadArchive, PayloadBTF:
	default:
		return nil, nil, fmt.Errorf("stream: unknown payload kind %q", rep.Kind)
	}
	if len(frames) != 2 || frames[1].Name != "payload" {
		return nil, nil, fmt.Errorf("stream: %d frames, want the report and the payload", len(frames))
	}
	data := frames[1].Data
	sum := sha256.Sum256(data)
	if int64(len(data)) != rep.Size || hex.EncodeToString(sum[:]) != rep.SHA256 {
		return nil, nil, fmt.Errorf("stream: payload of %d bytes (sha256 %x) does not match its report (%d bytes, sha256 %s)", len(data), sum[:8], rep.Size, rep.SHA256)
	}
	return &rep, data, nil
}
