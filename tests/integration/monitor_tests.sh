# Monitor, pause/resume, snapshot and restore tests; sourced by run.sh.
# The guest is minitest's counter: it prints a tick with its kvm-clock time
# and keeps writing the tick into one of 16 disk slots it can verify.

MON_DIR=$OUT/monitor
mkdir -p "$MON_DIR"

# mon NAME SOCKET COMMAND...: send the commands (one per argument), keep the answers.
mon() {
	local name=$1 sock=$2
	shift 2
	printf '%s\n' "$@" | timeout 60 socat -t 30 - "UNIX-CONNECT:$sock" >"$MON_DIR/$name.mon" 2>&1
}

expect_mon() { expect_line "$MON_DIR/$1.mon" "$2" "$1: monitor says /$2/"; }

# start_counter NAME [minivmm args]: a counter guest with a monitor socket; waits for ticks.
start_counter() {
	local name=$1
	shift
	timeout -k 5 "$TIMEOUT" "$VMM" --kernel "$GUEST" --monitor "$MON_DIR/$name.sock" \
		--snapshot-dir "$MON_DIR/snaps" "$@" </dev/null >"$MON_DIR/$name.out" \
		2>"$MON_DIR/$name.err" &
	COUNTER_PID=$!
	wait_for "$MON_DIR/$name.out" '^minitest: counter [0-9]+ time' "$TIMEOUT"
}

# last_tick NAME: the latest counter value the guest printed.
last_tick() { sed -n 's/^minitest: counter \([0-9]*\) time.*/\1/p' "$MON_DIR/$1.out" | tail -n 1; }
last_time() { sed -n 's/^minitest: counter [0-9]* time \([0-9]*\).*/\1/p' "$MON_DIR/$1.out" | tail -n 1; }

# finish NAME STATUS: quit through the monitor, expect minivmm's exit status.
finish() {
	mon "$1-quit" "$MON_DIR/$1.sock" quit
	wait "$COUNTER_PID"
	echo $? >"$OUT/$1.rc"
	cp "$MON_DIR/$1.out" "$OUT/$1.out"
	cp "$MON_DIR/$1.err" "$OUT/$1.err"
	expect_rc "$1" "$2"
}

test_monitor_socket() {
	mkdir -p "$MON_DIR"
	head -c 1M /dev/zero >"$MON_DIR/sock.img"
	start_counter sock --disk "$MON_DIR/sock.img" --cmdline "test=counter period=50"
	local sock=$MON_DIR/sock.sock
	expect_eq "$(stat -c %a "$sock")" 600 "monitor: socket mode 0600"
	mon banner "$sock" "info status" "info version" "help"
	expect_mon banner "^minivmm monitor"
	expect_mon banner "VM status: running"
	expect_mon banner "minivmm [0-9]"
	expect_mon banner "savevm NAME -- "
	mon errors "$sock" bogus "info" "info status extra" "loadvm" "loadvm nosuch" "savevm ../x" \
		'savevm "open' "$(head -c 2000 /dev/zero | tr '\0' a)" "$(printf 'info\001status')"
	expect_mon errors "Error: unknown command 'bogus'"
	expect_mon errors "Error: info needs SUBCOMMAND"
	expect_mon errors "Error: too many arguments to info"
	expect_mon errors "Error: loadvm needs NAME"
	expect_mon errors "Error: no snapshot 'nosuch'"
	expect_mon errors "Error: '../x': a snapshot name is"
	expect_mon errors "Error: unterminated quote"
	expect_mon errors "Error: line longer than 1024 bytes"
	expect_mon errors "Error: control character"
	# Two clients at once, one of them leaving mid-line and one sending junk.
	(printf 'info sta' | timeout 5 socat - "UNIX-CONNECT:$sock" >/dev/null 2>&1) &
	(head -c 3000 /dev/urandom | timeout 5 socat - "UNIX-CONNECT:$sock" >/dev/null 2>&1) &
	mon two "$sock" "info status"
	wait $!
	expect_mon two "VM status: running"
	local before
	before=$(last_tick sock)
	sleep 1
	if [ "$(last_tick sock)" -gt "$before" ]; then
		pass "monitor: the guest runs on through bad clients"
	else
		fail "monitor: the guest runs on through bad clients" "counter stuck at $before"
	fi
	# A second VMM on a live socket is refused; the socket goes away at exit.
	bad monitor-live 1 "--monitor $sock: in use by a running process" --kernel "$GUEST" \
		--monitor "$sock"
	finish sock 0
	if [ -e "$sock" ]; then
		fail "monitor: socket removed at exit" "$sock still there"
	else
		pass "monitor: socket removed at exit"
	fi
}

# A socket file whose process died is replaced.
test_monitor_stale() {
	start_counter stale --cmdline "test=counter period=50"
	# minivmm is the child of timeout: kill it, not timeout, so nothing tidies up.
	pkill -KILL -P "$COUNTER_PID"
	wait "$COUNTER_PID" 2>/dev/null
	if [ -S "$MON_DIR/stale.sock" ]; then
		start_counter stale --cmdline "test=counter period=50"
		mon stale2 "$MON_DIR/stale.sock" "info status"
		expect_mon stale2 "VM status: running"
		finish stale 0
	else
		fail "monitor: stale socket" "SIGKILL left no socket to test with"
	fi
}

test_pause() {
	start_counter pause --cmdline "test=counter period=20"
	local sock=$MON_DIR/pause.sock t0 n0 n1 t1
	mon stop "$sock" stop "info status" stop
	expect_mon stop "VM status: paused"
	n0=$(last_tick pause)
	t0=$(last_time pause)
	sleep 2
	n1=$(last_tick pause)
	expect_eq "$n1" "$n0" "pause: the counter stops while paused"
	mon cont "$sock" cont "info status" cont
	expect_mon cont "VM status: running"
	wait_for "$MON_DIR/pause.out" "^minitest: counter $((n0 + 3)) " 60
	t1=$(sed -n "s/^minitest: counter $((n0 + 1)) time \([0-9]*\).*/\1/p" "$MON_DIR/pause.out")
	# One tick is 20 ms of guest time; the 2 s pause must not show in the guest's clock.
	if [ -n "$t1" ] && [ $((t1 - t0)) -lt 1000 ]; then
		pass "pause: the guest clock does not jump across a pause ($((t1 - t0)) ms)"
	else
		fail "pause: the guest clock does not jump across a pause" "tick times $t0 -> '$t1'"
	fi
	mon cpus "$sock" "info cpus"
	expect_mon cpus "CPU #0: thread_id=[0-9]+ pc=0x[0-9a-f]{16}"
	finish pause 0
}

# no_disk_failures NAME TEST: the guest never reported a failed or timed-out disk write
# (a request offered just before a snapshot must be served after the restore).
no_disk_failures() {
	if grep -q '^minitest: counter [0-9]* disk FAIL' "$MON_DIR/$1.out"; then
		fail "$2" "$(grep -m1 '^minitest: counter [0-9]* disk FAIL' "$MON_DIR/$1.out")"
	else
		pass "$2"
	fi
}

# A vCPU blocked writing console output nobody reads (a full pipe) must not hang
# the monitor: `stop` gives up after 3 s with an error and the VM runs on, and
# `quit` still ends minivmm.
test_pause_blocked_console() {
	local fifo=$MON_DIR/blocked.fifo sock=$MON_DIR/blocked.sock tpid vpid i
	rm -f "$fifo"
	mkfifo "$fifo"
	exec 5<>"$fifo" # held open and never read: the pipe fills and writes block
	timeout -k 5 "$TIMEOUT" "$VMM" --kernel "$GUEST" --monitor "$sock" \
		--cmdline "test=counter period=1" </dev/null >"$fifo" 2>"$MON_DIR/blocked.err" &
	tpid=$!
	for ((i = 0; i < 600; i++)); do
		vpid=$(pgrep -P "$tpid" -x minivmm || true)
		[ -n "$vpid" ] && grep -qs '^1 ' /proc/"$vpid"/task/*/syscall && break
		sleep 0.1
	done
	if [ -z "$vpid" ] || ! grep -qs '^1 ' /proc/"$vpid"/task/*/syscall; then
		fail "blocked console: a vCPU blocks in write" "no thread of minivmm in write(2) after 60 s"
	else
		pass "blocked console: a vCPU blocks in write"
	fi
	mon blocked-stop "$sock" stop "info status"
	expect_mon blocked-stop "Error: a vCPU did not stop within 3 s"
	expect_mon blocked-stop "VM status: running"
	mon blocked-quit "$sock" quit
	wait "$tpid"
	echo $? >"$OUT/blocked.rc"
	cp "$MON_DIR/blocked.err" "$OUT/blocked.err"
	expect_rc blocked 0
	exec 5>&-
	rm -f "$fifo"
}

# tick_after NAME LINE: the first counter value printed after output line LINE.
tick_after() {
	wait_for_tick_after "$1" "$2"
	tail -n +"$(($2 + 1))" "$MON_DIR/$1.out" | sed -n 's/^minitest: counter \([0-9]*\) time.*/\1/p' |
		head -n 1
}

wait_for_tick_after() {
	local i
	for ((i = 0; i < 600; i++)); do
		tail -n +"$(($2 + 1))" "$MON_DIR/$1.out" | grep -q '^minitest: counter [0-9]* time' &&
			return 0
		sleep 0.1
	done
	return 1
}

lines() { wc -l <"$MON_DIR/$1.out"; }

# expect_resumed GOT N NAME: the first whole tick after a restore follows tick N, the
# last whole one seen at savevm (the save may fall inside the next line's output).
expect_resumed() {
	if [ -n "$1" ] && [ "$1" -gt "$2" ] && [ "$1" -le $(($2 + 2)) ]; then
		pass "$3"
	else
		fail "$3" "first tick '$1', expected $(($2 + 1)) or $(($2 + 2))"
	fi
}

# The counter guest with stdin on a fifo, so the test can ask it to verify its disk.
start_counter_fifo() {
	local name=$1
	shift
	rm -f "$MON_DIR/$name.in"
	mkfifo "$MON_DIR/$name.in"
	timeout -k 5 "$TIMEOUT" "$VMM" --monitor "$MON_DIR/$name.sock" \
		--snapshot-dir "$MON_DIR/snaps" "$@" <"$MON_DIR/$name.in" >"$MON_DIR/$name.out" \
		2>"$MON_DIR/$name.err" &
	COUNTER_PID=$!
	exec 4>"$MON_DIR/$name.in"
	wait_for "$MON_DIR/$name.out" '^minitest: counter [0-9]+ time' "$TIMEOUT"
}

# ask NAME WORD: send the counter guest the UART line WORD (verify, fillcheck, mtrr)
# and print its answer, "minitest: counter WORD <answer>", waiting up to 30 s. Only
# whole lines count: the UART writes a byte at a time, and a long answer can be
# caught half written.
ask() {
	local from n i
	from=$(lines "$1")
	printf '%s\r' "$2" >&4
	for ((i = 0; i < 300; i++)); do
		n=$(lines "$1")
		head -n "$n" "$MON_DIR/$1.out" | tail -n +"$((from + 1))" |
			grep -q "^minitest: counter $2 " && break
		sleep 0.1
	done
	head -n "$n" "$MON_DIR/$1.out" | tail -n +"$((from + 1))" |
		grep -m1 "^minitest: counter $2 " | sed "s/^minitest: counter $2 //"
}

# verify NAME: ask the guest to read its 16 disk slots back against what it remembers.
verify() { ask "$1" verify; }

test_snapshot() {
	local img=$MON_DIR/snap.img sock=$MON_DIR/snap.sock n_s from got
	head -c 1M /dev/zero >"$img"
	start_counter_fifo snap --kernel "$GUEST" --disk "$img" \
		--cmdline "test=counter period=20 diskevery=2"
	wait_for "$MON_DIR/snap.out" '^minitest: counter [0-9]+ disk ok' 60
	mon save "$sock" stop savevm\ s1 "info snapshots" "info status"
	n_s=$(last_tick snap)
	expect_mon save "^s1 "
	expect_mon save "VM status: paused"
	cp "$img" "$MON_DIR/img-at-s1"
	mon cont1 "$sock" cont
	wait_for "$MON_DIR/snap.out" "^minitest: counter $((n_s + 12)) " 60
	expect_eq "$(verify snap)" ok "snapshot: disk workload consistent before loadvm"
	mon load "$sock" stop "loadvm s1" "info status"
	expect_mon load "VM status: paused"
	if cmp -s "$img" "$MON_DIR/img-at-s1"; then
		pass "snapshot: loadvm puts the disk back as it was at savevm"
	else
		fail "snapshot: loadvm puts the disk back as it was at savevm" "image differs"
	fi
	from=$(lines snap)
	mon cont2 "$sock" cont
	got=$(tick_after snap "$from")
	expect_resumed "$got" "$n_s" "snapshot: the counter goes on from its value at savevm"
	expect_eq "$(verify snap)" ok "snapshot: RAM and disk agree after loadvm"
	finish snap 0

	# A fresh process from the same snapshot.
	start_counter_fifo restore --restore "$MON_DIR/snaps/s1" --disk "$img"
	got=$(sed -n 's/^minitest: counter \([0-9]*\) time.*/\1/p' "$MON_DIR/restore.out" | head -n 1)
	expect_resumed "$got" "$n_s" "restore: a new process goes on from the snapshot"
	expect_eq "$(verify restore)" ok "restore: RAM and disk agree in the new process"
	no_disk_failures snap "snapshot: no disk request is lost across savevm/loadvm"
	no_disk_failures restore "restore: no disk request is lost in the new process"
	mon restore-info "$MON_DIR/restore.sock" "info snapshots" "delvm s1" "info snapshots" \
		"delvm s1"
	expect_mon restore-info "^s1 "
	expect_mon restore-info "Error: no snapshot 's1'"
	expect_mon restore-info "\(no snapshots\)"
	finish restore 0
	if [ -e "$MON_DIR/snaps/s1" ]; then
		fail "delvm: the directory is gone" "$MON_DIR/snaps/s1 remains"
	else
		pass "delvm: the directory is gone"
	fi
}

# A request the guest offered just before a save is served after the restore. A
# delvm of a large snapshot keeps the I/O thread busy while the guest writes its
# disk every tick, so the savevm that follows at once usually catches a
# notification not yet seen; the restored guest must not wait for it in vain.
test_snapshot_pending() {
	local img=$MON_DIR/pending.img sock=$MON_DIR/pending.sock
	head -c 1M /dev/zero >"$img"
	start_counter_fifo pending --kernel "$GUEST" --disk "$img" \
		--cmdline "test=counter period=5 diskevery=1 fill=32"
	wait_for "$MON_DIR/pending.out" '^minitest: counter fill 32 MiB done' 60
	mon pending-save "$sock" "savevm big" "delvm big" "savevm p" "info snapshots"
	expect_mon pending-save "^p "
	finish pending 0
	start_counter_fifo pending-restore --restore "$MON_DIR/snaps/p" --disk "$img"
	expect_eq "$(verify pending-restore)" ok "restore: a request pending at savevm is served"
	no_disk_failures pending-restore "restore: no disk request waits in vain after the restore"
	expect_eq "$(ask pending-restore fillcheck)" "ok 8192 pages" \
		"restore: every page the guest filled comes back"
	finish pending-restore 0
}

# loadvm never risks the live image: snapshots on another filesystem (/dev/shm)
# load, and a snapshot whose disk copy cannot be read is refused with the image
# untouched and the VM running on.
test_snapshot_disk_safety() {
	local img=$MON_DIR/safe.img sock=$MON_DIR/safe.sock snaps
	snaps=$(mktemp -d -p /dev/shm minivmm-snaps.XXXXXX)
	head -c 1M /dev/zero >"$img"
	chmod 640 "$img"
	start_counter_fifo safe --kernel "$GUEST" --disk "$img" --snapshot-dir "$snaps" \
		--cmdline "test=counter period=10 diskevery=1"
	mon safe-save "$sock" "savevm a" "savevm b"
	sleep 0.5
	mon safe-load "$sock" "loadvm a" "info status"
	expect_mon safe-load "VM status: running"
	if grep -q Error "$MON_DIR/safe-load.mon"; then
		fail "loadvm: a snapshot on another filesystem loads" "$(grep Error "$MON_DIR/safe-load.mon")"
	else
		pass "loadvm: a snapshot on another filesystem loads"
	fi
	expect_eq "$(stat -c %a "$img")" 640 "loadvm: the image keeps its mode"
	expect_eq "$(verify safe)" ok "loadvm: RAM and disk agree after a cross-filesystem load"
	rm -f "$snaps/b/disk.3"
	mkdir "$snaps/b/disk.3"
	mon safe-stop "$sock" stop
	cp "$img" "$MON_DIR/safe-before.img"
	mon safe-bad "$sock" "loadvm b" "info status"
	expect_mon safe-bad "Error: disk .*safe.img"
	expect_mon safe-bad "VM status: paused"
	if cmp -s "$img" "$MON_DIR/safe-before.img"; then
		pass "loadvm: a failed load leaves the image as it was"
	else
		fail "loadvm: a failed load leaves the image as it was" "image changed"
	fi
	mon safe-cont "$sock" cont
	expect_eq "$(verify safe)" ok "loadvm: the VM runs on intact after a failed load"
	if compgen -G "$img.restore-*" >/dev/null; then
		fail "loadvm: no staged copy is left behind" "$(echo "$img".restore-*)"
	else
		pass "loadvm: no staged copy is left behind"
	fi
	no_disk_failures safe "loadvm: no disk request is lost"
	finish safe 0
	rm -rf "$snaps"
}

# Snapshots that do not fit, or are damaged, are refused and the VM runs on untouched.
test_snapshot_errors() {
	local img=$MON_DIR/err.img sock=$MON_DIR/err.sock
	head -c 1M /dev/zero >"$img"
	start_counter err --disk "$img" --cmdline "test=counter period=20"
	mon err-save "$sock" "savevm good" "savevm trunc" "savevm crc"
	local state=$MON_DIR/snaps/trunc/state
	truncate -s $(($(stat -c %s "$state") - 100)) "$state"
	state=$MON_DIR/snaps/crc/state
	printf '\xff' | dd of="$state" bs=1 seek=200 conv=notrunc status=none
	mon err-load "$sock" "loadvm trunc" "loadvm crc" "info status"
	expect_mon err-load "Error: .*trunc"
	expect_mon err-load "Error: .*(CRC|crc|checksum)"
	expect_mon err-load "VM status: running"
	local before
	before=$(last_tick err)
	sleep 1
	if [ "$(last_tick err)" -gt "$before" ]; then
		pass "snapshot errors: the VM keeps running"
	else
		fail "snapshot errors: the VM keeps running" "counter stuck at $before"
	fi
	finish err 0
	bad restore-cpus 1 "--restore .*taken with 1 vCPUs, this VM has 2" \
		--restore "$MON_DIR/snaps/good" --disk "$img" --cpus 2
	bad restore-mem 1 "--restore .*taken with 256M of RAM, this VM has 512M" \
		--restore "$MON_DIR/snaps/good" --disk "$img" --mem 512M
	bad restore-devices 1 "--restore .*devices" --restore "$MON_DIR/snaps/good"
	bad restore-ro 1 "--restore .*device 3 \(virtio-blk\) was writable when the snapshot was taken" \
		--restore "$MON_DIR/snaps/good" --disk "$img,ro"
	bad restore-features 1 "--restore .*features this VM lacks \(CPUID 1.ecx bits 0x200000\)" \
		--restore "$MON_DIR/snaps/good" --disk "$img" --cpu-features -x2apic
	bad restore-missing 1 "--restore .*/nonexistent" --restore "$MON_DIR/nonexistent"
}

# 50 stop/cont and 10 savevm/loadvm under the disk workload; the guest checks its data.
test_snapshot_soak() {
	local img=$MON_DIR/soak.img sock=$MON_DIR/soak.sock cmds=() i
	head -c 1M /dev/zero >"$img"
	start_counter_fifo soak --kernel "$GUEST" --disk "$img" \
		--cmdline "test=counter period=10 diskevery=1"
	for ((i = 0; i < 50; i++)); do
		cmds+=(stop cont)
	done
	mon soak1 "$sock" "${cmds[@]}" "info status"
	expect_mon soak1 "VM status: running"
	for ((i = 0; i < 10; i++)); do
		mon "soak-save$i" "$sock" "savevm soak$((i % 3))"
		sleep 0.2
		mon "soak-load$i" "$sock" "loadvm soak$((i % 3))"
	done
	if grep -h "Error" "$MON_DIR"/soak-*.mon; then
		fail "soak: every savevm and loadvm succeeds" "see above"
	else
		pass "soak: every savevm and loadvm succeeds"
	fi
	expect_eq "$(verify soak)" ok "soak: the guest's disk data is intact"
	no_disk_failures soak "soak: no disk request is lost across savevm/loadvm"
	finish soak 0
}

# system_powerdown presses the ACPI power button; the guest powers off (exit 0).
test_powerdown() {
	start_counter powerdown --cmdline "test=counter period=50"
	expect_line "$MON_DIR/powerdown.out" "^minitest: ged 0x610 gsi 23\$" \
		"powerdown: the guest finds the Generic Event Device"
	mon powerdown "$MON_DIR/powerdown.sock" system_powerdown
	wait "$COUNTER_PID"
	echo $? >"$OUT/powerdown.rc"
	cp "$MON_DIR/powerdown.out" "$OUT/powerdown.out"
	cp "$MON_DIR/powerdown.err" "$OUT/powerdown.err"
	expect_out powerdown "^minitest: power button\$"
	expect_rc powerdown 0
	start_counter noacpi --no-acpi --cmdline "test=counter period=50"
	mon noacpi "$MON_DIR/noacpi.sock" system_powerdown
	expect_mon noacpi "Error: no ACPI power button \(started with --no-acpi\)"
	finish noacpi 0
}
