package archive_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"

	"github.com/kheaders/kheaders/archive"
)

// ExampleExtract extracts a real kheaders_data.tar.xz (the archive of
// testdata/kernels/bzImage-x86_64-net-n, see its README) into a directory
// that does not exist yet: it appears complete or not at all.
func ExampleExtract() {
	f, err := os.Open("../testdata/kernels/kheaders-x86_64-net-n.tar.xz")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	tmp, err := os.MkdirTemp("", "kheaders-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	dir := filepath.Join(tmp, "headers")
	m, err := archive.Extract(context.Background(), f, dir, &archive.Options{NoHash: true})
	if err != nil {
		// errors.Is tells a corrupt input (ErrFormat) from an entry that
		// would leave dir (ErrUnsafe) or a decompression bomb (ErrLimit).
		log.Fatal(err)
	}
	fmt.Println("format:", m.Format, "release:", m.Release)
	fmt.Printf("archive: %d bytes, sha256 %s\n", m.ArchiveSize, m.ArchiveSHA256)
	fmt.Println("files:", m.Files, "entries:", len(m.Entries), "bytes:", m.Bytes)
	uts, err := os.ReadFile(filepath.Join(dir, "include/generated/utsrelease.h"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s", uts)
	// Output:
	// format: xz release: 6.12.117-net-n
	// archive: 4342460 bytes, sha256 b7644f8d0718b19fc42dfe0491133a6f5b0fb5f3126a762509e38e7e377a3407
	// files: 6680 entries: 7027 bytes: 28793886
	// #define UTS_RELEASE "6.12.117-net-n"
}

// ExampleLoad reads an archive into memory and serves it as an fs.FS
// (symlinks followed within the tree), without writing anything to disk.
func ExampleLoad() {
	f, err := os.Open("../testdata/kernels/kheaders-x86_64-net-n.tar.xz")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	tree, err := archive.Load(context.Background(), f, nil)
	if err != nil {
		log.Fatal(err)
	}
	conf, err := tree.ReadFile("include/generated/autoconf.h")
	if err != nil {
		log.Fatal(err)
	}
	sched, err := fs.Glob(tree, "include/linux/sched/*.h")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("release:", tree.Manifest().Release)
	fmt.Println("CONFIG_BPF_SYSCALL:", bytes.Contains(conf, []byte("#define CONFIG_BPF_SYSCALL 1\n")))
	fmt.Println("include/linux/sched/*.h:", len(sched), "files, first", sched[0])
	// Output:
	// release: 6.12.117-net-n
	// CONFIG_BPF_SYSCALL: true
	// include/linux/sched/*.h: 38 files, first include/linux/sched/affinity.h
}
