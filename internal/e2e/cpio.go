// Package e2e boots real kernels under qemu with an initramfs holding busybox
// and a static kheaders binary, runs kheaders in the guest and checks what the
// guest printed on its console. The boots run only from `make e2e`
// (e2e/run.sh sets KHEADERS_E2E=1); under a plain `go test ./...` only the
// host-side pieces (cpio writer, console parser) are tested.
package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
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

// cpio newc mode bits.
const (
	cpioDir  = 0o040000
	cpioReg  = 0o100000
	cpioLink = 0o120000
	cpioChr  = 0o020000
)

// errCPIO is returned for entries the writer cannot encode.
var errCPIO = errors.New("cpio")

// WriteInitramfs writes entries as an uncompressed newc cpio archive to w.
// Parent directories missing from entries are added (0755), entries are
// sorted by name so the archive is deterministic, mtimes and owners are 0.
func WriteInitramfs(w io.Writer, entries []Entry) error {
	byName := map[string]Entry{}
	for _, e := range entries {
		n := strings.Trim(path.Clean("/"+e.Name), "/")
		if n == "" {
			return fmt.Errorf("%w: empty entry name %q", errCPIO, e.Name)
		}
		e.Name = n
		if _, dup := byName[n]; dup {
			return fmt.Errorf("%w: duplicate entry %q", errCPIO, n)
		}
		byName[n] = e
	}
	for n := range byName {
		for d := path.Dir(n); d != "."; d = path.Dir(d) {
			if _, ok := byName[d]; !ok {
				byName[d] = Entry{Name: d, Mode: os.ModeDir | 0o755}
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	cw := &cpioWriter{w: w}
	for _, n := range names {
		if err := cw.add(byName[n]); err != nil {
			return err
		}
	}
	return cw.trailer()
}

type cpioWriter struct {
	w   io.Writer
	ino uint32
	off int64
}

func (c *cpioWriter) write(b []byte) error {
	n, err := c.w.Write(b)
	c.off += int64(n)
	return err
}

func (c *cpioWriter) pad() error {
	if r := c.off % 4; r != 0 {
		return c.write(make([]byte, 4-r))
	}
	return nil
}

func (c *cpioWriter) header(name string, mode uint32, size int, maj, min uint32) error {
	c.ino++
	nlink := uint32(1)
	if mode&0o170000 == cpioDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		c.ino, mode, 0, 0, nlink, 0, size, 0, 0, maj, min, len(name)+1, 0)
	if err := c.write([]byte(hdr)); err != nil {
		return err
	}
	if err := c.write(append([]byte(name), 0)); err != nil {
		return err
	}
	return c.pad()
}

func (c *cpioWriter) add(e Entry) error {
	perm := uint32(e.Mode.Perm())
	switch {
	case e.Mode&os.ModeDir != 0:
		return c.header(e.Name, cpioDir|perm, 0, 0, 0)
	case e.Mode&os.ModeSymlink != 0:
		if e.Link == "" {
			return fmt.Errorf("%w: symlink %q without target", errCPIO, e.Name)
		}
		if err := c.header(e.Name, cpioLink|0o777, len(e.Link), 0, 0); err != nil {
			return err
		}
		if err := c.write([]byte(e.Link)); err != nil {
			return err
		}
		return c.pad()
	case e.Mode&os.ModeCharDevice != 0:
		return c.header(e.Name, cpioChr|perm, 0, e.Maj, e.Min)
	case e.Mode&os.ModeType == 0:
		data := e.Data
		if e.Src != "" {
			b, err := os.ReadFile(e.Src)
			if err != nil {
				return fmt.Errorf("%w: entry %q: %w", errCPIO, e.Name, err)
			}
			data = b
		}
		if int64(len(data)) > 0xffffffff {
			return fmt.Errorf("%w: entry %q: %d bytes is too large for newc", errCPIO, e.Name, len(data))
		}
		if err := c.header(e.Name, cpioReg|perm, len(data), 0, 0); err != nil {
			return err
		}
		if err := c.write(data); err != nil {
			return err
		}
		return c.pad()
	default:
		return fmt.Errorf("%w: entry %q: unsupported mode %v", errCPIO, e.Name, e.Mode)
	}
}

func (c *cpioWriter) trailer() error {
	c.ino = 0
	if err := c.header("TRAILER!!!", 0, 0, 0, 0); err != nil {
		return err
	}
	// Pad to 512 bytes like GNU cpio; the kernel does not need it.
	if r := c.off % 512; r != 0 {
		return c.write(bytes.Repeat([]byte{0}, int(512-r)))
	}
	return nil
}
