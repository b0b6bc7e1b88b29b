#!/usr/bin/env bash
# `make check-linux`: boot an unmodified Debian 12 cloud kernel with a busybox
# initramfs under minivmm and check what Linux sees and does:
#   disk:    2 vCPUs, ~1 GiB of RAM, our command line (minivmm's default
#            plus linuxtest= words), kvm-clock; an ext4 --disk found through
#            ACPI (virtio-mmio, virtio-blk) with the right size and a file
#            whose sha256 matches the host's; a file the guest wrote, read
#            back on the host with debugfs; `poweroff -f` ends minivmm with
#            exit status 0.
#   disk-ro: the same image with --disk PATH,ro: Linux sees a read-only
#            disk, reads it, cannot write a file or the raw device, and the
#            image file is unchanged afterwards.
#   reboot:  a guest reboot ends minivmm with exit status 3.
#
# Usage: tests/integration/linux.sh MINIVMM_BINARY
#
# Needs hardware-backed KVM. On software-emulated KVM (the kvm_pvm module)
# Linux cannot boot at all, so the test is skipped with exit status 77, as
# it is when /dev/kvm is missing (a failure instead when CI=true).
# CHECK_LINUX_FORCE=1 runs it anyway (e.g. with a wrapper standing in for
# minivmm). Needs mkfs.ext4, debugfs and e2fsck (e2fsprogs) on the host.
# Logs and disk images go to build/guest/check-linux/.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

die() { echo "check-linux: $*" >&2; exit 1; }
skip() {
	{
		echo "************************************************************"
		echo "check-linux: SKIPPED: $*"
		echo "************************************************************"
	}
	exit 77
}

(($# == 1)) || die "usage: tests/integration/linux.sh MINIVMM_BINARY"
VMM=$1

# Kernel modules to pack into the initramfs (by name; dependencies such as
# virtio and virtio_ring follow). ext4 (with jbd2 and crc32c) is built into
# the Debian cloud kernel: mk-initramfs.sh notes that and packs nothing for
# it, but would pack it for a kernel that has it as a module.
MODULES=(virtio_mmio virtio_blk ext4 virtio_net net_failover failover virtio_console)
TIMEOUT=${GUEST_TIMEOUT:-120}
# The disk boots end with `poweroff -f`, which minivmm turns into exit
# status 0 through the ACPI sleep control register. POWEROFF_WORKS=no ends
# them with a reboot (exit 3) instead, for a VMM without ACPI power-off.
POWEROFF_WORKS=${POWEROFF_WORKS:-yes}
# minivmm's default command line (DEFAULT_CMDLINE in vmm/cli.h); the boots
# add only linuxtest= words to it.
BASE_CMDLINE="console=ttyS0 reboot=k panic=-1"
DISK_MB=32

if [[ ${CHECK_LINUX_FORCE:-} != 1 ]]; then
	if [[ -d /sys/module/kvm_pvm ]]; then
		skip "/dev/kvm is backed by a software emulator (module kvm_pvm is loaded), not by hardware virtualization; an unmodified Linux kernel cannot boot on it (the emulator fails on cmpxchg16b, xrstor and int3). Run make check-linux on a host with VT-x/AMD-V KVM."
	fi
	if ! require_kvm; then
		[[ ${CI:-} == true ]] && die "FAILED: CI=true and KVM is not usable"
		skip "KVM is not usable here (see above)"
	fi
fi

[[ -x $VMM ]] || die "$VMM: minivmm binary not found or not executable"
VMM=$(realpath "$VMM")
PATH=$PATH:/sbin:/usr/sbin
for tool in mkfs.ext4 debugfs e2fsck sha256sum; do
	command -v "$tool" >/dev/null || die "$tool: not found (install e2fsprogs)"
done

t_start=$(date +%s)
out=$top/build/guest/check-linux
mkdir -p "$out"
"$top/guest/fetch-debian-kernel.sh"
kdir=$top/build/guest/linux
kver=$(cat "$kdir/kernel-version")
init=$top/guest/linux-init/check.sh
"$top/guest/mk-initramfs.sh" "$out/initramfs.gz" "$init" "${MODULES[@]}"

# The disk: hello.txt with fresh random content, so a guest that reads a
# stale or wrong block cannot match its sha256 by accident.
src=$(mktemp -d "${TMPDIR:-/tmp}/check-linux-disk.XXXXXX")
trap 'rm -rf "$src"' EXIT
head -c 3000 /dev/urandom | base64 >"$src/hello.txt"
hello_sha=$(sha256sum "$src/hello.txt" | cut -d' ' -f1)
"$top/guest/mk-disk-image.sh" "$out/disk.img" "$DISK_MB" "$src"
"$top/guest/mk-disk-image.sh" "$out/disk-ro.img" "$DISK_MB" "$src"
# What the guest writes to /from-guest.txt (see step_disk in check.sh).
phrase=$(sed -n 's/^PHRASE="\(.*\)"$/\1/p' "$init")
[[ -n $phrase ]] || die "$init: no PHRASE=\"...\" line"
printf '%s\nkernel %s\n' "$phrase" "$kver" >"$out/from-guest.expected"

# boot NAME LINUXTEST_WORDS [MINIVMM_OPTION ...]: boot the guest with the
# default command line plus linuxtest=WORD for each word; leaves NAME.log
# (serial console, CRs removed), NAME.err and NAME.rc in $out.
boot() {
	local name=$1 words=$2 rc=0 t0 cmdline=$BASE_CMDLINE w
	shift 2
	for w in $words; do cmdline+=" linuxtest=$w"; done
	t0=$(date +%s)
	timeout -k 5 "$TIMEOUT" "$VMM" --kernel "$kdir/vmlinuz" --initrd "$out/initramfs.gz" \
		--cpus 2 --mem 1G --cmdline "$cmdline" "$@" \
		</dev/null >"$out/$name.out" 2>"$out/$name.err" || rc=$?
	tr -d '\r' <"$out/$name.out" >"$out/$name.log"
	echo "$rc" >"$out/$name.rc"
	echo "check-linux: boot '$name' ($words${*:+; $*}): exit $rc after $(($(date +%s) - t0)) s"
}

# expect_exit NAME WANT: minivmm's exit status of boot NAME.
expect_exit() {
	local got
	got=$(cat "$out/$1.rc")
	if [[ $got == "$2" ]]; then
		pass "$1: minivmm exits $2"
	elif [[ $got == 124 || $got == 137 ]]; then
		fail "$1: minivmm exits $2" "timed out after $TIMEOUT s; console: '$(tail -n 3 "$out/$1.log" | tr '\n' ' ')' stderr: '$(tail -n 2 "$out/$1.err" | tr '\n' ' ')'"
	else
		fail "$1: minivmm exits $2" "got $got; stderr: $(tail -n 3 "$out/$1.err" | tr '\n' ' ')"
	fi
}

if [[ $POWEROFF_WORKS == yes ]]; then
	last=poweroff last_rc=0
else
	last=reboot last_rc=3
fi

# --- disk: what Linux sees, and a read-write ext4 disk ---------------------
boot disk "disk $last" --disk "$out/disk.img"
log=$out/disk.log
expect_eq "$(field "$log" 'LINUXTEST modules')" ok "disk: virtio modules load"
expect_line "$log" "^LINUXTEST end $last\$" "disk: /init ran to the end"
expect_eq "$(field "$log" 'LINUXTEST nproc')" 2 "disk: Linux sees 2 CPUs"
expect_range "$(field "$log" 'LINUXTEST memtotal_kb')" 900000 1048576 "disk: MemTotal fits 1G"
expect_line "$log" "^LINUXTEST cmdline $BASE_CMDLINE linuxtest=disk linuxtest=$last( |\$)" \
	"disk: Linux sees our command line"
if grep -aq '^LINUXTEST cmdline .*virtio_mmio\.device=' "$log"; then
	fail "disk: no virtio_mmio.device= on the command line" "the disk must be found through ACPI"
else
	pass "disk: no virtio_mmio.device= on the command line"
fi
expect_eq "$(field "$log" 'LINUXTEST clocksource')" kvm-clock "disk: clocksource is kvm-clock"
expect_eq "$(field "$log" 'LINUXTEST vda_size')" $((DISK_MB << 20)) "disk: /dev/vda is $DISK_MB MiB"
expect_eq "$(field "$log" 'LINUXTEST vda_ro')" 0 "disk: /dev/vda is writable"
expect_eq "$(field "$log" 'LINUXTEST mount')" ok "disk: ext4 mounts"
expect_eq "$(field "$log" 'LINUXTEST sha256')" "$hello_sha" "disk: sha256 of hello.txt matches the host's"
expect_eq "$(field "$log" 'LINUXTEST write')" ok "disk: guest writes from-guest.txt"
expect_eq "$(field "$log" 'LINUXTEST umount')" ok "disk: umount"
expect_exit disk "$last_rc"
if debugfs -R 'cat /from-guest.txt' "$out/disk.img" >"$out/from-guest.got" 2>"$out/debugfs.err" &&
	cmp -s "$out/from-guest.got" "$out/from-guest.expected"; then
	pass "disk: host reads the guest's from-guest.txt"
else
	fail "disk: host reads the guest's from-guest.txt" \
		"got '$(head -c 200 "$out/from-guest.got" | tr '\n' '|')', want '$(tr '\n' '|' <"$out/from-guest.expected")' ($(tail -n1 "$out/debugfs.err"))"
fi
if e2fsck -fn "$out/disk.img" >"$out/e2fsck.log" 2>&1; then
	pass "disk: e2fsck finds the filesystem clean"
else
	fail "disk: e2fsck finds the filesystem clean" "see $out/e2fsck.log: $(tail -n1 "$out/e2fsck.log")"
fi

# --- disk-ro: the same through --disk PATH,ro -------------------------------
ro_sha_before=$(sha256sum "$out/disk-ro.img" | cut -d' ' -f1)
boot disk-ro "disk-ro $last" --disk "$out/disk-ro.img,ro"
log=$out/disk-ro.log
expect_line "$log" "^LINUXTEST end $last\$" "disk-ro: /init ran to the end"
expect_eq "$(field "$log" 'LINUXTEST vda_size')" $((DISK_MB << 20)) "disk-ro: /dev/vda is $DISK_MB MiB"
expect_eq "$(field "$log" 'LINUXTEST vda_ro')" 1 "disk-ro: /dev/vda is read-only"
expect_eq "$(field "$log" 'LINUXTEST mount')" ok "disk-ro: ext4 mounts read-only"
expect_eq "$(field "$log" 'LINUXTEST sha256')" "$hello_sha" "disk-ro: sha256 of hello.txt matches the host's"
expect_eq "$(field "$log" 'LINUXTEST write')" failed "disk-ro: writing a file fails"
expect_eq "$(field "$log" 'LINUXTEST write_dev')" failed "disk-ro: writing the raw device fails"
expect_exit disk-ro "$last_rc"
expect_eq "$(sha256sum "$out/disk-ro.img" | cut -d' ' -f1)" "$ro_sha_before" \
	"disk-ro: the image file is unchanged"

# --- net: eth0 on a tap in a network namespace made for this test ----------
ns=minivmm-linux-$$
ip netns add "$ns"
trap 'rm -rf "$src"; ip netns del "$ns" 2>/dev/null' EXIT
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up
in_ns ip tuntap add tap0 mode tap vnet_hdr
in_ns ip addr add 10.77.0.1/24 dev tap0
in_ns ip link set tap0 up
head -c 4194304 /dev/urandom >"$out/net-to-guest"
rm -f "$out/net-from-guest"
in_ns timeout "$TIMEOUT" socat -u TCP-LISTEN:5002,reuseaddr "OPEN:$out/net-from-guest,creat,trunc" &
listener=$!
words="net $last"
cmdline="$BASE_CMDLINE linuxtest=net linuxtest=$last linuxtest.ip=10.77.0.2/24 linuxtest.hostip=10.77.0.1"
in_ns timeout -k 5 "$TIMEOUT" "$VMM" --kernel "$kdir/vmlinuz" --initrd "$out/initramfs.gz" \
	--cpus 2 --mem 1G --cmdline "$cmdline" --net tap=tap0 </dev/null >"$out/net.out" 2>"$out/net.err" &
vm=$!
for ((i = 0; i < TIMEOUT * 10; i++)); do
	grep -aq '^LINUXTEST net_up' "$out/net.out" && break
	sleep 0.1
done
if in_ns ping -c 3 -W 5 10.77.0.2 >"$out/net-ping.log" 2>&1; then
	pass "net: the host pings the guest"
else
	fail "net: the host pings the guest" "$(tail -n 1 "$out/net-ping.log")"
fi
in_ns socat -u "FILE:$out/net-to-guest" TCP:10.77.0.2:5001,retry=20,interval=0.5 ||
	fail "net: send to the guest" "socat failed"
rc=0
wait "$vm" || rc=$?
wait "$listener" || true
tr -d '\r' <"$out/net.out" >"$out/net.log"
echo "$rc" >"$out/net.rc"
echo "check-linux: boot 'net' ($words; --net tap=tap0): exit $rc"
log=$out/net.log
expect_eq "$(field "$log" 'LINUXTEST net_link')" up "net: eth0 link is up"
expect_eq "$(field "$log" 'LINUXTEST net_ping')" ok "net: the guest pings the host"
expect_eq "$(field "$log" 'LINUXTEST net_rx_sha256')" "$(sha256sum <"$out/net-to-guest" | cut -d' ' -f1)" \
	"net: 4 MiB host -> guest keep their sha256"
expect_eq "$(sha256sum <"$out/net-from-guest" 2>/dev/null | cut -d' ' -f1)" \
	"$(field "$log" 'LINUXTEST net_tx_sha256')" "net: 8 MiB guest -> host keep their sha256"
expect_exit net "$last_rc"
ip netns del "$ns"

# --- hvc: the console through virtio-console -------------------------------
boot hvc "hvc $last" --console virtio --cmdline "console=hvc0 reboot=k panic=-1 linuxtest=hvc linuxtest=$last"
expect_line "$out/hvc.log" '^LINUXTEST console .*hvc0' "hvc: the console is hvc0"
expect_line "$out/hvc.log" "^LINUXTEST end $last\$" "hvc: /init's output arrives through hvc0"
expect_exit hvc "$last_rc"

# --- reboot ----------------------------------------------------------------
boot reboot reboot
expect_line "$out/reboot.log" '^LINUXTEST end reboot$' "reboot: /init asked for a reboot"
expect_exit reboot 3

echo "check-linux: $(($(date +%s) - t_start)) s in all"
summary
