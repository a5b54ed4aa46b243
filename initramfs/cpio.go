// Package initramfs writes the kheaders initramfs segment: a newc cpio
// archive holding a kernel's header archive and a small manifest at the
// documented paths (ArchivePath, ManifestPath), uncompressed, xz (CRC32
// check, the only one the kernel's XZ decoder accepts besides none) or gzip,
// to be appended to any initramfs (`cat initrd.img seg > new`). The bytes
// are deterministic: same archive and options, same segment.
//
// It also holds the module's one cpio writer (WriteCPIO), which the e2e
// harness uses for its initramfs images.
package initramfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// Sentinel errors.
var (
	// ErrEntry: an entry the newc format cannot hold (empty or duplicate
	// name, a symlink without target, an unsupported file type, a file
	// larger than 4 GiB).
	ErrEntry = errors.New("cpio entry")
	// ErrManifest: a manifest that does not parse or does not match its
	// archive.
	ErrManifest = errors.New("kheaders initramfs manifest")
)

// Entry is one member of a cpio archive.
type Entry struct {
	Name string      // path inside the archive; a leading "/" is dropped
	Mode fs.FileMode // permission bits plus fs.ModeDir, fs.ModeSymlink or fs.ModeDevice|fs.ModeCharDevice
	Data []byte      // regular file contents
	Link string      // symlink target
	Maj  uint32      // character device major
	Min  uint32      // character device minor
}

// newc file type bits.
const (
	typeDir  = 0o040000
	typeReg  = 0o100000
	typeLink = 0o120000
	typeChr  = 0o020000
)

// MaxName is the longest member name the kernel's unpacker takes
// (PATH_MAX, counting the NUL).
const MaxName = 4095

// WriteCPIO writes entries as one newc ("070701") cpio archive to w,
// trailer included, padded to a multiple of 512 bytes. Names are cleaned,
// every missing parent directory is added (mode 0755: the kernel silently
// drops a member whose directory does not exist), members are sorted by name
// so parents come first, inode numbers count up from 1 in that order, and
// mtime, uid and gid are 0: the output depends only on the entries, not on
// their order or the clock.
//
// Errors: ErrEntry, or w's error.
func WriteCPIO(w io.Writer, entries []Entry) error {
	byName := map[string]Entry{}
	for _, e := range entries {
		n := strings.Trim(path.Clean("/"+e.Name), "/")
		if n == "" {
			return fmt.Errorf("%w: empty name %q", ErrEntry, e.Name)
		}
		if len(n) > MaxName {
			return fmt.Errorf("%w: name of %d bytes is longer than the kernel accepts (%d)", ErrEntry, len(n), MaxName)
		}
		if _, dup := byName[n]; dup {
			return fmt.Errorf("%w: duplicate name %q", ErrEntry, n)
		}
		e.Name = n
		byName[n] = e
	}
	for n := range byName {
		for d := path.Dir(n); d != "."; d = path.Dir(d) {
			if p, ok := byName[d]; ok {
				if !p.Mode.IsDir() {
					return fmt.Errorf("%w: %q is the parent of %q but not a directory", ErrEntry, d, n)
				}
				continue
			}
			byName[d] = Entry{Name: d, Mode: fs.ModeDir | 0o755}
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
	err error
}

func (c *cpioWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.off += int64(n)
	c.err = err
}

func (c *cpioWriter) pad(to int64) {
	if r := c.off % to; r != 0 {
		c.write(make([]byte, to-r))
	}
}

func (c *cpioWriter) header(name string, mode uint32, size int, maj, min uint32) {
	c.ino++
	nlink := 1
	if mode&0o170000 == typeDir {
		nlink = 2
	}
	ino := c.ino
	if name == trailer {
		ino = 0
	}
	// magic ino mode uid gid nlink mtime filesize devmajor devminor
	// rdevmajor rdevminor namesize check
	c.write(fmt.Appendf(nil, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		ino, mode, 0, 0, nlink, 0, size, 0, 0, maj, min, len(name)+1, 0))
	c.write(append([]byte(name), 0))
	c.pad(4)
}

const trailer = "TRAILER!!!"

func (c *cpioWriter) add(e Entry) error {
	// fs.FileMode keeps setuid, setgid and sticky outside the low bits.
	perm := uint32(e.Mode.Perm())
	if e.Mode&fs.ModeSetuid != 0 {
		perm |= 0o4000
	}
	if e.Mode&fs.ModeSetgid != 0 {
		perm |= 0o2000
	}
	if e.Mode&fs.ModeSticky != 0 {
		perm |= 0o1000
	}
	switch {
	case e.Mode.IsDir():
		c.header(e.Name, typeDir|perm, 0, 0, 0)
	case e.Mode&fs.ModeSymlink != 0:
		if e.Link == "" {
			return fmt.Errorf("%w: symlink %q without target", ErrEntry, e.Name)
		}
		c.header(e.Name, typeLink|0o777, len(e.Link), 0, 0)
		c.write([]byte(e.Link))
		c.pad(4)
	case e.Mode&fs.ModeCharDevice != 0:
		c.header(e.Name, typeChr|perm, 0, e.Maj, e.Min)
	case e.Mode.IsRegular():
		if int64(len(e.Data)) > 0xffffffff {
			return fmt.Errorf("%w: %q: %d bytes is too large for newc (4 GiB)", ErrEntry, e.Name, len(e.Data))
		}
		c.header(e.Name, typeReg|perm, len(e.Data), 0, 0)
		c.write(e.Data)
		c.pad(4)
	default:
		return fmt.Errorf("%w: %q: unsupported file type %v", ErrEntry, e.Name, e.Mode.Type())
	}
	return c.err
}

func (c *cpioWriter) trailer() error {
	c.header(trailer, 0, 0, 0, 0)
	// Pad to 512 bytes like GNU cpio: an uncompressed archive then ends
	// 4-aligned, so another uncompressed one can follow it directly.
	c.pad(512)
	return c.err
}
