#!/bin/sh
# dracut pre-pivot hook of the kheaders module: keep the header archive
# across switch_root, which deletes the initramfs. dracut carries /run over
# into the real root, where kheaders locate finds the copy (source
# "initramfs").
if [ -f /kheaders/kheaders.tar.xz ]; then
	mkdir -p /run/kheaders/initramfs &&
		cp /kheaders/kheaders.tar.xz /run/kheaders/initramfs/kheaders.tar.xz &&
		{ [ ! -f /kheaders/manifest.json ] || cp /kheaders/manifest.json /run/kheaders/initramfs/manifest.json; } ||
		echo "kheaders: could not copy /kheaders to /run/kheaders/initramfs" >&2
fi
