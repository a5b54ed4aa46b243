package locate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/kheaders/kheaders/btfc"
	"github.com/kheaders/kheaders/internal/target"
)

// btfLimit caps a target's BTF transfer (a 6.12 vmlinux's BTF is ~5 MiB,
// distribution kernels' up to ~10 MiB).
const btfLimit = 64 << 20

// targetBTF is the last source of a target's chain, as btf is locally: a
// target kernel with no readable kheaders archive but with
// /sys/kernel/btf/vmlinux (its state and size are in the identity
// snapshot) gets a vmlinux.h derived from that BTF. The BTF is read at most
// once per target kernel: the cache maps the target's identity to the key
// of the generated object, which keeps the BTF itself (cache.KeepSource)
// for btf --target.
type targetBTF struct {
	t    *target.Target
	snap *target.Snapshot
}

func (targetBTF) Name() string { return "btf" }

// targetBTFID keys the target's BTF by its kernel identity and the BTF's
// size: a kernel rebuilt with the same release and /proc/version (Kleaf
// pins both) and unreadable notes must not be served the old build's BTF
// when its BTF differs in size. (Same-size BTF of the same release and
// banner is indistinguishable without reading it.)
func targetBTFID(s *target.Snapshot) string {
	return targetID(s) + "|btf-v" + btfGenVersion + "|size:" + strconv.FormatInt(s.BTFSize, 10)
}

// cachedTargetBTF is the candidate of the vmlinux.h an earlier call made
// from the target's BTF, found by targetBTFID, or nil (none, or
// Options.refetch).
func cachedTargetBTF(env *Env, t *target.Target, snap *target.Snapshot) *Candidate {
	if env.Options.refetch {
		return nil
	}
	cc, err := env.openCache()
	if err != nil {
		return nil
	}
	key, obj, err := lookupObject(cc, targetBTFID(snap))
	if err != nil {
		return nil
	}
	return &Candidate{Kind: KindBTF, Origin: t.Spec + ":" + SysfsBTF + " (cached " + cc.Dir() + ")", Dir: obj.Dir, Key: key,
		Trust: targetBTFTrust(t.Spec, btfSum(key))}
}

func targetBTFTrust(spec, sum string) string {
	return "vmlinux.h derived from the target's own " + SysfsBTF + " on " + spec + " (sha256 " + sum[:min(16, len(sum))] + "...)"
}

func (s targetBTF) Find(ctx context.Context, env *Env) (*Candidate, error) {
	on := " on " + s.t.Spec
	switch s.snap.States["btf"] {
	case target.StateOK:
	case target.StateDenied:
		return nil, &deniedError{
			reason: "permission denied reading " + SysfsBTF + on + " (it exists)",
			fix:    "run the target's shell as root (adb root on userdebug/eng builds, ssh root@...), or pass the kernel's vmlinux to kheaders btf",
		}
	default:
		return nil, Skip("no "+SysfsBTF+on+" (kernel built without CONFIG_DEBUG_INFO_BTF)", "boot the target with CONFIG_DEBUG_INFO_BTF=y, or with CONFIG_IKHEADERS")
	}
	size := s.snap.BTFSize
	if size > btfLimit {
		return nil, fmt.Errorf("%s%s is %d bytes, more than the %d bytes kheaders reads from a target: %w", SysfsBTF, on, size, btfLimit, target.ErrTooLarge)
	}
	id := targetBTFID(s.snap)
	if c := cachedTargetBTF(env, s.t, s.snap); c != nil {
		return c, nil
	}
	// Bounded by the size the identity recorded: a longer answer is
	// refused by the transport, a shorter one here.
	data, err := s.t.ReadFile(ctx, SysfsBTF, size)
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != size {
		return nil, fmt.Errorf("%s%s: %w: read %d of its %d bytes", SysfsBTF, on, target.ErrTruncated, len(data), size)
	}
	if !btfc.IsRawBTF(data) {
		return nil, fmt.Errorf("%s%s: not raw BTF (%d bytes)", SysfsBTF, on, len(data))
	}
	sum := sha256.Sum256(data)
	hexsum := hex.EncodeToString(sum[:])
	gen := &vmlinuxH{}
	return &Candidate{
		Kind:     KindBTF,
		Origin:   s.t.Spec + ":" + SysfsBTF,
		Key:      btfKey(hexsum),
		Identity: id,
		Trust:    targetBTFTrust(s.t.Spec, hexsum),
		Fill:     btfFill(env, data, hexsum, SysfsBTF+" of the kernel running on "+s.t.Spec+",", gen),
		keepData: data,
		gen:      gen,
	}, nil
}

// btfKeyPrefix starts the cache key of a vmlinux.h generated from BTF;
// the BTF's sha256 (hex) follows.
const btfKeyPrefix = "btf-v" + btfGenVersion + "-"

// btfKey is the cache key of the vmlinux.h generated from the BTF whose
// sha256 is hexsum; btfSum is its inverse.
func btfKey(hexsum string) string { return btfKeyPrefix + hexsum }

func btfSum(key string) string { return strings.TrimPrefix(key, btfKeyPrefix) }
