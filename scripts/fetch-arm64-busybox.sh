#!/usr/bin/env bash
# Prints the path of a static arm64 busybox (for the arm64 qemu guests of
# internal/e2e/run.sh and scripts/check-net-kernels.sh), fetching Debian's
# busybox-static:arm64 once with apt-get download into /var/tmp/kheaders-e2e.
# Private package lists are used, so the machine's apt configuration
# (architectures) is left as it is. Exits 1, printing nothing, when it cannot
# (no apt-get/dpkg-deb, no network): the log is /var/tmp/kheaders-e2e/apt-arm64/apt.log.
set -uo pipefail
d=/var/tmp/kheaders-e2e/apt-arm64 bb=/var/tmp/kheaders-e2e/busybox-arm64
if [ -x "$bb" ]; then echo "$bb"; exit 0; fi
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || exit 1
mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/deb" || exit 1
apt=(apt-get -q -o APT::Architecture=arm64 -o APT::Architectures::=arm64
  -o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache")
"${apt[@]}" update >"$d/apt.log" 2>&1 || exit 1
(cd "$d/deb" && rm -f ./*.deb && "${apt[@]}" download busybox-static >>"$d/apt.log" 2>&1) || exit 1
rm -rf "$d/x" && dpkg-deb -x "$d"/deb/busybox-static_*_arm64.deb "$d/x" || exit 1
cp "$d/x/bin/busybox" "$bb.tmp" && mv "$bb.tmp" "$bb" && echo "$bb"
