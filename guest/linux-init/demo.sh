#!/bin/sh
# /init of the interactive demo guest (scripts/demo-linux.sh): a busybox
# shell on the serial console; leaving it powers the VM off.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts 2>/dev/null || true
[ -s /etc/modules ] && load-modules
hostname minivmm

cat <<BANNER

  Welcome to Linux $(uname -r) on minivmm
  $(nproc) CPU(s), $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo) kB of memory.
  This is a busybox shell on ttyS0; type 'exit' to power the VM off.

BANNER

# cttyhack gives the shell a controlling tty, so Ctrl-C works.
setsid cttyhack sh -l
echo "demo: shell exited, powering off"
sync
poweroff -f
# Without ACPI power-off the kernel halts; a reset at least ends the VM.
reboot -f
