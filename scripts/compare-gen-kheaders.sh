#!/bin/bash
# Runs the kernel's own kernel/gen_kheaders.sh and `kheaders pack` on the same
# prepared kernel tree, in one run, and prints: wall time of each and the
# ratio, archive sizes and the ratio, member counts, whether the
# --strip=kbuild archive is byte-identical (tar and .tar.xz), and every header
# whose preprocessing-token stream Kbuild's comment regex changes (where the
# default stripping differs from Kbuild's in meaning), with a one-line reason,
# and every header whose bytes differ between the two strippings, with a
# one-line reason (saved in /var/tmp/compare-gen-kheaders-ARCH.txt; the
# reasons are counted on stdout; ALL=1 prints every line). Next to each wall
# time: CPU (user+sys) and peak RSS (scripts/timing.sh; for gen_kheaders.sh
# the largest member of its process tree, in practice xz).
#
# usage: scripts/compare-gen-kheaders.sh [ARCH...]     (default: x86_64 arm64)
# env:   KTREE     prepared trees (default /var/tmp/kheaders-ktree, made by
#                  scripts/prepare-ktree.sh): linux-source-6.12/, build-ARCH-y-xz/
#        KHEADERS  kheaders binary (default: built from this checkout)
#        TS        KBUILD_BUILD_TIMESTAMP for both (default 'Thu, 01 Jan 2026 12:00:00 +0000')
#        XZ        xz command for both (default xz)
#        ALL       non-empty: print every differing header, not just the counts
# The build trees are never modified: gen_kheaders.sh runs on a copy of the
# build tree's include/ and arch/SRCARCH/include/ (all it reads there) in a
# temporary directory under /var/tmp, removed at the end.
set -euo pipefail
KTREE=${KTREE:-/var/tmp/kheaders-ktree}
TS=${TS:-'Thu, 01 Jan 2026 12:00:00 +0000'}
export XZ=${XZ:-xz}
S=$KTREE/linux-source-6.12
arches=("$@"); [ ${#arches[@]} -gt 0 ] || arches=(x86_64 arm64)
here=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$S/kernel/gen_kheaders.sh" ] || { echo "compare: $S/kernel/gen_kheaders.sh missing: run scripts/prepare-ktree.sh" >&2; exit 1; }
for t in perl cpio xz tar sha256sum; do command -v $t >/dev/null || { echo "compare: $t not found (gen_kheaders.sh needs it)" >&2; exit 1; }; done
W=$(mktemp -d /var/tmp/compare-gen-kheaders.XXXXXX)
trap 'rm -rf "$W"' EXIT
if [ -z "${KHEADERS:-}" ]; then
  (cd "$here" && go build -o "$W/kheaders" ./cmd/kheaders)
  KHEADERS=$W/kheaders
fi
. "$here/scripts/timing.sh"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
# field N of the line timed wrote to FILE: 1 wall s, 2 user s, 3 sys s, 4 peak RSS KB
field() { awk -v n="$2" '{print $n}' "$1"; }
cpu() { awk '{printf "%.2f", $2 + $3}' "$1"; }

echo "kheaders: $("$KHEADERS" version)"
echo "xz: $($XZ --version | head -1); tar: $(tar --version | head -1); perl: $(perl -e 'print $^V'); cpus: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "KBUILD_BUILD_TIMESTAMP='$TS'"
status=0
for ARCH in "${arches[@]}"; do
  case $ARCH in x86_64) SA=x86 ;; arm64) SA=arm64 ;; *) SA=$ARCH ;; esac
  B=$KTREE/build-$ARCH-y-xz
  if [ ! -f "$B/include/generated/autoconf.h" ]; then echo "== $ARCH: $B not prepared, skipped (run scripts/prepare-ktree.sh $ARCH)"; continue; fi
  T=$W/$ARCH; mkdir -p "$T/tree/arch/$SA" "$T/tree/kernel"
  cp -a "$B/include" "$T/tree/"
  cp -a "$B/arch/$SA/include" "$T/tree/arch/$SA/"
  echo "== $ARCH (SRCARCH=$SA): build tree $B, source $S"

  rm -f "$W/t.gen" "$W/t.kbuild" "$W/t.default"
  (cd "$T/tree" && timed "$W/t.gen" env srctree="$S" building_out_of_srctree=1 SRCARCH=$SA KBUILD_BUILD_TIMESTAMP="$TS" XZ="$XZ" CONFIG_SHELL=sh \
     sh "$S/kernel/gen_kheaders.sh" kernel/kheaders_data.tar.xz >/dev/null)
  timed "$W/t.kbuild" "$KHEADERS" pack --quiet --strip=kbuild --src "$S" --arch $SA --timestamp "$TS" -o "$T/kbuild.tar.xz" "$B"
  timed "$W/t.default" "$KHEADERS" pack --quiet --src "$S" --arch $SA --timestamp "$TS" -o "$T/default.tar.xz" "$B"
  ref=$T/tree/kernel/kheaders_data.tar.xz
  tg=$(field "$W/t.gen" 1); tk=$(field "$W/t.kbuild" 1); td=$(field "$W/t.default" 1)
  printf 'wall time:  gen_kheaders.sh %.2fs | kheaders pack --strip=kbuild %.2fs (%sx faster) | kheaders pack (default) %.2fs (%sx faster)\n' \
    "$tg" "$tk" "$(ratio "$tg" "$tk")" "$td" "$(ratio "$tg" "$td")"
  printf 'CPU:        gen_kheaders.sh %ss | --strip=kbuild %ss | default %ss (user+sys)\n' "$(cpu "$W/t.gen")" "$(cpu "$W/t.kbuild")" "$(cpu "$W/t.default")"
  rg=$(field "$W/t.gen" 4); rk=$(field "$W/t.kbuild" 4); rd=$(field "$W/t.default" 4)
  printf 'peak RSS:   gen_kheaders.sh %d KB | --strip=kbuild %d KB (%sx) | default %d KB (%sx)\n' "$rg" "$rk" "$(ratio "$rk" "$rg")" "$rd" "$(ratio "$rd" "$rg")"
  sr=$(stat -c %s "$ref"); sk=$(stat -c %s "$T/kbuild.tar.xz"); sd=$(stat -c %s "$T/default.tar.xz")
  printf 'size:       gen_kheaders.sh %d B | --strip=kbuild %d B (%s) | default %d B (%s of Kbuild'"'"'s)\n' \
    "$sr" "$sk" "$(ratio "$sk" "$sr")" "$sd" "$(ratio "$sd" "$sr")"
  xz -dc "$ref" > "$T/ref.tar"; xz -dc "$T/kbuild.tar.xz" > "$T/kbuild.tar"; xz -dc "$T/default.tar.xz" > "$T/default.tar"
  printf 'members:    gen_kheaders.sh %d | --strip=kbuild %d | default %d\n' \
    "$(tar tf "$T/ref.tar" | wc -l)" "$(tar tf "$T/kbuild.tar" | wc -l)" "$(tar tf "$T/default.tar" | wc -l)"
  printf 'tar bytes:  gen_kheaders.sh %d | --strip=kbuild %d | default %d\n' \
    "$(stat -c %s "$T/ref.tar")" "$(stat -c %s "$T/kbuild.tar")" "$(stat -c %s "$T/default.tar")"
  hr=$(sha256sum < "$T/ref.tar" | cut -c1-64); hk=$(sha256sum < "$T/kbuild.tar" | cut -c1-64)
  xr=$(sha256sum < "$ref" | cut -c1-64); xk=$(sha256sum < "$T/kbuild.tar.xz" | cut -c1-64)
  if [ "$hr" = "$hk" ]; then echo "tar:        IDENTICAL (xz -dc | sha256sum = $hr)"; else echo "tar:        DIFFERENT ($hr vs $hk)"; status=1; fi
  if [ "$xr" = "$xk" ]; then echo ".tar.xz:    IDENTICAL (sha256 $xr)"; else echo ".tar.xz:    DIFFERENT ($xr vs $xk)"; status=1; fi
  list=/var/tmp/compare-gen-kheaders-$ARCH.txt
  echo "headers whose token stream a stripping changes ('default' lines would be kheaders bugs):"
  if ! "$KHEADERS" pack --check -v --src "$S" --arch $SA "$B" 2>/dev/null > "$list"; then status=1; fi
  grep -v '^text' "$list" | sed 's/^/  /' || true
  echo "headers where the default stripping's bytes differ from Kbuild's: $(grep -c '^text' "$list") (every one, with its reason, in $list; ALL=1 prints them here); reasons:"
  grep '^text' "$list" | sed 's/^[^:]*: //; s/[0-9][0-9]*/N/g' | sort | uniq -c | sort -rn | sed 's/^/  /'
  if [ -n "${ALL:-}" ]; then grep '^text' "$list" | sed 's/^/  /'; fi
  rm -rf "$T"
done
exit $status
