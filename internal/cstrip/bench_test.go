package cstrip

import (
	"bytes"
	"testing"
)

// benchHeader looks like a kernel header: SPDX line, block and // comments,
// macros with strings, splices.
var benchHeader = bytes.Repeat([]byte(`/*
 * struct foo - a thing
 * @a: the a
 */
struct foo {
	int a;		/* the a */
	char *s;	// the string
};
#define FOO(x) do { \
	asm volatile("nop /* not a comment */" : : "r" (x)); \
} while (0)
`), 2000)

func BenchmarkStrip(b *testing.B) {
	b.SetBytes(int64(len(benchHeader)))
	for b.Loop() {
		Strip(benchHeader)
	}
}

func BenchmarkKbuild(b *testing.B) {
	b.SetBytes(int64(len(benchHeader)))
	for b.Loop() {
		Kbuild(benchHeader)
	}
}
