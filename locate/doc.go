// Package locate finds the kernel headers of the running kernel, verifies
// them against it, caches extractions safely and hands them out as a
// directory, an fs.FS, compiler flags and environment variables for bcc and
// bpftrace.
//
// Headers come from a chain of Sources (see DefaultSources): an explicit
// override, the cache, /lib/modules/R/{build,source}, distro directories,
// /sys/kernel/kheaders.tar.xz, the kheaders module file read without loading
// it, and loading the module when permitted. Every attempt is reported.
package locate
