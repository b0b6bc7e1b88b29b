#!/usr/bin/env bash
# `make bench`: minivmm side by side with QEMU microvm on the same test guest,
# in one run. Writes docs/benchmarks.md (medians of BENCH_RUNS runs each).
# Usage: scripts/bench.sh MINIVMM MINITEST_BZIMAGE TIMELINE_TOOL MONITOR_TOOL
set -euo pipefail
vmm=$(realpath "$1")
guest=$(realpath "$2")
timeline=$(realpath "$3")
montool=$(realpath "$4")
runs=${BENCH_RUNS:-10}
exits=${BENCH_EXITS:-20000}
out=docs/benchmarks.md
raw=$(mktemp)

blk_mib=${BENCH_BLK_MIB:-64}
blk_reads=${BENCH_BLK_READS:-2000}
image=$(mktemp -p "${BUILD:-build}" bench-disk.XXXXXX)
trap 'rm -f "$raw" "$image" "$image.host"' EXIT

qemu=(qemu-system-x86_64 -M microvm -enable-kvm -cpu host,-arch-capabilities -m 256M -smp 1
	-nodefaults -no-user-config -display none -serial stdio -monitor none -no-reboot
	-global virtio-mmio.force-legacy=false)
minivmm=("$vmm" --mem 256M --cpus 1)

# measure WHO NAME DISK CMDLINE MARKERS...: one run, appended to $raw as
# "WHO NAME key=value...". DISK is an image to attach, or "-".
measure() {
	local who=$1 name=$2 disk=$3 cmdline=$4
	shift 4
	local cmd
	if [ "$who" = qemu ]; then
		cmd=("${qemu[@]}" -kernel "$guest" -append "$cmdline")
		[ "$disk" = - ] || cmd+=(-drive "id=d0,file=$disk,format=raw,if=none"
			-device virtio-blk-device,drive=d0)
	else
		cmd=("${minivmm[@]}" --kernel "$guest" --cmdline "$cmdline")
		[ "$disk" = - ] || cmd+=(--disk "$disk")
	fi
	echo "$who $name $("$timeline" "$@" -- "${cmd[@]}" 2>/dev/null)" >>"$raw"
}

# median WHO NAME KEY [SCALE]: median of KEY over the runs, divided by SCALE.
median() {
	grep "^$1 $2 " "$raw" | tr ' ' '\n' | sed -n "s/^$3=//p" | sort -n |
		awk -v s="${4:-1}" '{v[NR] = $1} END {
			if (NR == 0) { print "n/a"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.2f\n", m / s }'
}

# Every run must have ended the way the guest ends: minivmm 3 after a reset and 0
# after an ACPI power-off (blk), QEMU 0 either way (-no-reboot).
check_runs() {
	local bad
	bad=$(grep -Ev '^minivmm (startup|exits) .* status=3$|^minivmm blk .* status=0$|^qemu .* status=0$' "$raw" || true)
	if [ -n "$bad" ]; then
		echo "bench: some runs did not end as expected:" >&2
		echo "$bad" >&2
		exit 1
	fi
	if grep -q 't[0-9]=-1 ' "$raw"; then
		echo "bench: a marker line never appeared:" >&2
		grep 't[0-9]=-1 ' "$raw" >&2
		exit 1
	fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "bench: $runs runs each of start-up, $exits port-I/O exits and virtio-blk, minivmm and QEMU alternating" >&2
head -c $((blk_mib * 2))M /dev/urandom >"$image"
blkcmd="console=ttyS0 test=blkbench count=$blk_reads size=$blk_mib"
for ((i = 0; i < runs; i++)); do
	for who in minivmm qemu; do
		measure "$who" startup - "console=ttyS0 test=info" "minitest: boot"
		measure "$who" exits - "console=ttyS0 test=exits count=$exits" \
			"minitest: exits start" "minitest: exits done"
		measure "$who" blk "$image" "$blkcmd" \
			"minitest: blkbench seqread start" "minitest: blkbench seqread done" \
			"minitest: blkbench seqwrite start" "minitest: blkbench seqwrite done" \
			"minitest: blkbench randread start" "minitest: blkbench randread done"
	done
done
check_runs

row() { # LABEL KEY NAME SCALE UNIT
	local m q
	m=$(median minivmm "$3" "$2" "$4")
	q=$(median qemu "$3" "$2" "$4")
	echo "| $1 | $m $5 | $q $5 | $(ratio "$m" "$q") |"
}

# Exit cost: time between the two markers over the number of exits.
for who in minivmm qemu; do
	grep "^$who exits " "$raw" | while read -r _ _ t1 t2 _; do
		echo "$who exitcost ns=$(((${t2#t2=} - ${t1#t1=}) / exits))"
	done
done >>"$raw.cost"
cat "$raw.cost" >>"$raw"
rm -f "$raw.cost"

# virtio-blk: MiB/s between the markers, and 4 KiB random reads per second.
for who in minivmm qemu; do
	grep "^$who blk " "$raw" | while read -r _ _ t1 t2 t3 t4 t5 t6 _; do
		t1=${t1#t1=} t2=${t2#t2=} t3=${t3#t3=} t4=${t4#t4=} t5=${t5#t5=} t6=${t6#t6=}
		echo "$who blkrate read=$((blk_mib * 1000000000 / (t2 - t1))) write=$((blk_mib * 1000000000 / (t4 - t3))) iops=$((blk_reads * 1000000000 / (t6 - t5)))"
	done
done >>"$raw.rate"
cat "$raw.rate" >>"$raw"
rm -f "$raw.rate"
host_read=() host_write=()
for ((i = 0; i < 3; i++)); do
	t0=$(date +%s%N)
	dd if="$image" of=/dev/null bs=1M count="$blk_mib" status=none
	t1=$(date +%s%N)
	dd if=/dev/zero of="$image.host" bs=1M count="$blk_mib" conv=fdatasync status=none
	t2=$(date +%s%N)
	echo "host blkrate read=$((blk_mib * 1000000000 / (t1 - t0))) write=$((blk_mib * 1000000000 / (t2 - t1)))" >>"$raw"
done

kvm_kind="hardware-backed KVM"
[ -d /sys/module/kvm_pvm ] && kvm_kind="nested KVM backed by an instruction emulator (kvm_pvm)"

{
	cat <<HEAD
# Benchmarks

Made by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d): $(nproc) cores,
$(uname -r), $kvm_kind, $(qemu-system-x86_64 --version | head -n 1).
Medians of $runs runs each; minivmm and QEMU alternate so both see the same machine.
Guest: the minitest test kernel (build/guest/minitest.bzImage), 1 vCPU, 256 MiB,
the same file and command line for both. QEMU: \`${qemu[*]}\`.

## Start-up and exits

| measure | minivmm | QEMU microvm | minivmm/QEMU |
|---|---|---|---|
HEAD
	row "process start to first guest UART line" t1 startup 1e6 ms
	row "process start to process exit" exit startup 1e6 ms
	row "peak RSS of the VMM process" rss_kb startup 1024 MiB
	row "one port-I/O exit to the VMM and back ($exits \`outb\`)" ns exitcost 1 ns
	cat <<BLK

## virtio-blk

The test guest reads $blk_mib MiB sequentially in 1 MiB requests, writes $blk_mib MiB
the same way and flushes, then does $blk_reads random 4 KiB reads, several
requests in flight, on a raw image in the host's page cache (QEMU:
\`-drive format=raw,if=none -device virtio-blk-device\`, its default cache mode).
The host column is \`dd\` on the same file (write with \`conv=fdatasync\`).

| measure | minivmm | QEMU microvm | minivmm/QEMU | host |
|---|---|---|---|---|
BLK
	for k in read:"sequential read, MiB/s" write:"sequential write + flush, MiB/s" iops:"4 KiB random reads per second"; do
		m=$(median minivmm blkrate "${k%%:*}")
		q=$(median qemu blkrate "${k%%:*}")
		h=$(median host blkrate "${k%%:*}")
		echo "| ${k#*:} | $m | $q | $(ratio "$m" "$q") | $h |"
	done
	cat <<'NOTE'

## Reading these numbers

On KVM backed by an instruction emulator every guest instruction that traps
costs microseconds in the host kernel whichever VMM is used, so the times
above are dominated by the emulator; the ratio is what compares the VMMs.
Peak RSS counts the VMM's own memory plus the guest pages it touched.
NOTE
} >"$out"
"$(dirname "$0")/bench-net.sh" "$vmm" "$guest" >>"$out"
"$(dirname "$0")/bench-snapshot.sh" "$vmm" "$guest" "$timeline" "$montool" >>"$out"
cat "$out"
