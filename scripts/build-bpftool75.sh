#!/bin/bash
# build-bpftool75.sh: builds bpftool 7.5 (libbpf 1.5) from Debian's
# linux-source-6.12 tarball, the reference for `kheaders btf --compat
# bpftool-7.5` and --sort/--kfuncs (Debian 12 ships only bpftool 7.1). Only
# tools/, scripts/, include/uapi/ and kernel/bpf/disasm.* are unpacked.
# Usage: scripts/build-bpftool75.sh [DIR]   (default /var/tmp/kheaders-bpftool75;
# the binary is DIR/bpftool). About a minute on 2 cores. The btfc tests use
# it when present (or $KHEADERS_BPFTOOL75) and skip otherwise.
set -euo pipefail
dir=${1:-/var/tmp/kheaders-bpftool75}
src=/usr/src/linux-source-6.12.tar.xz
[ -f "$src" ] || { echo "build-bpftool75: $src missing: apt-get install linux-source-6.12" >&2; exit 2; }
for t in make gcc clang; do command -v $t >/dev/null || { echo "build-bpftool75: needs $t" >&2; exit 2; }; done
# The version check reads all of bpftool's output (no `| head`, whose early exit
# can kill bpftool with SIGPIPE, which pipefail turns into a failed step) and
# insists on 7.5: a different or broken binary at $dir is rebuilt.
check() { local v; v=$("$dir/bpftool" version 2>&1) && [[ $v == "bpftool v7.5."* ]] && echo "${v%%$'\n'*}"; }
[ -x "$dir/bpftool" ] && check && exit 0
work=$(mktemp -d "${TMPDIR:-/tmp}/bpftool75.XXXXXX"); trap 'rm -rf "$work"' EXIT
tar -C "$work" -xf "$src" --wildcards 'linux-source-6.12/tools' 'linux-source-6.12/scripts' \
  'linux-source-6.12/include/uapi' 'linux-source-6.12/kernel/bpf/disasm.*' 'linux-source-6.12/Makefile'
make -C "$work/linux-source-6.12/tools/bpf/bpftool" -j"$(nproc)" feature-clang-bpf-co-re=0 >"$work/build.log" 2>&1 ||
  { tail -20 "$work/build.log" >&2; exit 1; }
mkdir -p "$dir"
cp "$work/linux-source-6.12/tools/bpf/bpftool/bpftool" "$dir/bpftool.tmp"
mv "$dir/bpftool.tmp" "$dir/bpftool"
check || { echo "build-bpftool75: the built bpftool does not say v7.5:" >&2; "$dir/bpftool" version >&2; exit 1; }
