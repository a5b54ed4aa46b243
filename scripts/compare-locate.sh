#!/bin/bash
# compare-locate.sh: in one run, on the 6.12 fixture archive served as a fake
# /sys/kernel/kheaders.tar.xz (--host-root), measure
#   1. warm `kheaders locate` per CLI call (cache populated; goal <= 5 ms),
#      on the archive path and on the BTF path (a fake root holding a copy
#      of this machine's BTF, BTF=FILE to choose another), with peak RSS,
#   2. cold `kheaders locate` (empty cache: read, hash, extract, verify,
#      publish) against bcc's method (mkdtemp, `tar -xf` of the sysfs file
#      into it, rename), and print the ratio.
# Both cold methods write into the same file system (WORK, default a temp
# dir under ${TMPDIR:-/tmp}; set WORK=/dev/shm/x for tmpfs).
# Usage: scripts/compare-locate.sh [RUNS_COLD (3)] [RUNS_WARM (50)]
set -euo pipefail
cd "$(dirname "$0")/.."
cold_runs=${1:-3}
warm_runs=${2:-50}
fx=${FIXTURES:-../shared/fixtures/linux-6.12.117-x86_64}
[ -d "$fx" ] || { echo "compare-locate: fixtures not found at $fx (set FIXTURES)" >&2; exit 2; }
command -v tar >/dev/null && command -v xz >/dev/null && [ -x /usr/bin/time ] || { echo "compare-locate: needs tar, xz (xz-utils) and /usr/bin/time (time)" >&2; exit 2; }
work=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/compare-locate.XXXXXX")}
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
bin=$work/kheaders
CGO_ENABLED=0 go build -trimpath -o "$bin" ./cmd/kheaders

# Fake root of the running 6.12.117 kernel.
root=$work/root
mkdir -p "$root/proc/sys/kernel/random" "$root/sys/kernel" "$root/.kheaders"
echo 6.12.117 >"$root/proc/sys/kernel/osrelease"
echo x86_64 >"$root/proc/sys/kernel/arch"
echo 00000000-0000-4000-8000-000000000001 >"$root/proc/sys/kernel/random/boot_id"
gzip -c "$fx/ikheaders-y/config" >"$root/proc/config.gz"
cp "$fx/ikheaders-y/kheaders_data.tar.xz" "$root/sys/kernel/kheaders.tar.xz"
# vDSO note image (ELF64 LE, one PT_NOTE: "Linux" type 0 = KERNEL_VERSION(6,12,117)).
le() { local v=$1 n=$2 i; for ((i = 0; i < n; i++)); do printf '\\x%02x' $(((v >> (8 * i)) & 255)); done; }
{
  printf '\x7fELF\x02\x01\x01'; printf '\x00%.0s' {1..9}
  printf "$(le 3 2)$(le 62 2)$(le 1 4)$(le 0 8)$(le 64 8)$(le 0 8)$(le 0 4)$(le 64 2)$(le 56 2)$(le 1 2)$(le 0 2)$(le 0 2)$(le 0 2)"
  printf "$(le 4 4)$(le 4 4)$(le 120 8)$(le 0 8)$(le 0 8)$(le 24 8)$(le 24 8)$(le 4 8)"
  printf "$(le 6 4)$(le 4 4)$(le 0 4)Linux\x00\x00\x00$(le $(((6 << 16) | (12 << 8) | 117)) 4)"
} >"$root/.kheaders/vdso.so"

ms() { echo "scale=2; ($2 - $1) / 1000000" | bc; }
now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

cache=$work/cache
"$bin" locate --host-root "$root" --cache-dir "$cache" --json >"$work/first.json"
grep -q '"verified": true' "$work/first.json" || { echo "compare-locate: first locate not verified" >&2; cat "$work/first.json" >&2; exit 1; }

# 1. Warm locate per CLI call, against the cost of starting a trivial process.
# Wall time suffers from other load on the machine; the children's CPU time
# (user+sys, from bash's `times`) does much less.
# `times` must run in this shell (not in $(...)) to see its children.
cpu() { tail -1 "$1" | awk '{t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.3f", t * 1000 }'; }
times >"$work/c0"; t0=$(now); for ((i = 0; i < warm_runs; i++)); do "$bin" locate --host-root "$root" --cache-dir "$cache" >/dev/null; done; t1=$(now); times >"$work/c1"
for ((i = 0; i < warm_runs; i++)); do "$bin" version >/dev/null; done; t2=$(now); times >"$work/c2"
for ((i = 0; i < warm_runs; i++)); do /bin/true; done; t3=$(now); times >"$work/c3"
c0=$(cpu "$work/c0") c1=$(cpu "$work/c1") c2=$(cpu "$work/c2") c3=$(cpu "$work/c3")
warm=$(echo "scale=2; $(ms "$t0" "$t1") / $warm_runs" | bc)
start=$(echo "scale=2; $(ms "$t1" "$t2") / $warm_runs" | bc)
wcpu=$(echo "scale=2; ($c1 - $c0) / $warm_runs" | bc)
scpu=$(echo "scale=2; ($c2 - $c1) / $warm_runs" | bc)
echo "warm locate: ${warm} ms wall per CLI call over $warm_runs calls (kheaders version, process start only: ${start} ms; difference $(echo "scale=2; $warm - $start" | bc) ms)"
echo "warm locate CPU (user+sys) per call: ${wcpu} ms (kheaders version: ${scpu} ms)"
echo "machine floor: /bin/true $(echo "scale=2; $(ms "$t2" "$t3") / $warm_runs" | bc) ms wall, $(echo "scale=2; ($c3 - $c2) / $warm_runs" | bc) ms CPU per call"

rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
echo "warm locate peak RSS: $(rss "$bin" locate --host-root "$root" --cache-dir "$cache") KB (kheaders version: $(rss "$bin" version) KB)"

# 1b. Warm locate on the BTF path: a fake root whose kernel has BTF (a copy
# of this machine's /sys/kernel/btf/vmlinux, or BTF=FILE) and no headers.
btf=${BTF:-/sys/kernel/btf/vmlinux}
if [ -r "$btf" ]; then
  broot=$work/broot
  mkdir -p "$broot/proc/sys/kernel/random" "$broot/sys/kernel/btf" "$broot/.kheaders"
  echo 6.12.117 >"$broot/proc/sys/kernel/osrelease"
  echo x86_64 >"$broot/proc/sys/kernel/arch"
  echo 00000000-0000-4000-8000-000000000002 >"$broot/proc/sys/kernel/random/boot_id"
  cp "$btf" "$broot/sys/kernel/btf/vmlinux"
  cp "$root/.kheaders/vdso.so" "$broot/.kheaders/vdso.so"
  bcache=$work/bcache
  t0=$(now); "$bin" locate --host-root "$broot" --cache-dir "$bcache" --json >"$work/btf.json"; t1=$(now)
  grep -q '"kind": "btf"' "$work/btf.json" || { echo "compare-locate: BTF locate did not use the btf source" >&2; cat "$work/btf.json" >&2; exit 1; }
  echo "cold BTF locate (read, sha256, generate vmlinux.h, publish): $(ms "$t0" "$t1") ms, peak RSS $(rss "$bin" locate --host-root "$broot" --cache-dir "$work/bcache2") KB"
  times >"$work/b0"; t0=$(now); for ((i = 0; i < warm_runs; i++)); do "$bin" locate --host-root "$broot" --cache-dir "$bcache" >/dev/null 2>&1; done; t1=$(now); times >"$work/b1"
  echo "warm BTF locate: $(echo "scale=2; $(ms "$t0" "$t1") / $warm_runs" | bc) ms wall per CLI call over $warm_runs calls (goal <= 5 ms), CPU $(echo "scale=2; ($(cpu "$work/b1") - $(cpu "$work/b0")) / $warm_runs" | bc) ms, peak RSS $(rss "$bin" locate --host-root "$broot" --cache-dir "$bcache") KB"
else
  echo "warm BTF locate: skipped ($btf not readable; set BTF=FILE)"
fi

# 2. Cold: kheaders vs bcc's tar method, same file system, alternating runs.
if [ "$cold_runs" -eq 0 ]; then echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"; exit 0; fi
# Each measurement starts from the same state: its own previous tree removed,
# then sync and a pause (on a file system mounted with `discard`, freeing
# 28 MB makes background work that would otherwise land on whichever
# method runs next), and the two methods take turns going first.
settle() { rm -rf "$@"; sync; sleep 1; }
cold_ours() {
  settle "$cache"
  local t0 t1; t0=$(now); /usr/bin/time -f '%U %S %M' -o "$work/time" "$bin" locate --host-root "$root" --cache-dir "$cache" >/dev/null; t1=$(now)
  ours+=("$(ms "$t0" "$t1")")
  read -r u s m <"$work/time"; ocpu+=("$(echo "($u + $s) * 1000" | bc)"); orss+=("$m")
}
cold_bcc() {
  settle "$work/bcc-final"
  local t0 t1 tmp; t0=$(now)
  tmp=$(mktemp -d "$work/kheaders-6.12.117-XXXXXX")
  /usr/bin/time -f '%U %S %M' -o "$work/time" tar -xf "$root/sys/kernel/kheaders.tar.xz" -C "$tmp"
  mv -T "$tmp" "$work/bcc-final"
  t1=$(now)
  bcc+=("$(ms "$t0" "$t1")")
  read -r u s m <"$work/time"; bcpu+=("$(echo "($u + $s) * 1000" | bc)"); brss+=("$m")
}
ours=() bcc=() ocpu=() bcpu=() orss=() brss=()
for ((i = 0; i < cold_runs; i++)); do
  if ((i % 2 == 0)); then cold_ours; cold_bcc; else cold_bcc; cold_ours; fi
done
o=$(printf '%s\n' "${ours[@]}" | median)
b=$(printf '%s\n' "${bcc[@]}" | median)
echo "cold locate (kheaders: read+sha256+extract+manifest+verify+rename): ${ours[*]} ms; median $o ms"
echo "cold bcc method (mkdtemp + tar -xf + rename):                      ${bcc[*]} ms; median $b ms"
echo "ratio kheaders/bcc: $(echo "scale=2; $o / $b" | bc)"
oc=$(printf '%s\n' "${ocpu[@]}" | median) bc_=$(printf '%s\n' "${bcpu[@]}" | median)
echo "cold CPU (user+sys) median: kheaders $oc ms, tar -xf (with its xz child) $bc_ ms; ratio $(echo "scale=2; $oc / $bc_" | bc)"
echo "cold peak RSS (max over runs): kheaders $(printf '%s\n' "${orss[@]}" | sort -n | tail -1) KB, tar -xf $(printf '%s\n' "${brss[@]}" | sort -n | tail -1) KB (GNU time: the larger of tar's and its xz child's)"
files=$(find "$work/bcc-final" -type f | wc -l)
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
echo "tree: $files files, archive $(stat -c %s "$root/sys/kernel/kheaders.tar.xz") bytes, work dir $(df -P "$work" | awk 'NR==2 {print $1}')"
