#!/bin/sh
# shellcheck disable=SC3043,SC2016,SC2013,SC2317 # busybox ash has local; sh -c scripts are quoted on purpose; the command line is read word by word; functions run through wait_for
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
#   linuxtest=net       eth0 gets linuxtest.ip= (e.g. 10.77.0.2/24) and comes
#                       up; ping the host (linuxtest.hostip=, e.g. 10.77.0.1);
#                       receive one file from the host on TCP port 5001
#                       (busybox nc -l) and report its sha256, then send
#                       NET_TX_MB MiB of random bytes to the host's port 5002
#                       and report their sha256
#   linuxtest=hvc       report the device behind /dev/console (hvc0 when the
#                       command line says console=hvc0)
#   linuxtest=snapshot  mount /dev/vda and start the record workload in the
#                       background: it appends "N PAYLOAD SUM" lines to
#                       /records (N counts from 1, PAYLOAD is 12 random bytes
#                       in hex, SUM the first 16 hex digits of the sha256 of
#                       "N PAYLOAD\n"), syncs after each and prints
#                       "LINUXTEST progress N SUM". Meanwhile /init reads
#                       commands from the console (echo off), one a line:
#                         ping TOKEN  answer "LINUXTEST pong TOKEN N" (N the
#                                     last record synced)
#                         finish      stop the workload, unmount, mount the
#                                     disk read-only again and check /records
#                                     from the disk ("LINUXTEST records ok N"),
#                                     unmount, go on with the next step
#                       The host saves the VM with savevm while it runs and
#                       goes on in a new process started with --restore.
#   linuxtest=powerdown load the ACPI power button (button, evdev) and start
#                       busybox acpid, whose handler for the button
#                       (/etc/acpi/PWRF/00000080) prints "LINUXTEST
#                       power_button pressed", unmounts /dev/vda (mounted
#                       read-write here) and runs poweroff -f; print
#                       "LINUXTEST ready" and wait POWERDOWN_WAIT_S seconds
#                       for the host's system_powerdown
#   linuxtest=reboot    end with reboot -f   (the VMM exits with status 3)
#   linuxtest=poweroff  end with poweroff -f (ACPI power-off: status 0)
# Without reboot or poweroff it ends with reboot -f; an unknown step is
# reported as "LINUXTEST unknown_step WORD". Every step reports and goes on
# when something fails, so the VM always ends and the host sees what broke.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
PHRASE="written by the minivmm check-linux guest"
VDA_WAIT_S=10 # how long to wait for /dev/vda to appear
ETH0_WAIT_S=10 # ... for eth0, and then for its link to come up
NET_XFER_S=60  # longest a transfer with the host may take
NET_TX_MB=8    # how much the guest sends to the host
RECORD_PERIOD=0.2  # the snapshot workload's pause between two records
POWERDOWN_WAIT_S=90 # how long to wait for the power button

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || true

say() { echo "LINUXTEST $*"; }
# ok_or_failed COMMAND...: run it; print "ok" or "failed" (its output goes
# to the console as it is).
ok_or_failed() { if "$@"; then echo ok; else echo failed; fi; }

# Modules packed by mk-initramfs.sh (virtio transport and the block, net
# and console drivers), loaded before /dev/console is opened: with
# console=hvc0 the console is virtio_console's hvc0, a module, so the kernel
# could not open /dev/console for /init ("unable to open an initial
# console") and it cannot be opened until the module is in.
modules=
if [ -s /etc/modules ]; then
	if load-modules >/tmp/load-modules.log 2>&1; then modules=ok; else modules=failed; fi
fi
i=0
while ! (true <>/dev/console) 2>/dev/null && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
exec </dev/console >/dev/console 2>&1
if [ -n "$modules" ]; then
	cat /tmp/load-modules.log
	say modules "$modules"
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

# cmdline_value KEY: print the value of the last KEY=VALUE word of the
# kernel command line (nothing if there is none).
cmdline_value() {
	local word value=
	for word in $(cat /proc/cmdline); do
		case $word in "$1"=*) value=${word#*=} ;; esac
	done
	echo "$value"
}

# wait_for SECONDS COMMAND...: run COMMAND every 0.1 s until it succeeds;
# return 1 if it still fails after SECONDS.
wait_for() {
	local i=0 n=$(($1 * 10))
	shift
	until "$@"; do
		[ $i -ge $n ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
}

eth0_is_up() { [ "$(cat /sys/class/net/eth0/operstate 2>/dev/null)" = up ]; }

step_net() {
	local addr host rc
	addr=$(cmdline_value linuxtest.ip)
	host=$(cmdline_value linuxtest.hostip)
	if [ -z "$addr" ] || [ -z "$host" ]; then
		say net_config "missing linuxtest.ip= or linuxtest.hostip="
		return 0
	fi
	if ! wait_for $ETH0_WAIT_S test -e /sys/class/net/eth0; then
		say net_eth0 missing
		ls /sys/class/net /sys/bus/virtio/devices 2>&1
		return 0
	fi
	say net_eth0 "$(cat /sys/class/net/eth0/address)"
	say net_up "$(ok_or_failed sh -c 'ip link set lo up && ip addr add "$1" dev eth0 && ip link set eth0 up' sh "$addr")"
	wait_for $ETH0_WAIT_S eth0_is_up || true
	say net_link "$(cat /sys/class/net/eth0/operstate)"
	# Up to 10 s, done at the first reply (ARP may take the first request).
	if ping -c 1 -w 10 "$host" >/tmp/ping.log 2>&1; then
		say net_ping ok
	else
		cat /tmp/ping.log
		say net_ping failed
	fi

	# Host -> guest. nc's stdin is a FIFO opened read-write: it never has
	# data and never ends, so nc sends nothing and does not half-close the
	# connection early (busybox nc quits when the peer closes; the host's
	# nc would stop sending); it ends when the host's nc closes.
	mkfifo /tmp/nc-stdin
	timeout $NET_XFER_S nc -l -p 5001 <>/tmp/nc-stdin >/tmp/in &
	say net_listen 5001
	rc=0
	wait $! || rc=$?
	say net_rx "$([ $rc = 0 ] && echo ok || echo "failed ($rc)")"
	say net_rx_bytes "$(wc -c </tmp/in)"
	say net_rx_sha256 "$(sha256sum /tmp/in | cut -d' ' -f1)"

	# Guest -> host: saved first, so its sha256 is known; the host listens
	# on port 5002 before the guest boots.
	dd if=/dev/urandom of=/tmp/out bs=1048576 count=$NET_TX_MB 2>/dev/null
	say net_tx_bytes "$(wc -c </tmp/out)"
	say net_tx_sha256 "$(sha256sum /tmp/out | cut -d' ' -f1)"
	say net_tx "$(ok_or_failed timeout $NET_XFER_S nc "$host" 5002 </tmp/out)"
}

# step_hvc: the device behind /dev/console. /sys/class/tty/console/active
# lists the enabled consoles, the one /dev/console opens last.
step_hvc() {
	local active
	active=$(cat /sys/class/tty/console/active 2>/dev/null)
	say console_active "$active"
	say console "${active##* }"
}

# --- snapshot: a disk workload and a console that answers ----------------

# record_sum N PAYLOAD: the checksum of record N (the host computes it too).
record_sum() { echo "$1 $2" | sha256sum | cut -c1-16; }

# workload: append a record to /mnt/records, sync, report, until /tmp/stop.
workload() {
	local n=0 payload sum
	while [ ! -e /tmp/stop ]; do
		n=$((n + 1))
		payload=$(head -c 12 /dev/urandom | xxd -p)
		sum=$(record_sum $n "$payload")
		echo "$n $payload $sum" >>/mnt/records
		sync
		echo $n >/tmp/count
		say progress $n "$sum"
		sleep $RECORD_PERIOD
	done
}

# check_records FILE: "ok N" if FILE holds records 1..N with good sums,
# else what is wrong with the first bad one.
check_records() {
	local n=0 num payload sum
	while read -r num payload sum; do
		n=$((n + 1))
		if [ "$num" != $n ]; then
			echo "bad: record $n is numbered '$num'"
			return 0
		fi
		if [ "$sum" != "$(record_sum "$num" "$payload")" ]; then
			echo "bad: record $n: wrong sum '$sum'"
			return 0
		fi
	done <"$1"
	echo "ok $n"
}

# console_commands: answer commands read from the console until "finish".
console_commands() {
	local cmd arg
	while read -r cmd arg; do
		case $cmd in
		ping) say pong "$arg" "$(cat /tmp/count 2>/dev/null || echo 0)" ;;
		finish) return 0 ;;
		'') ;;
		*) say unknown_command "$cmd" ;;
		esac
	done
	say console_eof
}

step_snapshot() {
	local pid
	wait_vda || return 0
	say mount "$(ok_or_failed mount -t ext4 /dev/vda /mnt)"
	grep -q ' /mnt ' /proc/mounts || return 0
	rm -f /tmp/stop /mnt/records
	echo 0 >/tmp/count
	workload &
	pid=$!
	# The host's commands are not echoed into the workload's lines.
	stty -echo 2>/dev/null || say stty_echo_off failed
	say ready
	console_commands
	touch /tmp/stop
	wait $pid
	say workload_end "$(cat /tmp/count)"
	say umount "$(ok_or_failed umount /mnt)"
	# Read the records back from the disk, not from the page cache: the
	# unmount dropped it.
	if mount -t ext4 -o ro /dev/vda /mnt; then
		say records "$(check_records /mnt/records)"
		say umount_ro "$(ok_or_failed umount /mnt)"
	else
		say records "mount -o ro failed"
	fi
	stty echo 2>/dev/null || true
}

# --- powerdown: the ACPI power button through busybox acpid ---------------

step_powerdown() {
	local i=0
	wait_vda || return 0
	say mount "$(ok_or_failed mount -t ext4 /dev/vda /mnt)"
	echo "mounted by the powerdown step" >/mnt/powerdown.txt
	# The button driver makes an input device of the ACPI power button;
	# evdev gives it the /dev/input/event* node acpid reads.
	if grep -q '^N: Name="Power Button"' /proc/bus/input/devices 2>/dev/null; then
		say power_button_device found
	else
		say power_button_device missing
		cat /proc/bus/input/devices 2>&1
	fi
	say input_events "$(echo /dev/input/*)"
	# busybox acpid turns the button's KEY_POWER into the event
	# "PWRF/00000080" and runs CONFDIR/PWRF/00000080.
	mkdir -p /etc/acpi/PWRF
	cat >/etc/acpi/PWRF/00000080 <<'HANDLER'
#!/bin/sh
exec >/dev/console 2>&1
echo "LINUXTEST power_button pressed"
sync
if umount /mnt; then echo "LINUXTEST powerdown_umount ok"; else echo "LINUXTEST powerdown_umount failed"; fi
echo "LINUXTEST end powerdown"
poweroff -f
HANDLER
	chmod 755 /etc/acpi/PWRF/00000080
	acpid -f -d -c /etc/acpi &
	# acpid opens the input devices when it starts.
	sleep 1
	if kill -0 $! 2>/dev/null; then say acpid running; else say acpid exited; fi
	say ready
	while [ $i -lt $POWERDOWN_WAIT_S ]; do
		sleep 1
		i=$((i + 1))
	done
	say powerdown_timeout "no power button press in $POWERDOWN_WAIT_S s"
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
	hvc) step_hvc ;;
	snapshot) step_snapshot ;;
	powerdown) step_powerdown ;;
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
