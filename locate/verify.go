package locate

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kheaders/kheaders/archive"
	"github.com/kheaders/kheaders/internal/host"
	"github.com/kheaders/kheaders/internal/kconfig"
)

// Check statuses.
const (
	CheckOK       = "ok"
	CheckMismatch = "mismatch"
	CheckSkipped  = "skipped" // the running kernel does not expose the fact
)

// Check is one verification of headers against the running kernel. Its
// JSON is part of the kheaders.locate/v1 schema (see Attempt).
type Check struct {
	Name   string `json:"name"` // "files", "release", "version", "config", "arch", "trust"
	Status string `json:"status"`
	Want   string `json:"want,omitempty"` // the running kernel's value
	Got    string `json:"got,omitempty"`  // the headers' value
	Detail string `json:"detail,omitempty"`
}

func (c Check) String() string {
	s := fmt.Sprintf("%s: running kernel %s, headers %s", c.Name, orNone(c.Want), orNone(c.Got))
	if c.Detail != "" {
		s += " (" + c.Detail + ")"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func failed(cs []Check) []Check {
	var out []Check
	for _, c := range cs {
		if c.Status == CheckMismatch {
			out = append(out, c)
		}
	}
	return out
}

func describe(cs []Check) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.String())
	}
	return strings.Join(parts, "; ")
}

// kernelFacts are the running kernel's identity, read once per Locate.
type kernelFacts struct {
	release    string
	code       uint32
	codeErr    error
	config     *kconfig.Config
	configFrom string
	configErr  error
	arch       string
}

func readKernelFacts(env *Env) *kernelFacts {
	k := &kernelFacts{release: env.Release, arch: env.Arch}
	k.code, k.codeErr = env.host.VersionCode()
	cfg, err := env.host.KernelConfig(env.Release)
	if err != nil {
		k.configErr = err
	} else {
		k.configFrom = cfg.Origin
		k.config, k.configErr = kconfig.Parse(cfg.Data)
	}
	return k
}

// verify checks headers against the running kernel: required files,
// UTS_RELEASE, LINUX_VERSION_CODE against the vDSO note, autoconf.h against
// the kernel config, and the arch directory.
func (l *locator) verify(h *Headers) []Check {
	if h.trust != "" {
		return []Check{{Name: "trust", Status: CheckOK, Got: h.trust}}
	}
	return verifyTree(l.kernel, h.Dir, h.BuildDir)
}

func verifyTree(k *kernelFacts, dir, build string) []Check {
	var cs []Check
	var missing []string
	for _, f := range []struct{ base, name string }{
		{dir, "include/linux/kconfig.h"},
		{dir, "include/linux/types.h"},
		{build, "include/generated/autoconf.h"},
		{build, "include/generated/utsrelease.h"},
	} {
		if _, err := os.Stat(filepath.Join(f.base, f.name)); err != nil {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		cs = append(cs, Check{Name: "files", Status: CheckMismatch, Want: "complete tree", Got: "missing " + strings.Join(missing, ", ")})
	} else {
		cs = append(cs, Check{Name: "files", Status: CheckOK})
	}

	// Release.
	rel := ""
	if b, err := os.ReadFile(filepath.Join(build, "include/generated/utsrelease.h")); err == nil {
		rel = archive.ParseUTSRelease(b)
	}
	if rel == k.release {
		cs = append(cs, Check{Name: "release", Status: CheckOK, Want: k.release, Got: rel})
	} else {
		cs = append(cs, Check{Name: "release", Status: CheckMismatch, Want: k.release, Got: rel, Detail: "UTS_RELEASE in include/generated/utsrelease.h"})
	}

	// Version code.
	code, codeFile := uint32(0), ""
	for _, f := range kconfig.VersionFiles {
		if b, err := os.ReadFile(filepath.Join(build, f)); err == nil {
			if v, ok := kconfig.VersionCode(b); ok {
				code, codeFile = v, f
				break
			}
		}
	}
	switch {
	case k.codeErr != nil:
		cs = append(cs, Check{Name: "version", Status: CheckSkipped, Detail: "running kernel's LINUX_VERSION_CODE unknown: " + k.codeErr.Error()})
	case codeFile == "":
		cs = append(cs, Check{Name: "version", Status: CheckMismatch, Want: host.FormatVersionCode(k.code), Detail: "no LINUX_VERSION_CODE in include/generated/uapi/linux/version.h"})
	case code != k.code:
		cs = append(cs, Check{Name: "version", Status: CheckMismatch, Want: fmt.Sprintf("%s (%d)", host.FormatVersionCode(k.code), k.code), Got: fmt.Sprintf("%s (%d)", host.FormatVersionCode(code), code), Detail: "LINUX_VERSION_CODE in " + codeFile + " vs the vDSO note"})
	default:
		cs = append(cs, Check{Name: "version", Status: CheckOK, Want: host.FormatVersionCode(k.code), Got: host.FormatVersionCode(code)})
	}

	// Config.
	switch {
	case k.configErr != nil:
		cs = append(cs, Check{Name: "config", Status: CheckSkipped, Detail: "running kernel's config unavailable: " + k.configErr.Error()})
	default:
		b, err := os.ReadFile(filepath.Join(build, "include/generated/autoconf.h"))
		if err != nil {
			cs = append(cs, Check{Name: "config", Status: CheckMismatch, Want: k.configFrom, Detail: "no include/generated/autoconf.h"})
			break
		}
		a, err := kconfig.ParseAutoconf(b)
		if err != nil {
			cs = append(cs, Check{Name: "config", Status: CheckMismatch, Want: k.configFrom, Detail: err.Error()})
			break
		}
		diffs := kconfig.Compare(k.config, a)
		if len(diffs) == 0 {
			cs = append(cs, Check{Name: "config", Status: CheckOK, Want: k.configFrom, Got: fmt.Sprintf("%d symbols agree", k.config.Len())})
			break
		}
		d := diffs[0]
		c := Check{Name: "config", Status: CheckMismatch, Want: d.Symbol + "=" + valueOrNot(d.Config), Got: d.Symbol + "=" + valueOrNot(d.Header),
			Detail: fmt.Sprintf("%d symbols differ between %s and autoconf.h", len(diffs), k.configFrom)}
		if len(diffs) > 1 {
			var more []string
			for _, d := range diffs[1:min(len(diffs), 4)] {
				more = append(more, d.Symbol)
			}
			c.Detail += "; next: " + strings.Join(more, ", ")
		}
		cs = append(cs, c)
	}

	// Arch.
	if fi, err := os.Stat(filepath.Join(dir, "arch", k.arch, "include")); err == nil && fi.IsDir() {
		cs = append(cs, Check{Name: "arch", Status: CheckOK, Want: k.arch, Got: k.arch})
	} else {
		var have []string
		if des, err := os.ReadDir(filepath.Join(dir, "arch")); err == nil {
			for _, d := range des {
				if d.IsDir() {
					have = append(have, d.Name())
				}
			}
		}
		cs = append(cs, Check{Name: "arch", Status: CheckMismatch, Want: k.arch, Got: strings.Join(have, ","), Detail: "no arch/" + k.arch + "/include"})
	}
	return cs
}

func valueOrNot(v string) string {
	if v == "" || v == "n" {
		return "n"
	}
	return v
}
