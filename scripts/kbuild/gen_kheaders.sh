#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Drop-in for the kernel's kernel/gen_kheaders.sh: builds
# kernel/kheaders_data.tar.xz with `kheaders pack --kbuild`, under the same
# contract (run in the build tree; argument: the tar file, and on 6.17+ also
# the srclist, objlist and timestamp; environment: srctree,
# building_out_of_srctree, SRCARCH, KBUILD_BUILD_TIMESTAMP, XZ), skipping the
# work when nothing changed since the last run (a stamp next to the archive
# records the file list, sizes, nanosecond mtimes, modes, link targets, the
# timestamp, the options and the kheaders version).
#
# Install into a kernel source tree (see docs/pack.md):
#   mv kernel/gen_kheaders.sh kernel/gen_kheaders.kbuild.sh
#   cp /path/to/kheaders/scripts/kbuild/gen_kheaders.sh kernel/gen_kheaders.sh
#
# Environment:
#   KHEADERS        the kheaders binary (default: kheaders from PATH); when it
#                   cannot be found, kernel/gen_kheaders.kbuild.sh (the
#                   original script) runs instead
#   KHEADERS_STRIP  default (C lexer, correct) or kbuild (Kbuild's regex, for
#                   an archive byte-identical to the original script's)
set -e
kh=${KHEADERS:-kheaders}
if command -v "$kh" >/dev/null 2>&1; then
	exec "$kh" pack --kbuild "$@"
fi
orig="$(dirname "$0")/gen_kheaders.kbuild.sh"
if [ -f "$orig" ]; then
	echo "gen_kheaders.sh: $kh not found, running $orig" >&2
	exec ${CONFIG_SHELL:-sh} "$orig" "$@"
fi
echo "gen_kheaders.sh: $kh not found and no $orig to fall back on: install kheaders or set KHEADERS=/path/to/kheaders" >&2
exit 1
