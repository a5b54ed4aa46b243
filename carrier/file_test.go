package carrier

import (
	"bytes"
	"errors"
	"github.com/kheaders/kheaders/internal/host/hosttest"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// copyFixture writes the fixture rel into a temp dir and returns its path.
func copyFixture(t *testing.T, rel string) (string, []byte) {
	t.Helper()
	b := hosttest.ReadFixture(t, rel)
	p := filepath.Join(t.TempDir(), filepath.Base(rel))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b
}

// TestOpenPathELFInPlace: vmlinux and kheaders.ko are read in place (no
// Data), and Inspect, Archive and Config give what the in-memory search of
// the whole file gives.
func TestOpenPathELFInPlace(t *testing.T) {
	for _, rel := range []string{"ikheaders-y/vmlinux", "ikheaders-m/kheaders.ko"} {
		t.Run(filepath.Dir(rel)+"/"+filepath.Base(rel), func(t *testing.T) {
			p, data := copyFixture(t, rel)
			src, err := OpenPath(t.Context(), p, nil)
			if err != nil {
				t.Fatal(err)
			}
			if src.Data != nil {
				t.Fatalf("OpenPath(%s) read %d bytes before detection, want the ELF read in place", rel, len(src.Data))
			}
			got, err := src.Inspect(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want, err := Inspect(t.Context(), data, nil)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Inspect in place differs from in memory (-memory +in place):\n%s", diff)
			}
			a, _, aerr := src.Archive(t.Context())
			wa, _, werr := Archive(t.Context(), data, nil)
			if !bytes.Equal(a, wa) || (aerr == nil) != (werr == nil) {
				t.Errorf("Archive in place = %d bytes, %v; in memory %d bytes, %v", len(a), aerr, len(wa), werr)
			}
			c, cerr := src.Config(t.Context())
			wc, wcerr := Config(t.Context(), data, nil)
			if !bytes.Equal(c, wc) || (cerr == nil) != (wcerr == nil) || errors.Is(cerr, ErrNotFound) != errors.Is(wcerr, ErrNotFound) {
				t.Errorf("Config in place = %d bytes, %v; in memory %d bytes, %v", len(c), cerr, len(wc), wcerr)
			}
			b, err := src.Bytes(t.Context())
			if err != nil || !bytes.Equal(b, data) {
				t.Errorf("Bytes = %d bytes, %v; want the %d bytes of the file", len(b), err, len(data))
			}
		})
	}
}

// TestOpenPathChanged: a file truncated, rewritten or replaced after
// OpenPath (or while it is read: the reader sees it cut short) gives
// ErrChanged with the path, never a crash, short data or "not found".
func TestOpenPathChanged(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(p string, data []byte) error
	}{
		{"truncated", func(p string, data []byte) error { return os.Truncate(p, int64(len(data)/2)) }},
		{"emptied", func(p string, data []byte) error { return os.Truncate(p, 0) }},
		{"rewritten", func(p string, data []byte) error {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt(bytes.Repeat([]byte{0}, 4096), int64(len(data)/2))
			return err
		}},
		{"replaced", func(p string, data []byte) error {
			n := p + ".new"
			if err := os.WriteFile(n, data, 0o644); err != nil {
				return err
			}
			return os.Rename(n, p)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, data := copyFixture(t, "ikheaders-m/kheaders.ko")
			src, err := OpenPath(t.Context(), p, nil)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond) // a distinct mtime on coarse clocks
			if err := tc.change(p, data); err != nil {
				t.Fatal(err)
			}
			a, _, err := src.Archive(t.Context())
			if !errors.Is(err, ErrChanged) || !strings.Contains(err.Error(), p) {
				t.Errorf("Archive after the file was %s = %d bytes, %v; want ErrChanged naming %s", tc.name, len(a), err, p)
			}
			if _, err := src.Inspect(t.Context()); !errors.Is(err, ErrChanged) {
				t.Errorf("Inspect after the file was %s = %v, want ErrChanged", tc.name, err)
			}
		})
	}
}

// cutReader is the file cut to cut bytes after the ELF headers were read:
// a truncation during the read.
type cutReader struct {
	data []byte
	cut  int
	n    int
}

func (r *cutReader) ReadAt(p []byte, off int64) (int, error) {
	r.n++
	end := len(r.data)
	if r.n > 1 {
		end = r.cut
	}
	if off >= int64(end) {
		return 0, io.EOF
	}
	n := copy(p, r.data[off:end])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// TestELFAtTruncatedDuringRead: the in-place search of a file cut short
// after its first read never returns a result: a read error, or "cannot
// search in place" (the caller then reads the file whole and its stat
// check reports ErrChanged, TestOpenPathChanged); never a panic.
func TestELFAtTruncatedDuringRead(t *testing.T) {
	data := hosttest.ReadFixture(t, "ikheaders-m/kheaders.ko")
	for _, cut := range []int{64, 4096, len(data) / 2, len(data) - 1} {
		r, ok, err := (*Options)(nil).runELFAt(t.Context(), &cutReader{data: data, cut: cut}, int64(len(data)))
		if err == nil && ok {
			t.Errorf("runELFAt(cut at %d) = a result (archive %d bytes), want a read error or not ok", cut, len(r.archive))
		}
	}
}

// TestInspectRawBTF (issue 10 point 10): raw BTF is recognised and
// reported (kind btf, size, type count), the testdata seeds and a copy of
// this machine's /sys/kernel/btf/vmlinux; extract of it says it is BTF.
func TestInspectRawBTF(t *testing.T) {
	paths := []string{filepath.Join(hosttest.RepoRoot(t), "btfc", "testdata", "seeds", "kfuncs.btf")}
	if b, err := os.ReadFile("/sys/kernel/btf/vmlinux"); err != nil {
		t.Logf("the host has no /sys/kernel/btf/vmlinux (%v): testing testdata only", err)
	} else {
		p := filepath.Join(t.TempDir(), "vmlinux.btf")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	for _, p := range paths {
		src, err := OpenPath(t.Context(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		in, err := src.Inspect(t.Context())
		if err != nil {
			t.Fatalf("Inspect(%s) = %v", p, err)
		}
		if in.Kind != "btf" || !in.HasBTF || in.HasHeaders || in.BTF == nil || in.BTF.Format != "raw" || in.BTF.Size != int64(len(src.Data)) || in.BTF.Types < 1 || in.Chain() != "btf" {
			t.Errorf("Inspect(%s) = kind %q btf %v %+v chain %q; want kind btf, raw, %d bytes, types > 0", p, in.Kind, in.HasBTF, in.BTF, in.Chain(), len(src.Data))
		}
		if _, _, err := src.Archive(t.Context()); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "kheaders btf") {
			t.Errorf("Archive(%s) = %v, want ErrNotFound pointing to kheaders btf", p, err)
		}
	}
}

// TestInspectELFBTF: a vmlinux with a .BTF section (the fixture vmlinux
// with a BTF seed added by objcopy) reports the section's BTF: format elf,
// its size and type count, read in place and in memory alike.
func TestInspectELFBTF(t *testing.T) {
	objcopy, err := exec.LookPath("objcopy")
	if err != nil {
		t.Skip("objcopy not in PATH (Debian package binutils)")
	}
	p, _ := copyFixture(t, "ikheaders-y/vmlinux")
	seed := filepath.Join(hosttest.RepoRoot(t), "btfc", "testdata", "seeds", "kfuncs.btf")
	raw, err := os.ReadFile(seed)
	if err != nil {
		t.Fatal(err)
	}
	out := p + ".btf"
	if b, err := exec.Command(objcopy, "--add-section", ".BTF="+seed, p, out).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v\n%s", err, b)
	}
	src, err := OpenPath(t.Context(), out, nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := src.Inspect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !in.HasBTF || in.BTF == nil || in.BTF.Format != "elf" || in.BTF.Size != int64(len(raw)) || in.BTF.Types < 1 || in.Kind != "vmlinux" || !in.HasHeaders {
		t.Errorf("Inspect(vmlinux + .BTF) = kind %q headers %v btf %v %+v; want vmlinux with headers, elf BTF of %d bytes", in.Kind, in.HasHeaders, in.HasBTF, in.BTF, len(raw))
	}
	data, _ := os.ReadFile(out)
	mem, err := Inspect(t.Context(), data, nil)
	if err != nil || !cmp.Equal(mem, in) {
		t.Errorf("Inspect in memory differs from in place: %v\n%s", err, cmp.Diff(mem, in))
	}
}
