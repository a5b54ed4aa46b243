package carrier_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log"
	"os"

	"github.com/kheaders/kheaders/carrier"
)

// ExampleArchive takes the header archive out of a kernel image: a real
// x86_64 bzImage with CONFIG_IKHEADERS=y (testdata/kernels, see its README)
// whose gzip payload is peeled, and whose vmlinux holds the archive between
// its kernel_headers_data symbols. The bytes are the ones Kbuild built.
func ExampleArchive() {
	data, err := os.ReadFile("../testdata/kernels/bzImage-x86_64-gzip")
	if err != nil {
		log.Fatal(err)
	}
	archive, info, err := carrier.Archive(context.Background(), data, nil)
	if err != nil {
		// errors.Is(err, carrier.ErrNotFound): the artifact carries no
		// archive (a kernel built without CONFIG_IKHEADERS).
		log.Fatal(err)
	}
	fmt.Println("chain:", info.Chain())
	fmt.Println("arch:", info.Arch, info.Machine)
	fmt.Println("release:", info.Release, "from", info.ReleaseFrom)
	fmt.Printf("archive: %d bytes, sha256 %x\n", len(archive), sha256.Sum256(archive))
	// Output:
	// chain: bzimage(gzip) > vmlinux
	// arch: x86 x86_64
	// release: 6.12.117 from banner
	// archive: 4348772 bytes, sha256 d1c810e992647897b2c2ae7d984b21cb3eb08a4817d3914798b44c4de9175852
}
