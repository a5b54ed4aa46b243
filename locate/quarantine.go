package locate

import (
	"context"
	"errors"
	"fmt"
)

// errQuarantined: a cached object failed verification because it differs
// from its manifest (it was edited or damaged after extraction), not
// because it is another kernel's headers. It is not ErrMismatch: the chain
// goes on, and the next source that carries the archive rebuilds the object.
var errQuarantined = errors.New("cached object differs from its manifest")

// quarantine runs when the cached object behind h failed verification. It
// rehashes the object against its manifest (cache.Verify); when they differ
// the object is marked damaged (the next cache.Ensure of its key replaces
// it) and quarantine returns the error to record instead of a false
// mismatch. It returns nil when the object is intact (the mismatch is
// real) or cannot be checked.
func (l *locator) quarantine(ctx context.Context, h *Headers) error {
	if h.Key == "" || !h.Cached {
		return nil
	}
	cc, err := l.openCache()
	if err != nil {
		return nil
	}
	rep, err := cc.Verify(ctx, h.Key)
	if err != nil || len(rep.Problems) == 0 {
		return nil
	}
	first := rep.Problems[0].String()
	l.log.Warn("cached object differs from its manifest: quarantined (marked damaged) and rebuilt from its source",
		"key", h.Key, "dir", rep.Dir, "problems", len(rep.Problems), "first", first)
	return fmt.Errorf("%w: object %s in %s (%d problems, first: %s); marked damaged, so the next extraction of its archive replaces it", errQuarantined, h.Key, cc.Dir(), len(rep.Problems), first)
}

// fixQuarantine is the fix shown for a quarantined object.
const fixQuarantine = "'kheaders cache verify' lists damaged objects; 'kheaders cache rm KEY' removes one (locate rebuilds it from the kernel's archive)"

// rebuildable reports whether materialize can build the candidate's
// object again (it carries its archive or a fill), rather than only
// pointing at a cached tree.
func rebuildable(c *Candidate) bool {
	return c.Archive != nil || c.Open != nil || c.Fill != nil
}
