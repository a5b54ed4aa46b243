#!/bin/bash
# dracut module (install the directory as
# /usr/lib/dracut/modules.d/90kheaders): puts the kernel's header archive at
# /kheaders/kheaders.tar.xz with /kheaders/manifest.json (the layout of
# `kheaders initramfs`, docs/carriers.md) and copies both to
# /run/kheaders/initramfs/ in the pre-pivot hook, before switch_root deletes
# the initramfs. Enable with add_dracutmodules+=" kheaders ".
#
# The archive is taken from $KHEADERS_SRC, else the first of
# /boot/kheaders-$kernel.tar.xz, /lib/modules/$kernel/kheaders.tar.xz,
# /boot/vmlinuz-$kernel (a kernel built with CONFIG_IKHEADERS).

check() {
	require_binaries kheaders cpio || return 1
	return 255 # only when asked for
}

depends() {
	return 0
}

install() {
	local src=${KHEADERS_SRC:-} f
	if [[ -z $src ]]; then
		for f in "/boot/kheaders-$kernel.tar.xz" "/lib/modules/$kernel/kheaders.tar.xz" "/boot/vmlinuz-$kernel"; do
			if [[ -r $f ]]; then
				src=$f
				break
			fi
		done
	fi
	if [[ -z $src ]]; then
		dwarn "kheaders: no header archive for $kernel, not added"
		return 0
	fi
	if ! kheaders initramfs "$src" -o - --compress none --quiet | (cd "$initdir" && cpio -idmu --quiet); then
		dwarn "kheaders: kheaders initramfs $src failed, not added"
		rm -rf "$initdir/kheaders"
		return 0
	fi
	# /kheaders/kheaders.tar.xz and /kheaders/manifest.json are now in $initdir.
	inst_hook pre-pivot 90 "$moddir/kheaders-copy.sh"
}
