// Package locate finds the kernel headers of the running kernel, verifies
// them against it, caches extractions safely and hands them out as a
// directory, an fs.FS, compiler flags and environment variables for bcc and
// bpftrace.
//
// Headers come from the explicit source when one is given (Options.Override:
// those headers or none), else from a chain of Sources (DefaultSources): the
// cache, /lib/modules/R/{build,source}, distro directories,
// /sys/kernel/kheaders.tar.xz, an initramfs segment (kheaders initramfs),
// the kheaders module file read without loading it, loading the module when
// permitted, an OCI registry (Options.Registry), and vmlinux.h made from the
// kernel's BTF. Options.Target runs the chain against a remote kernel. Every attempt is reported, with its reason and fix.
package locate
