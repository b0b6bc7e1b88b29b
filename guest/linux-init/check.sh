#!/bin/sh
# /init of the check-linux guest (tests/integration/linux.sh): report what
# the kernel sees as "LINUXTEST <key> <value>" lines on the console, then end
# the VM as the `linuxtest=` word of the kernel command line says:
#   linuxtest=reboot    reboot -f   (the VMM exits with status 3, reset)
#   linuxtest=poweroff  poweroff -f (needs ACPI power-off in the VMM)
#   anything else       reboot -f   (until the VMM has ACPI)
export PATH=/sbin:/bin:/usr/sbin:/usr/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
exec </dev/console >/dev/console 2>&1

# Modules packed by mk-initramfs.sh, if any.
[ -s /etc/modules ] && load-modules

echo "LINUXTEST begin"
echo "LINUXTEST nproc $(nproc)"
echo "LINUXTEST memtotal_kb $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
echo "LINUXTEST cmdline $(cat /proc/cmdline)"
cs=/sys/devices/system/clocksource/clocksource0/current_clocksource
echo "LINUXTEST clocksource $(cat $cs 2>/dev/null || echo unknown)"

action=reboot
for word in $(cat /proc/cmdline); do
	case $word in
	linuxtest=*) action=${word#linuxtest=} ;;
	esac
done
echo "LINUXTEST end $action"
sync
case $action in
poweroff) poweroff -f ;;
*) reboot -f ;;
esac
# Only reached if the request failed; panic=-1 makes the kernel reset.
echo "LINUXTEST $action failed"
exit 1
