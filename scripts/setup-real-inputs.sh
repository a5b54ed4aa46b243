#!/bin/bash
# Makes the real inputs the acceptance tests run on, so that `make test` on a
# fresh machine checks them instead of skipping: about 3 minutes on 2 cores,
# each step skipped when its result is already there.
#
#   /var/tmp/kheaders-ktree          Debian linux-source-6.12 prepared for x86_64 and
#                                    arm64 (scripts/prepare-ktree.sh): pack's tests run
#                                    the tree's own gen_kheaders.sh against kheaders pack
#   /var/tmp/debian-cloud            Debian 6.1 cloud vmlinuz and its stripped vmlinux
#                                    (scripts/fetch-debian-btf.sh): btfc against bpftool
#   /var/tmp/kheaders-debian-headers Debian's split linux-headers packages as a fake root
#                                    (scripts/fetch-debian-headers.sh): locate's layout test
#   /var/tmp/kheaders-bpftool75      bpftool 7.5 built from linux-source-6.12
#                                    (scripts/build-bpftool75.sh): btfc's sorted/kfunc modes
#
# The full kernel builds of scripts/build-test-artifacts.sh (15 minutes) are not
# made here; the tests that need them skip and say so.
# Needs the packages of scripts/install-deps.sh. A step that fails stops the run:
# the tests would otherwise skip what the acceptance criteria ask for.
set -euo pipefail
cd "$(dirname "$0")/.."
step() {
  local name=$1; shift
  local t0=$SECONDS
  echo "setup-real-inputs: $name" >&2
  "$@" >/tmp/setup-real-inputs.$$.log 2>&1 || {
    echo "setup-real-inputs: $name failed:" >&2; tail -30 /tmp/setup-real-inputs.$$.log >&2; exit 1
  }
  tail -3 /tmp/setup-real-inputs.$$.log | sed 's/^/  /' >&2
  echo "  ($((SECONDS - t0)) s)" >&2
}
if [ ! -f /usr/src/linux-source-6.12.tar.xz ]; then
  echo "setup-real-inputs: no /usr/src/linux-source-6.12.tar.xz (scripts/install-deps.sh installs it as root);" \
    "the tests on real trees, Debian kernels and bpftool 7.5 will skip" >&2
  exit 0
fi
step "prepare the 6.12 trees (x86_64, arm64)" scripts/prepare-ktree.sh x86_64 arm64
[ -f /var/tmp/debian-cloud/vmlinux ] || step "fetch Debian's 6.1 cloud kernel (BTF)" scripts/fetch-debian-btf.sh
[ -f /var/tmp/kheaders-debian-headers/release ] || step "fetch Debian's split linux-headers" scripts/fetch-debian-headers.sh
step "build bpftool 7.5" scripts/build-bpftool75.sh
rm -f /tmp/setup-real-inputs.$$.log
