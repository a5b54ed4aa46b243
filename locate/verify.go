package locate

import (
	"crypto/sha256"
	"encoding/hex"
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
// The config file is read eagerly but decompressed and parsed only when
// something needs its symbols (a config check without a fingerprint hit,
// a skip reason naming CONFIG_IKHEADERS).
type kernelFacts struct {
	release    string
	code       uint32
	codeErr    error
	cfg        *host.Config // the file as read (Raw); nil when configErr
	configFrom string
	configErr  error
	config     *kconfig.Config // set by kconfig() when parsing succeeded
	cfgSum     string          // hex sha256 of configFrom and cfg.Raw, by configSum()
	arch       string
}

func readKernelFacts(env *Env) *kernelFacts {
	k := &kernelFacts{release: env.Release, arch: env.Arch}
	k.code, k.codeErr = env.host.VersionCode()
	cfg, err := env.host.KernelConfigFile(env.Release)
	if err != nil {
		k.configErr = err
	} else {
		k.cfg, k.configFrom = cfg, cfg.Origin
	}
	return k
}

// kconfig returns the running kernel's parsed config (decompressing and
// parsing it on first use), or nil with configErr set.
func (k *kernelFacts) kconfig() *kconfig.Config {
	if k.config != nil || k.configErr != nil {
		return k.config
	}
	if err := k.cfg.Decode(); err != nil {
		k.configErr = err
		return nil
	}
	k.config, k.configErr = kconfig.Parse(k.cfg.Data)
	return k.config
}

// configSum identifies the running kernel's config file as read, without
// decompressing it.
func (k *kernelFacts) configSum() string {
	if k.cfgSum == "" {
		h := sha256.New()
		h.Write([]byte(k.configFrom))
		h.Write([]byte{0})
		h.Write(k.cfg.Raw)
		k.cfgSum = hex.EncodeToString(h.Sum(nil))
	}
	return k.cfgSum
}

// configRules names the rules of the config check (kconfig.Compare) that a
// fingerprint vouches for: change it when they change, so that fingerprints
// recorded by an older kheaders are not trusted.
const configRules = "config/v1"

// fingerprint identifies one config check: the rules, the sha256 of the
// running kernel's config file as read (with its path) and the sha256 of
// the headers' autoconf.h. The same fingerprint means the same outcome, so
// a check that passed records its fingerprint in the cache (an identity
// entry "check|RULES KEY CONFIG AUTOCONF" -> the object key, with the symbol
// count as note) and a later call that finds it skips the gunzip, parse
// and comparison; it still reads and hashes both files every time. The
// entry names its object, so two cached objects with the same autoconf.h
// (two builds of one config) each keep their own instead of replacing
// each other's on every call.
type fingerprint struct {
	config, autoconf string
	symbols          int // set when the check passed
}

func (k *kernelFacts) fingerprint(autoconf []byte) *fingerprint {
	s := sha256.Sum256(autoconf)
	return &fingerprint{config: k.configSum(), autoconf: hex.EncodeToString(s[:])}
}

// id is the fingerprint's cache identity for the object key.
func (f *fingerprint) id(key string) string {
	return "check|" + configRules + " " + key + " " + f.config + " " + f.autoconf
}

// verify checks headers against the running kernel: required files,
// UTS_RELEASE, LINUX_VERSION_CODE against the vDSO note, autoconf.h against
// the kernel config, and the arch directory. For a cached object (h.Key)
// the config check may be answered by a fingerprint recorded in the cache
// (see fingerprint); one it makes and passes is left in h.passed.
func (l *locator) verify(h *Headers) []Check {
	if h.trust != "" {
		return []Check{{Name: "trust", Status: CheckOK, Got: h.trust}}
	}
	cs, passed := verifyTree(l.kernel, h.Dir, h.BuildDir, func(fp *fingerprint) (int, bool) { return l.seen(h.Key, fp) })
	h.passed = passed
	return cs
}

// verifyTree verifies the tree at dir (generated headers in build). seen
// (nil: none) says whether a config check with that fingerprint passed
// before, and with how many symbols; passed is the fingerprint of a config
// check this call made and passed.
func verifyTree(k *kernelFacts, dir, build string, seen func(*fingerprint) (int, bool)) (cs []Check, passed *fingerprint) {
	// utsrelease.h and autoconf.h are read below; the files check counts
	// them missing when that read fails, and stats only the other two.
	uts, utsErr := host.ReadFileDirect(filepath.Join(build, "include/generated/utsrelease.h"))
	autoconf, autoconfErr := host.ReadFileDirect(filepath.Join(build, "include/generated/autoconf.h"))
	var missing []string
	for _, name := range []string{"include/linux/kconfig.h", "include/linux/types.h"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			missing = append(missing, name)
		}
	}
	if autoconfErr != nil {
		missing = append(missing, "include/generated/autoconf.h")
	}
	if utsErr != nil {
		missing = append(missing, "include/generated/utsrelease.h")
	}
	if len(missing) > 0 {
		cs = append(cs, Check{Name: "files", Status: CheckMismatch, Want: "complete tree", Got: "missing " + strings.Join(missing, ", ")})
	} else {
		cs = append(cs, Check{Name: "files", Status: CheckOK})
	}

	// Release.
	rel := ""
	if utsErr == nil {
		rel = archive.ParseUTSRelease(uts)
	}
	if rel == k.release {
		cs = append(cs, Check{Name: "release", Status: CheckOK, Want: k.release, Got: rel})
	} else {
		cs = append(cs, Check{Name: "release", Status: CheckMismatch, Want: k.release, Got: rel, Detail: "UTS_RELEASE in include/generated/utsrelease.h"})
	}

	// Version code.
	code, codeFile := uint32(0), ""
	for _, f := range kconfig.VersionFiles {
		if b, err := host.ReadFileDirect(filepath.Join(build, f)); err == nil {
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
	c, passed := checkConfig(k, autoconf, autoconfErr, seen)
	cs = append(cs, c)

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
	return cs, passed
}

// checkConfig compares include/generated/autoconf.h (b as read, or err
// reading it) with the running kernel's config, unless seen knows the
// fingerprint of the two files as one of a passed check. passed is set when this call compared
// and they agreed.
func checkConfig(k *kernelFacts, b []byte, err error, seen func(*fingerprint) (int, bool)) (c Check, passed *fingerprint) {
	if k.configErr != nil {
		return Check{Name: "config", Status: CheckSkipped, Detail: "running kernel's config unavailable: " + k.configErr.Error()}, nil
	}
	if err != nil {
		return Check{Name: "config", Status: CheckMismatch, Want: k.configFrom, Detail: "no include/generated/autoconf.h"}, nil
	}
	fp := k.fingerprint(b)
	if seen != nil {
		if n, ok := seen(fp); ok {
			return Check{Name: "config", Status: CheckOK, Want: k.configFrom, Got: fmt.Sprintf("%d symbols agree", n)}, nil
		}
	}
	cfg := k.kconfig()
	if cfg == nil {
		return Check{Name: "config", Status: CheckSkipped, Detail: "running kernel's config unavailable: " + k.configErr.Error()}, nil
	}
	a, err := kconfig.ParseAutoconf(b)
	if err != nil {
		return Check{Name: "config", Status: CheckMismatch, Want: k.configFrom, Detail: err.Error()}, nil
	}
	diffs := kconfig.Compare(cfg, a)
	if len(diffs) == 0 {
		fp.symbols = cfg.Len()
		return Check{Name: "config", Status: CheckOK, Want: k.configFrom, Got: fmt.Sprintf("%d symbols agree", cfg.Len())}, fp
	}
	d := diffs[0]
	c = Check{Name: "config", Status: CheckMismatch, Want: d.Symbol + "=" + valueOrNot(d.Config), Got: d.Symbol + "=" + valueOrNot(d.Header),
		Detail: fmt.Sprintf("%d symbols differ between %s and autoconf.h", len(diffs), k.configFrom)}
	if len(diffs) > 1 {
		var more []string
		for _, d := range diffs[1:min(len(diffs), 4)] {
			more = append(more, d.Symbol)
		}
		c.Detail += "; next: " + strings.Join(more, ", ")
	}
	return c, nil
}

func valueOrNot(v string) string {
	if v == "" || v == "n" {
		return "n"
	}
	return v
}

// kconfigOrNil is kconfig on possibly absent facts (an Env made outside
// Locate).
func (k *kernelFacts) kconfigOrNil() *kconfig.Config {
	if k == nil {
		return nil
	}
	return k.kconfig()
}
