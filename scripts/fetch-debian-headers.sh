#!/bin/bash
# fetch-debian-headers.sh: test setup for locate's Debian layout test.
# Downloads Debian's split kernel header packages (linux-headers-R-amd64 with
# the generated headers, linux-headers-R-common with the sources) with
# `apt-get download` and unpacks them with dpkg-deb into DIR (default
# /var/tmp/kheaders-debian-headers). The debs are never committed; the test
# (locate TestLocateDebianHeaders) skips when DIR is absent.
# Usage: scripts/fetch-debian-headers.sh [DIR]
set -euo pipefail
dir=${1:-${KHEADERS_DEBIAN_HEADERS:-/var/tmp/kheaders-debian-headers}}
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || { echo "fetch-debian-headers: needs apt-get and dpkg-deb (Debian)" >&2; exit 2; }
# The current ABI of the bookworm kernel: linux-headers-amd64 depends on it.
abi=$(apt-cache depends linux-headers-amd64 2>/dev/null | sed -n 's/.*Depends: linux-headers-\(6\.1\.0-[0-9]*\)-amd64$/\1/p' | head -1)
[ -n "$abi" ] || { echo "fetch-debian-headers: no linux-headers-6.1.0-*-amd64 in the apt lists (run apt-get update; needs bookworm sources)" >&2; exit 2; }
mkdir -p "$dir/debs" "$dir/root"
cd "$dir/debs"
apt-get download "linux-headers-$abi-amd64" "linux-headers-$abi-common" >/dev/null
for d in ./*.deb; do dpkg-deb -x "$d" "$dir/root"; done
rel=$abi-amd64
mkdir -p "$dir/root/lib/modules/$rel"
ln -sfn "/usr/src/linux-headers-$rel" "$dir/root/lib/modules/$rel/build"
ln -sfn "/usr/src/linux-headers-$abi-common" "$dir/root/lib/modules/$rel/source"
# The running-kernel side of the fake root: release, machine, config, and
# the vDSO note image (ELF64 LE, one PT_NOTE "Linux" type 0) with the
# package's LINUX_VERSION_CODE.
r=$dir/root
mkdir -p "$r/proc/sys/kernel/random" "$r/.kheaders"
echo "$rel" >"$r/proc/sys/kernel/osrelease"
echo x86_64 >"$r/proc/sys/kernel/arch"
echo 00000000-0000-4000-8000-000000000002 >"$r/proc/sys/kernel/random/boot_id"
gzip -c "$r/usr/src/linux-headers-$rel/.config" >"$r/proc/config.gz"
code=$(sed -n 's/^#define LINUX_VERSION_CODE \([0-9]*\)$/\1/p' "$r/usr/src/linux-headers-$rel/include/generated/uapi/linux/version.h")
le() { local v=$1 n=$2 i; for ((i = 0; i < n; i++)); do printf '\\x%02x' $(((v >> (8 * i)) & 255)); done; }
{
  printf '\x7fELF\x02\x01\x01'; printf '\x00%.0s' {1..9}
  printf "$(le 3 2)$(le 62 2)$(le 1 4)$(le 0 8)$(le 64 8)$(le 0 8)$(le 0 4)$(le 64 2)$(le 56 2)$(le 1 2)$(le 0 2)$(le 0 2)$(le 0 2)"
  printf "$(le 4 4)$(le 4 4)$(le 120 8)$(le 0 8)$(le 0 8)$(le 24 8)$(le 24 8)$(le 4 8)"
  printf "$(le 6 4)$(le 4 4)$(le 0 4)Linux\x00\x00\x00$(le "$code" 4)"
} >"$r/.kheaders/vdso.so"
echo "$rel" >"$dir/release"
echo "fetch-debian-headers: $rel unpacked in $dir/root"
