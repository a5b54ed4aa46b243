package cstrip

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestStrip(t *testing.T) {
	tests := []struct {
		name, in, want, keepLines string
	}{
		{"empty", "", "", ""},
		{"no comment", "int a;\n", "int a;\n", ""},
		{"trailing block", "int a; /* x */\n", "int a;\n", ""},
		{"whole line block", "a;\n\t/* x */\nb;\n", "a;\nb;\n", "a;\n\nb;\n"},
		{"multi-line block", "a;\n/* x\n * y\n */\nb;\n", "a;\nb;\n", "a;\n\n\n\nb;\n"},
		{"paste ident", "a/**/b", "a b", ""},
		{"paste punct", "x = a-/**/-b;", "x = a- -b;", ""},
		{"blank before", "a /**/b", "a b", ""},
		{"blank after", "a/**/ b", "a b", ""},
		{"function-like macro stays object-like", "#define f/**/(x) x\n", "#define f (x) x\n", ""},
		{"string keeps slash star", "#define GLOB \"/sys/*\"   /* c */\n", "#define GLOB \"/sys/*\"\n", ""},
		{"CC_SET", "# define CC_SET(c) \"\\n\\t/* output condition code \" #c \"*/\\n\"\n", "# define CC_SET(c) \"\\n\\t/* output condition code \" #c \"*/\\n\"\n", ""},
		{"char literal", "c = '\"'; /* x */ d = '/'; e = '*';/**/f\n", "c = '\"'; d = '/'; e = '*'; f\n", ""},
		{"escaped quote", "s = \"a\\\"/*\"; /* x */\n", "s = \"a\\\"/*\";\n", ""},
		{"line comment holding block open", "a; // x /* y\nb; /* z */\n", "a;\nb;\n", ""},
		{"line comment", "int a; // hi\nint b;\n", "int a;\nint b;\n", ""},
		{"line comment only line", "a;\n// hi\nb;\n", "a;\nb;\n", "a;\n\nb;\n"},
		{"spliced line comment", "a; // x \\\n y\nb;\n", "a;\nb;\n", "a; \\\n\nb;\n"},
		{"splice inside open", "a/\\\n* x *\\\n/b", "a b", "a \\\n\\\nb"},
		{"splice in directive", "#define X 1 \\\n  /* c */ + 2\n", "#define X 1 \\\n + 2\n", ""},
		{"multi-line in directive", "#define X 1 /* a\n b */ + 2\n", "#define X 1 + 2\n", "#define X 1 \\\n + 2\n"},
		{"multi-line before hash", "x = 1; /* a\n */ #y\n", "x = 1; #y\n", "x = 1; \\\n #y\n"},
		{"directive continuation line kept", "#define X 1 \\\n/* c */\nint y;\n", "#define X 1 \\\n\nint y;\n", ""},
		{"SPDX kept", "/* SPDX-License-Identifier: GPL-2.0 */\n/* x */\nint a;\n", "/* SPDX-License-Identifier: GPL-2.0 */\nint a;\n", ""},
		{"SPDX line comment kept", "// SPDX-License-Identifier: MIT\nint a; // b\n", "// SPDX-License-Identifier: MIT\nint a;\n", ""},
		{"unterminated comment kept", "int a; /* x\n", "int a; /* x\n", ""},
		{"unterminated string", "s = \"abc /* x */\nint b; /* y */\n", "s = \"abc /* x */\nint b;\n", ""},
		{"include header name", "#include <a//b.h> // c\n", "#include <a//b.h>\n", ""},
		{"slash not comment", "x = a / b; /* c */\n", "x = a / b;\n", ""},
		{"comment at EOF no newline", "int a; // c", "int a;", ""},
		{"backslash before blanks kept", "#define A x \\ /* c */\n", "#define A x \\ /* c */\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(Strip([]byte(tt.in)))
			if got != tt.want {
				t.Errorf("Strip(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if d := SameTokens([]byte(tt.in), []byte(got), false); d != "" {
				t.Errorf("Strip(%q): token stream changed: %s", tt.in, d)
			}
			kl := tt.keepLines
			if kl == "" {
				kl = tt.want
				if strings.Count(tt.in, "\n") != strings.Count(tt.want, "\n") {
					kl = "" // not given: only check lines
				}
			}
			got = string(Options{KeepLines: true}.Strip([]byte(tt.in)))
			if kl != "" && got != kl {
				t.Errorf("KeepLines Strip(%q) = %q, want %q", tt.in, got, kl)
			}
			if d := SameTokens([]byte(tt.in), []byte(got), true); d != "" {
				t.Errorf("KeepLines Strip(%q): token stream or lines changed: %s", tt.in, d)
			}
		})
	}
}

// kbuildCases are inputs with the known quirks of the perl regex.
var kbuildCases = []struct {
	name, in, want string
}{
	{"plain", "a /* x */b\n", "a b\n"},
	{"paste", "a/**/b", "ab"},
	{"multi-line", "a\n/* x\n y */\nb\n", "a\n\nb\n"},
	{"string literal eaten", "#define GLOB \"/sys/*\"   /* c */\n", "#define GLOB \"/sys\n"},
	{"CC_SET", "# define CC_SET(c) \"\\n\\t/* output condition code \" #c \"*/\\n\"\n", "# define CC_SET(c) \"\\n\\t\\n\"\n"},
	{"line comment opens", "// x /* y\nint a;\n/* z */ b\n", "// x  b\n"},
	{"line comments kept", "int a; // c\n", "int a; // c\n"},
	{"SPDX kept", "/* SPDX-License-Identifier: GPL-2.0 */\n/* x */\n", "/* SPDX-License-Identifier: GPL-2.0 */\n\n"},
	{"SPDX mention kept", "/* see SPDX */ /* y */", "/* see SPDX */ "},
	{"SPDX then nested open", "/* SPDX /* inner */ tail */", "/* SPDX  tail */"},
	{"SPDX after close", "/* a */SPDX", "SPDX"},
	{"unterminated", "a /* b", "a /* b"},
	{"star slash star", "/*/ x */y", "y"},
	{"empty", "/**/", ""},
	{"two", "/* a *//* b */c", "c"},
	{"no splice awareness", "a/\\\n* x */b", "a/\\\n* x */b"},
	{"SPDX split", "/* SP\nDX */x", "x"},
}

func TestKbuild(t *testing.T) {
	for _, tt := range kbuildCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Kbuild([]byte(tt.in))); got != tt.want {
				t.Errorf("Kbuild(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

const perlExpr = `BEGIN {undef $/;}; s/\/\*((?!SPDX).)*?\*\///smg;`

// TestKbuildMatchesPerl runs the exact Kbuild perl command over the quirk
// inputs and a few more, and compares with Kbuild.
func TestKbuildMatchesPerl(t *testing.T) {
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("perl not found (Debian package perl-base): cannot compare with the Kbuild command")
	}
	inputs := []string{
		strings.Repeat("x", 70000),
		"a /*" + strings.Repeat("y", 70000) + "*/ b",
		"/* SPDX */ /* SPDX /* */ */ */ /* x",
		"/*/*/*/**/*/*/",
		"\x00/*\xff*/\x80SPDX/*SPDX*/",
	}
	for _, c := range kbuildCases {
		inputs = append(inputs, c.in)
	}
	inputs = append(inputs, fuzzSeeds...)
	dir := t.TempDir()
	for i, in := range inputs {
		f := filepath.Join(dir, "h.h")
		if err := os.WriteFile(f, []byte(in), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(perl, "-pi", "-e", perlExpr, f)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("perl: %v: %s", err, out)
		}
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := Kbuild([]byte(in)); !bytes.Equal(got, want) {
			t.Errorf("input %d %.60q: Kbuild = %.80q, perl = %.80q", i, in, got, want)
		}
	}
}

var fuzzSeeds = []string{
	"int a; /* x */\n",
	"a/**/b",
	"#define X \"/*\" // /* \n */",
	"'\\'' /* '\"' */ \"\\\"\"",
	"#include <a/*b> /* c */\n",
	"x \\\n/\\\n*\\\n c *\\\n/ y",
	"/* SPDX-License-Identifier: GPL-2.0 */\n",
	"#define f/**/(x)\n#define g(x) /* a\nb */ x\n",
}

func FuzzStrip(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, o := range []Options{{}, {KeepLines: true}} {
			out := o.Strip(in)
			if !bytes.Contains(in, []byte("/")) && !bytes.Equal(out, in) {
				t.Fatalf("%+v: input without comments changed: %q -> %q", o, in, out)
			}
			limit := len(in) + bytes.Count(in, []byte("/"))
			if o.KeepLines {
				// A comment spanning lines inside a logical line
				// becomes a line splice ("\\\n", 2 bytes) per
				// newline: "/*" n*"\n" "*/" (n+4 bytes) -> " " n*"\\\n".
				limit += bytes.Count(in, []byte("\n"))
			}
			if len(out) > limit {
				t.Fatalf("%+v: output grew: %q -> %q", o, in, out)
			}
			if d := SameTokens(in, out, o.KeepLines); d != "" {
				t.Fatalf("%+v: %q -> %q: %s", o, in, out, d)
			}
		}
		k := Kbuild(in)
		if !bytes.Contains(in, commentOpen) && !bytes.Equal(k, in) {
			t.Fatalf("Kbuild changed input without /*: %q -> %q", in, k)
		}
	})
}

func TestComments(t *testing.T) {
	for _, tt := range []struct {
		in          string
		block, line int
	}{
		{"", 0, 0},
		{"/* a */ b // c\n", 1, 1},
		{"/* SPDX-License-Identifier: GPL-2.0 */\n// SPDX x\n", 0, 0},
		{"s = \"/* no */ // no\"; '/*';\n", 0, 0},
		{"#include <a//b.h>\n", 0, 0},
		{"/* unterminated", 0, 0},
	} {
		b, l := Comments([]byte(tt.in))
		if b != tt.block || l != tt.line {
			t.Errorf("Comments(%q) = %d, %d; want %d, %d", tt.in, b, l, tt.block, tt.line)
		}
	}
}

// TestAsmHeader: headers included from assembly hold unpaired quotes in
// text the C lexer sees as literals; the damage must stay on that line.
func TestAsmHeader(t *testing.T) {
	in := "#ifdef __ASSEMBLY__\n# don't do this /* x */\n\tmov r0, r1 /* y */\n#endif\n"
	want := "#ifdef __ASSEMBLY__\n# don't do this /* x */\n\tmov r0, r1\n#endif\n"
	if got := string(Strip([]byte(in))); got != want {
		t.Errorf("Strip(%q) = %q, want %q", in, got, want)
	}
}
