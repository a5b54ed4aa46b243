#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

struct tagged {
	int __attribute__((btf_type_tag("user"))) *up;
	const char __attribute__((btf_type_tag("user"))) * const __attribute__((btf_type_tag("rcu"))) *cp;
	int plain;
};

typedef int __attribute__((btf_type_tag("user"))) *uptr_t;

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
