package target

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// FileState is what the target's user can do with one file: read it
// (StateOK, with its size), only see it (StateDenied) or nothing
// (StateAbsent).
type FileState struct {
	Path  string
	State string
	Size  int64 // bytes when State is StateOK
}

// probeScript prints one frame per path: "ok" with the size as its data,
// "denied" or "absent". wc -c reads the file on the target (sysfs files
// report no useful st_size to every shell); only the number is sent.
const probeScript = `# probe: state and size of the kernel's carriers
kp() { if [ -r "$2" ] && n=$(wc -c < "$2" 2>/dev/null); then n=$((n)); printf '\nKHF %s ok %d\n%s' "$1" "${#n}" "$n"
  elif [ -e "$2" ]; then printf '\nKHF %s denied 0\n' "$1"; else printf '\nKHF %s absent 0\n' "$1"; fi; }
`

// Probe says, with one remote command, whether each of paths (absolute,
// clean) exists on the target, may be read by the target's user, and its
// size. Nothing but the sizes crosses the link.
func Probe(ctx context.Context, t *Target, paths []string) ([]FileState, error) {
	var b strings.Builder
	b.WriteString(probeScript)
	for i, p := range paths {
		fmt.Fprintf(&b, "kp %d %s\n", i, Quote(p))
	}
	out, err := t.Run(ctx, b.String(), 1<<16)
	if err != nil {
		return nil, fmt.Errorf("probing the kernel's files on %s: %w", t.Spec, err)
	}
	return parseProbe(out, paths)
}

// parseProbe turns the probe's frames into one FileState per path, in
// order; a path with no frame or a bad size is an error.
func parseProbe(out []byte, paths []string) ([]FileState, error) {
	frames, err := ParseFrames(out)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	res := make([]FileState, len(paths))
	seen := make([]bool, len(paths))
	for _, f := range frames {
		i, err := strconv.Atoi(f.Name)
		if err != nil || i < 0 || i >= len(paths) || seen[i] {
			return nil, fmt.Errorf("probe: unexpected frame %q", head([]byte(f.Name)))
		}
		seen[i] = true
		res[i] = FileState{Path: paths[i], State: f.State}
		if f.State == StateOK {
			n, err := strconv.ParseInt(string(f.Data), 10, 64)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("probe: %s: bad size %q", paths[i], head(f.Data))
			}
			res[i].Size = n
		}
	}
	for i, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("probe: no answer for %s", paths[i])
		}
	}
	return res, nil
}
