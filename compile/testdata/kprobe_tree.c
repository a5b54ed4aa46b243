// A kprobe program for a full kernel header tree (compile.Compile's two-step
// pipeline): it reads task_struct fields at the offsets the headers give.
#include <linux/sched.h>
#include <linux/ptrace.h>
#include <uapi/linux/bpf.h>
#include <bpf/bpf_helpers.h>

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

	bpf_probe_read_kernel(&v.pid, sizeof(v.pid), &task->pid);
	bpf_probe_read_kernel(&v.tgid, sizeof(v.tgid), &task->tgid);
	bpf_map_update_elem(&seen, &key, &v, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
