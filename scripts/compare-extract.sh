#!/bin/bash
# Cold extraction of a kheaders archive into tmpfs: `kheaders extract -C`
# (pure Go, CGO_ENABLED=0) against `tar -xJf`, in one run, with where the
# time goes (decode versus write) on both sides.
#
# Usage: scripts/compare-extract.sh [ARCHIVE] [RUNS]
#   ARCHIVE defaults to the shared fixture's kheaders_data.tar.xz, RUNS to 7.
#   TMPDIR_BASE (default /dev/shm) is where the trees are written.
# Each run extracts into a new directory (cold target; the source file is in
# the page cache for both tools). Medians are printed; ratio = ours / tar.
set -euo pipefail
cd "$(dirname "$0")/.."
archive=${1:-../shared/fixtures/linux-6.12.117-x86_64/ikheaders-y/kheaders_data.tar.xz}
runs=${2:-7}
base=${TMPDIR_BASE:-/dev/shm}
for tool in tar xz go; do
  command -v $tool >/dev/null || { echo "compare-extract: $tool not found (Debian packages tar, xz-utils, golang)" >&2; exit 1; }
done
[ -r "$archive" ] || { echo "compare-extract: cannot read $archive" >&2; exit 1; }

work=$(mktemp -d "$base/kheaders-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$work/kheaders" ./cmd/kheaders
cp "$archive" "$work/a.tar.xz"
xz -dc "$work/a.tar.xz" >"$work/a.tar"
kh="$work/kheaders"

ns() { date +%s%N; }
# median of the numbers on stdin (nanoseconds) printed as seconds
median() { sort -n | awk '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.3f", m/1e9}'; }

declare -A t
run() { # name command... (the command may use $d, a fresh directory path)
  local name=$1; shift
  local s e
  for i in $(seq "$runs"); do
    d="$work/out.$name.$i"
    s=$(ns); "$@" >/dev/null 2>&1 || { echo "compare-extract: $name failed" >&2; "$@"; exit 1; }; e=$(ns)
    echo $((e - s)) >>"$work/$name.times"
    rm -rf "$d"
  done
  t[$name]=$(median <"$work/$name.times")
}

tar_full()   { mkdir "$d" && tar -C "$d" -xJf "$work/a.tar.xz"; }
tar_decode() { xz -dc "$work/a.tar.xz" >/dev/null; }
tar_write()  { mkdir "$d" && tar -C "$d" -xf "$work/a.tar"; }
go_full()    { "$kh" extract "$work/a.tar.xz" -C "$d" --quiet; }
go_decode()  { "$kh" inspect "$work/a.tar.xz" --quiet >/dev/null; }
go_write()   { "$kh" extract "$work/a.tar" -C "$d" --quiet; }

# Interleave the tools run by run so that load changes hit both alike.
for i in $(seq "$runs"); do
  r=$runs; runs=1
  for n in tar_full go_full tar_decode go_decode tar_write go_write; do
    d="$work/out.$n.$i"
    s=$(ns); $n >/dev/null 2>&1 || { echo "compare-extract: $n failed" >&2; $n; exit 1; }; e=$(ns)
    echo $((e - s)) >>"$work/$n.times"
    rm -rf "$d"
  done
  runs=$r
done
for n in tar_full go_full tar_decode go_decode tar_write go_write; do t[$n]=$(median <"$work/$n.times"); done

members=$(tar -tf "$work/a.tar" | wc -l)
printf 'archive: %s (%d bytes xz, %d bytes tar, %d members), %d runs, into %s, load %s\n' \
  "$archive" "$(stat -c %s "$work/a.tar.xz")" "$(stat -c %s "$work/a.tar")" "$members" "$runs" "$base" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %8s %8s %7s\n' "median seconds" "tar/xz" "kheaders" "ratio"
row() { printf '%-34s %8s %8s %7s\n' "$1" "${t[$2]}" "${t[$3]}" "$(awk -v a="${t[$2]}" -v b="${t[$3]}" 'BEGIN{printf "%.2f", b/a}')"; }
row "extract .tar.xz (full)"            tar_full   go_full
row "decode only (xz -dc | inspect)"    tar_decode go_decode
row "write only (extract plain .tar)"   tar_write  go_write
echo "notes: inspect also hashes every file and builds the manifest; tar -xJf runs xz in a second process (decode and write overlap on 2 cores)."
