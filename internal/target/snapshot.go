package target

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kheaders/kheaders/internal/elfsym"
	"github.com/kheaders/kheaders/internal/host"
)

// SysfsArchive is the kernel's own archive (CONFIG_IKHEADERS).
const SysfsArchive = "/sys/kernel/kheaders.tar.xz"

// SysfsBTF is the kernel's own BTF (CONFIG_DEBUG_INFO_BTF).
const SysfsBTF = "/sys/kernel/btf/vmlinux"

// ModuleDirs are searched on the target for kheaders.ko[.xz|.zst|.gz]
// (%s = release): the usual module tree and the Android module partitions
// (GKI modules live in system_dlkm, vendor modules in vendor_dlkm).
var ModuleDirs = []string{"/lib/modules/%s", "/system_dlkm/lib/modules", "/vendor_dlkm/lib/modules", "/vendor/lib/modules", "/odm/lib/modules"}

// SnapshotLimit bounds the identity reads (config.gz is the largest, some
// tens of KiB).
const SnapshotLimit = 4 << 20

// File states in a snapshot.
const (
	StateOK     = "ok"
	StateDenied = "denied" // exists but the target's user may not read it (Android SELinux)
	StateAbsent = "absent"
)

// Snapshot is the target kernel's identity, written under Dir as a host
// root (internal/host layout): proc/sys/kernel/{osrelease,arch},
// proc/sys/kernel/random/boot_id, proc/version, proc/config.gz,
// sys/kernel/notes and, when the target's shell could read it, the vDSO
// image .kheaders/vdso.so (host.VDSOFile).
type Snapshot struct {
	Dir              string
	Release, Machine string
	BuildID          string // hex GNU build-id of the running kernel, "" when unreadable
	// Identity names this kernel: "buildid:HEX", else
	// "release:R|version:SHA256(/proc/version)".
	Identity string
	// States says ok, denied or absent for version, config, notes, bootid
	// and sysfs (SysfsArchive, whose content is not read here).
	States map[string]string
	// Modules are the kheaders.ko files found under ModuleDirs.
	Modules []string
	// BTFSize is the size of SysfsBTF when States["btf"] is ok (its
	// content is not read here).
	BTFSize int64
	// Kheaders is the path of a kheaders program on the target's PATH
	// ("" when there is none): --push runs it when it speaks
	// StreamVersion instead of pushing one.
	Kheaders string
}

// snapshotScript prints frames "\nKHF NAME STATE SIZE\n" + SIZE bytes.
const snapshotScript = `# identity: release, machine, /proc/version, /proc/config.gz, /sys/kernel/notes, boot id, sysfs archive, kheaders.ko
kh() {
  if [ -r "$2" ] && n=$(wc -c < "$2" 2>/dev/null); then n=$((n)); printf '\nKHF %s ok %d\n' "$1" "$n"; cat "$2"
  elif [ -e "$2" ]; then printf '\nKHF %s denied 0\n' "$1"
  else printf '\nKHF %s absent 0\n' "$1"; fi
}
ks() { printf '\nKHF %s ok %d\n%s' "$1" "${#2}" "$2"; }
r=$(cat /proc/sys/kernel/osrelease 2>/dev/null) || r=$(uname -r)
m=$(cat /proc/sys/kernel/arch 2>/dev/null) || m=$(uname -m)
ks release "$r"
ks machine "$m"
kh version /proc/version
kh config /proc/config.gz
kh notes /sys/kernel/notes
kh bootid /proc/sys/kernel/random/boot_id
if [ -r ` + SysfsArchive + ` ]; then s=ok; elif [ -e ` + SysfsArchive + ` ]; then s=denied; else s=absent; fi
printf '\nKHF sysfs %s 0\n' "$s"
ks kheaders "$(command -v kheaders 2>/dev/null)"
k=$(for d in MODDIRS; do [ -d "$d" ] && find "$d" -name 'kheaders.ko*' 2>/dev/null; done)
ks modules "$k"
if [ -r ` + SysfsBTF + ` ] && n=$(wc -c < ` + SysfsBTF + ` 2>/dev/null); then ks btf "$((n))"
elif [ -e ` + SysfsBTF + ` ]; then printf '\nKHF btf denied 0\n'; else printf '\nKHF btf absent 0\n'; fi
` + vdsoScript

// vdsoScript prints the frame "vdso": the image of the [vdso] mapping of a
// subshell, read through /proc/self/mem opened by that subshell (a process
// may always read its own memory: no ptrace permission is involved, so
// Yama and SELinux ptrace rules do not apply) and copied by dd from the
// inherited descriptor. The subshell runs a command after dd so that no
// shell execs dd in its place (a new program has a new address space, and
// the descriptor would read nothing). A failure before the frame header (no
// [vdso] line, a shell without 64-bit arithmetic such as Android's mksh, an
// unreadable mem, no dd) prints no frame: the version check is then skipped,
// as for a kernel without the note. It is the last frame.
const vdsoScript = `( v=; while read -r a p o d i n; do [ "$n" = "[vdso]" ] && v=$a; done < /proc/self/maps
  [ -n "$v" ] && [ "$((4294967296*2))" = 8589934592 ] && command -v dd >/dev/null || exit 0
  s=$((0x${v%-*})); e=$((0x${v#*-})); n=$((e-s))
  [ "$n" -gt 0 ] && [ "$n" -le 1048576 ] && [ $((s%4096)) -eq 0 ] && [ $((n%4096)) -eq 0 ] || exit 0
  exec 3</proc/self/mem || exit 0
  printf '\nKHF vdso ok %d\n' "$n"
  dd bs=4096 skip=$((s/4096)) count=$((n/4096)) <&3 2>/dev/null; r=$?; exec 3<&-; exit $r
) 2>/dev/null`

// VDSOLimit bounds the vDSO image read from the target (the script's
// 1048576: one to a few pages in practice).
const VDSOLimit = 1 << 20

// Frame is one item of the snapshot output.
type Frame struct {
	Name, State string
	Data        []byte
}

// ParseFrames parses the snapshot script's output.
func ParseFrames(b []byte) ([]Frame, error) {
	var out []Frame
	for len(b) > 0 {
		if !bytes.HasPrefix(b, []byte("\nKHF ")) {
			return nil, fmt.Errorf("snapshot: expected a frame header at %q", head(b))
		}
		b = b[5:]
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("snapshot: unterminated frame header %q", head(b))
		}
		f := strings.Fields(string(b[:nl]))
		b = b[nl+1:]
		if len(f) != 3 {
			return nil, fmt.Errorf("snapshot: bad frame header %q", f)
		}
		n, err := strconv.Atoi(f[2])
		if err != nil || n < 0 || n > len(b) {
			return nil, fmt.Errorf("snapshot: frame %s: size %q with %d bytes left", f[0], f[2], len(b))
		}
		if f[1] != StateOK && f[1] != StateDenied && f[1] != StateAbsent {
			return nil, fmt.Errorf("snapshot: frame %s: unknown state %q", f[0], f[1])
		}
		out = append(out, Frame{Name: f[0], State: f[1], Data: b[:n]})
		b = b[n:]
	}
	return out, nil
}

func head(b []byte) []byte { return b[:min(len(b), 40)] }

// Fetch reads the target kernel's identity with one remote command and
// writes it under dir (which must exist and be private).
func Fetch(ctx context.Context, t *Target, dir string) (*Snapshot, error) {
	dirs := append([]string(nil), ModuleDirs...)
	// The release is only known on the target: the script substitutes it.
	script := strings.Replace(snapshotScript, "MODDIRS", strings.ReplaceAll(strings.Join(dirs, " "), "%s", `"$r"`), 1)
	out, err := t.Run(ctx, script, SnapshotLimit)
	if err != nil {
		return nil, fmt.Errorf("reading the kernel identity of %s: %w", t.Spec, err)
	}
	frames, err := ParseFrames(out)
	if err != nil {
		return nil, fmt.Errorf("reading the kernel identity of %s: %w", t.Spec, err)
	}
	s := &Snapshot{Dir: dir, States: map[string]string{}}
	files := map[string]string{
		"version": "proc/version", "config": "proc/config.gz", "notes": "sys/kernel/notes", "bootid": "proc/sys/kernel/random/boot_id",
	}
	var version []byte
	for _, f := range frames {
		switch f.Name {
		case "release":
			s.Release = strings.TrimSpace(string(f.Data))
		case "machine":
			s.Machine = strings.TrimSpace(string(f.Data))
		case "modules":
			s.Modules = ModuleList(f.Data)
		case "kheaders":
			if p := strings.TrimSpace(string(f.Data)); path.IsAbs(p) && path.Clean(p) == p && !strings.ContainsAny(p, "\n'") {
				s.Kheaders = p
			}
		case "sysfs":
			s.States["sysfs"] = f.State
		case "btf":
			s.States["btf"] = f.State
			if f.State == StateOK {
				n, err := strconv.ParseInt(string(f.Data), 10, 64)
				if err != nil || n <= 0 {
					return nil, fmt.Errorf("reading the kernel identity of %s: bad size %q of %s", t.Spec, head(f.Data), SysfsBTF)
				}
				s.BTFSize = n
			}
		case "vdso":
			// The vDSO image whose "Linux" note gives LINUX_VERSION_CODE,
			// where internal/host reads it under a non-"/" root.
			if f.State != StateOK || len(f.Data) > VDSOLimit {
				continue
			}
			s.States["vdso"] = f.State
			if err := put(dir, host.VDSOFile, f.Data); err != nil {
				return nil, err
			}
		default:
			p, ok := files[f.Name]
			if !ok {
				continue
			}
			s.States[f.Name] = f.State
			if f.State != StateOK {
				continue
			}
			if err := put(dir, p, f.Data); err != nil {
				return nil, err
			}
			switch f.Name {
			case "version":
				version = f.Data
			case "notes":
				s.BuildID = BuildID(f.Data)
			}
		}
	}
	if !validWord(s.Release) || !validWord(s.Machine) {
		return nil, fmt.Errorf("reading the kernel identity of %s: bad release %q or machine %q", t.Spec, s.Release, s.Machine)
	}
	if err := put(dir, "proc/sys/kernel/osrelease", []byte(s.Release+"\n")); err != nil {
		return nil, err
	}
	if err := put(dir, "proc/sys/kernel/arch", []byte(s.Machine+"\n")); err != nil {
		return nil, err
	}
	if s.BuildID != "" {
		s.Identity = "buildid:" + s.BuildID
	} else {
		sum := sha256.Sum256(version)
		s.Identity = "release:" + s.Release + "|version:" + hex.EncodeToString(sum[:])
	}
	return s, nil
}

func validWord(s string) bool {
	return s != "" && len(s) <= 64 && !strings.ContainsAny(s, " \t\n/\x00")
}

func put(dir, p string, b []byte) error {
	full := filepath.Join(dir, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
		return err
	}
	return os.WriteFile(full, b, 0o600)
}

// ModuleList parses the target's list of kheaders.ko paths: absolute,
// clean paths whose base name is kheaders.ko[.xz|.zst|.gz], deduplicated.
func ModuleList(b []byte) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if !path.IsAbs(l) || path.Clean(l) != l || seen[l] {
			continue
		}
		switch path.Base(l) {
		case "kheaders.ko", "kheaders.ko.xz", "kheaders.ko.zst", "kheaders.ko.gz":
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// BuildID returns the GNU build-id (hex) from the ELF notes of
// /sys/kernel/notes, or "" when there is none or the notes do not parse
// (elfsym.BuildID, in either byte order).
func BuildID(notes []byte) string {
	id, _ := elfsym.BuildID(notes)
	return id
}
