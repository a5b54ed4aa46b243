#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

struct s32 {
	char a;
	long b;
	long long c;
	void *p;
	char d;
	long: 32;
	long: 32;
};

struct bits32 {
	unsigned long x: 20;
	long: 12;
	unsigned long y: 20;
	char z;
	long tail[3];
};

struct p32 {
	char a;
	long long b;
	int *c;
} __attribute__((packed));

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
