#!/usr/bin/env bash
# Build a gzip'd cpio (newc) initramfs for test guests: static busybox with
# all its applets as symlinks, /dev/console and /dev/null nodes, empty
# /proc /sys /dev /tmp /run, INIT_SCRIPT as /init, and the named kernel
# modules of the fetched kernel together with everything they depend on.
#
# Usage: guest/mk-initramfs.sh OUT INIT_SCRIPT [MODULE ...]
#   KERNEL_DIR  output of guest/fetch-debian-kernel.sh
#               (default build/guest/linux)
#
# Modules are resolved by name (dashes and underscores are equivalent) with
# the kernel's modules.dep, decompressed when packed (.ko.xz/.ko.zst/.ko.gz ->
# .ko) and stored under /lib/modules/VERSION/ with a matching modules.dep, so
# busybox `modprobe NAME` works. /etc/modules lists them in dependency order
# and /sbin/load-modules insmods them in that order; an /init that needs
# modules runs `load-modules`. Built-in modules are skipped with a note.
#
# Cached: OUT is rebuilt only when it is older than one of its inputs (this
# script, INIT_SCRIPT, busybox, the kernel's modules.dep) or the module list
# changed (it is kept in OUT.modules).
set -euo pipefail

die() { echo "mk-initramfs: $*" >&2; exit 1; }

(($# >= 2)) || die "usage: guest/mk-initramfs.sh OUT INIT_SCRIPT [MODULE ...]"
out=$1 init=$2
shift 2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
kdir=${KERNEL_DIR:-$top/build/guest/linux}

[[ -f $init ]] || die "$init: init script not found"
for f in busybox kernel-version modules/modules.dep; do
	[[ -e $kdir/$f ]] || die "$kdir/$f: missing (run guest/fetch-debian-kernel.sh first)"
done
kver=$(cat "$kdir/kernel-version")
moddir=$kdir/modules
bb=$kdir/busybox
wanted="$*"

# --- cache check --------------------------------------------------------
uptodate=yes
if [[ ! -s $out || ! -f $out.modules ]] || [[ $(cat "$out.modules") != "$kver: $wanted" ]]; then
	uptodate=no
else
	for input in "${BASH_SOURCE[0]}" "$init" "$bb" "$moddir/modules.dep"; do
		[[ $out -nt $input ]] || uptodate=no
	done
fi
if [[ $uptodate == yes ]]; then
	echo "mk-initramfs: $out is up to date"
	exit 0
fi

# --- resolve modules ----------------------------------------------------
declare -A path_of=() deps_of=() builtin=() seen=()
order=()
norm() { local n=${1##*/}; n=${n%%.ko*}; echo "${n//-/_}"; }
if (($# > 0)); then
	while IFS= read -r line; do
		mod=${line%%:*}
		n=$(norm "$mod")
		path_of[$n]=$mod
		deps_of[$n]=${line#*:}
	done <"$moddir/modules.dep"
	if [[ -f $moddir/modules.builtin ]]; then
		while IFS= read -r line; do builtin[$(norm "$line")]=1; done <"$moddir/modules.builtin"
	fi
fi
# Depth-first, dependencies before the module that needs them.
add_module() {
	local n d
	n=$(norm "$1")
	[[ -n ${seen[$n]:-} ]] && return 0
	seen[$n]=1
	if [[ -z ${path_of[$n]:-} ]]; then
		if [[ -n ${builtin[$n]:-} ]]; then
			echo "mk-initramfs: module $1 is built into kernel $kver; not packing it"
			return 0
		fi
		die "module $1: not in $moddir/modules.dep (kernel $kver)"
	fi
	for d in ${deps_of[$n]}; do add_module "$d"; done
	order+=("${path_of[$n]}")
}
for m in "$@"; do add_module "$m"; done

# --- stage the tree -----------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mk-initramfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,mnt}
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
chmod 755 "$root/bin/busybox"
"$bb" --list-full >"$tmp/applets" || die "$bb --list-full: failed (not an x86-64 busybox?)"
while IFS= read -r applet; do
	[[ $applet == bin/busybox || -e $root/$applet ]] && continue
	mkdir -p "$root/$(dirname "$applet")"
	# Relative path back to /bin/busybox from the applet's directory.
	rel=$(dirname "$applet" | sed 's|[^/]*|..|g')/bin/busybox
	ln -s "$rel" "$root/$applet"
done <"$tmp/applets"
[[ -e $root/bin/sh ]] || die "$bb: has no sh applet"

install -m 755 "$init" "$root/init"

mdest=$root/lib/modules/$kver
mkdir -p "$mdest"
: >"$root/etc/modules"
: >"$mdest/modules.dep"
for mod in "${order[@]}"; do
	plain=${mod%.xz}; plain=${plain%.zst}; plain=${plain%.gz}
	mkdir -p "$mdest/$(dirname "$plain")"
	case $mod in
	*.ko.xz) xz -dc "$moddir/$mod" >"$mdest/$plain" ;;
	*.ko.zst) zstd -q -dc "$moddir/$mod" >"$mdest/$plain" ;;
	*.ko.gz) gzip -dc "$moddir/$mod" >"$mdest/$plain" ;;
	*.ko) cp "$moddir/$mod" "$mdest/$plain" ;;
	*) die "$mod: unknown module file type" ;;
	esac || die "$moddir/$mod: cannot decompress"
	n=$(norm "$mod")
	deps=""
	for d in ${deps_of[$n]}; do
		d=${d%.xz}; d=${d%.zst}; d=${d%.gz}
		deps+=" $d"
	done
	echo "$plain:$deps" >>"$mdest/modules.dep"
	echo "$plain" >>"$root/etc/modules"
done
cat >"$root/sbin/load-modules" <<LOADER
#!/bin/sh
# Made by mk-initramfs.sh: insmod the packed modules in dependency order.
set -e
while read -r m; do
	[ -n "\$m" ] || continue
	name=\$(basename "\$m" .ko | tr - _)
	[ -d "/sys/module/\$name" ] && continue # already loaded, e.g. by modprobe
	insmod "/lib/modules/$kver/\$m"
done </etc/modules
LOADER
chmod 755 "$root/sbin/load-modules"
echo "$kver" >"$root/etc/kernel-version"

# --- pack ---------------------------------------------------------------
# A newc entry for a character device, written by hand so the archive can
# be made without root (mknod needs it). Args: NAME MAJOR MINOR INODE.
newc_chardev() {
	local name=$1 major=$2 minor=$3 ino=$4 namesize pad
	namesize=$((${#name} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		"$ino" $((8#020600)) 0 0 1 0 0 0 0 "$major" "$minor" "$namesize" 0
	printf '%s\0' "$name"
	pad=$(((4 - (110 + namesize) % 4) % 4))
	head -c "$pad" /dev/zero
}
newc_trailer() {
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		0 0 0 0 1 0 0 0 0 0 0 11 0
	printf 'TRAILER!!!\0'
	head -c 3 /dev/zero # 110 + 11 + 3 = 124, a multiple of 4
}

# Fixed timestamps and sorted names: same inputs, same bytes.
find "$root" -exec touch -h -d @0 {} +
{
	(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --reproducible --quiet) ||
		die "cpio: failed to pack $root"
	# The kernel reads concatenated archives; these nodes land in dev/.
	newc_chardev dev/console 5 1 900001
	newc_chardev dev/null 1 3 900002
	newc_trailer
} | gzip -n -9 >"$tmp/initramfs.gz"

mkdir -p "$(dirname "$out")"
mv "$tmp/initramfs.gz" "$out"
echo "$kver: $wanted" >"$out.modules"
echo "mk-initramfs: $out: $(du -k "$out" | cut -f1) KiB, busybox + ${#order[@]} module(s) for $kver"
