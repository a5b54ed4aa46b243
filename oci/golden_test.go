package oci_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kheaders/kheaders/oci"
)

var update = flag.Bool("update", false, "rewrite the golden manifests under testdata/golden")

// TestManifestGolden: the manifest bytes (and so the digests of every
// artifact already pushed) stay what they were. The golden files were
// written by the oras-go/image-spec based manifest() of main at 7bf1b76,
// before the package got its own registry client.
func TestManifestGolden(t *testing.T) {
	for _, tc := range []struct {
		name    string
		archive []byte
		meta    oci.Meta
	}{
		{"release-only", []byte("archive"), oci.Meta{Release: "6.12.117"}},
		{"full", []byte("archive bytes\x00\xff"), oci.Meta{Release: "6.1.21-v8+", Machine: "aarch64", Arch: "arm64", BuildID: strings.Repeat("AB", 20), VersionCode: 6<<16 | 1<<8 | 21, ConfigSHA256: strings.Repeat("0f", 32)}},
		{"escapes", nil, oci.Meta{Release: "5.15.0 <&> \"q\" \u00e9\u2028", Machine: "x86_64", BuildID: strings.Repeat("0", 32)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := oci.Manifest(tc.archive, tc.meta)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join("testdata", "golden", tc.name+".json")
			if *update {
				if err := os.WriteFile(p, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(p)
			if err != nil {
				t.Fatalf("%v (run go test -run TestManifestGolden -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Manifest(%s) =\n%s\nwant\n%s", tc.name, got, want)
			}
		})
	}
}
