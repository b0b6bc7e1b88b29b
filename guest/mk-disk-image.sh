#!/usr/bin/env bash
# Make a raw ext4 disk image holding the files of SRCDIR, for --disk. Uses
# `mkfs.ext4 -d` (e2fsprogs 1.43 or later): no loop mount, no root.
#
# Usage: guest/mk-disk-image.sh OUT SIZE_MB SRCDIR
#
# The filesystem has the label "minivmm" and no reserved blocks; file
# ownership is taken from SRCDIR as it is.
#
# Cached: OUT is rebuilt only when its inputs changed (this script, SIZE_MB,
# the names, types, modes and contents of the files under SRCDIR, mkfs.ext4's
# version) or when OUT itself changed since it was made (a guest wrote to
# it). The record is kept in OUT.stamp.
set -euo pipefail

die() { echo "mk-disk-image: $*" >&2; exit 1; }

(($# == 3)) || die "usage: guest/mk-disk-image.sh OUT SIZE_MB SRCDIR"
out=$1 size=$2 src=$3
[[ $size =~ ^[1-9][0-9]*$ ]] || die "SIZE_MB: '$size' is not a positive integer"
((size >= 2)) || die "SIZE_MB: $size MiB is too small for ext4 (2 or more)"
[[ -d $src ]] || die "$src: not a directory"
PATH=$PATH:/sbin:/usr/sbin
command -v mkfs.ext4 >/dev/null || die "mkfs.ext4: not found (install e2fsprogs)"

# Everything that decides the image's contents, as one digest.
inputs() {
	sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1
	echo "size $size"
	mkfs.ext4 -V 2>&1 | head -n1
	(cd "$src" && find . -mindepth 1 -printf '%y %m %p -> %l\n' | LC_ALL=C sort)
	(cd "$src" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0r sha256sum)
}
# OUT as it is now: size and modification time (to the nanosecond).
state() { stat -c '%s %y' "$out"; }

digest=$(inputs | sha256sum | cut -d' ' -f1)
if [[ -f $out && -f $out.stamp ]] &&
	[[ $(cat "$out.stamp") == "$digest $(state)" ]]; then
	echo "mk-disk-image: $out is up to date"
	exit 0
fi

mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
rm -f "$out.stamp"
chmod 644 "$tmp"
truncate -s "${size}M" "$tmp"
mkfs.ext4 -F -q -L minivmm -m 0 -d "$src" "$tmp" ||
	die "mkfs.ext4 -d $src $tmp: failed"
mv "$tmp" "$out"
echo "$digest $(state)" >"$out.stamp"
echo "mk-disk-image: $out: ${size} MiB ext4 with the files of $src"
