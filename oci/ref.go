package oci

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// parseRepository splits "host[:port]/name" and checks both parts by the
// distribution grammar: name components are lowercase alphanumerics joined
// by '.', '_', '__' or runs of '-', separated by '/'. A tag or digest is an
// error. Hand-written (no regexp) so that the package has no init work.
func parseRepository(s string) (host, name string, err error) {
	if strings.Contains(s, "@") {
		return "", "", errors.New("give the repository without a tag or digest")
	}
	host, name, ok := strings.Cut(s, "/")
	if !ok || host == "" || name == "" {
		return "", "", errors.New("want HOST[:PORT]/NAME")
	}
	last := name[strings.LastIndexByte(name, '/')+1:]
	if strings.Contains(last, ":") {
		return "", "", errors.New("give the repository without a tag or digest")
	}
	if u, err := url.Parse("dummy://" + host); err != nil || u.Host != host || u.User != nil || u.Path != "" {
		return "", "", fmt.Errorf("registry %q is not HOST[:PORT]", host)
	}
	if len(name) > 255 {
		return "", "", errors.New("repository name longer than 255 characters")
	}
	for _, comp := range strings.Split(name, "/") {
		if !validComponent(comp) {
			return "", "", fmt.Errorf("repository component %q: want lowercase letters and digits joined by '.', '_' or '-' (HOST[:PORT]/NAME, lowercase)", comp)
		}
	}
	return host, name, nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// validComponent: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
func validComponent(s string) bool {
	i := 0
	for {
		j := i
		for j < len(s) && isAlnum(s[j]) {
			j++
		}
		if j == i {
			return false
		}
		if j == len(s) {
			return true
		}
		k := j
		switch s[k] {
		case '.':
			k++
		case '_':
			k++
			if k < len(s) && s[k] == '_' {
				k++
			}
		case '-':
			for k < len(s) && s[k] == '-' {
				k++
			}
		default:
			return false
		}
		i = k
	}
}

// validTag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
func validTag(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlnum(c) || c >= 'A' && c <= 'Z' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// validSHA256 reports whether d is "sha256:" and 64 lowercase hex digits.
func validSHA256(d string) bool {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if !(h[i] >= '0' && h[i] <= '9' || h[i] >= 'a' && h[i] <= 'f') {
			return false
		}
	}
	return true
}
