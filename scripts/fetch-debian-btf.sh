#!/bin/bash
# fetch-debian-btf.sh: test setup for btfc's Debian 6.1 checks (TestDebian61*)
# and scripts/compare-btf.sh. Downloads Debian's
# linux-image-6.1.0-N-cloud-amd64-unsigned with `apt-get download` (N: the
# newest in the apt lists, or $KHEADERS_DEBIAN_ABI), unpacks it with dpkg-deb
# into DIR/root and pulls the stripped vmlinux out of its lz4 bzImage into
# DIR/vmlinux (and the raw .BTF section into DIR/vmlinux.btf). The .deb is
# never committed; the tests skip when DIR/vmlinux is absent.
# Usage: scripts/fetch-debian-btf.sh [DIR]     (default /var/tmp/debian-cloud)
set -euo pipefail
dir=${1:-${KHEADERS_DEBIAN_DIR:-/var/tmp/debian-cloud}}
for t in apt-get apt-cache dpkg-deb lz4 objcopy; do
  command -v $t >/dev/null || { echo "fetch-debian-btf: needs $t (Debian packages apt, dpkg, lz4, binutils)" >&2; exit 2; }
done
abi=${KHEADERS_DEBIAN_ABI:-$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64-unsigned$' |
  sed -n 's/^linux-image-\(6\.1\.0-[0-9]*\)-cloud-amd64-unsigned .*/\1/p' | sort -V | tail -1)}
[ -n "$abi" ] || { echo "fetch-debian-btf: no linux-image-6.1.0-*-cloud-amd64-unsigned in the apt lists (run apt-get update; needs bookworm sources)" >&2; exit 2; }
mkdir -p "$dir/debs" "$dir/root"
(cd "$dir/debs" && apt-get download "linux-image-$abi-cloud-amd64-unsigned" >/dev/null)
dpkg-deb -x "$dir"/debs/linux-image-"$abi"-cloud-amd64-unsigned_*.deb "$dir/root"
vmlinuz=$dir/root/boot/vmlinuz-$abi-cloud-amd64
# The payload is an lz4 legacy frame (magic 02 21 4c 18) after the setup code.
off=$(grep -obUaP '\x02\x21\x4c\x18' "$vmlinuz" | head -1 | cut -d: -f1)
[ -n "$off" ] || { echo "fetch-debian-btf: no lz4 payload in $vmlinuz" >&2; exit 1; }
tail -c +$((off + 1)) "$vmlinuz" | lz4 -dc > "$dir/vmlinux.tmp" 2>/dev/null || true
mv "$dir/vmlinux.tmp" "$dir/vmlinux"
objcopy -O binary --only-section=.BTF "$dir/vmlinux" "$dir/vmlinux.btf"
echo "$dir/vmlinux ($abi): $(stat -c %s "$dir/vmlinux") bytes, .BTF $(stat -c %s "$dir/vmlinux.btf") bytes"
