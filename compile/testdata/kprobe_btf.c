// A CO-RE kprobe program for a vmlinux.h derived from BTF (compile.Compile's
// one-step pipeline).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} last_pid SEC(".maps");

SEC("kprobe/do_nanosleep")
int BPF_KPROBE(kprobe_do_nanosleep)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u32 key = 0, pid = BPF_CORE_READ(task, pid);

	bpf_map_update_elem(&last_pid, &key, &pid, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
