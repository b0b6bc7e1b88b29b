#!/usr/bin/env bash
# `make check-linux`: boot an unmodified Debian 12 cloud kernel with a busybox
# initramfs under minivmm and check what Linux sees: 2 vCPUs, ~1 GiB of RAM,
# our command line, kvm-clock; and that a guest reboot ends minivmm with
# exit status 3.
#
# Usage: tests/integration/linux.sh MINIVMM_BINARY
#
# Needs hardware-backed KVM. On software-emulated KVM (the kvm_pvm module)
# Linux cannot boot at all, so the test is skipped with exit status 77, as
# it is when /dev/kvm is missing (a failure instead when CI=true).
# CHECK_LINUX_FORCE=1 runs it anyway (e.g. with a wrapper standing in for
# minivmm). Logs go to build/guest/check-linux/.
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

# Kernel modules to pack into the initramfs (by name; dependencies follow),
# e.g. (virtio_pci virtio_blk virtio_net) once minivmm has virtio devices.
MODULES=()
TIMEOUT=${GUEST_TIMEOUT:-120}
# The first boot ends with `poweroff -f` once minivmm has ACPI power-off
# (set POWEROFF_WORKS=yes then; it exits 0). Until then a kernel without
# ACPI power-off just halts, so both boots end with a reboot (exit 3).
POWEROFF_WORKS=${POWEROFF_WORKS:-no}

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

out=$top/build/guest/check-linux
mkdir -p "$out"
"$top/guest/fetch-debian-kernel.sh"
kdir=$top/build/guest/linux
"$top/guest/mk-initramfs.sh" "$out/initramfs.gz" "$top/guest/linux-init/check.sh" "${MODULES[@]}"

# boot NAME ACTION: boot the guest with linuxtest=ACTION; leaves NAME.log
# (serial console, CRs removed), NAME.err and NAME.rc in $out.
boot() {
	local name=$1 action=$2 rc=0 t0
	t0=$(date +%s)
	timeout -k 5 "$TIMEOUT" "$VMM" --kernel "$kdir/vmlinuz" --initrd "$out/initramfs.gz" \
		--cpus 2 --mem 1G --cmdline "console=ttyS0 reboot=k panic=-1 linuxtest=$action" \
		</dev/null >"$out/$name.out" 2>"$out/$name.err" || rc=$?
	tr -d '\r' <"$out/$name.out" >"$out/$name.log"
	echo "$rc" >"$out/$name.rc"
	echo "check-linux: boot '$name' (linuxtest=$action): exit $rc after $(($(date +%s) - t0)) s"
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
	first=poweroff first_rc=0
else
	first=report first_rc=3 # not a known action: /init reboots
fi

boot report "$first"
log=$out/report.log
expect_line "$log" '^LINUXTEST end ' "report: /init ran to the end"
expect_eq "$(field "$log" 'LINUXTEST nproc')" 2 "report: Linux sees 2 CPUs"
expect_range "$(field "$log" 'LINUXTEST memtotal_kb')" 900000 1048576 "report: MemTotal fits 1G"
expect_line "$log" "^LINUXTEST cmdline (.* )?linuxtest=$first( |\$)" "report: Linux sees our command line"
expect_eq "$(field "$log" 'LINUXTEST clocksource')" kvm-clock "report: clocksource is kvm-clock"
expect_exit report "$first_rc"

boot reboot reboot
expect_line "$out/reboot.log" '^LINUXTEST end reboot$' "reboot: /init asked for a reboot"
expect_exit reboot 3

summary
