#!/bin/bash
# Builds the networked 6.12.117 test kernels of testdata/kernels (see "Networked kernels" in
# testdata/kernels/README.md): tinyconfig plus the options below, out of tree, from Debian's
# linux-source-6.12 pinned to 6.12.117-1~deb12u1 (fetched with apt-get download when the
# installed package is another version).
#
#   x86_64-net-n  x86_64, BPF profile + networking, CONFIG_IKHEADERS not set (bzImage, xz);
#                 its header archive is made with `kheaders pack --strip=kbuild` from the tree
#   x86_64-net-y  the same, CONFIG_IKHEADERS=y (incremental build in a copy of the -net-n tree)
#   arm64-net     arm64 (qemu -M virt -cpu cortex-a57), the same options + PCI_HOST_GENERIC,
#                 CONFIG_IKHEADERS=y (Image.gz)
#
# usage: scripts/build-net-kernels.sh OUT [x86_64-net-n|x86_64-net-y|arm64-net ...]  (default: all)
#   OUT/<name>/ gets the image, config, utsrelease.h, the archive (Kbuild's for =y, kheaders
#   pack's for =n), build.log, build-time.txt and SHA256SUMS.
#   env WORK: source and build trees (default /var/tmp/kheaders-netk)
#   env KHEADERS: a kheaders binary (default: built from this checkout into WORK)
# Needs root for apt-get (build tools, gcc-aarch64-linux-gnu). Each full build takes about
# 6-8 minutes on 2 cores; x86_64-net-y, seeded from x86_64-net-n, about 1 minute.
set -euo pipefail
OUT=${1:?usage: $0 OUT [x86_64-net-n|x86_64-net-y|arm64-net ...]}
shift
WHICH=${*:-x86_64-net-n x86_64-net-y arm64-net}
here=$(cd "$(dirname "$0")/.." && pwd)
export WORK=${WORK:-/var/tmp/kheaders-netk}
mkdir -p "$WORK" "$OUT"
OUT=$(cd "$OUT" && pwd)

SRC_PKG=linux-source-6.12 SRC_VER=6.12.117-1~deb12u1 SUBLEVEL=117
# Fixed build identity, so that a rebuild gives the same UTS_VERSION, /proc/version and archive
# member times (gen_kheaders.sh passes KBUILD_BUILD_TIMESTAMP to tar --mtime).
export KBUILD_BUILD_TIMESTAMP="2026-12-02 00:00:00 +0000" KBUILD_BUILD_USER=kheaders \
  KBUILD_BUILD_HOST=kheaders KBUILD_BUILD_VERSION=1

pkgs="build-essential flex bison bc libelf-dev libssl-dev cpio xz-utils kmod rsync gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu"
dpkg -s $pkgs >/dev/null 2>&1 || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs; }

S=$WORK/linux-source-6.12
if ! grep -qx "SUBLEVEL = $SUBLEVEL" "$S/Makefile" 2>/dev/null; then
  rm -rf "$S"
  if [ "$(dpkg-query -W -f='${Version}' $SRC_PKG 2>/dev/null)" = "$SRC_VER" ]; then
    tar -C "$WORK" -xf /usr/src/linux-source-6.12.tar.xz
  else
    mkdir -p "$WORK/deb"
    deb=$WORK/deb/${SRC_PKG}_${SRC_VER/\~/%7e}_all.deb
    ls "$WORK"/deb/${SRC_PKG}_*117*_all.deb >/dev/null 2>&1 ||
      (cd "$WORK/deb" && apt-get download -q "$SRC_PKG=$SRC_VER")
    deb=$(ls "$WORK"/deb/${SRC_PKG}_*117*_all.deb)
    dpkg-deb --fsys-tarfile "$deb" | tar -xO ./usr/src/linux-source-6.12.tar.xz | tar -C "$WORK" -xJf -
  fi
  grep -qx "SUBLEVEL = $SUBLEVEL" "$S/Makefile" || { echo "$S is not 6.12.$SUBLEVEL" >&2; exit 1; }
fi

KH=${KHEADERS:-}
if [ -z "$KH" ]; then
  KH=$WORK/kheaders
  (cd "$here" && CGO_ENABLED=0 go build -trimpath -o "$KH" ./cmd/kheaders)
fi

# Options: each is set with scripts/config and, after olddefconfig, checked (Kconfig silently
# drops an option whose dependencies are missing).
# BASE: what ../shared/tools/build-test-kernel.sh builds (console, initrd, sysfs/proc, IKCONFIG,
# what the Go runtime and busybox need).
BASE="MODULES MODULE_UNLOAD SYSFS PROC_FS PRINTK TTY BLK_DEV_INITRD RD_GZIP BINFMT_ELF BINFMT_SCRIPT
  DEVTMPFS DEVTMPFS_MOUNT IKCONFIG IKCONFIG_PROC FUTEX EPOLL POSIX_TIMERS MULTIUSER SHMEM TMPFS
  EVENTFD SIGNALFD TIMERFD PROC_SYSCTL CGROUPS"
# BPF: that script's PROFILE=bpf (BPF syscall+JIT, kprobes, ftrace, perf events, kallsyms,
# debugfs/tracefs, virtio-pci 9p for the host's root, overlayfs). No BTF (the headers are under test).
BPF="BPF BPF_SYSCALL BPF_JIT BPF_EVENTS KPROBES KPROBE_EVENTS TRACING FTRACE FUNCTION_TRACER DYNAMIC_FTRACE
  PERF_EVENTS TRACEPOINTS KALLSYMS DEBUG_KERNEL KALLSYMS_ALL DEBUG_FS
  NET UNIX PCI PCI_MSI VIRTIO_MENU VIRTIO VIRTIO_PCI NET_9P NET_9P_VIRTIO NETWORK_FILESYSTEMS 9P_FS
  ADVISE_SYSCALLS FILE_LOCKING INOTIFY_USER HIGH_RES_TIMERS OVERLAY_FS TMPFS_XATTR"
# NETWORK: IPv4 and virtio-net for qemu -netdev user (static 10.0.2.15/24 via 10.0.2.2, or
# busybox udhcpc, which needs AF_PACKET); ptys for ssh sessions; xz initramfs segments.
NETWORK="INET PACKET NETDEVICES NET_CORE VIRTIO_NET UNIX98_PTYS RD_XZ"
OFF="DEBUG_INFO_BTF DEBUG_INFO MODULE_SIG MODULE_SIG_ALL"

# configure ARCH MODE LOCALVERSION B: writes B/.config and checks it.
configure() {
  local arch=$1 mode=$2 lv=$3 B=$4 extra="" o v bad=0
  local CFG=("$S/scripts/config" --file "$B/.config")
  case $arch in
    x86_64) extra="64BIT SERIAL_8250 SERIAL_8250_CONSOLE KERNEL_XZ" ;;
    arm64)  extra="SERIAL_AMBA_PL011 SERIAL_AMBA_PL011_CONSOLE PCI_HOST_GENERIC" ;;
  esac
  "${MK[@]}" tinyconfig >/dev/null
  for o in $BASE $BPF $NETWORK $extra; do "${CFG[@]}" -e "$o"; done
  for o in $OFF; do "${CFG[@]}" -d "$o"; done
  if [ "$arch" = x86_64 ]; then for o in GZIP BZIP2 LZMA LZO LZ4 ZSTD; do "${CFG[@]}" -d "KERNEL_$o"; done; fi
  case $mode in
    y) "${CFG[@]}" -e IKHEADERS ;;
    n) "${CFG[@]}" -d IKHEADERS ;;
  esac
  "${CFG[@]}" --set-str LOCALVERSION "$lv" -d LOCALVERSION_AUTO
  "${MK[@]}" olddefconfig >/dev/null
  for o in $BASE $BPF $NETWORK $extra; do
    v=$("${CFG[@]}" --state "$o"); [ "$v" = y ] || { echo "CONFIG_$o is '$v', wanted y" >&2; bad=1; }
  done
  for o in $OFF; do
    v=$("${CFG[@]}" --state "$o"); [ "$v" != y ] || { echo "CONFIG_$o is y, wanted off" >&2; bad=1; }
  done
  v=$("${CFG[@]}" --state IKHEADERS)
  case $mode in
    y) [ "$v" = y ] || { echo "CONFIG_IKHEADERS is '$v', wanted y" >&2; bad=1; } ;;
    n) [ "$v" = n ] || [ "$v" = undef ] || { echo "CONFIG_IKHEADERS is '$v', wanted not set" >&2; bad=1; } ;;
  esac
  [ $bad = 0 ] || { echo "config check failed (see $B/.config)" >&2; exit 1; }
  echo "6.12.117$lv: config check: all $(echo $BASE $BPF $NETWORK $extra | wc -w) options are y, IKHEADERS=$mode, no BTF"
}

# build NAME ARCH MODE LOCALVERSION [SEED_TREE]
build() {
  local name=$1 arch=$2 mode=$3 lv=$4 seed=${5:-}
  local B=$WORK/build-$name D=$OUT/$name img start
  case $arch in
    x86_64) MK=(make -C "$S" O="$B"); img=bzImage ;;
    arm64)  MK=(make -C "$S" O="$B" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-); img="Image Image.gz" ;;
  esac
  if [ -n "$seed" ] && [ ! -e "$B/.config" ]; then mkdir -p "$B"; cp -a "$seed/." "$B/"; fi
  mkdir -p "$B" "$D"
  configure "$arch" "$mode" "$lv" "$B"
  # 6.12's gen_kheaders.sh keeps an old archive after a config change (its md5 leaves out
  # autoconf.h); forget it so that the archive is always made from this config.
  rm -f "$B/kernel/kheaders.md5"
  start=$(date +%s)
  "${MK[@]}" -j"$(nproc)" $img modules >"$D/build.log" 2>&1 || { tail -30 "$D/build.log" >&2; exit 1; }
  echo "build time: $(( $(date +%s) - start ))s (load $(cut -d' ' -f1-3 /proc/loadavg))" | tee "$D/build-time.txt"
  cp "$B/.config" "$D/config"
  cp "$B/include/generated/utsrelease.h" "$D/"
  case $arch in
    x86_64) cp "$B/arch/x86/boot/bzImage" "$D/" ;;
    arm64)  cp "$B/arch/arm64/boot/Image.gz" "$D/" ;;
  esac
  # The archive: Kbuild's for =y (checked against kheaders pack --strip=kbuild of the same tree,
  # which must be byte-identical); kheaders pack's for =n, where Kbuild makes none.
  "$KH" pack --strip=kbuild -o "$D/kheaders-pack.tar.xz" "$B"
  if [ "$mode" = y ]; then
    cp "$B/kernel/kheaders_data.tar.xz" "$D/"
    if cmp -s "$D/kheaders_data.tar.xz" "$D/kheaders-pack.tar.xz"; then
      echo "$name: kheaders pack --strip=kbuild is byte-identical to Kbuild's archive"
    elif [ "$(diff <(tar -tJf "$D/kheaders_data.tar.xz") <(tar -tJf "$D/kheaders-pack.tar.xz"))" = "> ./include/generated/utsversion.h" ]; then
      # Kbuild packs the headers before vmlinux's link writes utsversion.h: a fresh build's
      # archive lacks it, an incremental one (or kheaders pack after the build) has it.
      echo "$name: kheaders pack --strip=kbuild differs from Kbuild's archive only by include/generated/utsversion.h (absent when Kbuild packed, a fresh build)"
    else
      echo "$name: WARNING: kheaders pack --strip=kbuild differs from Kbuild's archive" >&2
    fi
    rm "$D/kheaders-pack.tar.xz"
  else
    mv "$D/kheaders-pack.tar.xz" "$D/kheaders_data.tar.xz"
  fi
  # The archive's autoconf.h must say what the build's config says (a quick check here; the
  # Go test TestNetKernelArchives checks the committed copies with locate's own comparison).
  check_config "$D/config" "$D/kheaders_data.tar.xz"
  (cd "$D" && sha256sum -- $(ls | grep -v SHA256SUMS) > SHA256SUMS)
  echo "built $name ($arch, IKHEADERS=$mode, release $(cut -d'"' -f2 "$D/utsrelease.h")) into $D (tree: $B)"
}

# check_config CONFIG ARCHIVE: every CONFIG_ symbol =y/=m/string/number in CONFIG has its
# define in the archive's include/generated/autoconf.h, and nothing more.
check_config() {
  local t; t=$(mktemp -d)
  tar -xJf "$2" -C "$t" ./include/generated/autoconf.h
  diff <(sed -n 's/^#define CONFIG_\([A-Za-z0-9_]*\) .*/\1/p' "$t/include/generated/autoconf.h" | sed 's/_MODULE$//' | sort -u) \
       <(sed -n 's/^CONFIG_\([A-Za-z0-9_]*\)=.*/\1/p' "$1" | sort -u) >/dev/null ||
    { rm -rf "$t"; echo "archive $2 does not match $1" >&2; exit 1; }
  rm -rf "$t"
  echo "archive autoconf.h matches $(basename "$(dirname "$1")")/config"
}

for w in $WHICH; do
  case $w in
    x86_64-net-n) build x86_64-net-n x86_64 n -net-n ;;
    x86_64-net-y)
      [ -e "$WORK/build-x86_64-net-n/vmlinux" ] || build x86_64-net-n x86_64 n -net-n
      build x86_64-net-y x86_64 y -net-y "$WORK/build-x86_64-net-n" ;;
    arm64-net) build arm64-net arm64 y -net-arm64 ;;
    *) echo "unknown kernel $w (x86_64-net-n, x86_64-net-y, arm64-net)" >&2; exit 2 ;;
  esac
done
