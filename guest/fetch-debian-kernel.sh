#!/usr/bin/env bash
# Fetch the Debian 12 cloud kernel and a static busybox for test guests,
# without installing anything on the host: the .debs are downloaded with
# `apt-get download` and unpacked with `dpkg-deb -x`.
#
# Usage: guest/fetch-debian-kernel.sh [OUTDIR]     (default build/guest/linux)
#
# Produces:
#   OUTDIR/vmlinuz         the kernel (symlink to root/boot/vmlinuz-VERSION)
#   OUTDIR/kernel-version  VERSION, e.g. 6.1.0-56-cloud-amd64
#   OUTDIR/modules         symlink to root/lib/modules/VERSION, with a
#                          modules.dep made by `depmod -b` (the .deb has none)
#   OUTDIR/busybox         static busybox binary
#   OUTDIR/root/           the unpacked packages
#   OUTDIR/packages        the exact package versions fetched
# Cached: when all of these exist it does nothing; delete OUTDIR to refetch.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
out=${1:-$top/build/guest/linux}
META=linux-image-cloud-amd64

die() { echo "fetch-debian-kernel: $*" >&2; exit 1; }

if [[ -e $out/vmlinuz && -s $out/kernel-version && -x $out/busybox &&
	-e $out/modules/modules.dep ]]; then
	echo "fetch-debian-kernel: $out is up to date ($(cat "$out/kernel-version"))"
	exit 0
fi

for tool in apt-get apt-cache dpkg-deb depmod; do
	command -v "$tool" >/dev/null ||
		die "$tool: not found (run scripts/setup-deps.sh; depmod is in kmod)"
done

# The meta package depends on exactly one versioned image package.
kpkg=$(apt-cache depends "$META" 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)
[[ -n $kpkg ]] ||
	die "$META: cannot resolve its versioned kernel package (apt-get update? bookworm sources?)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fetch-kernel.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# As root, apt downloads as user _apt, which cannot write the private temp
# dir; download as root instead of letting apt warn about it.
aptopt=()
((EUID == 0)) && aptopt=(-o APT::Sandbox::User=root)

echo "fetch-debian-kernel: downloading $kpkg busybox-static"
(cd "$tmp" && apt-get download -q "${aptopt[@]}" "$kpkg" busybox-static) >"$tmp/download.log" 2>&1 ||
	die "apt-get download $kpkg busybox-static: failed: $(tail -n1 "$tmp/download.log")"

stage=$tmp/out
mkdir -p "$stage/root"
for deb in "$tmp"/*.deb; do
	dpkg-deb -x "$deb" "$stage/root" || die "$(basename "$deb"): dpkg-deb -x failed"
	dpkg-deb -W --showformat='${Package} ${Version}\n' "$deb" >>"$stage/packages"
done

vmlinuz=$(find "$stage/root/boot" -maxdepth 1 -name 'vmlinuz-*' | head -n1)
[[ -n $vmlinuz ]] || die "$kpkg: no boot/vmlinuz-* in the package"
kver=${vmlinuz##*/vmlinuz-}
[[ -d $stage/root/lib/modules/$kver ]] || die "$kpkg: no lib/modules/$kver in the package"
[[ -x $stage/root/bin/busybox ]] || die "busybox-static: no bin/busybox in the package"

# Debian generates modules.dep at install time; make it in the unpacked tree.
depmod -b "$stage/root" "$kver" || die "depmod -b $stage/root $kver: failed"

echo "$kver" >"$stage/kernel-version"
ln -s "root/boot/vmlinuz-$kver" "$stage/vmlinuz"
ln -s "root/lib/modules/$kver" "$stage/modules"
cp "$stage/root/bin/busybox" "$stage/busybox"

# Replace OUTDIR in one step so an interrupted run never looks complete.
mkdir -p "$(dirname "$out")"
rm -rf "$out"
mv "$stage" "$out"
echo "fetch-debian-kernel: $out: kernel $kver"
