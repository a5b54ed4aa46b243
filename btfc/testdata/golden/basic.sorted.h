#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

typedef const int cint_arr[10];

typedef unsigned long long u64;

typedef struct {
	int anon_td;
} anon_td_t;

struct bits {
	unsigned int a: 3;
	unsigned int b: 5;
	int c: 10;
	char d;
	unsigned long e: 33;
	long f;
	unsigned int g: 1;
};

struct packed {
	char a;
	int b;
	short c;
	long d;
} __attribute__((packed));

struct holds_packed {
	char x;
	struct packed p;
	int y;
};

struct list_head {
	struct list_head *next;
	struct list_head *prev;
};

struct nested {
	int kind;
	union {
		struct {
			int x;
			int y;
		} pt;
		struct {
			long a;
			char b;
		};
		u64 wide;
	};
	struct {
		int inner;
	} named_anon;
	struct list_head list;
	volatile const int *cvp;
	int * const cp;
	int * restrict rp;
	const char * const names[4];
	int matrix[3][4][5];
	int (*fp)(int, const char *);
	void (* (*fpp)(void))(int);
	int (*arr_of_fp[2])(void);
	char flex[0];
};

struct padded {
	char a;
	long b;
	char c;
	long: 64;
	int d;
	short e;
	long: 64;
	long: 64;
	long: 64;
};

union u {
	int i;
	float f;
	double d;
	char raw[8];
	struct {
		short lo;
		short hi;
	};
};

typedef int (*callback_t)(struct nested *, ...);

struct fwd_only;

union fwd_union;

struct uses {
	anon_td_t a;
	callback_t cb;
	cint_arr ca;
	struct fwd_only *fwd;
	union fwd_union *fu;
};

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
