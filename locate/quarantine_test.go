package locate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
)

// TestLocateTamperedCache: utsrelease.h edited in the cached object makes
// the warm cache hit fail verification; instead of a false exit-4
// mismatch, the object is checked against its manifest, quarantined
// (marked damaged) and rebuilt from the sysfs archive, and the report
// points at 'kheaders cache verify' (issue 10 point 8).
func TestLocateTamperedCache(t *testing.T) {
	root := hosttest.Make(t, hosttest.Kernel612(t))
	opts := testOpts(t, root)
	h, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("cold Locate: %v", err)
	}
	uts := filepath.Join(h.Dir, "include/generated/utsrelease.h")
	if err := os.Chmod(uts, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(uts, []byte("#define UTS_RELEASE \"6.12.117-tampered\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h2, err := Locate(t.Context(), opts)
	if err != nil {
		t.Fatalf("Locate with a tampered cached object = %v, want it rebuilt", err)
	}
	if h2.Source != "sysfs" || !h2.Verified || h2.Key != h.Key {
		t.Errorf("Locate = source %s verified %v key %s, want sysfs rebuilding key %s", h2.Source, h2.Verified, h2.Key, h.Key)
	}
	checkStatus(t, h2, allOK)
	if b, err := os.ReadFile(filepath.Join(h2.Dir, "include/generated/utsrelease.h")); err != nil || strings.Contains(string(b), "tampered") {
		t.Errorf("rebuilt utsrelease.h = %q, %v; want the archive's", b, err)
	}
	var saw bool
	for _, a := range h2.Attempts {
		if a.Source == "cache" && a.Outcome == OutcomeFailed && strings.Contains(a.Reason, "differs from its manifest") && strings.Contains(a.Fix, "kheaders cache verify") {
			saw = true
		}
	}
	if !saw {
		t.Errorf("attempts lack the quarantined cache hit pointing at 'kheaders cache verify': %+v", h2.Attempts)
	}
	// The third call is a clean cache hit again.
	h3, err := Locate(t.Context(), opts)
	if err != nil || h3.Source != "cache" {
		t.Errorf("Locate after the rebuild = %v, source %v; want a cache hit", err, h3)
	}
}
