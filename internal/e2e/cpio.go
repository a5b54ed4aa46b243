// Package e2e boots real kernels under qemu with an initramfs holding busybox
// and a static kheaders binary, runs kheaders in the guest and checks what the
// guest printed on its console. The boots run only from `make e2e`
// (internal/e2e/run.sh sets KHEADERS_E2E=1); under a plain `go test ./...` only the
// host-side pieces (cpio writer, console parser) are tested.
package e2e

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kheaders/kheaders/initramfs"
)

// Entry is one member of an initramfs. Exactly one of Data, Src, Link or a
// directory/device mode applies.
type Entry struct {
	Name string      // path inside the archive, without leading slash
	Mode os.FileMode // permission bits plus os.ModeDir / os.ModeSymlink / os.ModeCharDevice
	Data []byte      // regular file contents (used when Src is empty)
	Src  string      // host file to copy (regular files)
	Link string      // symlink target
	Maj  uint32      // device major (char devices)
	Min  uint32      // device minor
}

// errCPIO is returned for entries the writer cannot encode.
var errCPIO = errors.New("cpio")

// WriteInitramfs writes entries as an uncompressed newc cpio archive to w
// with the module's one cpio writer, initramfs.WriteCPIO: parent
// directories missing from entries are added (0755), entries are sorted by
// name so the archive is deterministic, mtimes and owners are 0.
func WriteInitramfs(w io.Writer, entries []Entry) error {
	out := make([]initramfs.Entry, 0, len(entries))
	for _, e := range entries {
		data := e.Data
		if e.Src != "" {
			b, err := os.ReadFile(e.Src)
			if err != nil {
				return fmt.Errorf("%w: entry %q: %w", errCPIO, e.Name, err)
			}
			data = b
		}
		out = append(out, initramfs.Entry{Name: e.Name, Mode: e.Mode, Data: data, Link: e.Link, Maj: e.Maj, Min: e.Min})
	}
	if err := initramfs.WriteCPIO(w, out); err != nil {
		return fmt.Errorf("%w: %w", errCPIO, err)
	}
	return nil
}
