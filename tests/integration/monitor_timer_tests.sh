# LAPIC timer across a snapshot; sourced by run.sh after monitor_tests.sh, whose
# helpers (start_counter, mon, expect_mon, finish, last_tick, expect_resumed) it uses.

# start_restored NAME SNAPSHOT: --restore SNAPSHOT in a new process with a monitor,
# stdin /dev/null. Unlike start_counter it does not wait for a tick: whether one
# comes is what the caller tests, and a stalled guest must not cost $TIMEOUT.
start_restored() {
	timeout -k 5 "$TIMEOUT" "$VMM" --restore "$2" --monitor "$MON_DIR/$1.sock" \
		--snapshot-dir "$MON_DIR/snaps" </dev/null >"$MON_DIR/$1.out" 2>"$MON_DIR/$1.err" &
	COUNTER_PID=$!
}

# A TSC-deadline timer armed at savevm fires after --restore in a new process. The
# counter guest with timer=deadline, no disk and no console input halts between
# ticks with only that timer to wake it, as an idle Linux vCPU on the lapic-deadline
# clockevent does. KVM drops a write to IA32_TSC_DEADLINE unless the LAPIC timer is
# already in TSC-deadline mode, so a restore that puts the MSRs back before the
# LAPIC loses the deadline and the guest never ticks again. A save that catches the
# guest inside a tick (about one in six here) does not show it, so three rounds:
# each restored process is saved and restored in turn.
test_snapshot_deadline_timer() {
	local name=tscdl prev n_s first last round what
	start_counter tscdl --cmdline "test=counter period=20 timer=deadline"
	if ! grep -q '^minitest: counter start .* timer deadline$' "$MON_DIR/tscdl.out"; then
		fail "deadline timer: the guest arms its ticks with it" \
			"$(grep -m1 -e '^minitest: counter tsc-deadline' -e '^minitest: counter start' \
				"$MON_DIR/tscdl.out")"
		finish tscdl 0
		return
	fi
	pass "deadline timer: the guest arms its ticks with it"
	wait_for "$MON_DIR/tscdl.out" '^minitest: counter 10 time' 60
	for round in 1 2 3; do
		prev=$name
		name=tscdl-r$round
		mon "$prev-save" "$MON_DIR/$prev.sock" stop "savevm tscdl$round" "info snapshots"
		n_s=$(last_tick "$prev")
		expect_mon "$prev-save" "^tscdl$round "
		finish "$prev" 0
		start_restored "$name" "$MON_DIR/snaps/tscdl$round"
		# 20 ticks are 400 ms of guest time; without the deadline there are none at all.
		what="deadline timer: round $round, a pending deadline fires after --restore"
		if wait_for "$MON_DIR/$name.out" "^minitest: counter $((n_s + 20)) time" 10; then
			pass "$what (20 ticks in 10 s)"
		else
			last=$(last_tick "$name")
			fail "$what (20 ticks in 10 s)" \
				"saved at tick $n_s; 10 s after --restore the last tick is '${last:-none}'"
		fi
		first=$(sed -n 's/^minitest: counter \([0-9]*\) time.*/\1/p' "$MON_DIR/$name.out" |
			head -n 1)
		expect_resumed "$first" "$n_s" "deadline timer: round $round, the counter goes on"
		[ "$first" ] || break
	done
	mon tscdl-delvm "$MON_DIR/$name.sock" "delvm tscdl1" "delvm tscdl2" "delvm tscdl3"
	finish "$name" 0
}
