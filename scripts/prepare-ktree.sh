#!/bin/bash
# Prepares Debian's linux-source-6.12 trees (x86_64 and arm64, out of tree) far enough
# that every generated header exists, configured as ../shared/tools/build-test-kernel.sh
# configures its kernels (tinyconfig + the same options + CONFIG_IKHEADERS=y). These are
# the real trees `kheaders pack` is checked against (pack's integration test and
# scripts/compare-gen-kheaders.sh). A tree that build-test-kernel.sh already built fully
# (same directory names) is used as it is.
#
# usage: scripts/prepare-ktree.sh [ARCH...]     (default: x86_64 arm64)
# env WORK (default /var/tmp/kheaders-ktree). Prints the build trees, one per line.
# About 1-2 minutes per arch on 2 cores, plus ~1 minute to unpack the source once.
set -euo pipefail
WORK=${WORK:-/var/tmp/kheaders-ktree}
arches=("$@"); [ ${#arches[@]} -gt 0 ] || arches=(x86_64 arm64)
src=/usr/src/linux-source-6.12.tar.xz
[ -f "$src" ] || { echo "prepare-ktree: $src missing: apt-get install linux-source-6.12" >&2; exit 1; }
mkdir -p "$WORK"
S=$WORK/linux-source-6.12
if [ ! -f "$S/Makefile" ]; then
  tmp=$(mktemp -d "$WORK/.unpack.XXXXXX")
  tar -C "$tmp" -xf "$src"
  mv "$tmp/linux-source-6.12" "$S"; rmdir "$tmp"
fi
for ARCH in "${arches[@]}"; do
  B=$WORK/build-$ARCH-y-xz
  case $ARCH in
    x86_64) MK=(make -C "$S" O="$B"); SA=x86; SER="-e SERIAL_8250 -e SERIAL_8250_CONSOLE -e 64BIT" ;;
    arm64)  MK=(make -C "$S" O="$B" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-); SA=arm64; SER="-e SERIAL_AMBA_PL011 -e SERIAL_AMBA_PL011_CONSOLE" ;;
    *) echo "prepare-ktree: unknown arch $ARCH" >&2; exit 2 ;;
  esac
  if [ -f "$B/.kheaders-prepared" ] || [ -f "$B/kernel/kheaders_data.tar.xz" ]; then echo "$B"; continue; fi
  mkdir -p "$B"
  "${MK[@]}" tinyconfig >/dev/null
  # shellcheck disable=SC2086
  "$S/scripts/config" --file "$B/.config" $SER -e MODULES -e MODULE_UNLOAD -e SYSFS -e PROC_FS -e PRINTK -e TTY \
    -e BLK_DEV_INITRD -e RD_GZIP -e BINFMT_ELF -e BINFMT_SCRIPT -e DEVTMPFS -e DEVTMPFS_MOUNT \
    -e IKCONFIG -e IKCONFIG_PROC -d MODULE_SIG -d MODULE_SIG_ALL \
    -e FUTEX -e EPOLL -e POSIX_TIMERS -e MULTIUSER -e SHMEM -e TMPFS -e EVENTFD -e SIGNALFD -e TIMERFD \
    -e PROC_SYSCTL -e CGROUPS -e IKHEADERS
  if [ "$ARCH" = x86_64 ]; then
    for c in GZIP BZIP2 LZMA XZ LZO LZ4 ZSTD; do "$S/scripts/config" --file "$B/.config" -d KERNEL_$c; done
    "$S/scripts/config" --file "$B/.config" -e KERNEL_XZ
  fi
  "${MK[@]}" olddefconfig >/dev/null
  "${MK[@]}" -j"$(nproc)" prepare >"$B/.prepare.log" 2>&1 || { tail -20 "$B/.prepare.log" >&2; exit 1; }
  [ -f "$B/include/generated/autoconf.h" ] && [ -d "$B/arch/$SA/include/generated" ] || { echo "prepare-ktree: $B: generated headers missing after make prepare" >&2; exit 1; }
  touch "$B/.kheaders-prepared"
  echo "$B"
done
