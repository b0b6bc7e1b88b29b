# Monitor tests that need no counter guest: socket, errors, restore of an
# echo guest in a new process. Sourced by run.sh.

test_monitor_echo_restore() {
	local d=$OUT/mon-basic sock
	mkdir -p "$d"
	head -c 1M /dev/zero >"$d/disk.img"
	sock=$d/vm.sock
	timeout -k 5 "$TIMEOUT" "$VMM" --kernel "$GUEST" --cpus 2 --disk "$d/disk.img" \
		--monitor "$sock" --cmdline "test=echo" </dev/null >"$OUT/mon-echo.out" \
		2>"$OUT/mon-echo.err" &
	local pid=$!
	wait_for "$OUT/mon-echo.out" '^minitest: echo ready' "$TIMEOUT"
	expect_eq "$(stat -c %a "$sock" 2>/dev/null)" 600 "monitor: socket mode 0600"
	printf '%s\n' "info status" stop "info status" "info cpus" "savevm e1" "info snapshots" \
		cont "info status" bogus "loadvm nosuch" "savevm ../bad" 'x "open' quit |
		timeout 60 socat -t 30 - "UNIX-CONNECT:$sock" >"$OUT/mon-echo.mon" 2>&1
	wait "$pid"
	echo $? >"$OUT/mon-echo.rc"
	expect_rc mon-echo 0
	local m=$OUT/mon-echo.mon
	expect_line "$m" "^minivmm monitor" "monitor: banner"
	expect_line "$m" "VM status: running" "monitor: info status running"
	expect_line "$m" "VM status: paused" "monitor: info status paused after stop"
	expect_line "$m" "CPU #1: thread_id=[0-9]+ pc=0x[0-9a-f]{16}" "monitor: info cpus"
	expect_line "$m" "^e1 +256M" "monitor: info snapshots lists e1"
	expect_line "$m" "Error: unknown command 'bogus'" "monitor: unknown command"
	expect_line "$m" "Error: no snapshot 'nosuch'" "monitor: unknown snapshot"
	expect_line "$m" "Error: '../bad': a snapshot name is" "monitor: bad snapshot name"
	expect_line "$m" "Error: unterminated quote" "monitor: bad quoting"
	if [ -e "$sock" ]; then
		fail "monitor: socket removed at exit" "still there"
	else
		pass "monitor: socket removed at exit"
	fi
	# The snapshot in a new process: the guest answers as if nothing happened.
	local fifo=$d/in
	mkfifo "$fifo"
	timeout -k 5 "$TIMEOUT" "$VMM" --restore "$d/e1" --cpus 2 --disk "$d/disk.img" \
		<"$fifo" >"$OUT/mon-restore.out" 2>"$OUT/mon-restore.err" &
	pid=$!
	exec 5>"$fifo"
	sleep 1
	printf 'hello after restore\nquit\n' >&5
	wait "$pid"
	echo $? >"$OUT/mon-restore.rc"
	exec 5>&-
	expect_out mon-restore "^minitest: echo hello after restore\$"
	expect_out mon-restore "^minitest: result ok\$"
	expect_rc mon-restore 3
	bad restore-cpus 1 "--restore .*taken with 2 vCPUs, this VM has 1" --restore "$d/e1" \
		--disk "$d/disk.img"
	bad restore-devices 1 "--restore .*devices" --restore "$d/e1" --cpus 2
	bad restore-missing 1 "--restore .*nonexistent" --restore "$d/nonexistent" --cpus 2
}

# system_reset boots the guest again in the same process, every vCPU included.
test_monitor_reset() {
	local sock=$OUT/mon-reset.sock
	timeout -k 5 "$TIMEOUT" "$VMM" --kernel "$GUEST" --cpus 2 --monitor "$sock" \
		--cmdline "test=echo" </dev/null >"$OUT/mon-reset.out" 2>"$OUT/mon-reset.err" &
	local pid=$!
	wait_for "$OUT/mon-reset.out" '^minitest: echo ready' "$TIMEOUT"
	printf 'system_reset\n' | timeout 30 socat -t 10 - "UNIX-CONNECT:$sock" >/dev/null 2>&1
	local i
	for ((i = 0; i < 600; i++)); do
		[ "$(grep -c '^minitest: echo ready' "$OUT/mon-reset.out")" -ge 2 ] && break
		sleep 0.1
	done
	expect_eq "$(grep -c '^minitest: cpus online 2$' "$OUT/mon-reset.out")" 2 \
		"system_reset: the guest boots again with both vCPUs"
	printf 'quit\n' | timeout 30 socat -t 10 - "UNIX-CONNECT:$sock" >/dev/null 2>&1
	wait "$pid"
	echo $? >"$OUT/mon-reset.rc"
	expect_rc mon-reset 0
}
