#!/usr/bin/env bash
# `make demo`: boot something a person can type at.
# Usage: scripts/demo.sh MINIVMM MINITEST_BZIMAGE
# With hardware KVM: the Debian cloud kernel to a busybox shell. With KVM
# backed by an instruction emulator (kvm_pvm), where stock Linux cannot boot:
# the interactive test guest.
set -euo pipefail
vmm=$1
minitest=$2
here=$(cd "$(dirname "$0")" && pwd)

if [ ! -e /dev/kvm ]; then
	echo "demo: /dev/kvm is missing: load the kvm module and enable virtualization" >&2
	exit 1
fi
if [ ! -d /sys/module/kvm_pvm ]; then
	exec "$here/demo-linux.sh" "$vmm"
fi
cat >&2 <<'MSG'
demo: KVM on this machine is backed by an instruction emulator (kvm_pvm), and
demo: an unmodified Linux kernel cannot boot there (the emulator stops at
demo: cmpxchg16b, xrstor and int3). Booting the interactive test guest instead:
demo: type `help` at its prompt; Ctrl-A x quits.
MSG
exec "$vmm" --kernel "$minitest" --cpus 2 --mem 256M --cmdline "console=ttyS0 test=demo"
