package locate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/kheaders/kheaders/initramfs"
	"github.com/kheaders/kheaders/internal/host"
)

// ---- the initramfs carrier ----

// initramfsSource reads the archive a kheaders initramfs segment
// (`kheaders initramfs`, package initramfs) put into rootfs, or the copy the
// initramfs-tools / dracut hooks of contrib/ keep in /run after switch_root
// (which deletes rootfs). Its manifest, when present, must name the running
// release (else the source rejects it itself) and match the archive; the
// headers are then verified like any others.
type initramfsSource struct{}

func (initramfsSource) Name() string { return "initramfs" }

// initramfsPlaces are the archive and manifest paths, in the order tried.
var initramfsPlaces = [][2]string{
	{initramfs.RunArchivePath, initramfs.RunManifestPath},
	{initramfs.ArchivePath, initramfs.ManifestPath},
}

func (initramfsSource) Find(ctx context.Context, env *Env) (*Candidate, error) {
	var why []string
	for _, pl := range initramfsPlaces {
		ap, mp := pl[0], pl[1]
		fi, err := env.Stat(ap)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				why = append(why, ap+" absent")
				continue
			}
			return nil, fmt.Errorf("initramfs archive %s: %w", ap, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("initramfs archive %s is not a regular file (%v)", ap, fi.Mode().Type())
		}
		var m *initramfs.Manifest
		if b, err := env.ReadFile(mp); err == nil {
			if m, err = initramfs.ParseManifest(b); err != nil {
				return nil, fmt.Errorf("%s: %w (rebuild the segment with kheaders initramfs)", mp, err)
			}
			if m.Release != env.Release {
				return nil, fmt.Errorf("%w: %s: the initramfs carries the headers of %s, the running kernel is %s (rebuild the initramfs with this kernel's segment: kheaders initramfs)", ErrMismatch, mp, m.Release, env.Release)
			}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("initramfs manifest %s: %w", mp, err)
		}
		return &Candidate{
			Origin:   ap,
			Identity: fmt.Sprintf("initramfs|%s|%s|%s|%s|%d|%d", ap, env.Release, env.BootID(), host.Identity(fi), fi.Size(), fi.ModTime().UnixNano()),
			Open: func(ctx context.Context) ([]byte, error) {
				b, err := env.ReadFile(ap)
				if err != nil {
					return nil, err
				}
				if m != nil {
					if err := m.Check(b); err != nil {
						return nil, fmt.Errorf("%s: %w (the archive was changed after the segment was made)", ap, err)
					}
				}
				return b, nil
			},
		}, nil
	}
	return nil, Skip(strings.Join(why, ", "), "append this kernel's headers to its initramfs: kheaders initramfs -o seg.cpio.xz; cat initrd seg.cpio.xz > initrd.new (hooks in contrib/ keep a copy in "+initramfs.RunDir+" after switch_root)")
}
