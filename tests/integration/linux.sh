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
#   net:     --net tap=tap0 on a tap in a network namespace made for the
#            test (minivmm runs inside it; the host side is 10.77.0.1/24 on
#            the tap, the guest gives eth0 10.77.0.2/24): the guest pings
#            the host and the host the guest; a file from the host reaches
#            the guest, one from the guest the host, both with the sender's
#            sha256 (busybox nc both ends).
#   hvc:     --console virtio with minivmm's hvc0 default command line:
#            /dev/console is hvc0 and /init's lines arrive on stdout.
#   reboot:  a guest reboot ends minivmm with exit status 3.
#   snapshot: --monitor and --snapshot-dir; /init mounts an ext4 disk, keeps
#            appending numbered, checksummed records to it (sync after each,
#            a progress line on the console for each) and answers commands
#            on the serial console (minivmm's stdin). The host pauses it
#            (stop: the records stop), takes `savevm s1`, lets it run on a
#            few records and quits; it adds a file to the disk image while no
#            VM runs. A new process, `minivmm --restore DIR/s1` with the same
#            --mem, --cpus and --disk, must go on: the guest does not boot
#            again, its records go on from the one at savevm, it answers a
#            ping on the console, and on "finish" it stops, unmounts and
#            checks its records from the disk, then powers off (status 0).
#            The host's file is gone (the disk was put back as it was at
#            savevm), e2fsck -fn finds the image clean, and the records on
#            it run 1..N without a gap, each with a good checksum and the
#            one the guest printed (before savevm in the first process,
#            after the restore in the second).
#   powerdown: the button and evdev modules and busybox acpid with a handler
#            for the ACPI power button; once the guest says it is ready, the
#            monitor's system_powerdown makes it print that it saw the
#            button, unmount its disk and power off: minivmm exits 0 and
#            e2fsck -fn finds the disk clean.
#
# Usage: tests/integration/linux.sh MINIVMM_BINARY
#
# Needs hardware-backed KVM. On software-emulated KVM (the kvm_pvm module)
# Linux cannot boot at all, so the test is skipped with exit status 77, as
# it is when /dev/kvm is missing (a failure instead when CI=true).
# CHECK_LINUX_FORCE=1 runs it anyway (e.g. with a wrapper standing in for
# minivmm). Needs mkfs.ext4, debugfs and e2fsck (e2fsprogs) and socat (for
# the monitor socket) on the host.
# The net boot needs root and ip (iproute2) for the network namespace and
# the tap; without them it is skipped with a notice (a failure when
# CI=true). The host ends of the pings and transfers use the static busybox
# fetched for the guest, so nc and ping need not be installed.
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
# button (the ACPI power button) and evdev (its /dev/input node, which
# busybox acpid reads) are for the powerdown boot.
MODULES=(virtio_mmio virtio_blk ext4 virtio_net net_failover failover virtio_console button evdev)
TIMEOUT=${GUEST_TIMEOUT:-120}
# The disk boots end with `poweroff -f`, which minivmm turns into exit
# status 0 through the ACPI sleep control register. POWEROFF_WORKS=no ends
# them with a reboot (exit 3) instead, for a VMM without ACPI power-off.
POWEROFF_WORKS=${POWEROFF_WORKS:-yes}
# minivmm's default command line (DEFAULT_CMDLINE in vmm/cli.h); the boots
# add only linuxtest= words to it.
BASE_CMDLINE="console=ttyS0 reboot=k panic=-1"
# ... and its default with --console virtio (DEFAULT_CMDLINE_HVC).
HVC_CMDLINE="console=hvc0 reboot=k panic=-1"
# The net boot: host and guest ends of the tap, and how much each sends.
NET_HOST=10.77.0.1 NET_GUEST=10.77.0.2 NET_PREFIX=24
NET_RX_MB=8 # host -> guest; the guest sends 8 MiB back (NET_TX_MB in check.sh)
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
command -v socat >/dev/null || die "socat: not found (install socat; it talks to the monitor socket)"

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
netns='' VM_PID='' NC_PID='' CON_FD=''
cleanup() {
	local pid
	for pid in $VM_PID $NC_PID; do kill "$pid" 2>/dev/null || true; done
	[[ -n $CON_FD ]] && exec {CON_FD}>&-
	[[ -n $netns ]] && ip netns del "$netns" 2>/dev/null
	rm -rf "$src"
}
trap cleanup EXIT
head -c 3000 /dev/urandom | base64 >"$src/hello.txt"
hello_sha=$(sha256sum "$src/hello.txt" | cut -d' ' -f1)
"$top/guest/mk-disk-image.sh" "$out/disk.img" "$DISK_MB" "$src"
"$top/guest/mk-disk-image.sh" "$out/disk-ro.img" "$DISK_MB" "$src"
# What the guest writes to /from-guest.txt (see step_disk in check.sh).
phrase=$(sed -n 's/^PHRASE="\(.*\)"$/\1/p' "$init")
[[ -n $phrase ]] || die "$init: no PHRASE=\"...\" line"
printf '%s\nkernel %s\n' "$phrase" "$kver" >"$out/from-guest.expected"

# with_words BASE WORDS: print the command line BASE plus linuxtest=WORD
# for each word of WORDS.
with_words() {
	local cmdline=$1 w
	for w in $2; do cmdline+=" linuxtest=$w"; done
	echo "$cmdline"
}

# launch NAME MINIVMM_OPTION...: start minivmm in the background (inside
# network namespace $VM_NETNS when that is set) with the options; its stdin
# is $VM_STDIN (default /dev/null), its stdout and stderr go to NAME.out and
# NAME.err in $out. Sets VM_PID.
launch() {
	local name=$1 pre=()
	shift
	[[ -n ${VM_NETNS:-} ]] && pre=(ip netns exec "$VM_NETNS")
	VM_T0=$(date +%s)
	${pre[@]+"${pre[@]}"} timeout -k 5 "$TIMEOUT" "$VMM" "$@" \
		<"${VM_STDIN:-/dev/null}" >"$out/$name.out" 2>"$out/$name.err" &
	VM_PID=$!
}

# start_vm NAME CMDLINE [MINIVMM_OPTION ...]: launch minivmm with the
# kernel, the initramfs, 2 vCPUs, 1 GiB and CMDLINE.
start_vm() {
	local name=$1 cmdline=$2
	shift 2
	launch "$name" --kernel "$kdir/vmlinuz" --initrd "$out/initramfs.gz" --cpus 2 --mem 1G \
		--cmdline "$cmdline" "$@"
}

# finish_vm NAME WHAT: wait for the VM start_vm started; leaves NAME.log
# (console, CRs removed) and NAME.rc (exit status) in $out.
finish_vm() {
	local rc=0
	wait "$VM_PID" || rc=$?
	VM_PID=
	tr -d '\r' <"$out/$1.out" >"$out/$1.log"
	echo "$rc" >"$out/$1.rc"
	echo "check-linux: boot '$1' ($2): exit $rc after $(($(date +%s) - VM_T0)) s"
}

# boot NAME LINUXTEST_WORDS [MINIVMM_OPTION ...]: boot the guest with the
# default command line plus linuxtest=WORD for each word and wait for it.
boot() {
	local name=$1 words=$2
	shift 2
	start_vm "$name" "$(with_words "$BASE_CMDLINE" "$words")" "$@"
	finish_vm "$name" "$words${*:+; $*}"
}

# wait_line FILE REGEX [SECONDS]: wait until a line of FILE matches REGEX
# while the VM runs, for at most SECONDS when given; return 1 if the VM
# ended or the time ran out first.
wait_line() {
	local i=0 n=$((${3:-0} * 10))
	until grep -aEq -- "$2" "$1" 2>/dev/null; do
		kill -0 "$VM_PID" 2>/dev/null || return 1
		((n == 0 || ++i < n)) || return 1
		sleep 0.1
	done
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

# open_console NAME: make a FIFO for the next VM's stdin (its serial
# console), held open read-write on fd CON_FD (so opening it never blocks,
# writes never get SIGPIPE, and minivmm never sees end of file), and set
# VM_STDIN to it. close_console closes it again.
open_console() {
	rm -f "$src/$1.in"
	mkfifo "$src/$1.in"
	exec {CON_FD}<>"$src/$1.in"
	VM_STDIN=$src/$1.in
}
close_console() {
	exec {CON_FD}>&-
	CON_FD='' VM_STDIN=''
}

# type_line LINE: send LINE and a newline to the guest's console.
type_line() { printf '%s\n' "$1" >&"$CON_FD"; }

# mon NAME SOCKET COMMAND...: send the commands to minivmm's monitor, one a
# line; the answers go to NAME.mon in $out.
mon() {
	local name=$1 sock=$2
	shift 2
	printf '%s\n' "$@" | timeout 60 socat -t 30 - "UNIX-CONNECT:$sock" >"$out/$name.mon" 2>&1 ||
		echo "check-linux: socat to $sock failed (status $?)" >>"$out/$name.mon"
}

# expect_mon NAME REGEX WHAT: a line of NAME.mon matches REGEX.
expect_mon() { expect_line "$out/$1.mon" "$2" "$3"; }

# expect_mon_ok NAME WHAT: NAME.mon has no error line.
expect_mon_ok() {
	if [[ ! -s $out/$1.mon ]]; then
		fail "$2" "no answer from the monitor ($out/$1.mon is empty)"
	elif grep -aE '^Error|socat' "$out/$1.mon" >"$out/$1.errors"; then
		fail "$2" "$(head -n 2 "$out/$1.errors" | tr '\n' ' ')"
	else
		pass "$2"
	fi
}

# progress FILE: "N SUM" for each whole "LINUXTEST progress N SUM" line of
# FILE (console output; a line cut by a save or interleaved with kernel
# messages does not count). last_progress FILE: the last N.
progress() { tr -d '\r' <"$1" | sed -En 's/^LINUXTEST progress ([0-9]+) ([0-9a-f]{16})$/\1 \2/p'; }
last_progress() { progress "$1" | tail -n 1 | cut -d' ' -f1; }

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

# --- net: virtio-net on a tap in a network namespace ----------------------
# The namespace holds the tap and its address, so nothing on the host's own
# network changes; minivmm, ping and nc run inside it.
net_skip=
if ((EUID != 0)); then
	net_skip="needs root for the network namespace and the tap"
elif ! command -v ip >/dev/null; then
	net_skip="ip (iproute2): not found"
elif [[ ! -c /dev/net/tun ]]; then
	net_skip="/dev/net/tun: missing (modprobe tun)"
fi
if [[ -n $net_skip ]]; then
	[[ ${CI:-} == true ]] && fail "net: boot" "CI=true and the net boot cannot run: $net_skip"
	echo "check-linux: SKIPPED the net boot: $net_skip"
else
	bb=$kdir/busybox
	netns=minivmm-check-linux-$$
	in_ns() { ip netns exec "$netns" "$@"; }
	ip netns add "$netns"
	in_ns ip link set lo up
	in_ns ip tuntap add dev tap0 mode tap
	in_ns ip addr add "$NET_HOST/$NET_PREFIX" dev tap0
	in_ns ip link set tap0 up
	head -c $((NET_RX_MB << 20)) /dev/urandom >"$out/net-to-guest"
	rm -f "$out/net-from-guest"
	# The host's receiver, listening before the guest boots. Its stdin is a
	# FIFO opened read-write, which never has data and never ends, so nc
	# neither sends nor half-closes (busybox nc quits when the peer closes);
	# it ends when the guest's nc closes.
	mkfifo "$src/nc-stdin"
	in_ns timeout "$TIMEOUT" "$bb" nc -l -p 5002 \
		<>"$src/nc-stdin" >"$out/net-from-guest" 2>"$out/net-nc-rx.err" &
	NC_PID=$!
	net_words="net $last"
	VM_NETNS=$netns start_vm net \
		"$(with_words "$BASE_CMDLINE" "$net_words") linuxtest.ip=$NET_GUEST/$NET_PREFIX linuxtest.hostip=$NET_HOST" \
		--net tap=tap0
	if wait_line "$out/net.out" '^LINUXTEST net_listen'; then
		if in_ns "$bb" ping -c 1 -w 10 "$NET_GUEST" >"$out/net-ping.log" 2>&1; then
			pass "net: the host pings the guest"
		else
			fail "net: the host pings the guest" "$(tail -n 2 "$out/net-ping.log" | tr '\n' ' ')"
		fi
		# The guest's nc may not listen yet: retry while the connection is
		# refused, for up to 10 s.
		sent=no
		for ((i = 0; i < 50; i++)); do
			if in_ns timeout 60 "$bb" nc "$NET_GUEST" 5001 <"$out/net-to-guest" 2>"$out/net-nc-tx.err"; then
				sent=yes
				break
			fi
			sleep 0.2
		done
		[[ $sent == yes ]] || fail "net: the host sends to the guest" "nc: $(tail -n 1 "$out/net-nc-tx.err")"
	else
		fail "net: the guest waits for the host's file" "no 'LINUXTEST net_listen' line before the VM ended"
	fi
	finish_vm net "$net_words; --net tap=tap0"
	# The guest's nc ended before the guest powered off, so the host's has
	# its data; it is stopped if it is still waiting 5 s on.
	for ((i = 0; i < 50; i++)); do
		kill -0 "$NC_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill "$NC_PID" 2>/dev/null || true
	nc_rc=0
	wait "$NC_PID" || nc_rc=$?
	NC_PID=
	log=$out/net.log
	expect_eq "$(field "$log" 'LINUXTEST modules')" ok "net: virtio modules load"
	expect_line "$log" '^LINUXTEST net_eth0 ([0-9a-f]{2}:){5}[0-9a-f]{2}$' "net: Linux sees eth0"
	expect_eq "$(field "$log" 'LINUXTEST net_up')" ok "net: eth0 gets $NET_GUEST/$NET_PREFIX and goes up"
	expect_eq "$(field "$log" 'LINUXTEST net_link')" up "net: eth0's link is up"
	expect_eq "$(field "$log" 'LINUXTEST net_ping')" ok "net: the guest pings the host"
	expect_eq "$(field "$log" 'LINUXTEST net_rx')" ok "net: the guest's nc receives to the end"
	expect_eq "$(field "$log" 'LINUXTEST net_rx_sha256')" "$(sha256sum <"$out/net-to-guest" | cut -d' ' -f1)" \
		"net: host -> guest, $NET_RX_MB MiB with the host's sha256"
	expect_eq "$(field "$log" 'LINUXTEST net_tx')" ok "net: the guest's nc sends to the end"
	expect_eq "$nc_rc" 0 "net: the host's nc receives to the end"
	tx_sha=$(field "$log" 'LINUXTEST net_tx_sha256' || true)
	expect_eq "$(sha256sum <"$out/net-from-guest" | cut -d' ' -f1)" "${tx_sha:-(no net_tx_sha256 line)}" \
		"net: guest -> host, $(($(stat -c %s "$out/net-from-guest") >> 20)) MiB with the guest's sha256"
	expect_line "$log" "^LINUXTEST end $last\$" "net: /init ran to the end"
	expect_exit net "$last_rc"
	ip netns del "$netns"
	netns=
fi

# --- hvc: the console on virtio-console ------------------------------------
# Only linuxtest= words added to minivmm's --console virtio default command
# line: with console=hvc0 alone, /init's lines reach stdout only through
# hvc0 (the UART is no console then).
hvc_cmdline=$(with_words "$HVC_CMDLINE" "hvc $last")
start_vm hvc "$hvc_cmdline" --console virtio
finish_vm hvc "hvc $last; --console virtio"
log=$out/hvc.log
expect_eq "$(field "$log" 'LINUXTEST console')" hvc0 "hvc: /dev/console is hvc0"
expect_line "$log" "^LINUXTEST cmdline $hvc_cmdline\$" "hvc: Linux sees the hvc0 command line"
expect_eq "$(field "$log" 'LINUXTEST modules')" ok "hvc: virtio modules load"
expect_line "$log" "^LINUXTEST end $last\$" "hvc: /init's lines arrive to the end"
expect_exit hvc "$last_rc"

# --- snapshot: savevm under a disk workload, --restore in a new process ----
snap_dir=$out/snapshots
rm -rf "$snap_dir"
mkdir -p "$snap_dir"
"$top/guest/mk-disk-image.sh" "$out/snap.img" "$DISK_MB" "$src"
snap_sock=$src/snap.sock
n_s=''
open_console snap
start_vm snap "$(with_words "$BASE_CMDLINE" "snapshot $last")" --disk "$out/snap.img" \
	--monitor "$snap_sock" --snapshot-dir "$snap_dir"
if wait_line "$out/snap.out" '^LINUXTEST ready' && wait_line "$out/snap.out" '^LINUXTEST progress 5 '; then
	type_line "ping before-savevm"
	wait_line "$out/snap.out" '^LINUXTEST pong before-savevm ' 30 || true
	mon snap-stop "$snap_sock" stop "info status"
	sleep 0.5 # what the guest printed before the stop reaches the file
	n_s=$(last_progress "$out/snap.out")
	sleep 1
	expect_eq "$(last_progress "$out/snap.out")" "$n_s" "snapshot: stop pauses the guest's workload"
	mon snap-save "$snap_sock" "savevm s1" "info snapshots" cont "info status"
	# The first process writes on past the snapshot, so the restore must
	# put the disk back.
	wait_line "$out/snap.out" "^LINUXTEST progress $((n_s + 4)) " 60 || true
	mon snap-quit "$snap_sock" quit
else
	fail "snapshot: the workload runs" "no 'LINUXTEST ready' and 'progress 5' lines before the VM ended"
fi
finish_vm snap "snapshot $last; --disk --monitor --snapshot-dir; savevm s1, quit"
close_console
log=$out/snap.log
expect_eq "$(field "$log" 'LINUXTEST mount')" ok "snapshot: ext4 mounts"
expect_line "$log" '^LINUXTEST pong before-savevm [0-9]+$' "snapshot: the guest answers on the console"
expect_mon snap-stop 'VM status: paused' "snapshot: the monitor's stop pauses the VM"
expect_mon_ok snap-save "snapshot: savevm s1 succeeds"
expect_mon snap-save '^s1 ' "snapshot: info snapshots lists s1"
expect_mon snap-save 'VM status: running' "snapshot: cont resumes the VM"
expect_range "$(last_progress "$log")" $((${n_s:-0} + 4)) 1000000 "snapshot: the workload goes on after savevm"
expect_exit snap 0

# While no VM runs, the host adds a file to the image: the restore must
# take the disk back to what it was at savevm, without it.
echo "added by the host after savevm" >"$src/after-savevm.txt"
if debugfs -w -R "write $src/after-savevm.txt after-savevm.txt" "$out/snap.img" >"$out/debugfs-write.log" 2>&1 &&
	debugfs -R 'stat /after-savevm.txt' "$out/snap.img" >/dev/null 2>&1; then
	marker=yes
else
	marker=no
	fail "snapshot: the host adds a file to the image" "debugfs -w: $(tail -n 1 "$out/debugfs-write.log")"
fi

open_console snap-restore
launch snap-restore --restore "$snap_dir/s1" --cpus 2 --mem 1G --disk "$out/snap.img"
first=''
if wait_line "$out/snap-restore.out" '^LINUXTEST progress [0-9]+ [0-9a-f]{16}'; then
	first=$(progress "$out/snap-restore.out" | awk 'NR == 1 { print $1 }')
	type_line "ping after-restore"
	wait_line "$out/snap-restore.out" '^LINUXTEST pong after-restore ' 30 || true
	wait_line "$out/snap-restore.out" "^LINUXTEST progress $((first + 10)) " 60 || true
	type_line finish
else
	fail "restore: the workload goes on" "no progress line before the VM ended"
fi
finish_vm snap-restore "--restore $snap_dir/s1 --disk"
close_console
log=$out/snap-restore.log
if grep -aq '^LINUXTEST begin' "$log"; then
	fail "restore: the guest goes on without booting again" "/init started again"
else
	pass "restore: the guest goes on without booting again"
fi
# The guest may have printed a record's line only partly, or not at all,
# before the save: the next whole one may come a little later.
expect_range "$first" $((${n_s:-0} + 1)) $((${n_s:-0} + 3)) \
	"restore: the records go on from the one at savevm"
pong=$(field "$log" 'LINUXTEST pong after-restore' || true)
expect_range "$pong" $((${n_s:-0} + 1)) 1000000 "restore: the guest's shell answers on the console"
n_end=$(field "$log" 'LINUXTEST workload_end' || true)
expect_range "$n_end" $((${first:-0} + 10)) 1000000 "restore: the workload runs on"
expect_eq "$(field "$log" 'LINUXTEST umount')" ok "restore: the guest unmounts its disk"
expect_eq "$(field "$log" 'LINUXTEST records')" "ok $n_end" "restore: the guest reads its records back from the disk"
expect_line "$log" "^LINUXTEST end $last\$" "restore: /init runs to the end"
expect_exit snap-restore "$last_rc"
if [[ $marker == yes ]]; then
	if debugfs -R 'stat /after-savevm.txt' "$out/snap.img" 2>&1 | grep -q 'File not found'; then
		pass "restore: the disk is put back as it was at savevm"
	else
		fail "restore: the disk is put back as it was at savevm" "the file the host added after savevm is still there"
	fi
fi
if e2fsck -fn "$out/snap.img" >"$out/snap-e2fsck.log" 2>&1; then
	pass "restore: e2fsck finds the filesystem clean"
else
	fail "restore: e2fsck finds the filesystem clean" "see $out/snap-e2fsck.log: $(tail -n1 "$out/snap-e2fsck.log")"
fi

# host_check_records FILE: "ok N" if FILE holds records 1..N, each with a
# good sum and the sum the guest printed for it (the first process's lines
# up to savevm, the restored one's after), else the first thing wrong.
host_check_records() {
	local n=0 num payload sum
	local -A printed=()
	while read -r num sum; do printed[$num]=$sum; done < <(
		progress "$out/snap.log" | awk -v max="${n_s:-0}" '$1 <= max'
		progress "$out/snap-restore.log"
	)
	while read -r num payload sum; do
		n=$((n + 1))
		if [[ $num != "$n" ]]; then
			echo "record $n is numbered '$num'"
			return
		elif [[ $sum != "$(echo "$num $payload" | sha256sum | cut -c1-16)" ]]; then
			echo "record $n: sum $sum does not match its payload"
			return
		elif [[ -n ${printed[$num]:-} && ${printed[$num]} != "$sum" ]]; then
			echo "record $n: sum $sum, the guest printed ${printed[$num]}"
			return
		fi
	done <"$1"
	if ((n == 0)); then
		echo "no records"
	else
		echo "ok $n"
	fi
}
# debugfs reports a missing file on stderr only: that shows as no records.
if debugfs -R 'cat /records' "$out/snap.img" >"$out/records.got" 2>"$out/debugfs-records.err"; then
	expect_eq "$(host_check_records "$out/records.got")" "ok $n_end" \
		"restore: the records on the image are continuous and intact"
else
	fail "restore: the records on the image are continuous and intact" "debugfs: $(tail -n 1 "$out/debugfs-records.err")"
fi

# --- powerdown: system_powerdown and the guest's acpid ----------------------
if [[ $POWEROFF_WORKS == yes ]]; then
	"$top/guest/mk-disk-image.sh" "$out/powerdown.img" "$DISK_MB" "$src"
	pd_sock=$src/powerdown.sock
	start_vm powerdown "$(with_words "$BASE_CMDLINE" powerdown)" --disk "$out/powerdown.img" \
		--monitor "$pd_sock"
	if wait_line "$out/powerdown.out" '^LINUXTEST ready'; then
		mon powerdown "$pd_sock" system_powerdown
		expect_mon_ok powerdown "powerdown: the monitor takes system_powerdown"
	else
		fail "powerdown: the guest gets ready" "no 'LINUXTEST ready' line before the VM ended"
	fi
	finish_vm powerdown "powerdown; --disk --monitor; system_powerdown"
	log=$out/powerdown.log
	expect_eq "$(field "$log" 'LINUXTEST power_button_device')" found "powerdown: Linux has an input device for the power button"
	expect_eq "$(field "$log" 'LINUXTEST acpid')" running "powerdown: busybox acpid runs"
	expect_line "$log" '^LINUXTEST power_button pressed$' "powerdown: the guest's acpid sees the power button"
	expect_eq "$(field "$log" 'LINUXTEST powerdown_umount')" ok "powerdown: the guest unmounts its disk"
	expect_line "$log" '^LINUXTEST end powerdown$' "powerdown: the guest powers off"
	expect_exit powerdown 0
	if e2fsck -fn "$out/powerdown.img" >"$out/powerdown-e2fsck.log" 2>&1; then
		pass "powerdown: e2fsck finds the filesystem clean"
	else
		fail "powerdown: e2fsck finds the filesystem clean" "see $out/powerdown-e2fsck.log: $(tail -n1 "$out/powerdown-e2fsck.log")"
	fi
else
	echo "check-linux: SKIPPED the powerdown boot: POWEROFF_WORKS=$POWEROFF_WORKS"
fi

# --- reboot ----------------------------------------------------------------
boot reboot reboot
expect_line "$out/reboot.log" '^LINUXTEST end reboot$' "reboot: /init asked for a reboot"
expect_exit reboot 3

echo "check-linux: $(($(date +%s) - t_start)) s in all"
summary
