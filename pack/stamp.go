package pack

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kheaders/kheaders/internal/output"
)

// Fingerprint hashes everything the archive depends on without reading the
// headers: the selected files' paths, sizes, mtimes (nanoseconds), modes and
// symlink targets, the version, SRCARCH, the options that change the bytes
// (stripping, compression, xz command, timestamp) and extra (the caller's
// own version). Unlike Kbuild before 6.17 (`ls -l`, minute granularity) a
// file rewritten within the same minute with the same size changes it.
// With an empty Timestamp the fingerprint ignores the build time, so an
// unchanged tree is not repacked just because the clock moved.
func Fingerprint(o Options, extra string) (string, error) {
	p, err := o.plan()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "kheaders-pack-stamp/1\x00%s\x00%s\x00%s\x00%s\x00%v\x00%s\x00%s\x00%d\x00%s\x00%q\x00",
		p.v, o.SRCARCH, o.Strip, o.Compress, o.KeepLines, o.XZ.XZMode, o.XZ.XZCommand, o.XZ.XZThreads, o.Timestamp, extra)
	for _, f := range p.files {
		fi, err := os.Lstat(f.abs)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrUnreadable, err)
		}
		fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00%o\x00%s\n", f.rel, f.abs, fi.Size(), fi.ModTime().UnixNano(), fi.Mode(), f.link)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// StampPath is where the drop-in keeps the fingerprint of out.
func StampPath(out string) string {
	return filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".kheaders-stamp")
}

// UpToDate reports whether out exists and was made from fingerprint fp (its
// stamp holds fp and out's sha256).
func UpToDate(out, fp string) bool {
	data, err := os.ReadFile(StampPath(out))
	if err != nil {
		return false
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 || lines[0] != fp {
		return false
	}
	sum, err := fileSHA256(out)
	return err == nil && sum == lines[1]
}

// WriteStamp records that out was made from fingerprint fp.
func WriteStamp(out, fp string) error {
	sum, err := fileSHA256(out)
	if err != nil {
		return err
	}
	return output.WriteFile(StampPath(out), 0o644, nil, func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "%s\n%s\n", fp, sum)
		return err
	})
}

func fileSHA256(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// WriteDepfile writes Kbuild 6.17+'s dependency file for tarfile: every
// header of the srclist and the objlist except include/generated/autoconf.h,
// in the format kernel/gen_kheaders.sh writes (Make appends it to the
// .cmd file).
func WriteDepfile(depfile, tarfile, srclist, objlist string) error {
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
