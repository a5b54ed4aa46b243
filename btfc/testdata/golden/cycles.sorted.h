#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

struct b;

struct a {
	struct b *b;
	int x;
};

struct c;

typedef struct c c_t;

struct d {
	c_t *c;
};

struct c {
	struct d d;
	c_t *again;
};

struct f {
	int leaf;
};

struct e {
	struct {
		struct e *up;
		struct f f;
	} inner;
};

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
