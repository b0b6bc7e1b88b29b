#!/usr/bin/env bash
# Monitor, pause and snapshot costs, minivmm beside QEMU microvm on the same
# test guest in one run: called by scripts/bench.sh (`make bench`), or alone.
# Prints a Markdown section on stdout, progress on stderr.
#
#   scripts/bench-snapshot.sh MINIVMM MINITEST_BZIMAGE TIMELINE_TOOL MONITOR_TOOL
#
# The guest is minitest's counter (a tick every 5 ms, a disk write every 5th)
# after it has written a word into every page of fill= MiB of its RAM, so a
# snapshot has that much to save. Per run and per VMM: monitor round trips,
# stop/cont, savevm, loadvm, and a restore in a fresh process timed from
# process start to the guest's first tick. QEMU uses a qcow2 disk (internal
# snapshots need one) and is also timed saving its state to a file with
# `migrate` and starting from that file with -incoming.
#
# Environment: BENCH_SNAP_RUNS (default 5), BENCH_SNAP_SIZES (default
# "256M:128 2G:1024", RAM:fill MiB), BENCH_SNAP_DISK_MIB (data on the disk,
# default 64, on a 1 GiB image).
set -euo pipefail
vmm=$(realpath "$1")
guest=$(realpath "$2")
timeline=$(realpath "$3")
montool=$(realpath "$4")
runs=${BENCH_SNAP_RUNS:-5}
sizes=${BENCH_SNAP_SIZES:-256M:128 2G:1024}
disk_mib=${BENCH_SNAP_DISK_MIB:-64}
pairs=5 # stop/cont pairs per run
# A first save into page cache the host has not used before costs far more
# in a nested VM (each new host page faults in the outer hypervisor) than
# on hardware; a save and delete first lets both VMMs write into warm pages.
warm=("savevm warm" "delvm warm")
tmp=$(mktemp -d -p "${BUILD:-build}" bench-snap.XXXXXX)
tmp=$(realpath "$tmp")
raw=$tmp/raw
vm_pid=
cleanup() {
	[[ -n $vm_pid ]] && kill "$vm_pid" 2>/dev/null && wait "$vm_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

qemu=(qemu-system-x86_64 -M microvm -enable-kvm -cpu host,-arch-capabilities -smp 1
	-nodefaults -no-user-config -display none -serial stdio -no-reboot
	-global virtio-mmio.force-legacy=false)
cmdline="console=ttyS0 test=counter period=5"

die() {
	echo "bench-snapshot: $*" >&2
	exit 1
}

# wait_line FILE REGEX: wait up to 120 s for a line of FILE matching REGEX.
wait_line() {
	local i
	for ((i = 0; i < 1200; i++)); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		[[ -n $vm_pid ]] && ! kill -0 "$vm_pid" 2>/dev/null && break
		sleep 0.1
	done
	die "no /$2/ in $1: $(tail -n 3 "$1" "$1.err" 2>/dev/null | tr '\n' ' ')"
}

# start WHO MEM FILL [QEMU_ARGS...]: boot the counter guest with a monitor;
# wait until it has filled its RAM and ticked once more.
start() {
	local who=$1 mem=$2 fill=$3 out=$tmp/$1.out
	shift 3
	rm -f "$tmp/$who.sock"
	if [[ $who == qemu ]]; then
		"${qemu[@]}" -m "$mem" -kernel "$guest" -append "$cmdline fill=$fill" \
			-drive "id=d0,file=$tmp/disk.qcow2,format=qcow2,if=none" \
			-device virtio-blk-device,drive=d0 \
			-monitor "unix:$tmp/qemu.sock,server=on,wait=off" "$@" </dev/null >"$out" 2>"$out.err" &
	else
		"$vmm" --mem "$mem" --cpus 1 --kernel "$guest" --cmdline "$cmdline fill=$fill" \
			--disk "$tmp/disk.raw" --monitor "$tmp/minivmm.sock" \
			--snapshot-dir "$tmp/snaps" </dev/null >"$out" 2>"$out.err" &
	fi
	vm_pid=$!
	wait_line "$out" "^minitest: counter fill $fill MiB done"
	wait_line "$out" "^minitest: counter 2 time"
}

# monitor WHO SIZE COMMAND...: time the commands, append "WHO SIZE cmd=NS" to $raw.
monitor() {
	local who=$1 size=$2 prompt="(minivmm) "
	shift 2
	[[ $who == qemu ]] && prompt="(qemu) "
	"$montool" "$tmp/$who.sock" "$prompt" "$@" >"$tmp/mon.out" 2>"$tmp/mon.err" ||
		die "$who: monitor command failed: $(tr -d '\r' <"$tmp/mon.err" | grep -m1 Error || tail -c 300 "$tmp/mon.err")"
	while read -r ns cmd; do
		echo "$who $size ${cmd%% *}=$ns"
	done <"$tmp/mon.out" >>"$raw"
}

stop_vm() {
	wait "$vm_pid" || die "exit status $? after quit"
	vm_pid=
}

# alloc_mib PATH...: the space the paths take on disk, in MiB.
alloc_mib() { du -s -B1 "$@" | awk '{s += $1} END {printf "%.1f\n", s / 1048576}'; }

# restore WHO SIZE NAME CMD...: time CMD to the guest's first tick, then end it.
restore() {
	local who=$1 size=$2 name=$3 line
	shift 3
	line=$("$timeline" -k "minitest: counter " -- timeout -k 5 120 "$@" 2>"$tmp/restore.err")
	[[ $line == *"t1=-1 "* ]] && die "$who: no tick after $name: $(tail -n 3 "$tmp/restore.err" | tr '\n' ' ')"
	line=${line%% *}
	echo "$who $size $name=${line#t1=}" >>"$raw"
}

run_minivmm() {
	local size=$1 mem=$2 fill=$3 cmds=("info status" "info status" "info status")
	for ((p = 0; p < pairs; p++)); do cmds+=(stop cont); done
	rm -rf "$tmp/snaps"
	start minivmm "$mem" "$fill"
	monitor minivmm "$size" "${cmds[@]}" "${warm[@]}" "savevm s1" "loadvm s1" quit
	stop_vm
	echo "minivmm $size size_mib=$(alloc_mib "$tmp/snaps/s1")" >>"$raw"
	restore minivmm "$size" restore "$vmm" --restore "$tmp/snaps/s1" --mem "$mem" --cpus 1 \
		--disk "$tmp/disk.raw"
}

run_qemu() {
	local size=$1 mem=$2 fill=$3 before cmds=("info status" "info status" "info status")
	for ((p = 0; p < pairs; p++)); do cmds+=(stop cont); done
	qemu-img convert -O qcow2 "$tmp/disk.raw" "$tmp/disk.qcow2"
	# Without the source's run state in the stream, -incoming starts the guest
	# as soon as the state is in, as --restore does.
	start qemu "$mem" "$fill" -global migration.store-global-state=off
	before=$(alloc_mib "$tmp/disk.qcow2")
	monitor qemu "$size" "${cmds[@]}" "${warm[@]}" "savevm s1"
	echo "qemu $size size_mib=$(awk -v a="$(alloc_mib "$tmp/disk.qcow2")" -v b="$before" \
		'BEGIN {printf "%.1f\n", a - b}')" >>"$raw"
	# Unthrottled: migration is rate-limited by default, savevm is not. HMP's
	# migrate answers on a 1 s poll, so the time is the one `info migrate` gives.
	monitor qemu "$size" "loadvm s1" stop "migrate_set_parameter max-bandwidth 1T" \
		"migrate exec:cat>$tmp/qemu.state" "info migrate" quit
	stop_vm
	tr -d '\r' <"$tmp/mon.err" | sed -n "s/^total time: \([0-9]*\) ms.*/qemu $size migrated=\1/p" >>"$raw"
	echo "qemu $size state_mib=$(alloc_mib "$tmp/qemu.state")" >>"$raw"
	local q=("${qemu[@]}" -m "$mem" -monitor none
		-drive "id=d0,file=$tmp/disk.qcow2,format=qcow2,if=none" -device virtio-blk-device,drive=d0)
	restore qemu "$size" restore "${q[@]}" -loadvm s1
	qemu-img snapshot -a s1 "$tmp/disk.qcow2"
	restore qemu "$size" incoming "${q[@]}" -incoming "exec:cat $tmp/qemu.state"
	rm -f "$tmp/qemu.state"
}

# median WHO SIZE KEY [SCALE]: median of KEY over all samples, divided by SCALE.
median() {
	sed -n "s/^$1 $2 $3=//p" "$raw" | sort -g |
		awk -v s="${4:-1}" '{v[NR] = $1} END {
			if (NR == 0) { print "n/a"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.2f\n", m / s }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

row() { # LABEL SIZE KEY SCALE UNIT [QEMU_KEY]
	local m q
	m=$(median minivmm "$2" "$3" "$4")
	q=$(median qemu "$2" "${6:-$3}" "$4")
	echo "| $1 | $m $5 | $q $5 | $(ratio "$m" "$q") |"
}

truncate -s 1G "$tmp/disk.raw"
head -c "${disk_mib}M" /dev/urandom | dd of="$tmp/disk.raw" conv=notrunc status=none
echo "bench: $runs runs each of monitor, pause and snapshot costs ($sizes), minivmm and QEMU alternating" >&2
for ((i = 0; i < runs; i++)); do
	for s in $sizes; do
		run_minivmm "${s%%:*}" "${s%%:*}" "${s#*:}"
		run_qemu "${s%%:*}" "${s%%:*}" "${s#*:}"
	done
done

cat <<HEAD

## Monitor, pause and snapshots

Made by \`scripts/bench-snapshot.sh\` (part of \`make bench\`): $runs runs, minivmm and
QEMU alternating. The guest is minitest's counter (\`$cmdline fill=MIB\`): it
first writes a word into every page of MIB MiB of its RAM, then ticks every
5 ms and writes its disk every fifth tick. Its disk is a 1 GiB image with
$disk_mib MiB of data: raw for minivmm, the same converted to qcow2 for QEMU,
whose internal snapshots need it. Monitor times run from sending the line to
the next prompt (\`build/bench-monitor\`); restore times from process start to
the guest's first tick after the snapshot point, which comes at most 5 ms
after the guest runs again.
HEAD
for s in $sizes; do
	size=${s%%:*} fill=${s#*:}
	cat <<TABLE

### $size guest, $fill MiB of RAM written

| measure | minivmm | QEMU microvm | minivmm/QEMU |
|---|---|---|---|
TABLE
	row "monitor round trip (\`info status\`)" "$size" info 1e3 µs
	row "\`stop\` (every vCPU out of KVM_RUN)" "$size" stop 1e3 µs
	row "\`cont\`" "$size" cont 1e3 µs
	row "\`savevm\` of the running guest (after one \`savevm\` + \`delvm\`)" "$size" savevm 1e6 ms
	row "snapshot size on disk (minivmm: RAM, disk copy, state; QEMU: qcow2 growth)" "$size" size_mib 1 MiB
	row "\`loadvm\` in the running guest" "$size" loadvm 1e6 ms
	row "new process from the snapshot to the first tick (\`--restore\` / \`-loadvm\`)" "$size" restore 1e6 ms
	echo "| ... QEMU from a \`migrate\` state file instead (\`-incoming\`) | | $(median qemu "$size" incoming 1e6) ms | |"
	echo "| QEMU \`migrate\` of the paused guest to a file, and that file's size | | $(median qemu "$size" migrated) ms, $(median qemu "$size" state_mib) MiB | |"
done
cat <<'NOTE'

How to read this:
- QEMU's `stop` also flushes its disks to stable storage (`bdrv_flush_all`);
  minivmm's does not: every write the guest flushed already is, and the rest
  is in the host's page cache, where any reader of the image sees it.
- `savevm` times follow one `savevm` and `delvm` in the same VM: in a nested
  VM the first write into host page cache the machine has never used costs
  an exit to the outer hypervisor per page (several times the warm time,
  for either VMM), which hardware does not have.
- minivmm's `savevm` writes the RAM's non-zero pages, copies the disk (a
  reflink where the filesystem has them, else a sparse copy of its data) and
  fsyncs both. QEMU's internal snapshot keeps the disk's blocks in the qcow2
  and writes only the RAM.
- minivmm's `loadvm` and `--restore` map the snapshot's RAM copy-on-write,
  so a guest pays for each page when it first touches it. The counter
  touches few pages after a restore; a guest that reads all its memory pays
  the rest later, from the page cache. QEMU reads the whole RAM before the
  guest runs. `--restore` and `loadvm` also copy the disk back.
NOTE
