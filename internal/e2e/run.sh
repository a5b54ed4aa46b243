#!/bin/bash
# `make e2e`: boots the real 6.12 fixture kernels (and an arm64 kernel when one
# is available) under qemu with a busybox initramfs and a static kheaders, runs
# kheaders in the guest and checks the console on the host. See docs/e2e.md.
#
# Env: KHEADERS_E2E_LOGDIR (console logs, default /tmp/kheaders-e2e),
#      KHEADERS_E2E_BOOT_TIMEOUT (per boot, Go duration, default 420s),
#      KHEADERS_E2E_GO_TIMEOUT (all of it, go test -timeout, default 40m:
#        raise it with the boot timeout; there are about 12 boots),
#      KHEADERS_E2E_ARM64_IMAGE, KHEADERS_E2E_BUSYBOX_ARM64 (arm64 boot),
#      KHEADERS_E2E_DROPBEAR_ARM64 (an unpacked dropbear-bin:arm64 tree).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=$PATH:/usr/local/go/bin
export KHEADERS_E2E=1
export KHEADERS_E2E_LOGDIR=${KHEADERS_E2E_LOGDIR:-/tmp/kheaders-e2e}
mkdir -p "$KHEADERS_E2E_LOGDIR"

# The arm64 guest needs an arm64 static busybox: Debian's busybox-static:arm64,
# fetched once by scripts/fetch-arm64-busybox.sh. On failure the arm64 boot
# skips and says why.
if [ -z "${KHEADERS_E2E_BUSYBOX_ARM64:-}" ] && command -v qemu-system-aarch64 >/dev/null; then
  if bb=$(scripts/fetch-arm64-busybox.sh); then
    export KHEADERS_E2E_BUSYBOX_ARM64=$bb
  else
    echo "e2e: could not fetch busybox-static:arm64 (see /var/tmp/kheaders-e2e/apt-arm64/apt.log); the arm64 boot will skip" >&2
  fi
fi
# The arm64 guest's sshd (TestE2ERemoteGuest): Debian's dropbear-bin:arm64
# and the libraries it links, fetched the same way and unpacked into one
# tree that the guest reads over 9p and runs through its own ld.so. On
# failure only the arm64 ssh part skips and says why.
arm64_dropbear() {
  local d=/var/tmp/kheaders-e2e/apt-arm64 t=/var/tmp/kheaders-e2e/dropbear-arm64
  if [ -x "$t/usr/sbin/dropbear" ]; then echo "$t"; return; fi
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || return 1
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/dropbear-deb"
  local apt=(apt-get -q -o APT::Architecture=arm64 -o APT::Architectures::=arm64
    -o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache")
  ls "$d"/lists/*_Packages* >/dev/null 2>&1 || "${apt[@]}" update >>"$d/apt.log" 2>&1 || return 1
  # dropbear-bin and every package it needs, recursively (libc6, libgmp10
  # through libtomcrypt1, ...), as the private lists say.
  local pkgs
  pkgs=$(apt-cache -o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Dir::State::Lists="$d/lists" -o Dir::Cache="$d/cache" \
    depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances dropbear-bin 2>>"$d/apt.log" |
    grep -v '^[ <]' | sort -u) && [ -n "$pkgs" ] || return 1
  # shellcheck disable=SC2086
  (cd "$d/dropbear-deb" && rm -f ./*.deb && "${apt[@]}" download $pkgs >>"$d/apt.log" 2>&1) || return 1
  rm -rf "$t.tmp" && mkdir -p "$t.tmp" || return 1
  for deb in "$d"/dropbear-deb/*_arm64.deb; do dpkg-deb -x "$deb" "$t.tmp" || return 1; done
  [ -x "$t.tmp/usr/sbin/dropbear" ] && rm -rf "$t" && mv "$t.tmp" "$t" && echo "$t"
}
if [ -z "${KHEADERS_E2E_DROPBEAR_ARM64:-}" ] && command -v qemu-system-aarch64 >/dev/null; then
  if db=$(arm64_dropbear); then
    export KHEADERS_E2E_DROPBEAR_ARM64=$db
  else
    echo "e2e: could not fetch dropbear-bin:arm64 (see /var/tmp/kheaders-e2e/apt-arm64/apt.log); the arm64 guest's ssh part will skip" >&2
  fi
fi
out=$KHEADERS_E2E_LOGDIR/go-test.log
rc=0
go test -count=1 -timeout "${KHEADERS_E2E_GO_TIMEOUT:-40m}" -run 'E2E' -v ./internal/e2e/ 2>&1 | tee "$out" || rc=$?
echo
if grep -q -- '--- SKIP' "$out"; then
  echo "e2e: SOME BOOTS WERE SKIPPED (not run, not passed):"
  grep -A1 -- '--- SKIP' "$out" | grep -v -- '^--$' | sed 's/^/  /'
fi
if n=$(grep -c 'NOT CHECKED' "$out"); then
  echo "e2e: $n ASSERTIONS NOT CHECKED (kheaders subcommands not in this build yet):"
  grep 'NOT CHECKED' "$out" | sed 's/^ */  /'
fi
if [ "$rc" -ne 0 ]; then
  echo "e2e: FAILED (exit $rc); console logs in $KHEADERS_E2E_LOGDIR"
  exit "$rc"
fi
echo "e2e: ok; console logs in $KHEADERS_E2E_LOGDIR"
