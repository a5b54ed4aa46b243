// Package cstrip removes comments from C headers, in two ways:
//
//   - Kbuild reproduces the perl one-liner of the kernel's
//     kernel/gen_kheaders.sh, s/\/\*((?!SPDX).)*?\*\///smg, byte for byte,
//     quirks included (it is not aware of string literals or // comments).
//   - Strip is a C lexer that removes /* */ and // comments without changing
//     the preprocessing-token stream: literals are respected, line splices are
//     understood, a comment that separates two tokens becomes one space, and
//     comments that mention SPDX are kept.
package cstrip

import "bytes"

var (
	commentOpen  = []byte("/*")
	commentClose = []byte("*/")
	spdx         = []byte("SPDX")
)

// Kbuild returns src with comments removed exactly as Kbuild's
//
//	perl -pi -e 'BEGIN {undef $/;}; s/\/\*((?!SPDX).)*?\*\///smg;'
//
// does: every "/*" starts a candidate match that ends at the first "*/" after
// it, unless "SPDX" starts somewhere before that "*/", in which case the
// candidate fails and the search goes on at the next "/*". Matches are
// replaced by nothing. String literals and // comments are not recognised, so
// a "/*" inside them deletes text up to the next "*/" (the known flaw).
// The result shares no memory with src.
func Kbuild(src []byte) []byte {
	out := make([]byte, 0, len(src))
	last, i := 0, 0
	for {
		k := bytes.Index(src[i:], commentOpen)
		if k < 0 {
			break
		}
		s := i + k
		body := src[s+2:]
		e := bytes.Index(body, commentClose)
		if e < 0 {
			// No "*/" after this start, hence none after any later start.
			break
		}
		if p := bytes.Index(body[:e], spdx); p >= 0 {
			// (?!SPDX) fails at s+2+p for this start and for every start
			// before it (they reach the same position first).
			i = s + 2 + p
			continue
		}
		out = append(out, src[last:s]...)
		last = s + 2 + e + 2
		i = last
	}
	return append(out, src[last:]...)
}
