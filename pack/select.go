package pack

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// file is one member of the archive before its content is read.
type file struct {
	rel  string      // path relative to the archive root, no "./"
	abs  string      // where to read it
	mode fs.FileMode // from Lstat
	link string      // symlink target when mode is a symlink
	size int64
}

// era describes how a kernel version builds the archive (see
// docs/pack.md and the reference's sections 2 and 4).
type era struct {
	allFiles     bool // 5.2: every file but *.cmd and dot files, src always archived
	lists        bool // 6.17+: srclist (no generated/) + objlist (generated/ only)
	rmUtsversion bool // 6.14-6.16: include/generated/utsversion.h removed
	excludeSilly bool // 6.12.10-6.14: tar --exclude=".__afs*" --exclude=".nfs*"
	pathSort     bool // 5.4-6.4: find | LC_ALL=C sort (full-path order)
	normMode     bool // 6.10+: --mode=u=rw,go=r,a+X
}

func eraOf(v kernelVersion) era {
	var e era
	e.allFiles = v.less(5, 3)
	e.lists = v.atLeast(6, 17)
	e.rmUtsversion = v.atLeast(6, 14) && v.less(6, 17)
	e.excludeSilly = v.Major == 6 && (v.Minor == 12 && v.Sub >= 10 || v.Minor == 13 || v.Minor == 14)
	e.pathSort = v.atLeast(5, 4) && v.less(6, 5)
	e.normMode = v.atLeast(6, 10)
	return e
}

// dirList is the roots Kbuild archives (dir_list in gen_kheaders.sh).
func dirList(srcarch string) []string {
	return []string{"include", "arch/" + srcarch + "/include"}
}

// walk lists the non-directory entries under root/dir (not following
// symlinks, like find) that keep says to keep, as paths relative to root.
// A missing dir is not an error (find only warns and Kbuild goes on, except
// under set -e; see the callers).
func walk(root, dir string, keep func(rel string, d fs.DirEntry) (bool, error)) ([]string, error) {
	var out []string
	base := filepath.Join(root, dir)
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == base {
				return fs.SkipDir
			}
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		ok, err := keep(rel, d)
		if err != nil {
			return err
		}
		if ok && !d.IsDir() {
			out = append(out, rel)
		}
		return nil
	})
	return out, err
}

func isHeader(_ string, d fs.DirEntry) (bool, error) {
	return strings.HasSuffix(d.Name(), ".h"), nil
}

// sillyRename matches GNU tar's --exclude=".__afs*" --exclude=".nfs*",
// which apply to any path component.
func sillyRename(rel string) bool {
	for _, c := range strings.Split(rel, "/") {
		if strings.HasPrefix(c, ".__afs") || strings.HasPrefix(c, ".nfs") {
			return true
		}
	}
	return false
}

// readList reads a 6.17+ kheaders-srclist/objlist file: one path a line.
func readList(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

// selectFiles returns the archive's non-directory members, sorted by path,
// with objtree entries replacing srctree ones of the same path.
func selectFiles(o *Options, v kernelVersion, e era) ([]file, error) {
	members := map[string]file{}
	add := func(root string, rels []string) error {
		for _, rel := range rels {
			abs := filepath.Join(root, filepath.FromSlash(rel))
			fi, err := os.Lstat(abs)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrUnreadable, err)
			}
			f := file{rel: path.Clean(rel), abs: abs, mode: fi.Mode(), size: fi.Size()}
			if fi.Mode()&fs.ModeSymlink != 0 {
				if f.link, err = os.Readlink(abs); err != nil {
					return fmt.Errorf("%w: %v", ErrUnreadable, err)
				}
			} else if !fi.Mode().IsRegular() {
				continue // sockets, fifos, devices: Kbuild's cpio would copy them; nobody has them
			}
			members[f.rel] = f
		}
		return nil
	}
	outOfTree := o.srcTree() != o.objTree()
	switch {
	case e.lists && (o.SrcList != "" || o.ObjList != ""):
		// Kbuild 6.17+: lists made by kernel/Makefile; srclist paths start
		// with $(srctree)/, objlist paths are relative to the objtree.
		src, err := readList(o.SrcList)
		if err != nil {
			return nil, fmt.Errorf("%w: srclist: %v", ErrUnreadable, err)
		}
		prefix := strings.TrimSuffix(o.srcTree(), "/") + "/"
		for i, s := range src {
			src[i] = strings.TrimPrefix(s, prefix)
			if o.SrcTreeArg != "" {
				src[i] = strings.TrimPrefix(src[i], strings.TrimSuffix(o.SrcTreeArg, "/")+"/")
			}
			if filepath.IsAbs(src[i]) || strings.HasPrefix(src[i], "../") {
				return nil, fmt.Errorf("%w: srclist line %q is not under srctree %q", ErrUnreadable, s, o.srcTree())
			}
		}
		obj, err := readList(o.ObjList)
		if err != nil {
			return nil, fmt.Errorf("%w: objlist: %v", ErrUnreadable, err)
		}
		if err := add(o.srcTree(), src); err != nil {
			return nil, err
		}
		if err := add(o.objTree(), obj); err != nil {
			return nil, err
		}
	case e.lists:
		for _, d := range dirList(o.SRCARCH) {
			gen := d + "/generated"
			rels, err := walk(o.srcTree(), d, func(rel string, de fs.DirEntry) (bool, error) {
				if rel == gen {
					return false, fs.SkipDir
				}
				return strings.HasSuffix(de.Name(), ".h"), nil
			})
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
			}
			if err := add(o.srcTree(), rels); err != nil {
				return nil, err
			}
		}
		for _, d := range dirList(o.SRCARCH) {
			rels, err := walk(o.objTree(), d+"/generated", func(rel string, de fs.DirEntry) (bool, error) {
				return rel != "include/generated/utsversion.h" && strings.HasSuffix(de.Name(), ".h"), nil
			})
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
			}
			if err := add(o.objTree(), rels); err != nil {
				return nil, err
			}
		}
	default:
		keep := isHeader
		if e.allFiles {
			keep = func(_ string, d fs.DirEntry) (bool, error) {
				n := d.Name()
				return !strings.HasPrefix(n, ".") && !strings.HasSuffix(n, ".cmd"), nil
			}
		}
		roots := []string{o.objTree()}
		if outOfTree || e.allFiles {
			roots = []string{o.srcTree(), o.objTree()}
		}
		for i, root := range roots {
			if i == 1 && root == roots[0] {
				break
			}
			for _, d := range dirList(o.SRCARCH) {
				rels, err := walk(root, d, keep)
				if err != nil {
					return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
				}
				if err := add(root, rels); err != nil {
					return nil, err
				}
			}
		}
		if e.allFiles {
			if err := add(o.srcTree(), []string{"kernel/gen_kheaders.sh"}); err != nil {
				return nil, err
			}
		}
	}
	if e.rmUtsversion {
		delete(members, "include/generated/utsversion.h")
	}
	out := make([]file, 0, len(members))
	for _, f := range members {
		if e.excludeSilly && sillyRename(f.rel) {
			continue
		}
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].rel < out[j].rel })
	return out, nil
}

// member is one tar entry in archive order.
type member struct {
	name string // "./..." with a trailing "/" for directories
	dir  bool
	f    *file // nil for directories
}

// order returns the archive members: the directories that hold the files
// (created by Kbuild's copy step) and the files, in the order GNU tar
// --sort=name gives (each directory's entries sorted by name, depth first),
// or in full-path order for eras that piped `find | LC_ALL=C sort` to tar.
func order(files []file, pathSort bool) []member {
	type node struct {
		name     string
		children map[string]*node
		f        *file
	}
	root := &node{children: map[string]*node{}}
	for i := range files {
		parts := strings.Split(files[i].rel, "/")
		n := root
		for j, p := range parts {
			c := n.children[p]
			if c == nil {
				c = &node{name: p}
				if j < len(parts)-1 {
					c.children = map[string]*node{}
				}
				n.children[p] = c
			}
			if j == len(parts)-1 {
				c.f = &files[i]
			} else if c.children == nil {
				c.children = map[string]*node{} // file and dir of one name: dir wins
			}
			n = c
		}
	}
	var out []member
	var rec func(n *node, prefix string)
	rec = func(n *node, prefix string) {
		names := make([]string, 0, len(n.children))
		for k := range n.children {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			c := n.children[k]
			if c.children != nil {
				out = append(out, member{name: prefix + k + "/", dir: true})
				rec(c, prefix+k+"/")
			} else {
				out = append(out, member{name: prefix + k, f: c.f})
			}
		}
	}
	out = append(out, member{name: "./", dir: true})
	rec(root, "./")
	if pathSort {
		// find -printf "./%P\n" | LC_ALL=C sort: directories compare
		// without their trailing slash.
		key := func(m member) string { return strings.TrimSuffix(m.name, "/") }
		sort.SliceStable(out[1:], func(i, j int) bool { return key(out[1+i]) < key(out[1+j]) })
	}
	return out
}
