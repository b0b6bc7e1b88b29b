#!/usr/bin/env bash
# virtio-net benchmarks for `make bench`: minivmm, QEMU microvm (vhost=off)
# and, where the host has vhost-net, QEMU with vhost=on, alternating, on the
# same test guest (minitest test=netbench) behind a tap in a network namespace
# this script creates and deletes. Only addresses inside that namespace are
# used (host 10.77.0.1/24, guest 10.77.0.2). Writes a Markdown fragment (a
# "## virtio-net" section) for the caller to append to docs/benchmarks.md.
#
# Usage: scripts/bench-net.sh MINIVMM MINITEST_BZIMAGE [OUT_MD_FRAGMENT [TIMELINE_TOOL]]
#   Without OUT_MD_FRAGMENT (or with -) the fragment goes to stdout, and
#   only there: progress and errors go to stderr. TIMELINE_TOOL defaults to bench-timeline next to MINIVMM (built from
#   scripts/bench-timeline.c into $BUILD if missing).
# Environment: BENCH_RUNS (default 5), BENCH_NET_FRAMES (64-byte datagrams
# each way, default 3000), BENCH_NET_LARGE_FRAMES (1400-byte datagrams each
# way, default 2000), BENCH_NET_PINGS (round trips, default 500),
# BENCH_NET_MIB (reliable transfer each way, default 1; 0 skips it),
# BENCH_NET_SECONDS (no new guest is started after this many seconds,
# default 480), BENCH_NET_RAW (a file to keep every run's numbers in),
# BUILD (default build).
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 MINIVMM MINITEST [OUT_MD_FRAGMENT|- [TIMELINE_TOOL]]" >&2; exit 2; }
exec 3>&1 1>&2		# stdout is for the fragment alone
here=$(cd "$(dirname "$0")/.." && pwd)
vmm=$(realpath "$1")
guest=$(realpath "$2")
out=${3:--}
timeline=${4:-$(dirname "$vmm")/bench-timeline}
build=${BUILD:-build}
runs=${BENCH_RUNS:-5}
small=${BENCH_NET_FRAMES:-3000}
large=${BENCH_NET_LARGE_FRAMES:-2000}
pings=${BENCH_NET_PINGS:-500}
mib=${BENCH_NET_MIB:-1}
budget=${BENCH_NET_SECONDS:-480}
session_limit=60	# seconds one guest may live, hard (timeout -k)

ns=minivmm-bench-$$
gip=10.77.0.2
port=7777
cmdline="console=ttyS0 test=netbench"
# A host->guest burst must wait in the tap's queue, not be dropped at it.
qlen=$(((small > large ? small : large) + 1000))

tmp=$(mktemp -d)
raw=$tmp/raw
vm_pid=
: >"$raw"
: >"$tmp/failures"

in_ns() { ip netns exec "$ns" "$@"; }

stop_vm() {
	[ -n "$vm_pid" ] || return 0
	kill -TERM "$vm_pid" 2>/dev/null || true	# timeout passes it to its group
	wait "$vm_pid" 2>/dev/null || true
	vm_pid=
}

cleanup() {
	stop_vm
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$build"
nettool=$(realpath "$build")/bench-nettool
cc -O2 -Wall -o "$nettool" "$here/tests/integration/nettool.c" -lm
if [ ! -x "$timeline" ]; then
	timeline=$build/bench-net-timeline
	cc -O2 -Wall -o "$timeline" "$here/scripts/bench-timeline.c"
fi
timeline=$(realpath "$timeline")

ip netns add "$ns"
in_ns ip link set lo up
in_ns ip tuntap add tap0 mode tap vnet_hdr
in_ns ip addr add 10.77.0.1/24 dev tap0
in_ns ip link set tap0 txqueuelen "$qlen"
in_ns ip link set tap0 up

qemu=(qemu-system-x86_64 -M microvm -enable-kvm -cpu host,-arch-capabilities -m 256M -smp 1
	-nodefaults -no-user-config -display none -serial stdio -monitor none -no-reboot
	-global virtio-mmio.force-legacy=false)
qemu_net=(-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off
	-device virtio-net-device,netdev=n0)
minivmm=("$vmm" --mem 256M --cpus 1)

# vhost-net: the ceiling, when the host has it.
whos="minivmm qemu"
vhost_note=
modprobe vhost_net >"$tmp/modprobe" 2>&1 || true
if [ -c /dev/vhost-net ]; then
	whos="minivmm qemu vhost"
else
	vhost_note="no /dev/vhost-net on this host ($(head -c 200 "$tmp/modprobe" | head -n 1 | sed 's/`//g'))"
	[ -s "$tmp/modprobe" ] || vhost_note="no /dev/vhost-net on this host"
fi

vm_cmd() { # WHO: the VMM command line, in cmd[]
	case $1 in
	minivmm) cmd=("${minivmm[@]}" --kernel "$guest" --cmdline "$cmdline" --net tap=tap0) ;;
	qemu) cmd=("${qemu[@]}" -kernel "$guest" -append "$cmdline" "${qemu_net[@]}") ;;
	vhost) cmd=("${qemu[@]}" -kernel "$guest" -append "$cmdline" "${qemu_net[@]/vhost=off/vhost=on}") ;;
	esac
}

fail() { echo "$*" >>"$tmp/failures"; echo "bench-net: $*" >&2; }

t_start=$(date +%s)
session_end=0
left() { echo $((session_end - $(date +%s))); }

# nt WHO NAME ARGS...: run nettool inside the namespace, bounded by the
# session's time; its key=value lines become one raw line "WHO NAME k=v...".
nt() {
	local who=$1 name=$2 l
	shift 2
	l=$(left)
	if [ "$l" -le 1 ]; then
		fail "$who: nettool $* not run: the guest's $session_limit s were up"
		return 1
	fi
	if in_ns timeout -k 2 "$l" "$nettool" "$@" >"$tmp/nt.out" 2>"$tmp/nt.err"; then
		echo "$who $name $(grep -E '^[a-z_0-9]+=' "$tmp/nt.out" | tr '\n' ' ')" >>"$raw"
		return 0
	fi
	fail "$who: nettool $* failed: $(tail -n 1 "$tmp/nt.err")"
	return 1
}

# transfer WHO NAME recv|send: a reliable $mib MiB stream; MiB/s from the
# time nettool reports (recv lingers a second after that, not counted).
transfer() {
	local who=$1 name=$2 dir=$3 l secs
	l=$(left)
	if [ "$l" -le 1 ]; then
		fail "$who: nettool $dir not run: the guest's $session_limit s were up"
		return 1
	fi
	if in_ns timeout -k 2 "$l" "$nettool" -t 10 "$dir" "$gip" "$port" "$mib" \
		>"$tmp/nt.out" 2>"$tmp/nt.err"; then
		secs=$(sed -n 's/^nettool: \(sent\|received\) [0-9]* bytes in \([0-9.]*\) s.*/\2/p' "$tmp/nt.err")
		if [ -n "$secs" ]; then
			echo "$who $name seconds=$secs mibps=$(awk -v m="$mib" -v s="$secs" 'BEGIN { printf "%.4f", m / s }')" >>"$raw"
			return 0
		fi
	fi
	fail "$who: nettool $dir $mib MiB failed: $(tail -n 1 "$tmp/nt.err")"
	return 1
}

# Wait for the guest's UDP service: one echo within a second. False if the
# VMM ended first or the session's time ran out.
ready() {
	local i
	for ((i = 0; i < 60; i++)); do
		kill -0 "$vm_pid" 2>/dev/null || return 1
		[ "$(left)" -gt 5 ] || return 1
		in_ns timeout 5 "$nettool" rtt "$gip" "$port" 1 >/dev/null 2>&1 && return 0
	done
	return 1
}

# session WHO small|large: boot the guest, measure, QUIT, check the exit.
# bench-timeline marks the guest's "netbench rx start"/"rx done" lines: the
# host->guest burst's FIN waits behind it in the tap's queue, so the time
# between them is the time the guest took to take the whole burst.
session() {
	local who=$1 kind=$2 i tl rxname
	vm_cmd "$who"
	in_ns ip neigh flush dev tap0 2>/dev/null || true	# the last guest's MAC
	session_end=$(($(date +%s) + session_limit))
	timeout -k 5 "$session_limit" ip netns exec "$ns" "$timeline" \
		"minitest: net ready" "minitest: netbench rx start" "minitest: netbench rx done" \
		-- "${cmd[@]}" >"$tmp/tl" 2>"$tmp/vmm.err" 3>&- &
	vm_pid=$!
	if ! ready; then
		stop_vm
		if [ "$who" = vhost ] && [ -z "$vhost_note" ]; then
			vhost_note="QEMU with vhost=on did not start the guest: $(grep -v '^$' "$tmp/vmm.err" | head -n 1 | sed 's/`//g')"
			whos=${whos% vhost}
			echo "bench-net: $vhost_note; vhost left out" >&2
			return 1
		fi
		fail "$who $kind: the guest did not answer: $(grep -v '^$' "$tmp/vmm.err" | head -n 1)"
		return 1
	fi
	if [ "$kind" = small ]; then
		nt "$who" txs bench-tx "$gip" "$port" "$small" 64 || true
		nt "$who" rxs bench-rx "$gip" "$port" "$small" 64 || true
		nt "$who" rtt rtt "$gip" "$port" "$pings" 64 || true
		rxname=rxs
	else
		nt "$who" txl bench-tx "$gip" "$port" "$large" 1400 || true
		nt "$who" rxl bench-rx "$gip" "$port" "$large" 1400 || true
		if [ "$mib" -gt 0 ]; then
			transfer "$who" g2h recv || true
			transfer "$who" h2g send || true
		fi
		rxname=rxl
	fi
	in_ns timeout 10 "$nettool" quit "$gip" "$port" >/dev/null 2>&1 ||
		fail "$who $kind: no BYE from the guest"
	for ((i = 0; i < 100; i++)); do	# 10 s for the power-off
		kill -0 "$vm_pid" 2>/dev/null || break
		sleep 0.1
	done
	stop_vm
	tl=$(cat "$tmp/tl")
	echo "$who ${kind}vm $tl" >>"$raw"
	case " $tl " in
	*" status=0 "*) ;;
	*) fail "$who $kind: the VMM did not end with status 0: $tl $(grep -v '^$' "$tmp/vmm.err" | head -n 1)" ;;
	esac
	# Host->guest rate from the guest's marker lines (t2, t3).
	grep "^$who $rxname " "$raw" | tail -n 1 | awk -v tl=" $tl " -v who="$who" -v name="${rxname}rate" '
		{ for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
		END {
			if (!match(tl, / t2=-?[0-9]+ /)) exit
			t2 = substr(tl, RSTART + 4, RLENGTH - 5)
			if (!match(tl, / t3=-?[0-9]+ /)) exit
			t3 = substr(tl, RSTART + 4, RLENGTH - 5)
			if (t2 < 0 || t3 <= t2 || v["guest_rx_frames"] == "") exit
			s = (t3 - t2) / 1e9
			if (s < 0.4) {	# then FIN, 200 ms after the burst, timed it
				printf "%s %s too-short seconds=%.6f\n", who, name, s
				exit
			}
			printf "%s %s seconds=%.6f pps=%.1f mbps=%.4f\n", who, name, s,
				v["guest_rx_frames"] / s, v["guest_rx_bytes"] * 8 / s / 1e6
		}' >"$tmp/rate"
	if grep -q too-short "$tmp/rate"; then
		fail "$who $kind: the guest took the host -> guest burst in $(sed 's/.*seconds=//' "$tmp/rate") s, too close to nettool's 200 ms FIN delay to time; use more frames"
	else
		cat "$tmp/rate" >>"$raw"
	fi
}

echo "bench-net: up to $runs runs each of $whos, alternating (budget ${budget} s)" >&2
done_runs=0
for ((r = 0; r < runs; r++)); do
	if [ $(($(date +%s) - t_start)) -ge "$budget" ]; then
		fail "time budget of $budget s used up after $done_runs of $runs runs"
		break
	fi
	for who in $whos; do
		for kind in small large; do
			session "$who" "$kind" || true
			case " $whos " in *" $who "*) ;; *) break ;; esac	# vhost dropped
		done
	done
	done_runs=$((r + 1))
	echo "bench-net: run $done_runs of $runs done after $(($(date +%s) - t_start)) s" >&2
done

# median WHO NAME KEY [SCALE]: median over the runs, divided by SCALE.
median() {
	{ grep "^$1 $2 " "$raw" || true; } | tr ' ' '\n' | sed -n "s/^$3=//p" | sort -g |
		awk -v s="${4:-1}" -v d="${5:-0}" '{v[NR] = $1} END {
			if (NR == 0) { print "n/a"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.*f\n", d, m / s }'
}
count() { grep -c "^$1 $2 " "$raw" || true; }
spread() { # WHO NAME KEY DECIMALS: lowest-highest over the runs
	{ grep "^$1 $2 " "$raw" || true; } | tr ' ' '\n' | sed -n "s/^$3=//p" | sort -g |
		awk -v d="$4" '{v[NR] = $1} END {
			if (NR == 0) print "n/a"; else printf "%.*f–%.*f\n", d, v[1], d, v[NR] }'
}
ended() { grep -Ec "^$1 (small|large)vm .*status=0( |\$)" "$raw" || true; }	# guests powered off
booted() { grep -Ec "^$1 (small|large)vm " "$raw" || true; }
ordinal() {
	case $(($1 % 100)) in 11 | 12 | 13) echo "${1}th"; return ;; esac
	case $(($1 % 10)) in 1) echo "${1}st" ;; 2) echo "${1}nd" ;; 3) echo "${1}rd" ;; *) echo "${1}th" ;; esac
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "n/a" && b > 0) printf "%.2f", a / b; else print "n/a" }'; }

row() { # LABEL NAME KEY DECIMALS
	local m q v
	m=$(median minivmm "$2" "$3" 1 "$4")
	q=$(median qemu "$2" "$3" 1 "$4")
	if [ -n "$vhost_note" ]; then
		v="n/a"
	else
		v=$(median vhost "$2" "$3" 1 "$4")
	fi
	echo "| $1 | $m | $q | $(ratio "$m" "$q") | $v |"
}

# Frames the guest or the host did not get, per VMM.
losses() {
	local who lost
	for who in minivmm qemu vhost; do
		lost=$({ grep -E "^$who (txs|txl) " "$raw" || true; } | tr ' ' '\n' |
			awk -F= '$1 == "requested_frames" { r += $2 } $1 == "rx_frames" { g += $2 } END { print r - g + 0 }')
		lost=$((lost + $({ grep -E "^$who (rxs|rxl) " "$raw" || true; } | tr ' ' '\n' |
			awk -F= '$1 == "loss_frames" { l += $2 } END { print l + 0 }')))
		if [ "$(grep -c "^$who " "$raw" || true)" -gt 0 ]; then
			echo "$who $lost"
		fi
	done
}

kvm_kind="hardware-backed KVM"
[ -d /sys/module/kvm_pvm ] && kvm_kind="nested KVM backed by an instruction emulator (kvm_pvm)"
vm_cmd minivmm
minivmm_cmd="${cmd[*]}"
vm_cmd qemu
qemu_cmd="${cmd[*]}"
vm_cmd vhost
vhost_cmd="${cmd[*]}"
for v in minivmm_cmd qemu_cmd vhost_cmd; do	# the repository's paths, not this machine's
	printf -v "$v" '%s' "$(echo "${!v}" | sed "s|$vmm|$(basename "$(dirname "$vmm")")/$(basename "$vmm")|; s|$guest|$(basename "$(dirname "$(dirname "$guest")")")/$(basename "$(dirname "$guest")")/$(basename "$guest")|; s|console=ttyS0 test=netbench|'console=ttyS0 test=netbench'|")"
done
nsessions="minivmm $(ended minivmm) of $(booted minivmm), QEMU $(ended qemu) of $(booted qemu)"
[ -n "$vhost_note" ] || nsessions="$nsessions, QEMU vhost $(ended vhost) of $(booted vhost)"
alternating="minivmm and QEMU microvm (\`vhost=off\`) alternate"
[ -n "$vhost_note" ] || alternating="minivmm, QEMU microvm with \`vhost=off\` and QEMU with \`vhost=on\` alternate"

{
	cat <<HEAD

## virtio-net

Made by scripts/bench-net.sh on $(date -u +%Y-%m-%d): $(nproc) cores, $(uname -r),
$kvm_kind, $(qemu-system-x86_64 --version | head -n 1).
Medians of $done_runs runs each; $alternating so that all see
the same machine. Each run boots each VMM twice, once for the 64-byte rows
and the round trips, once for the 1400-byte rows and the reliable streams
(guests that ran to their power-off: $nsessions). Guest: the minitest test kernel with
\`test=netbench\` (its UDP service, guest/minitest/README.md), 1 vCPU,
256 MiB, at 10.77.0.2 behind tap0 (10.77.0.1/24, txqueuelen $qlen) in a
network namespace of the script's own; the host side is
tests/integration/nettool.c.

Inside the namespace:

    $minivmm_cmd
    $qemu_cmd
    $vhost_cmd

    nettool bench-tx 10.77.0.2 7777 $small 64      # guest -> host, 64-byte UDP payloads
    nettool bench-rx 10.77.0.2 7777 $small 64      # host -> guest
    nettool rtt 10.77.0.2 7777 $pings 64
    nettool bench-tx 10.77.0.2 7777 $large 1400
    nettool bench-rx 10.77.0.2 7777 $large 1400
HEAD
	if [ "$mib" -gt 0 ]; then
		cat <<XFER
    nettool -t 10 recv 10.77.0.2 7777 $mib             # reliable stream, guest -> host
    nettool -t 10 send 10.77.0.2 7777 $mib             # host -> guest
XFER
	fi
	echo
	if [ -n "$vhost_note" ]; then
		echo "QEMU vhost: not measured, $vhost_note."
		echo
	fi
	cat <<'TABLE'
| measure | minivmm | QEMU | minivmm/QEMU | QEMU vhost |
|---|---|---|---|---|
TABLE
	row "guest → host, 64-byte UDP payloads, frames/s" txs rx_pps 0
	row "host → guest, 64-byte UDP payloads, frames/s" rxsrate pps 0
	row "guest → host, 1400-byte UDP payloads, Mbit/s" txl rx_mbps 2
	row "host → guest, 1400-byte UDP payloads, Mbit/s" rxlrate mbps 2
	if [ "$mib" -gt 0 ]; then
		row "reliable $mib MiB stream guest → host, MiB/s" g2h mibps 3
		row "reliable $mib MiB stream host → guest, MiB/s" h2g mibps 3
	fi
	row "UDP round trip (64 bytes), median, µs" rtt p50_us 0
	row "UDP round trip (64 bytes), p99, µs" rtt p99_us 0
	echo
	echo "Lowest–highest run, minivmm / QEMU$([ -n "$vhost_note" ] || echo " / QEMU vhost") (a ratio inside these ranges is noise):"
	echo
	for k in "txs rx_pps 0 guest → host 64-byte, frames/s" "rxsrate pps 0 host → guest 64-byte, frames/s" \
		"txl rx_mbps 1 guest → host 1400-byte, Mbit/s" "rxlrate mbps 1 host → guest 1400-byte, Mbit/s" \
		"g2h mibps 3 reliable guest → host, MiB/s" "h2g mibps 3 reliable host → guest, MiB/s" \
		"rtt p50_us 0 round trip median, µs" "rtt p99_us 0 round trip p99, µs"; do
		set -- $k
		[ "$(count minivmm "$1")$(count qemu "$1")" != 00 ] || continue
		line="- ${*:4}: $(spread minivmm "$1" "$2" "$3") / $(spread qemu "$1" "$2" "$3")"
		[ -n "$vhost_note" ] || line="$line / $(spread vhost "$1" "$2" "$3")"
		echo "$line"
	done
	cat <<NOTE

Guest → host: the guest sends the datagrams as fast as its transmit ring
takes them (\`BTX\`) and nettool times the first to the last arrival.
Host → guest: nettool writes the whole burst at once; it waits in tap0's
queue, and the rate is what the guest counted over the time between its
\`netbench rx start\` and \`netbench rx done\` lines (bench-timeline on the
VMM's stdout; the closing \`FIN\` is queued behind the burst), so it is
the rate at which the guest and the VMM drain the queue. Round trips are
nettool \`rtt\`: one 64-byte UDP echo at a time, $pings per run (p99: the
$(ordinal $((pings - pings * 99 / 100))) slowest of them). The reliable streams are the integration test's
transfer (1456-byte chunks, a window of 128, cumulative acks, FNV-1a over
every byte on both sides), timed by nettool.
NOTE
	echo
	echo "Frames lost over all runs (sent minus counted; nettool bench-* each way): $(losses | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), ($1 == "qemu" ? "QEMU" : ($1 == "vhost" ? "QEMU vhost" : $1)), $2 }')."
	if [ -s "$tmp/failures" ]; then
		echo
		echo "Problems during this run (those measurements are left out):"
		echo
		sed 's/^/- /' "$tmp/failures"
	fi
	cat <<'READ'

On KVM backed by an instruction emulator (this machine) every exit and
every guest instruction that traps costs microseconds in the host kernel,
so the guest's CPU is the bottleneck: a few thousand frames a second
whichever VMM moves them, the guest's per-frame work (the virtio ring,
the IP and UDP checksums it computes itself, the UART lines) dominating,
and the reliable streams bound by its per-byte work (FNV-1a, the data
generator). The columns therefore compare how much the VMM adds to a
fixed, slow guest, not what either VMM reaches on hardware, where the
same guest would run about a thousand times faster and the VMM's
notification and copy paths would set the limits. Host → guest rates
need the burst to fit tap0's queue; guest → host ones are bound by the
guest sending, not by the host receiving.
READ
} >"$tmp/fragment"
[ -z "${BENCH_NET_RAW:-}" ] || cp "$raw" "$BENCH_NET_RAW"	# every run's numbers
if [ "$out" = - ]; then
	cat "$tmp/fragment" >&3
else
	cat "$tmp/fragment" >"$out"
fi

# A VMM with no measurement at all is a failure of the benchmark.
for who in minivmm qemu; do
	if [ "$(count "$who" txs)" -eq 0 ] || [ "$(count "$who" rtt)" -eq 0 ]; then
		echo "bench-net: no $who measurements" >&2
		exit 1
	fi
done
exit 0
