package btfc

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Snippets compiled with clang -g -target bpf; every type reachable from a
// global variable or function ends up in the object's BTF.
var snippets = []struct {
	name string
	src  string
}{
	{"basic", `
typedef unsigned int u32;
typedef unsigned long long u64;
struct list_head { struct list_head *next, *prev; };
struct bits {
	unsigned int a: 3;
	unsigned int b: 5;
	int c: 10;
	char d;
	unsigned long e: 33;
	long f;
	unsigned int g: 1;
};
struct padded {
	char a;
	long b;
	char c;
	int d __attribute__((aligned(16)));
	short e;
} __attribute__((aligned(64)));
struct __attribute__((packed)) packed {
	char a;
	int b;
	short c;
	long d;
};
struct holds_packed { char x; struct packed p; int y; };
union u { int i; float f; double d; char raw[8]; struct { short lo, hi; }; };
struct nested {
	int kind;
	union {
		struct { int x, y; } pt;
		struct { long a; char b; };
		u64 wide;
	};
	struct { int inner; } named_anon;
	struct list_head list;
	const volatile int *cvp;
	int *const cp;
	int *restrict rp;
	const char *const names[4];
	int matrix[3][4][5];
	int (*fp)(int, const char *);
	void (*(*fpp)(void))(int);
	int (*arr_of_fp[2])(void);
	char flex[];
};
typedef struct { int anon_td; } anon_td_t;
typedef int (*callback_t)(struct nested *n, ...);
typedef const int cint_arr[10];
struct uses { anon_td_t a; callback_t cb; cint_arr ca; struct fwd_only *fwd; union fwd_union *fu; };

struct bits g_bits;
struct padded g_padded;
struct packed g_packed;
struct holds_packed g_hp;
union u g_u;
struct nested g_nested;
struct uses g_uses;
`},
	{"enums", `
enum small { S_A = 1, S_B = 2 } __attribute__((packed));
enum neg { N_MINUS = -5, N_ZERO = 0, N_BIG = 2147483647 };
enum big { B_ONE = 1, B_HUGE = 0xffffffff0ULL };
enum wide_small { W_A = 1 } __attribute__((mode(word)));
enum { CONST_A = 10, CONST_B = 20 };
enum dup1 { DUP = 1 };
struct with_enums {
	enum small s;
	enum neg n;
	enum big b;
	enum wide_small w;
	enum { INLINE_X, INLINE_Y } inl;
	char after;
};
struct with_enums g_we;
int g_const = CONST_A + CONST_B;
`},
	{"cycles", `
struct b;
struct a { struct b *b; int x; };
struct b { struct a a; struct b *self; };
struct c;
typedef struct c c_t;
struct d { c_t *c; };
struct c { struct d d; c_t *again; };
struct e { struct { struct e *up; struct f { int leaf; } f; } inner; };
struct a g_a;
struct c g_c;
struct e g_e;
`},
	{"tags", `
#define __user __attribute__((btf_type_tag("user")))
#define __rcu __attribute__((btf_type_tag("rcu")))
struct tagged {
	int __user *up;
	const char __user *const __rcu *cp;
	int plain __attribute__((btf_decl_tag("member_tag")));
} __attribute__((btf_decl_tag("struct_tag")));
typedef int __user *uptr_t __attribute__((btf_decl_tag("typedef_tag")));
struct tagged g_tagged;
uptr_t g_uptr;
int tagged_fn(int a __attribute__((btf_decl_tag("param_tag"))), struct tagged *t) { return a + (t != 0); }
`},
	{"kfuncs", `
struct task { int pid; };
struct cpumask { unsigned long bits[4]; };
__attribute__((btf_decl_tag("bpf_kfunc"))) struct task *bpf_task_acquire(struct task *p) { return p; }
__attribute__((btf_decl_tag("bpf_kfunc"))) __attribute__((btf_decl_tag("bpf_fastcall"))) int bpf_cpumask_first(const struct cpumask *m) { return (int)m->bits[0]; }
__attribute__((btf_decl_tag("bpf_kfunc"))) void bpf_a_first(void) {}
int not_a_kfunc(int x) { return x; }
`},
}

func TestGolden(t *testing.T) {
	for _, sn := range snippets {
		t.Run(sn.name, func(t *testing.T) {
			data := compileBTF(t, sn.src)
			spec := loadSpec(t, data)
			if *update {
				// Seeds for FuzzGenerate: the raw .BTF of each snippet.
				raw, err := SectionBTF(data)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(filepath.Join("testdata", "seeds"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join("testdata", "seeds", sn.name+".btf"), raw, 0o644); err != nil {
					t.Fatal(err)
				}
			}

			def := generateT(t, spec, &Options{})
			golden(t, sn.name+".h", def)
			golden(t, sn.name+".sorted.h", generateT(t, spec, &Options{Sort: true}))
			if sn.name == "kfuncs" {
				golden(t, sn.name+".kfuncs.h", generateT(t, spec, &Options{Sort: true, Kfuncs: true}))
			}

			// The default header compiles and every layout matches BTF.
			asserts, ast, err := spec.LayoutAsserts(&Options{})
			if err != nil {
				t.Fatal(err)
			}
			if ast.Records == 0 {
				t.Fatalf("LayoutAsserts checked no records")
			}
			if recs, n := layoutFailures(t, def, asserts); n != 0 {
				t.Errorf("%d layout failures against the default header: %v", n, recs)
			}
		})
	}
}

// TestGoldenMatchesBpftool checks the compat mode against Debian's bpftool
// on every snippet.
func TestGoldenMatchesBpftool(t *testing.T) {
	needTool(t, "bpftool", "bpftool")
	for _, sn := range snippets {
		t.Run(sn.name, func(t *testing.T) {
			data := compileBTF(t, sn.src)
			obj := filepath.Join(t.TempDir(), "x.o")
			if err := os.WriteFile(obj, data, 0o644); err != nil {
				t.Fatal(err)
			}
			want := bpftoolDump(t, obj)
			got := generateT(t, loadSpec(t, data), &Options{Compat: CompatBpftool71})
			if !bytes.Equal(got, want) {
				t.Errorf("compat output differs from bpftool:\n%s", lineDiff(want, got))
			}
		})
	}
}

func TestTypesFilter(t *testing.T) {
	spec := loadSpec(t, compileBTF(t, snippets[0].src))
	got := string(generateT(t, spec, &Options{Types: []string{"struct uses", "bits"}}))
	for _, want := range []string{"typedef int (*callback_t)(struct nested *, ...);", "struct uses {", "struct bits {", "struct fwd_only;", "struct nested;"} {
		if !strings.Contains(got, want) {
			t.Errorf("--types output lacks %q:\n%s", want, got)
		}
	}
	for _, unwanted := range []string{"struct padded {", "struct nested {", "union u {"} {
		if strings.Contains(got, unwanted) {
			t.Errorf("--types output has %q, which was not asked for", unwanted)
		}
	}
	golden(t, "basic.types.h", []byte(got))

	if _, _, err := spec.Generate(&Options{Types: []string{"no_such_type"}}); err == nil {
		t.Errorf("Generate(--types no_such_type) = nil error, want ErrNotFound")
	}
	if _, _, err := spec.Generate(&Options{Types: []string{"class foo"}}); err == nil {
		t.Errorf("Generate(--types 'class foo') = nil error, want ErrNotFound")
	}
}

// TestBigEndian: BTF of a big-endian target (clang -target bpfeb) gives the
// same C as little-endian BTF.
func TestBigEndian(t *testing.T) {
	le := loadSpec(t, compileBTF(t, snippets[0].src))
	be := loadSpec(t, compileBTFTarget(t, snippets[0].src, "bpfeb"))
	for _, opts := range []*Options{{}, {Sort: true}} {
		if l, b := generateT(t, le, opts), generateT(t, be, opts); !bytes.Equal(l, b) {
			t.Errorf("big-endian BTF gives different C (%+v):\n%s", opts, lineDiff(l, b))
		}
	}
}

// Test32Bit: BTF of a 32-bit target (clang for armv7, BTF by pahole -J from
// its DWARF) pads with 32-bit longs; the header matches bpftool and its
// layouts hold when compiled for armv7.
func Test32Bit(t *testing.T) {
	clang := needTool(t, "clang", "clang")
	pahole := needTool(t, "pahole", "dwarves")
	dir := t.TempDir()
	src := `
struct s32 { char a; long b; long long c; void *p; char d; } __attribute__((aligned(32)));
struct bits32 { unsigned long x: 20; unsigned long y: 20; char z; long tail[3]; };
struct __attribute__((packed)) p32 { char a; long long b; int *c; };
struct s32 g1; struct bits32 g2; struct p32 g3;
`
	c, o := filepath.Join(dir, "a.c"), filepath.Join(dir, "a.o")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{
		{clang, "-g", "-O2", "-target", "armv7-linux-gnueabihf", "-c", c, "-o", o},
		{pahole, "-J", o},
	} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Skipf("%v: %v\n%s", cmd, err, out)
		}
	}
	data, err := os.ReadFile(o)
	if err != nil {
		t.Fatal(err)
	}
	b := loadSpec(t, data)
	h, st, err := b.Generate(&Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.PtrSize != 4 {
		t.Errorf("PtrSize = %d, want 4", st.PtrSize)
	}
	golden(t, "arm32.h", h)
	if _, err := exec.LookPath("bpftool"); err == nil {
		if want := bpftoolDump(t, o); !bytes.Equal(generateT(t, b, &Options{Compat: CompatBpftool71}), want) {
			t.Errorf("32-bit compat output differs from bpftool")
		}
	}
	asserts, _, err := b.LayoutAsserts(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"vmlinux.h": h, "asserts.inc": asserts, "check.c": []byte("#include \"vmlinux.h\"\n#include \"asserts.inc\"\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(clang, "-target", "armv7-linux-gnueabihf", "-fsyntax-only", "check.c")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("32-bit header fails its layout oracle for armv7: %v\n%s", err, out)
	}
}

// TestGCCPahole: BTF that pahole -J makes from GCC's DWARF, as for kernels
// (the __gnuc_va_list fix-up, qualifiers on arrays and noreturn function
// pointers), matches bpftool.
func TestGCCPahole(t *testing.T) {
	gcc := needTool(t, "gcc", "gcc")
	pahole := needTool(t, "pahole", "dwarves")
	needTool(t, "bpftool", "bpftool")
	dir := t.TempDir()
	c, o := filepath.Join(dir, "g.c"), filepath.Join(dir, "g.o")
	src := `#include <stdarg.h>
typedef void (*noret_fn)(int) __attribute__((noreturn));
struct q { const int arr[3]; volatile noret_fn die; va_list va; const volatile char cv[2][3]; int (*(*fpa)[4])(void); };
struct q gq;
void vfn(const char *fmt, ...) {}
int (*getf(void))(int) { return 0; }
`
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{gcc, "-g", "-c", c, "-o", o}, {pahole, "-J", o}} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Skipf("%v: %v\n%s", cmd, err, out)
		}
	}
	data, err := os.ReadFile(o)
	if err != nil {
		t.Fatal(err)
	}
	got := generateT(t, loadSpec(t, data), &Options{Compat: CompatBpftool71})
	if want := bpftoolDump(t, o); !bytes.Equal(got, want) {
		t.Errorf("compat output differs from bpftool:\n%s", lineDiff(want, got))
	}
	if !bytes.Contains(got, []byte("typedef __builtin_va_list __gnuc_va_list;")) {
		t.Errorf("no __gnuc_va_list fix-up in:\n%s", got)
	}
}
