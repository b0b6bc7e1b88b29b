#!/usr/bin/env bash
# Interactive demo: boot the Debian 12 cloud kernel under minivmm with a
# busybox shell on the serial console (this terminal). Leave the shell with
# `exit` to power the VM off. Needs hardware-backed KVM.
#
# Usage: scripts/demo-linux.sh MINIVMM_BINARY
#   DEMO_CPUS (default 2), DEMO_MEM (default 512M), DEMO_CMDLINE_EXTRA
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$here")
die() { echo "demo-linux: $*" >&2; exit 1; }

(($# == 1)) || die "usage: scripts/demo-linux.sh MINIVMM_BINARY"
vmm=$1
[[ -x $vmm ]] || die "$vmm: minivmm binary not found or not executable"
[[ -e /dev/kvm ]] || die "/dev/kvm: missing; the demo needs KVM"
if [[ -d /sys/module/kvm_pvm ]]; then
	echo "demo-linux: warning: /dev/kvm is a software emulator (kvm_pvm); Linux is not expected to boot on it" >&2
fi

"$top/guest/fetch-debian-kernel.sh" >&2
"$top/guest/mk-initramfs.sh" "$top/build/guest/demo-initramfs.gz" "$top/guest/linux-init/demo.sh" >&2

kdir=$top/build/guest/linux
exec "$vmm" --kernel "$kdir/vmlinuz" --initrd "$top/build/guest/demo-initramfs.gz" \
	--cpus "${DEMO_CPUS:-2}" --mem "${DEMO_MEM:-512M}" \
	--cmdline "console=ttyS0 reboot=k panic=-1 quiet ${DEMO_CMDLINE_EXTRA:-}"
