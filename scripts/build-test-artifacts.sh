#!/bin/bash
# Builds the real kernel artifacts the tests use beyond ../shared/fixtures, with
# ../shared/tools/build-test-kernel.sh (Debian linux-source-6.12, tinyconfig +
# CONFIG_IKHEADERS=y), and reuses one build tree per arch to relink the image
# with every kernel compressor (only the compressed payload changes; each
# variant's kheaders_data.tar.xz is copied too, since autoconf.h differs).
#
# usage: scripts/build-test-artifacts.sh OUT      (env WORK: build trees, default /var/tmp/kheaders-ktree)
# Takes about 15 minutes on 2 cores. The prepared trees it leaves in WORK are
# also what scripts/compare-gen-kheaders.sh uses.
set -euo pipefail
OUT=${1:?usage: $0 OUT}
here=$(cd "$(dirname "$0")/.." && pwd)
tool=${BUILD_TEST_KERNEL:-$here/../shared/tools/build-test-kernel.sh}
export WORK=${WORK:-/var/tmp/kheaders-ktree}
mkdir -p "$OUT"
S=$WORK/linux-source-6.12

# x86_64, =y, xz first; then the other compressors in the same tree.
[ -f "$OUT/x86_64-y-xz/bzImage" ] || "$tool" x86_64 y xz "$OUT/x86_64-y-xz"
B=$WORK/build-x86_64-y-xz
for comp in gzip bzip2 lzma lzo lz4 zstd; do
  d=$OUT/x86_64-y-$comp
  [ -f "$d/bzImage" ] && continue
  for c in GZIP BZIP2 LZMA XZ LZO LZ4 ZSTD; do "$S/scripts/config" --file "$B/.config" -d KERNEL_$c; done
  "$S/scripts/config" --file "$B/.config" -e "KERNEL_$(echo "$comp" | tr a-z A-Z)"
  make -C "$S" O="$B" olddefconfig >/dev/null
  mkdir -p "$d"
  make -C "$S" O="$B" -j"$(nproc)" bzImage >"$d/build.log" 2>&1
  cp "$B/.config" "$d/config"; cp "$B/arch/x86/boot/bzImage" "$B/kernel/kheaders_data.tar.xz" "$B/include/generated/utsrelease.h" "$d/"
  (cd "$d" && sha256sum -- * > SHA256SUMS)
done
# leave the tree configured for xz again, as build-test-kernel.sh made it
for c in GZIP BZIP2 LZMA XZ LZO LZ4 ZSTD; do "$S/scripts/config" --file "$B/.config" -d KERNEL_$c; done
"$S/scripts/config" --file "$B/.config" -e KERNEL_XZ
make -C "$S" O="$B" olddefconfig >/dev/null
make -C "$S" O="$B" -j"$(nproc)" bzImage >/dev/null 2>&1

# arm64, =y: Image and Image.gz from the tool, then the other Image.* targets.
[ -f "$OUT/arm64-y/Image" ] || "$tool" arm64 y xz "$OUT/arm64-y"
B=$WORK/build-arm64-y-xz
for t in Image.bz2 Image.lz4 Image.lzma Image.lzo Image.zst; do
  [ -f "$OUT/arm64-y/$t" ] && continue
  make -C "$S" O="$B" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- "$t" >/dev/null 2>&1
  cp "$B/arch/arm64/boot/$t" "$OUT/arm64-y/"
done
(cd "$OUT/arm64-y" && sha256sum -- * > SHA256SUMS)
# arm64 EFI zboot (vmlinuz.efi, CONFIG_EFI + CONFIG_EFI_ZBOOT, gzip payload) in a copy of the
# arm64 tree, so the tree above stays as build-test-kernel.sh made it.
Z=$WORK/build-arm64-y-zboot
if [ ! -f "$OUT/arm64-y-zboot/vmlinuz.efi" ]; then
  [ -d "$Z" ] || cp -a "$WORK/build-arm64-y-xz" "$Z"
  "$S/scripts/config" --file "$Z/.config" -e EFI -e EFI_ZBOOT -e KERNEL_GZIP
  make -C "$S" O="$Z" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- olddefconfig >/dev/null
  mkdir -p "$OUT/arm64-y-zboot"
  make -C "$S" O="$Z" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- -j"$(nproc)" vmlinuz.efi >"$OUT/arm64-y-zboot/build.log" 2>&1
  cp "$Z/.config" "$OUT/arm64-y-zboot/config"
  cp "$Z/arch/arm64/boot/vmlinuz.efi" "$Z/kernel/kheaders_data.tar.xz" "$Z/include/generated/utsrelease.h" "$OUT/arm64-y-zboot/"
  (cd "$OUT/arm64-y-zboot" && sha256sum -- * > SHA256SUMS)
fi
# arm (32-bit) zImage, gzip, =y (needs gcc-arm-linux-gnueabihf).
A=$WORK/build-arm-y-gzip
if [ ! -f "$OUT/arm-y-gzip/zImage" ]; then
  dpkg -s gcc-arm-linux-gnueabihf >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-arm-linux-gnueabihf
  MK=(make -C "$S" O="$A" ARCH=arm CROSS_COMPILE=arm-linux-gnueabihf-)
  mkdir -p "$A" "$OUT/arm-y-gzip"
  "${MK[@]}" tinyconfig >/dev/null
  "$S/scripts/config" --file "$A/.config" -e MMU -e ARCH_MULTI_V7 -e ARCH_VIRT -e SERIAL_AMBA_PL011 \
    -e SERIAL_AMBA_PL011_CONSOLE -e MODULES -e SYSFS -e PROC_FS -e PRINTK -e TTY -e BLK_DEV_INITRD -e RD_GZIP \
    -e BINFMT_ELF -e IKCONFIG -e IKHEADERS -e KERNEL_GZIP -e AUTO_ZRELADDR
  "${MK[@]}" olddefconfig >/dev/null
  "${MK[@]}" -j"$(nproc)" zImage >"$OUT/arm-y-gzip/build.log" 2>&1
  cp "$A/.config" "$OUT/arm-y-gzip/config"
  cp "$A/arch/arm/boot/zImage" "$A/kernel/kheaders_data.tar.xz" "$A/include/generated/utsrelease.h" "$OUT/arm-y-gzip/"
  (cd "$OUT/arm-y-gzip" && sha256sum -- * > SHA256SUMS)
fi
echo "artifacts in $OUT, trees in $WORK"
