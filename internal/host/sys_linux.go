//go:build linux

package host

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

type utsname struct{ release, machine string }

// atSysinfoEhdr is AT_SYSINFO_EHDR, the vDSO base in the auxiliary vector.
const atSysinfoEhdr = 33

func uname() (utsname, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return utsname{}, err
	}
	return utsname{release: unix.ByteSliceToString(u.Release[:]), machine: unix.ByteSliceToString(u.Machine[:])}, nil
}

var vdsoOnce = sync.OnceValues(readVDSOVersion)

func vdsoVersionCode() (uint32, error) { return vdsoOnce() }

// readVDSOVersion finds the vDSO through AT_SYSINFO_EHDR in /proc/self/auxv
// and parses its note from /proc/self/mem.
func readVDSOVersion() (uint32, error) {
	auxv, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 0, fmt.Errorf("version code: read auxv: %w", err)
	}
	addr, err := auxvValue(auxv, atSysinfoEhdr, int(unsafe.Sizeof(uintptr(0))), nativeOrder())
	if err != nil {
		return 0, fmt.Errorf("version code: %w: %w", err, ErrNotSupported)
	}
	mem, err := os.Open("/proc/self/mem")
	if err != nil {
		return 0, fmt.Errorf("version code: %w", err)
	}
	defer mem.Close()
	if addr > math.MaxInt64 {
		return 0, fmt.Errorf("version code: vDSO address %#x out of range: %w", addr, ErrNotSupported)
	}
	v, err := VersionNote(io.NewSectionReader(mem, int64(addr), math.MaxInt64-int64(addr)))
	if err != nil {
		return 0, fmt.Errorf("version code: %w", err)
	}
	return v, nil
}

func nativeOrder() binary.ByteOrder {
	var x uint16 = 1
	if *(*byte)(unsafe.Pointer(&x)) == 1 {
		return binary.LittleEndian
	}
	return binary.BigEndian
}

// auxvValue returns the value of tag in an auxiliary vector of word-sized pairs.
func auxvValue(auxv []byte, tag uint64, word int, bo binary.ByteOrder) (uint64, error) {
	read := func(b []byte) uint64 {
		if word == 8 {
			return bo.Uint64(b)
		}
		return uint64(bo.Uint32(b))
	}
	for len(auxv) >= 2*word {
		t, v := read(auxv), read(auxv[word:])
		auxv = auxv[2*word:]
		if t == tag {
			return v, nil
		}
		if t == 0 {
			break
		}
	}
	return 0, errNoVDSO
}

// canLoadModules checks CAP_SYS_MODULE (bit 16) in CapEff of /proc/self/status.
func canLoadModules() (bool, string) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false, "cannot read /proc/self/status"
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return false, "cannot parse CapEff"
			}
			if caps&(1<<unix.CAP_SYS_MODULE) == 0 {
				return false, "no CAP_SYS_MODULE (run as root or grant the capability)"
			}
			return true, ""
		}
	}
	return false, "no CapEff in /proc/self/status"
}

func loadModule(file string, decompress func([]byte) ([]byte, error)) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("load module: %w", err)
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), "", 0)
	if err == nil || errors.Is(err, unix.EEXIST) {
		return nil
	}
	first := err
	compressed := strings.HasSuffix(file, ".xz") || strings.HasSuffix(file, ".zst") || strings.HasSuffix(file, ".gz")
	if compressed {
		// Kernels with CONFIG_MODULE_DECOMPRESS take the compressed file.
		if err = unix.FinitModule(int(f.Fd()), "", unix.MODULE_INIT_COMPRESSED_FILE); err == nil || errors.Is(err, unix.EEXIST) {
			return nil
		}
		if decompress != nil {
			raw, rerr := os.ReadFile(file)
			if rerr == nil {
				if img, derr := decompress(raw); derr == nil {
					if err = unix.InitModule(img, ""); err == nil || errors.Is(err, unix.EEXIST) {
						return nil
					}
				}
			}
		}
	}
	if mp, lerr := exec.LookPath("modprobe"); lerr == nil {
		name := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
		name = strings.TrimSuffix(name, ".ko")
		out, merr := exec.Command(mp, name).CombinedOutput()
		if merr == nil {
			return nil
		}
		return fmt.Errorf("load module %s: finit_module: %v; modprobe %s: %v: %s", file, first, name, merr, bytes.TrimSpace(out))
	}
	return fmt.Errorf("load module %s: finit_module: %w", file, first)
}

// Exchange atomically swaps the directory entries a and b (renameat2
// RENAME_EXCHANGE). It returns ErrNotSupported where the kernel or file
// system cannot.
func Exchange(a, b string) error {
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("exchange %s %s: %w", a, b, ErrNotSupported)
	}
	return err
}
