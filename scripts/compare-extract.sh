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
for tool in tar xz go /usr/bin/time; do
  command -v $tool >/dev/null || { echo "compare-extract: $tool not found (Debian packages tar, xz-utils, golang, time)" >&2; exit 1; }
done
[ -r "$archive" ] || { echo "compare-extract: cannot read $archive" >&2; exit 1; }

work=$(mktemp -d "$base/kheaders-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$work/kheaders" ./cmd/kheaders
cp "$archive" "$work/a.tar.xz"
xz -dc "$work/a.tar.xz" >"$work/a.tar"
kh="$work/kheaders"

. scripts/timing.sh
# median of the numbers on stdin printed with 3 decimals
median() { sort -n | awk '{v[NR]=$1} END {m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.3f", m}'; }

# Each command runs under timed (scripts/timing.sh: wall from bash's clock,
# user+sys CPU and peak RSS from GNU time); the
# target directory of tar is made before the clock starts, ours must not
# exist. For tar -xJf the peak RSS is the larger of tar's and its xz
# child's (GNU time reports the maximum over the process tree; the two run
# at the same time, so together they hold up to the sum).
cmd() {
  case $1 in
  tar_full)   mkdir "$d"; argv=(tar -C "$d" -xJf "$work/a.tar.xz") ;;
  tar_decode) argv=(xz -dc "$work/a.tar.xz") ;;
  tar_write)  mkdir "$d"; argv=(tar -C "$d" -xf "$work/a.tar") ;;
  go_full) argv=("$kh" extract "$work/a.tar.xz" -C "$d" --quiet) ;;
  go_decode) argv=("$kh" inspect "$work/a.tar.xz" --quiet) ;;
  go_write) argv=("$kh" extract "$work/a.tar" -C "$d" --quiet) ;;
  esac
}

names="tar_full go_full tar_decode go_decode tar_write go_write"
rnames="go_full tar_full go_decode tar_decode go_write tar_write"
# Interleave the tools run by run so that load changes hit both alike, and
# swap which of each pair goes first on every other run.
for i in $(seq "$runs"); do
  order=$names; [ $((i % 2)) = 0 ] && order=$rnames
  for n in $order; do
    d="$work/out.$n.$i"
    cmd "$n"
    timed "$work/$n.t" "${argv[@]}" >/dev/null 2>"$work/err" || { echo "compare-extract: $n failed:" >&2; cat "$work/err" >&2; exit 1; }
    rm -rf "$d"
  done
done
declare -A w c r
for n in $names; do
  w[$n]=$(awk '{print $1}' "$work/$n.t" | median); c[$n]=$(awk '{print $2 + $3}' "$work/$n.t" | median)
  r[$n]=$(awk '{print $4}' "$work/$n.t" | sort -n | tail -1)
done

members=$(tar -tf "$work/a.tar" | wc -l)
printf 'archive: %s (%d bytes xz, %d bytes tar, %d members), %d runs, into %s, load %s\n' \
  "$archive" "$(stat -c %s "$work/a.tar.xz")" "$(stat -c %s "$work/a.tar")" "$members" "$runs" "$base" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-34s %9s %9s %6s   %9s %9s %6s   %9s %9s\n' "median seconds, max peak RSS KB" "tar wall" "ours wall" "ratio" "tar cpu" "ours cpu" "ratio" "tar rss" "ours rss"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a > 0) printf "%.2f", b/a; else print "-" }'; }
row() { printf '%-34s %9s %9s %6s   %9s %9s %6s   %9s %9s\n' "$1" "${w[$2]}" "${w[$3]}" "$(ratio "${w[$2]}" "${w[$3]}")" "${c[$2]}" "${c[$3]}" "$(ratio "${c[$2]}" "${c[$3]}")" "${r[$2]}" "${r[$3]}"; }
row "extract .tar.xz (full)"            tar_full   go_full
row "decode only (xz -dc | inspect)"    tar_decode go_decode
row "write only (extract plain .tar)"   tar_write  go_write
echo "notes: 'ours' is kheaders built with CGO_ENABLED=0; inspect also verifies, hashes every file and builds an in-memory tree;"
echo "       tar -xJf runs xz in a second process, so decode and write overlap on 2 cores, as kheaders' writer goroutines do."
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
