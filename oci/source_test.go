package oci_test

import (
	"testing"

	"github.com/kheaders/kheaders/internal/host/hosttest"
	"github.com/kheaders/kheaders/oci"
)

// TestFromArtifactMeta: the identity push annotates comes from the artifact
// itself: release, arch and machine, and LINUX_VERSION_CODE from the
// archive's version.h (6.12.117 = 6<<16 | 12<<8 | 117); a vmlinux adds its
// build-id.
func TestFromArtifactMeta(t *testing.T) {
	for _, file := range []string{"ikheaders-y/kheaders_data.tar.xz", "ikheaders-y/vmlinux"} {
		t.Run(file, func(t *testing.T) {
			_, m, err := oci.FromArtifact(t.Context(), hosttest.ReadFixture(t, file))
			if err != nil {
				t.Fatalf("FromArtifact: %v", err)
			}
			if m.Release != "6.12.117" || m.Arch != "x86" || m.Machine != "x86_64" || m.VersionCode != 6<<16|12<<8|117 {
				t.Errorf("meta = %+v; want release 6.12.117, arch x86, machine x86_64, version code %d", m, 6<<16|12<<8|117)
			}
			if file == "ikheaders-y/vmlinux" && len(m.BuildID) != 40 {
				t.Errorf("vmlinux build-id %q, want 40 hex digits", m.BuildID)
			}
		})
	}
}
