#!/bin/sh
# shellcheck disable=SC3043,SC2016 # busybox ash has local; sh -c scripts are quoted on purpose
# /init of the check-linux guest (tests/integration/linux.sh): report what
# the kernel sees as "LINUXTEST <key> <value>" lines on the console, run the
# steps named by the `linuxtest=` words of the kernel command line (there
# may be several, and one may list several steps separated by commas), in
# order, then end the VM:
#   linuxtest=disk      /dev/vda is an ext4 disk: report its size, mount it,
#                       report the sha256 of /hello.txt on it, write
#                       /from-guest.txt ("$PHRASE" and the kernel version),
#                       sync, unmount
#   linuxtest=disk-ro   /dev/vda is a read-only ext4 disk: report its size
#                       and read-only flag, mount it read-only, report the
#                       sha256 of /hello.txt, try to write a file on it and
#                       then the raw device (both must fail)
#   linuxtest=net       eth0 up (linuxtest.ip=, linuxtest.hostip=), ping the
#                       host, receive a file on port 5001, send one to 5002
#   linuxtest=hvc       report which console /init and the kernel write to
#   linuxtest=reboot    end with reboot -f   (the VMM exits with status 3)
#   linuxtest=poweroff  end with poweroff -f (ACPI power-off: status 0)
# Without reboot or poweroff it ends with reboot -f; an unknown step is
# reported as "LINUXTEST unknown_step WORD". Every step reports and goes on
# when something fails, so the VM always ends and the host sees what broke.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
PHRASE="written by the minivmm check-linux guest"
VDA_WAIT_S=10 # how long to wait for /dev/vda to appear

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true
exec </dev/console >/dev/console 2>&1

say() { echo "LINUXTEST $*"; }
# ok_or_failed COMMAND...: run it; print "ok" or "failed" (its output goes
# to the console as it is).
ok_or_failed() { if "$@"; then echo ok; else echo failed; fi; }

# Modules packed by mk-initramfs.sh (virtio transport and block driver).
if [ -s /etc/modules ]; then
	say modules "$(ok_or_failed load-modules)"
	# With console=hvc0 the console exists only now that virtio_console is loaded.
	exec </dev/console >/dev/console 2>&1
fi

say begin
say nproc "$(nproc)"
say memtotal_kb "$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
say cmdline "$(cat /proc/cmdline)"
cs=/sys/devices/system/clocksource/clocksource0/current_clocksource
say clocksource "$(cat $cs 2>/dev/null || echo unknown)"

# wait_vda: wait up to VDA_WAIT_S seconds for /dev/vda; report its size in
# bytes (or "vda missing"); return 1 if it never came.
wait_vda() {
	local i=0
	while [ ! -b /dev/vda ] || [ ! -e /sys/block/vda/size ]; do
		if [ $i -ge $((VDA_WAIT_S * 10)) ]; then
			say vda missing
			ls /sys/bus/virtio/devices /sys/bus/platform/drivers/virtio-mmio 2>&1
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
	say vda_size $(($(cat /sys/block/vda/size) * 512))
	say vda_ro "$(cat /sys/block/vda/ro)"
}

hello_sha256() {
	if [ -f /mnt/hello.txt ]; then
		say sha256 "$(sha256sum /mnt/hello.txt | cut -d' ' -f1)"
	else
		say sha256 missing
	fi
}

step_disk() {
	wait_vda || return 0
	say mount "$(ok_or_failed mount -t ext4 /dev/vda /mnt)"
	grep -q ' /mnt ' /proc/mounts || return 0
	hello_sha256
	say write "$(ok_or_failed sh -c 'printf "%s\nkernel %s\n" "$1" "$(uname -r)" >/mnt/from-guest.txt && sync' sh "$PHRASE")"
	say umount "$(ok_or_failed umount /mnt)"
}

step_disk_ro() {
	local blocks
	wait_vda || return 0
	say mount "$(ok_or_failed mount -t ext4 -o ro /dev/vda /mnt)"
	grep -q ' /mnt ' /proc/mounts || return 0
	hello_sha256
	# Both writes must fail; "ok" means the disk took a write it must not.
	say write "$(ok_or_failed sh -c 'echo "$1" >/mnt/from-guest.txt' sh "$PHRASE")"
	say umount "$(ok_or_failed umount /mnt)"
	# The last 4 KiB of the raw device. Linux refuses this itself (EPERM)
	# once the driver has flagged the disk read-only (VIRTIO_BLK_F_RO), so
	# the write reaches the VMM only if that flag is missing; the host
	# checks the image file too.
	blocks=$(($(cat /sys/block/vda/size) / 8))
	yes "$PHRASE" | head -c 4096 >/tmp/pattern # not zeros: mkfs leaves zeros there
	say write_dev "$(ok_or_failed dd if=/tmp/pattern of=/dev/vda bs=4096 count=1 \
		seek=$((blocks - 1)) conv=notrunc,fsync oflag=direct)"
}

# cmdline_value KEY DEFAULT: the value of KEY=... on the kernel command line.
cmdline_value() {
	local word
	for word in $(cat /proc/cmdline); do
		case $word in "$1"=*) echo "${word#*=}"; return ;; esac
	done
	echo "$2"
}

# step_net: eth0 up with a static address, ping the host, then one transfer
# each way with busybox nc (the host sends to port 5001 and listens on 5002).
step_net() {
	local ip host i=0
	ip=$(cmdline_value linuxtest.ip 10.77.0.2/24)
	host=$(cmdline_value linuxtest.hostip 10.77.0.1)
	while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	ip link set lo up
	ip link set eth0 up && ip addr add "$ip" dev eth0
	i=0
	while [ "$(cat /sys/class/net/eth0/operstate 2>/dev/null)" != up ] && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	say net_link "$(cat /sys/class/net/eth0/operstate 2>/dev/null || echo missing)"
	# The first echo may go while the host still resolves our address: allow a few.
	say net_ping "$(ok_or_failed ping -c 5 -w 10 "$host" >/dev/null)"
	say net_up
	nc -l -p 5001 >/tmp/in
	say net_rx_sha256 "$(sha256sum /tmp/in | cut -d' ' -f1)"
	head -c 8388608 /dev/urandom >/tmp/out
	say net_tx_sha256 "$(sha256sum /tmp/out | cut -d' ' -f1)"
	say net_tx "$(ok_or_failed nc "${host%/*}" 5002 </tmp/out)"
}

steps=
for word in $(cat /proc/cmdline); do
	case $word in
	linuxtest=*) steps="$steps $(echo "${word#linuxtest=}" | tr , ' ')" ;;
	esac
done

action=reboot
for step in $steps; do
	case $step in
	disk) step_disk ;;
	disk-ro) step_disk_ro ;;
	net) step_net ;;
	hvc) say console "$(basename "$(readlink -f /proc/self/fd/0)") $(cat /sys/class/tty/console/active)" ;;
	reboot | poweroff) action=$step ;;
	*) say unknown_step "$step" ;;
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
