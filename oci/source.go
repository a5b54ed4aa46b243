package oci

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/kheaders/kheaders/carrier"
	"github.com/kheaders/kheaders/internal/elfsym"
	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/karch"
)

// FromArtifact finds the archive in data (any carrier: the archive,
// kheaders.ko, vmlinux, a kernel or boot image) and the identity it tells:
// release (from the archive's utsrelease.h), machine and arch, the build-id
// when data is a vmlinux with its .notes, the sha256 of an embedded config.
// The archive is decoded once to check it.
//
// Errors: carrier.ErrNotFound (no archive), carrier.ErrFormat, archive
// errors; an error when the release cannot be told.
func FromArtifact(ctx context.Context, data []byte) ([]byte, Meta, error) {
	f, err := carrier.Search(ctx, data, nil)
	if err != nil {
		return nil, Meta{}, err
	}
	if err := f.ArchiveErr(); err != nil {
		return nil, Meta{}, err
	}
	info, err := carrier.Inspect(ctx, f.Archive, nil)
	if err != nil {
		return nil, Meta{}, err
	}
	m := Meta{Release: info.Release, Machine: f.Info.Machine, Arch: f.Info.Arch, VersionCode: info.Archive.VersionCode}
	if m.Arch == "" {
		m.Arch, m.Machine = info.Arch, info.Machine
	}
	if m.Release == "" {
		return nil, Meta{}, errors.New("the archive has no include/generated/utsrelease.h: cannot tell its kernel release")
	}
	if f.Config != nil {
		s := sha256.Sum256(f.Config)
		m.ConfigSHA256 = hex.EncodeToString(s[:])
	}
	if bytes.HasPrefix(data, elfsym.Magic) {
		if ef, err := elf.NewFile(bytes.NewReader(data)); err == nil && ef.Type == elf.ET_EXEC {
			if s := ef.Section(".notes"); s != nil {
				if b, err := s.Data(); err == nil {
					m.BuildID, _ = elfsym.BuildID(b)
				}
			}
		}
	}
	return f.Archive, m, nil
}

// FromHost returns the running kernel's archive
// (/sys/kernel/kheaders.tar.xz under root, "" for the real machine) and
// identity: release and machine as uname gives them, the build-id from
// /sys/kernel/notes, the sha256 of /proc/config.gz's content.
//
// Errors: fs.ErrNotExist when the kernel exposes no archive (built without
// CONFIG_IKHEADERS, or the module not loaded).
func FromHost(ctx context.Context, root string) ([]byte, Meta, error) {
	h := host.New(root)
	data, err := h.ReadFile("/sys/kernel/kheaders.tar.xz")
	if err != nil {
		return nil, Meta{}, fmt.Errorf("read the running kernel's archive: %w (load the kheaders module, or name a file: kheaders push FILE REF)", err)
	}
	rel, err := h.Release()
	if err != nil {
		return nil, Meta{}, err
	}
	mach, err := h.Machine()
	if err != nil {
		return nil, Meta{}, err
	}
	info, err := carrier.Inspect(ctx, data, nil)
	if err != nil {
		return nil, Meta{}, err
	}
	if info.Release != "" && info.Release != rel {
		return nil, Meta{}, fmt.Errorf("%w: /sys/kernel/kheaders.tar.xz is of release %s, the running kernel is %s", ErrMismatch, info.Release, rel)
	}
	m := Meta{Release: rel, Machine: mach, Arch: karch.SrcArch(mach), VersionCode: info.Archive.VersionCode}
	if b, err := h.ReadFile("/sys/kernel/notes"); err == nil {
		m.BuildID, _ = elfsym.BuildID(b)
	}
	return data, m, nil
}
