#!/bin/bash
# compare-btf.sh: kheaders btf against Debian's bpftool on the same BTF, in
# the same run.
#
# For each SRC (default: /sys/kernel/btf/vmlinux and, when
# scripts/fetch-debian-btf.sh has run, Debian's 6.1 cloud vmlinux):
#   - byte identity of `kheaders btf --compat bpftool-7.1 SRC` with
#     `bpftool btf dump file SRC format c`, and of --compat bpftool-7.5
#     (sorted and unsorted) with bpftool 7.5 when scripts/build-bpftool75.sh
#     has built it;
#   - what the default output changes (lines that differ: enum mode() attributes);
#   - the layout oracle: `kheaders btf --asserts` (sizeof/offsetof of every
#     struct and union, from BTF) compiled with clang -target bpf against both
#     headers, failures counted;
#   - timing: RUNS interleaved runs of each tool (default 5; bpftool 7.5 and
#     --compat bpftool-7.5 too when present): median wall, CPU (user+sys)
#     seconds and peak RSS (scripts/timing.sh), the ratios kheaders/bpftool,
#     and the load average around the timed runs.
# Usage: scripts/compare-btf.sh [SRC...]     env RUNS, KHEADERS (a built binary)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
. scripts/timing.sh
for t in bpftool clang /usr/bin/time; do
  command -v $t >/dev/null || { echo "compare-btf: needs $t (Debian packages bpftool, clang, time)" >&2; exit 2; }
done
srcs=("$@")
if [ ${#srcs[@]} -eq 0 ]; then
  [ -r /sys/kernel/btf/vmlinux ] && srcs+=(/sys/kernel/btf/vmlinux)
  deb=${KHEADERS_DEBIAN_DIR:-/var/tmp/debian-cloud}/vmlinux
  if [ -f "$deb" ]; then srcs+=("$deb"); else echo "compare-btf: $deb absent (scripts/fetch-debian-btf.sh fetches it)" >&2; fi
fi
[ ${#srcs[@]} -gt 0 ] || { echo "compare-btf: no BTF source" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
kh=${KHEADERS:-}
# Built as make build builds the shipped binary (static, CGO_ENABLED=0).
if [ -z "$kh" ]; then CGO_ENABLED=0 go build -trimpath -o "$tmp/kheaders" ./cmd/kheaders; kh=$tmp/kheaders; fi

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

oracle() { # header asserts -> number of failing assertions
  local d; d=$(mktemp -d "$tmp/o.XXXX")
  cp "$1" "$d/vmlinux.h"; cp "$2" "$d/asserts.inc"
  printf '#include "vmlinux.h"\n#include "asserts.inc"\n' > "$d/check.c"
  (cd "$d" && clang -target bpf -fsyntax-only -ferror-limit=0 check.c 2>&1 | grep -c 'error:' || true)
}
records() { # header asserts -> failing records
  local d; d=$(mktemp -d "$tmp/r.XXXX")
  cp "$1" "$d/vmlinux.h"; cp "$2" "$d/asserts.inc"
  printf '#include "vmlinux.h"\n#include "asserts.inc"\n' > "$d/check.c"
  (cd "$d" && clang -target bpf -fsyntax-only -ferror-limit=0 check.c 2>&1 | grep 'error:' |
    grep -o '"\(sizeof(\)\?\(struct\|union\) [A-Za-z0-9_]*' | sed 's/"//; s/sizeof(//' | sort -u | tr '\n' ' ')
}

status=0
for src in "${srcs[@]}"; do
  echo "== $src"
  bpftool btf dump file "$src" format c > "$tmp/bpftool.h"
  "$kh" btf "$src" --compat bpftool-7.1 -o "$tmp/compat.h"
  "$kh" btf "$src" -o "$tmp/default.h"
  "$kh" btf "$src" --asserts > "$tmp/asserts.inc"
  if cmp -s "$tmp/bpftool.h" "$tmp/compat.h"; then
    echo "compat bpftool-7.1: byte-identical ($(stat -c %s "$tmp/compat.h") bytes, $(wc -l < "$tmp/compat.h") lines)"
  else
    echo "compat bpftool-7.1: DIFFERS"; diff "$tmp/bpftool.h" "$tmp/compat.h" | head -20; status=1
  fi
  b75=${KHEADERS_BPFTOOL75:-/var/tmp/kheaders-bpftool75/bpftool}
  if [ -x "$b75" ]; then
    for m in sorted unsorted; do
      if [ $m = sorted ]; then "$b75" btf dump file "$src" format c > "$tmp/b75.h"; "$kh" btf "$src" --compat bpftool-7.5 -o "$tmp/k75.h"
      else "$b75" btf dump file "$src" format c unsorted > "$tmp/b75.h"; "$kh" btf "$src" --compat bpftool-7.5 --sort=false -o "$tmp/k75.h"; fi
      if cmp -s "$tmp/b75.h" "$tmp/k75.h"; then echo "compat bpftool-7.5 ($m): byte-identical ($(stat -c %s "$tmp/k75.h") bytes)"
      else echo "compat bpftool-7.5 ($m): DIFFERS"; diff "$tmp/b75.h" "$tmp/k75.h" | head -10; status=1; fi
    done
  else
    echo "bpftool 7.5 absent ($b75): scripts/build-bpftool75.sh builds it"
  fi
  echo "default vs bpftool: $(diff "$tmp/bpftool.h" "$tmp/default.h" | grep -c '^>' || true) lines differ ($(grep -c 'mode(byte)' "$tmp/default.h" || true) mode(byte), $(grep -c 'mode(word)' "$tmp/default.h" || true) mode(word))"
  echo "layout oracle: $(grep -c '^_Static_assert(sizeof' "$tmp/asserts.inc") sizeof + $(grep -c '^_Static_assert(__builtin_offsetof' "$tmp/asserts.inc") offsetof assertions"
  echo "  failures against bpftool 7.1: $(oracle "$tmp/bpftool.h" "$tmp/asserts.inc") in: $(records "$tmp/bpftool.h" "$tmp/asserts.inc" | wc -w | awk '{print $1/2}') records"
  echo "  failures against default:     $(oracle "$tmp/default.h" "$tmp/asserts.inc") ($(records "$tmp/default.h" "$tmp/asserts.inc"))"

  : > "$tmp/t.bpftool"; : > "$tmp/t.kh"; : > "$tmp/t.b75"; : > "$tmp/t.k75"
  echo "load average before timing: $(cut -d' ' -f1-3 /proc/loadavg)"
  for _ in $(seq "$RUNS"); do
    timed "$tmp/t.bpftool" bpftool btf dump file "$src" format c > /dev/null
    timed "$tmp/t.kh" "$kh" btf "$src" --compat bpftool-7.1 > /dev/null
    if [ -x "$b75" ]; then
      timed "$tmp/t.b75" "$b75" btf dump file "$src" format c > /dev/null
      timed "$tmp/t.k75" "$kh" btf "$src" --compat bpftool-7.5 > /dev/null
    fi
  done
  # report REF KH LABEL: medians of wall, cpu and peak RSS, and the ratios.
  report() {
    local bw bc br kw kc kr
    bw=$(awk '{print $1}' "$1" | median); bc=$(awk '{print $2+$3}' "$1" | median); br=$(awk '{print $4}' "$1" | median)
    kw=$(awk '{print $1}' "$2" | median); kc=$(awk '{print $2+$3}' "$2" | median); kr=$(awk '{print $4}' "$2" | median)
    echo "$3, $RUNS runs (median): reference ${bw}s wall ${bc}s cpu ${br}KB peak RSS; kheaders ${kw}s wall ${kc}s cpu ${kr}KB peak RSS"
    awk -v kw="$kw" -v bw="$bw" -v kc="$kc" -v bc="$bc" -v kr="$kr" -v br="$br" 'BEGIN {
      printf "  ratio kheaders/reference: wall %.2f, cpu %.2f (goal <= 1.0); peak RSS %.2fx (goal <= 2.0)\n", kw/bw, kc/bc, kr/br }'
  }
  report "$tmp/t.bpftool" "$tmp/t.kh" "bpftool 7.1 vs kheaders --compat bpftool-7.1"
  if [ -s "$tmp/t.b75" ]; then report "$tmp/t.b75" "$tmp/t.k75" "bpftool 7.5 vs kheaders --compat bpftool-7.5"; fi
  echo "load average after timing: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "one run's split (--json): $("$kh" btf "$src" -o /dev/null --json | grep -E '"(types|read_ms|generate_ms)"' | tr -d ' ,\n')"
done
exit $status
