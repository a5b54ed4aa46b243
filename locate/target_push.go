package locate

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kheaders/kheaders/btfc"
	"github.com/kheaders/kheaders/internal/input"
	"github.com/kheaders/kheaders/internal/target"
)

// ErrPushBinary is returned with Options.Push when no kheaders executable
// fits the target (another machine, dynamically linked, not ELF).
var ErrPushBinary = errors.New("no kheaders executable to push to the target")

// pushLimit bounds the executable --push copies (kheaders is ~20 MiB).
const pushLimit = 256 << 20

// onTargetInfo is filled by the on-target source for the report
// (RemoteTarget.Via, RemoteSource, RemoteOrigin).
type onTargetInfo struct {
	via, source, origin string
}

// targetRun runs kheaders on the target (Options.Push): the installed one
// when the identity found it on the target's PATH and it speaks
// target.StreamVersion, else a pushed one. What it sends is only a
// candidate: the host verifies it against the identity it read itself.
type targetRun struct {
	t    *target.Target
	snap *target.Snapshot
	bin  string // Options.PushBinary
	info *onTargetInfo
}

func (targetRun) Name() string { return "on-target" }

func (s targetRun) Find(ctx context.Context, env *Env) (*Candidate, error) {
	// A BTF an earlier on-target call sent is cached under the target's
	// BTF identity, which the cache source does not look up.
	if c := cachedTargetBTF(env, s.t, s.snap); c != nil {
		return c, nil
	}
	out, via, err := s.run(ctx, env)
	if err != nil {
		return nil, err
	}
	rep, payload, err := target.ParseStream(out)
	if err != nil {
		return nil, fmt.Errorf("the answer of the kheaders %s on %s: %w", via, s.t.Spec, err)
	}
	s.info.via, s.info.source, s.info.origin = via, rep.Source, rep.Origin
	if rep.Kind == target.PayloadError {
		msg := rep.Error
		if len(rep.Attempts) > 0 {
			msg += " [" + strings.Join(rep.Attempts, "; ") + "]"
		}
		return nil, fmt.Errorf("the kheaders %s on %s found no headers: %s", via, s.t.Spec, msg)
	}
	origin := s.t.Spec + ":" + rep.Origin + " (sent by the kheaders " + via + " there, its source " + rep.Source + ")"
	if rep.Kind == target.PayloadArchive {
		return &Candidate{Origin: origin, Archive: payload, Identity: targetID(s.snap), keep: true}, nil
	}
	// BTF: no header tree to verify; it must at least be raw BTF of the
	// size the target's shell reported for its /sys/kernel/btf/vmlinux.
	if !btfc.IsRawBTF(payload) {
		return nil, fmt.Errorf("the kheaders %s on %s sent %d bytes that are not raw BTF", via, s.t.Spec, len(payload))
	}
	if s.snap.States["btf"] == target.StateOK && int64(len(payload)) != s.snap.BTFSize {
		return nil, &btfMismatchError{fmt.Sprintf("the kheaders %s on %s sent %d bytes of BTF, but %s there is %d bytes: %v", via, s.t.Spec, len(payload), SysfsBTF, s.snap.BTFSize, ErrMismatch)}
	}
	sum := sha256.Sum256(payload)
	hexsum := hex.EncodeToString(sum[:])
	gen := &vmlinuxH{}
	return &Candidate{Kind: KindBTF, Origin: origin, Key: btfKey(hexsum), Identity: targetBTFID(s.snap),
		Trust:    targetBTFTrust(s.t.Spec, hexsum),
		Fill:     btfFill(env, payload, hexsum, "the BTF sent by the kheaders "+via+" on "+s.t.Spec+",", gen),
		keepData: payload, gen: gen}, nil
}

// serveArgs are the arguments of kheaders serve-target on the target: it
// stops by itself a little before the host gives up on it.
func (s targetRun) serveArgs() string {
	d := s.t.Timeout
	if d <= 0 {
		d = target.DefaultTimeout
	}
	return " serve-target --timeout " + (d * 9 / 10).String()
}

// run runs kheaders serve-target on the target and returns its stdout and
// how it got there ("installed" or "pushed").
func (s targetRun) run(ctx context.Context, env *Env) ([]byte, string, error) {
	if p := s.snap.Kheaders; p != "" {
		out, err := s.t.Run(ctx, target.Quote(p)+s.serveArgs(), archiveLimit)
		if err == nil {
			if _, _, perr := target.ParseStream(out); perr == nil || !strings.Contains(perr.Error(), "version") && !strings.Contains(perr.Error(), "no report") {
				return out, "installed at " + p, nil
			}
		}
		if isTransfer(err) {
			return nil, "", err
		}
		env.Logger.Info("the kheaders on the target does not speak "+target.StreamVersion+": pushing one", "path", p, "err", err)
	}
	bin, err := pushBinary(ctx, s.bin, s.snap.Machine)
	if err != nil {
		return nil, "", err
	}
	var r [8]byte
	if _, err := rand.Read(r[:]); err != nil {
		return nil, "", err
	}
	base := `"${TMPDIR:-/tmp}"`
	if s.t.Kind == "adb" {
		base = "/data/local/tmp"
	}
	dir := "d=" + base + "/kheaders-push-" + hex.EncodeToString(r[:]) + "; "
	cleanup := func() {
		// Best effort, also after a timeout or a cut link: stop the
		// program if it still runs and remove the directory.
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if _, err := s.t.Run(c, "# kheaders push: clean up\n"+dir+`[ -f "$d/pid" ] && kill "$(cat "$d/pid")" 2>/dev/null; rm -rf "$d"`, 4096); err != nil {
			env.Logger.Warn("could not remove the pushed kheaders from the target", "target", s.t.Spec, "err", err)
		}
	}
	if err := s.t.Send(ctx, "# kheaders push: copy "+strconv.Itoa(len(bin))+" bytes\n"+dir+`mkdir -m 700 "$d" && cat > "$d/kheaders"`, bin); err != nil {
		cleanup()
		return nil, "", fmt.Errorf("copying kheaders to %s: %w", s.t.Spec, err)
	}
	size := strconv.Itoa(len(bin))
	// adb exec-in returns before the target has written the file: wait
	// for its full size (a short copy is refused, the directory removed).
	// In a subshell: its exits must not skip the status line.
	script := "# kheaders push: run serve-target\n(" + dir + `f="$d/kheaders"; i=0
n=$(wc -c < "$f" 2>/dev/null); n=$((n+0))
while [ "$n" -ne ` + size + ` ] && [ $i -lt 50 ]; do sleep 0.2 2>/dev/null || sleep 1; i=$((i+1)); n=$(wc -c < "$f" 2>/dev/null); n=$((n+0)); done
if [ "$n" -ne ` + size + ` ]; then echo "kheaders push: $f is $n bytes, not ` + size + `" >&2; rm -rf "$d"; exit 126; fi
chmod 700 "$f" || { rm -rf "$d"; exit 126; }
TMPDIR="$d" "$f"` + s.serveArgs() + ` & p=$!; echo "$p" > "$d/pid"; wait "$p"; s=$?; rm -rf "$d"; exit "$s")`
	out, err := s.t.Run(ctx, script, archiveLimit)
	if err != nil {
		cleanup()
		var te *target.Error
		if errors.As(err, &te) && te.Status > 0 {
			return nil, "", fmt.Errorf("the kheaders pushed to %s failed (exit status %d; a status above 128 is a signal): %w", s.t.Spec, te.Status, err)
		}
		return nil, "", err
	}
	return out, "pushed", nil
}

// goarch is GOARCH for a kernel machine name, for the error that says how
// to build a kheaders to push.
func goarch(machine string) string {
	switch {
	case machine == "x86_64":
		return "amd64"
	case machine == "aarch64" || machine == "arm64":
		return "arm64"
	case strings.HasPrefix(machine, "arm"):
		return "arm"
	case len(machine) == 4 && machine[0] == 'i' && strings.HasSuffix(machine, "86"):
		return "386"
	case machine == "loongarch64":
		return "loong64"
	}
	return machine // riscv64, ppc64le, s390x, mips64 ...
}

// elfMachine is the ELF e_machine of executables for a kernel machine.
func elfMachine(machine string) (elf.Machine, bool) {
	switch goarch(machine) {
	case "amd64":
		return elf.EM_X86_64, true
	case "arm64":
		return elf.EM_AARCH64, true
	case "arm":
		return elf.EM_ARM, true
	case "386":
		return elf.EM_386, true
	case "riscv64":
		return elf.EM_RISCV, true
	case "ppc64le", "ppc64":
		return elf.EM_PPC64, true
	case "s390x":
		return elf.EM_S390, true
	case "loong64":
		return elf.EM_LOONGARCH, true
	}
	return 0, false
}

// pushBinary returns the executable to push to a target of the machine:
// path, or this program when path is "". It must be a static ELF
// executable for that machine.
func pushBinary(ctx context.Context, path, machine string) ([]byte, error) {
	how := fmt.Sprintf("build one with 'CGO_ENABLED=0 GOOS=linux GOARCH=%s go build ./cmd/kheaders' and pass it with --push-binary PATH", goarch(machine))
	name := path
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("%w: %v; %s", ErrPushBinary, err, how)
		}
		name = exe
	}
	data, err := input.ReadFile(ctx, name, &input.Options{MaxFile: pushLimit, MaxStream: pushLimit, Flag: "--push-binary"})
	if err != nil {
		return nil, fmt.Errorf("%w: %v; %s", ErrPushBinary, err, how)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not an ELF executable (%v); %s", ErrPushBinary, name, err, how)
	}
	want, ok := elfMachine(machine)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: kheaders does not know the executables of machine %q; pass a static kheaders built for it with --push-binary PATH", ErrPushBinary, machine)
	case f.Machine != want:
		return nil, fmt.Errorf("%w: %s is for %v, the target is %s (%v); %s", ErrPushBinary, name, f.Machine, machine, want, how)
	case f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN:
		return nil, fmt.Errorf("%w: %s is not an executable (%v); %s", ErrPushBinary, name, f.Type, how)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%w: %s is dynamically linked (it needs an interpreter the target may not have); %s", ErrPushBinary, name, how)
		}
	}
	return data, nil
}
