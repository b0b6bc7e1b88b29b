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
#
# Usage: tests/integration/linux.sh MINIVMM_BINARY
#
# Needs hardware-backed KVM. On software-emulated KVM (the kvm_pvm module)
# Linux cannot boot at all, so the test is skipped with exit status 77, as
# it is when /dev/kvm is missing (a failure instead when CI=true).
# CHECK_LINUX_FORCE=1 runs it anyway (e.g. with a wrapper standing in for
# minivmm). Needs mkfs.ext4, debugfs and e2fsck (e2fsprogs) on the host.
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
MODULES=(virtio_mmio virtio_blk ext4 virtio_net net_failover failover virtio_console)
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
netns='' VM_PID='' NC_PID=''
cleanup() {
	local pid
	for pid in $VM_PID $NC_PID; do kill "$pid" 2>/dev/null || true; done
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

# start_vm NAME CMDLINE [MINIVMM_OPTION ...]: start minivmm in the
# background (inside network namespace $VM_NETNS when that is set) with the
# kernel, the initramfs, 2 vCPUs, 1 GiB and CMDLINE; its stdout and stderr
# go to NAME.out and NAME.err in $out. Sets VM_PID.
start_vm() {
	local name=$1 cmdline=$2 pre=()
	shift 2
	[[ -n ${VM_NETNS:-} ]] && pre=(ip netns exec "$VM_NETNS")
	VM_T0=$(date +%s)
	${pre[@]+"${pre[@]}"} timeout -k 5 "$TIMEOUT" "$VMM" --kernel "$kdir/vmlinuz" \
		--initrd "$out/initramfs.gz" --cpus 2 --mem 1G --cmdline "$cmdline" "$@" \
		</dev/null >"$out/$name.out" 2>"$out/$name.err" &
	VM_PID=$!
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

# wait_line FILE REGEX: wait until a line of FILE matches REGEX while the
# VM runs; return 1 if the VM ended first.
wait_line() {
	until grep -aEq -- "$2" "$1" 2>/dev/null; do
		kill -0 "$VM_PID" 2>/dev/null || return 1
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

# --- reboot ----------------------------------------------------------------
boot reboot reboot
expect_line "$out/reboot.log" '^LINUXTEST end reboot$' "reboot: /init asked for a reboot"
expect_exit reboot 3

echo "check-linux: $(($(date +%s) - t_start)) s in all"
summary
