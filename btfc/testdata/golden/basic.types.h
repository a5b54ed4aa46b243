#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

typedef struct {
	int anon_td;
} anon_td_t;

struct nested;

typedef int (*callback_t)(struct nested *, ...);

typedef const int cint_arr[10];

struct fwd_only;

union fwd_union;

struct uses {
	anon_td_t a;
	callback_t cb;
	cint_arr ca;
	struct fwd_only *fwd;
	union fwd_union *fu;
};

struct bits {
	unsigned int a: 3;
	unsigned int b: 5;
	int c: 10;
	char d;
	unsigned long e: 33;
	long f;
	unsigned int g: 1;
};

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
