// kprobe-pid's BPF program for a vmlinux.h derived from BTF (a kernel with
// BTF and no headers): the same map as kprobe.c, read with CO-RE.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

struct seen {
	__u32 pid;
	__u32 tgid;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct seen);
} seen SEC(".maps");

SEC("kprobe/do_nanosleep")
int kprobe_do_nanosleep(struct pt_regs *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 key = bpf_get_current_pid_tgid();
	struct seen v = {};

	v.pid = BPF_CORE_READ(task, pid);
	v.tgid = BPF_CORE_READ(task, tgid);
	bpf_map_update_elem(&seen, &key, &v, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
