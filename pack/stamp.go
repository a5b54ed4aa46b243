package pack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kheaders/kheaders/internal/filehash"
	"github.com/kheaders/kheaders/internal/output"
)

// KbuildOptions are what the drop-in adds to Options (see Kbuild).
type KbuildOptions struct {
	// Tool names the packer and its version ("kheaders v0.3.0"): it is part
	// of the fingerprint, so another version packs again.
	Tool string
	// Generating, if set, is called once the archive is known to be out of
	// date, just before it is built (Kbuild prints "  GEN     TARFILE").
	Generating func()
}

// Kbuild does what kernel/gen_kheaders.sh does for tarfile, with Kbuild's
// own arguments in o (SrcList, ObjList and Timestamp as 6.17+ passes them):
// with a SrcList and an ObjList it writes Make's dependency file
// .TARFILE.d beside tarfile; then it packs tarfile with WriteFile unless
// the stamp the last run left beside it (.TARFILE.kheaders-stamp) holds
// the same fingerprint and tarfile's sha256. The fingerprint covers every
// selected file's path, size, mtime (nanoseconds), mode and link target,
// the version, SRCARCH, the options that change the bytes and k.Tool:
// unlike Kbuild before 6.17 (`ls -l`, minute granularity), a file rewritten
// within the same minute with the same size packs again. With an empty
// Timestamp the build time is left out of it, so an unchanged tree is not
// repacked because the clock moved.
//
// It returns nil Stats when tarfile was up to date. A stamp that cannot be
// written is not an error (it is logged, and the next build packs again).
// Errors are those of WriteFile, and of reading the lists or writing the
// depfile.
func Kbuild(ctx context.Context, o Options, tarfile string, k KbuildOptions) (*Stats, error) {
	fp, err := fingerprint(o, k.Tool)
	if err != nil {
		return nil, err
	}
	if o.SrcList != "" && o.ObjList != "" {
		dep := filepath.Join(filepath.Dir(tarfile), "."+filepath.Base(tarfile)+".d")
		if err := writeDepfile(dep, tarfile, o.SrcList, o.ObjList); err != nil {
			return nil, fmt.Errorf("write depfile %s: %w", dep, err)
		}
	}
	if upToDate(tarfile, fp) {
		o.logger().Debug("archive up to date", "tarfile", tarfile)
		return nil, nil
	}
	if k.Generating != nil {
		k.Generating()
	}
	st, err := WriteFile(ctx, o, tarfile)
	if err != nil {
		return nil, err
	}
	if err := writeStamp(tarfile, fp); err != nil {
		o.logger().Warn("cannot write the stamp file; the next build will pack again", "err", err)
		_ = os.Remove(stampPath(tarfile))
	}
	return st, nil
}

// fingerprint hashes everything the archive depends on without reading the
// headers: the selected files' paths, sizes, mtimes (nanoseconds), modes and
// symlink targets, the version, SRCARCH, the options that change the bytes
// (stripping, compression, xz command, timestamp) and extra (the caller's
// own version). Unlike Kbuild before 6.17 (`ls -l`, minute granularity) a
// file rewritten within the same minute with the same size changes it.
// With an empty Timestamp the fingerprint ignores the build time, so an
// unchanged tree is not repacked just because the clock moved.
func fingerprint(o Options, extra string) (string, error) {
	p, err := o.plan()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "kheaders-pack-stamp/1\x00%s\x00%s\x00%s\x00%s\x00%v\x00%s\x00%s\x00%d\x00%s\x00%q\x00",
		p.v, o.SRCARCH, o.Strip, o.Compress, o.KeepLines, o.XZ.Mode, o.XZ.Command, o.XZ.Threads, o.Timestamp, extra)
	for _, f := range p.files {
		fi, err := os.Lstat(f.abs)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrUnreadable, err)
		}
		fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00%o\x00%s\n", f.rel, f.abs, fi.Size(), fi.ModTime().UnixNano(), fi.Mode(), f.link)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// stampPath is where the drop-in keeps the fingerprint of out.
func stampPath(out string) string {
	return filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".kheaders-stamp")
}

// upToDate reports whether out exists and was made from fingerprint fp (its
// stamp holds fp and out's sha256).
func upToDate(out, fp string) bool {
	data, err := os.ReadFile(stampPath(out))
	if err != nil {
		return false
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || lines[0] != fp {
		return false
	}
	sum, err := filehash.File(out)
	return err == nil && sum == lines[1]
}

// writeStamp records that out was made from fingerprint fp.
func writeStamp(out, fp string) error {
	sum, err := filehash.File(out)
	if err != nil {
		return err
	}
	return output.WriteFile(stampPath(out), 0o644, nil, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "%s\n%s\n", fp, sum)
		return err
	})
}

// writeDepfile writes Kbuild 6.17+'s dependency file for tarfile: every
// header of the srclist and the objlist except include/generated/autoconf.h,
// in the format kernel/gen_kheaders.sh writes (Make appends it to the
// .cmd file).
func writeDepfile(depfile, tarfile, srclist, objlist string) error {
	src, err := readList(srclist)
	if err != nil {
		return err
	}
	obj, err := readList(objlist)
	if err != nil {
		return err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\ndeps_%s := \\\n", tarfile)
	for _, s := range src {
		fmt.Fprintf(&b, "  %s \\\n", s)
	}
	for _, s := range obj {
		if s != "include/generated/autoconf.h" {
			fmt.Fprintf(&b, "  %s \\\n", s)
		}
	}
	fmt.Fprintf(&b, "\n%s: $(deps_%s)\n\n$(deps_%s):\n", tarfile, tarfile, tarfile)
	return output.WriteFile(depfile, 0o644, nil, output.Bytes([]byte(b.String())))
}
