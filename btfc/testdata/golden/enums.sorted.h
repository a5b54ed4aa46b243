#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

enum big {
	B_ONE = 1,
	B_HUGE = 4294967280,
} __attribute__((mode(word)));

enum neg {
	N_MINUS = 4294967291,
	N_ZERO = 0,
	N_BIG = 2147483647,
};

enum small {
	S_A = 1,
	S_B = 2,
} __attribute__((mode(byte)));

enum wide_small {
	W_A = 1,
} __attribute__((mode(word)));

struct with_enums {
	enum small s;
	enum neg n;
	enum big b;
	enum wide_small w;
	enum {
		INLINE_X = 0,
		INLINE_Y = 1,
	} inl;
	char after;
};

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
