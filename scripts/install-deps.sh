#!/bin/bash
# Installs what the test suite needs on a fresh Debian 12 machine: the peer tools
# the tests compare against or build with, and the Go modules. Idempotent; does
# nothing that is already done. Needs root for apt-get (skipped otherwise, and the
# tests that need a missing tool skip with a message naming it).
set -euo pipefail
pkgs=(
  xz-utils zstd lz4 lzop bzip2 cpio tar perl gzip     # compressors and archivers the kernel build uses
  clang llvm libbpf-dev bpftool dwarves                # BPF compile checks, CO-RE headers, vmlinux.h reference, pahole
  qemu-system-x86 qemu-system-arm busybox-static       # e2e: boot real kernels
  bpftrace bpfcc-tools python3-bpfcc                   # e2e consumer cases: the guest runs the host's real bpftrace and bcc over 9p
  mkbootimg                                            # Android boot images v0-v3
  linux-source-6.12 build-essential flex bison bc libelf-dev libssl-dev kmod rsync  # prepared kernel trees
  gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu     # arm64 tree
  docker-registry apache2-utils                        # oci: a CNCF distribution registry on 127.0.0.1 for the tests, htpasswd for its auth
  dropbear-bin openssh-client adb                      # remote targets: ssh test server and client, adb client
  time                                                 # GNU time: peak RSS next to the times in scripts/compare-*.sh
)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "install-deps: apt-get install ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "install-deps: not root; missing packages: ${missing[*]} (tests needing them will skip)" >&2
  fi
fi
# Debian's docker-registry package starts a registry on :5000 (all interfaces) where
# an init system runs services; the tests start their own on 127.0.0.1, so stop it.
if [ "$(id -u)" = 0 ] && dpkg -s docker-registry >/dev/null 2>&1; then
  if command -v systemctl >/dev/null && systemctl is-active -q docker-registry 2>/dev/null; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
  elif command -v service >/dev/null; then
    service docker-registry stop >/dev/null 2>&1 || true
  fi
fi
cd "$(dirname "$0")/.."
go mod download
