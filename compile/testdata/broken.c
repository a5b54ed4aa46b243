// Does not compile: clang's diagnostic must reach the caller unchanged.
#include <linux/sched.h>
int f(struct task_struct *t) { return t->no_such_field_kheaders; }
