#!/usr/bin/env bash
# virtio-net benchmarks for `make bench`: minivmm against QEMU microvm
# (virtio-net-device on a tap, without vhost and with vhost=on as the
# ceiling), the same test guest, alternating, inside a network namespace
# this script creates and deletes. Prints a Markdown section on stdout.
# Usage: scripts/bench-net.sh MINIVMM MINITEST_BZIMAGE
set -uo pipefail
vmm=$(realpath "$1")
guest=$(realpath "$2")
runs=${BENCH_NET_RUNS:-3}
frames=${BENCH_NET_FRAMES:-1000}
mib=${BENCH_NET_MIB:-1}
ns=minivmm-bench-$$
work=$(mktemp -d)
nettool=$work/nettool
trap 'ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"' EXIT

cc -O2 -Wall -o "$nettool" "$(dirname "$0")/../tests/integration/nettool.c" -lm
ip netns add "$ns"
in_ns() { ip netns exec "$ns" "$@"; }
in_ns ip link set lo up
in_ns ip tuntap add tap0 mode tap vnet_hdr
in_ns ip addr add 10.77.0.1/24 dev tap0
in_ns ip link set tap0 up
vhost=yes
modprobe vhost_net 2>/dev/null || true
[ -c /dev/vhost-net ] || vhost=no

qemu=(qemu-system-x86_64 -M microvm -enable-kvm -cpu host,-arch-capabilities -m 256M -smp 1
	-nodefaults -no-user-config -display none -serial stdio -monitor none -no-reboot
	-global virtio-mmio.force-legacy=false -kernel "$guest" -append "test=netbench")

# boot WHO: start the guest on tap0 in the namespace; wait until it answers.
boot() {
	local out=$work/$1.out
	case $1 in
	minivmm) in_ns timeout 300 "$vmm" --kernel "$guest" --net tap=tap0 \
		--cmdline "test=netbench" </dev/null >"$out" 2>&1 & ;;
	qemu) in_ns timeout 300 "${qemu[@]}" -netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off \
		-device virtio-net-device,netdev=n0 </dev/null >"$out" 2>&1 & ;;
	vhost) in_ns timeout 300 "${qemu[@]}" -netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=on \
		-device virtio-net-device,netdev=n0 </dev/null >"$out" 2>&1 & ;;
	esac
	PID=$!
	for ((i = 0; i < 600; i++)); do
		grep -q '^minitest: net ready' "$out" && return 0
		sleep 0.1
	done
	echo "bench-net: $1 guest never came up" >&2
	return 1
}

# key KEY: a value from nettool's key=value output on stdin.
key() { sed -n "s/^$1=//p"; }

measure() {
	local who=$1 t0 t1
	boot "$who" || return 0
	in_ns "$nettool" rtt 10.77.0.2 7777 200 >"$work/rtt" 2>/dev/null || true
	in_ns "$nettool" bench-tx 10.77.0.2 7777 "$frames" 64 >"$work/tx64" 2>/dev/null || true
	in_ns "$nettool" bench-tx 10.77.0.2 7777 "$frames" 1400 >"$work/tx1400" 2>/dev/null || true
	t0=$(date +%s%N)
	in_ns "$nettool" send 10.77.0.2 7777 "$mib" >/dev/null 2>&1 || true
	t1=$(date +%s%N)
	in_ns "$nettool" quit 10.77.0.2 7777 >/dev/null 2>&1 || true
	wait "$PID" || true
	echo "$who rtt_p50=$(key p50_us <"$work/rtt") rtt_p99=$(key p99_us <"$work/rtt")" \
		"tx_pps=$(key rx_pps <"$work/tx64") tx_mbps=$(key rx_mbps <"$work/tx1400")" \
		"rx_mibps=$(awk -v m="$mib" -v d=$((t1 - t0)) 'BEGIN { printf "%.3f", m * 1e9 / d }')" \
		>>"$work/raw"
}

whos=(minivmm qemu)
[ "$vhost" = yes ] && whos+=(vhost)
for ((r = 0; r < runs; r++)); do
	for who in "${whos[@]}"; do
		measure "$who"
	done
done

median() {
	grep "^$1 " "$work/raw" | tr ' ' '\n' | sed -n "s/^$2=//p" | grep -v '^$' | sort -g |
		awk '{v[NR] = $1} END { if (NR == 0) { print "n/a"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }

cat <<HEAD

## virtio-net

The test guest (\`test=netbench\`) behind a tap in a private network namespace;
\`tests/integration/nettool.c\` on the host side. Medians of $runs runs each,
VMMs alternating. QEMU: \`-netdev tap,vhost=off|on -device virtio-net-device\`$([ "$vhost" = yes ] || echo " (vhost-net unavailable here: no vhost column)").

| measure | minivmm | QEMU | minivmm/QEMU | QEMU vhost |
|---|---|---|---|---|
HEAD
for k in "rtt_p50:UDP round trip, median (us)" "rtt_p99:UDP round trip, p99 (us)" \
	"tx_pps:guest to host, 64-byte frames per second" \
	"tx_mbps:guest to host, 1400-byte frames (Mbit/s)" \
	"rx_mibps:host to guest, reliable transfer of $mib MiB (MiB/s)"; do
	m=$(median minivmm "${k%%:*}")
	q=$(median qemu "${k%%:*}")
	v=$(median vhost "${k%%:*}")
	echo "| ${k#*:} | $m | $q | $(ratio "$m" "$q") | $v |"
done
cat <<'NOTE'

Here the guest's CPU, run by the instruction emulator behind this host's KVM,
is the bottleneck (about a millisecond per frame it handles), so these
numbers compare the VMMs' paths only roughly; on hardware KVM the same
commands measure the VMM.
NOTE
