#!/usr/bin/env bash
# Integration tests for `make check`: boot the minitest guest under KVM and
# assert what it prints and how minivmm exits, plus every bad-input case.
# Usage: tests/integration/run.sh MINIVMM MINITEST_BZIMAGE
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

VMM=$(realpath "$1")
GUEST=$(realpath "$2")
OUT=$(realpath -m "${BUILD:-build}/integration")
TIMEOUT=${GUEST_TIMEOUT:-180}
rm -rf "$OUT"
mkdir -p "$OUT"

if ! require_kvm; then
	[ "${CI:-}" = true ] && exit 1
	exit 0
fi

# run_vmm NAME [minivmm args...]: stdin from /dev/null; leaves NAME.out, .err, .rc.
# VMM_PREFIX, when set, wraps the command (another user, another mount namespace).
VMM_PREFIX=()
run_vmm() {
	local name=$1
	shift
	timeout -k 5 "$TIMEOUT" "${VMM_PREFIX[@]}" "$VMM" "$@" </dev/null >"$OUT/$name.out" 2>"$OUT/$name.err"
	echo $? >"$OUT/$name.rc"
}

# expect_rc NAME STATUS: minivmm's exit status for run NAME.
expect_rc() {
	local got
	got=$(cat "$OUT/$1.rc")
	if [ "$got" = "$2" ]; then
		pass "$1: exit status $2"
	else
		fail "$1: exit status $2" "got $got; stderr: $(tail -n 3 "$OUT/$1.err" | tr '\n' ' ')"
	fi
}

# expect_out NAME REGEX / expect_err NAME REGEX: a line of the run's stdout/stderr.
expect_out() { expect_line "$OUT/$1.out" "$2" "$1: stdout has /$2/"; }
expect_err() { expect_line "$OUT/$1.err" "$2" "$1: stderr has /$2/"; }

test_smp() {
	local n name
	for n in 1 2 4 16; do
		name=smp$n
		run_vmm "$name" --kernel "$GUEST" --cpus "$n" --cmdline "console=ttyS0 test=info"
		expect_rc "$name" 3
		expect_out "$name" "^minitest: mptable cpus $n "
		expect_out "$name" "^minitest: cpus online $n\$"
		for ((id = 1; id < n; id++)); do
			expect_out "$name" "^minitest: ap $id online\$"
		done
		expect_out "$name" "^minitest: cpu 0 bsp\$"
		expect_out "$name" "^minitest: result ok\$"
	done
}

# The kvm signature, kvm-clock and a clean memory check come with every boot.
test_paravirt() {
	expect_out smp2 "^minitest: kvm KVMKVMKVM features "
	expect_out smp2 "^minitest: kvmclock ok\$"
	expect_out smp2 "^minitest: memcheck ok\$"
}

test_e820() {
	run_vmm mem128m --kernel "$GUEST" --mem 128M --cmdline "test=info"
	expect_rc mem128m 3
	expect_out mem128m "^minitest: e820 0000000000000000 00000000000a0000 1\$"
	expect_out mem128m "^minitest: e820 0000000000100000 0000000008000000 1\$"
	expect_out mem128m "^minitest: ram [0-9]+ top 0x0*8000000\$"

	run_vmm mem1g --kernel "$GUEST" --mem 1G --cmdline "test=info"
	expect_rc mem1g 3
	expect_out mem1g "^minitest: e820 0000000000100000 0000000040000000 1\$"
	expect_out mem1g "^minitest: memcheck ok\$"

	# 4 GiB: 3 GiB below the hole, the last 1 GiB above 4 GiB.
	run_vmm mem4g --kernel "$GUEST" --mem 4G --cmdline "test=info"
	expect_rc mem4g 3
	expect_out mem4g "^minitest: e820 0000000000100000 00000000c0000000 1\$"
	expect_out mem4g "^minitest: e820 0000000100000000 0000000140000000 1\$"
	expect_out mem4g "^minitest: ram [0-9]+ top 0x0*140000000\$"
	expect_out mem4g "^minitest: memcheck ok\$"
	local ram
	ram=$(sed -n 's/^minitest: ram \([0-9]*\) .*/\1/p' "$OUT/mem4g.out")
	# All 4 GiB but the 384 KiB between 640 KiB and 1 MiB.
	if [ "$ram" = $((4 * 1024 * 1024 * 1024 - 384 * 1024)) ]; then
		pass "mem4g: guest sees all its RAM"
	else
		fail "mem4g: guest sees all its RAM" "ram total '$ram'"
	fi
}

test_cmdline() {
	local cmdline="test=info console=ttyS0 quoted=\"a b\" x=1"
	run_vmm cmdline --kernel "$GUEST" --cmdline "$cmdline"
	expect_rc cmdline 3
	if grep -qxF "minitest: cmdline $cmdline" "$OUT/cmdline.out"; then
		pass "cmdline: guest sees the command line"
	else
		fail "cmdline: guest sees the command line" "$(grep cmdline "$OUT/cmdline.out")"
	fi
}

# wait_for FILE REGEX SECONDS: until a line matches (1 if it never does).
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# Console input: written only once the guest says it is ready, as a person would type.
test_echo() {
	local fifo=$OUT/echo.in
	mkfifo "$fifo"
	timeout -k 5 "$TIMEOUT" "$VMM" --kernel "$GUEST" --cmdline "test=echo" \
		<"$fifo" >"$OUT/echo.out" 2>"$OUT/echo.err" &
	local pid=$!
	exec 3>"$fifo"
	if wait_for "$OUT/echo.out" '^minitest: echo ready' "$TIMEOUT"; then
		printf 'hello, guest\n' >&3
		wait_for "$OUT/echo.out" '^minitest: echo hello, guest' 60
		# More than the 16-byte FIFO at once: back-pressure must not drop any.
		printf 'the quick brown fox jumps over the lazy dog 0123456789\nquit\n' >&3
	fi
	wait "$pid"
	echo $? >"$OUT/echo.rc"
	exec 3>&-
	expect_out echo "^minitest: uart thre-irq ok\$"
	expect_out echo "^minitest: echo hello, guest\$"
	expect_out echo "^minitest: echo the quick brown fox jumps over the lazy dog 0123456789\$"
	expect_out echo "^minitest: result ok\$"
	expect_rc echo 3
}

# --console virtio: output through hvc reaches stdout, stdin reaches the guest through it.
test_virtio_console() {
	local fifo=$OUT/vconsole.in
	mkfifo "$fifo"
	timeout -k 5 "$TIMEOUT" "$VMM" --kernel "$GUEST" --console virtio --cmdline "test=vconsole" \
		<"$fifo" >"$OUT/vconsole.out" 2>"$OUT/vconsole.err" &
	local pid=$!
	exec 3>"$fifo"
	if wait_for "$OUT/vconsole.out" '^minitest: vconsole ready' "$TIMEOUT"; then
		printf 'hello through hvc\r' >&3
		# Beyond the UART's 16-byte FIFO and a few receive buffers at once.
		printf '%s\r' "$(head -c 200 /dev/zero | tr '\0' v)" >&3
		printf 'quit\r' >&3
	fi
	wait "$pid"
	echo $? >"$OUT/vconsole.rc"
	exec 3>&-
	expect_out vconsole "^minitest: hvc hello\$"
	expect_out vconsole "^minitest: hvc echo hello through hvc\$"
	expect_out vconsole "^minitest: hvc echo v{200}\$"
	expect_out vconsole "^minitest: result ok\$"
	expect_rc vconsole 0
	bad console-kind 2 "--console tty: expected serial or virtio" --kernel "$GUEST" --console tty
}

test_quit_and_signals() {
	local fifo=$OUT/quit.in
	mkfifo "$fifo"
	timeout -k 5 "$TIMEOUT" "$VMM" --kernel "$GUEST" --cmdline "test=echo" \
		<"$fifo" >"$OUT/quit.out" 2>"$OUT/quit.err" &
	local pid=$!
	exec 3>"$fifo"
	wait_for "$OUT/quit.out" '^minitest: echo ready' "$TIMEOUT"
	printf '\001x' >&3
	wait "$pid"
	echo $? >"$OUT/quit.rc"
	exec 3>&-
	expect_rc quit 0
	expect_err quit "quit \(Ctrl-A x\)"

	timeout -k 5 "$TIMEOUT" "$VMM" --kernel "$GUEST" --cmdline "test=echo" \
		</dev/null >"$OUT/sigterm.out" 2>"$OUT/sigterm.err" &
	pid=$!
	wait_for "$OUT/sigterm.out" '^minitest: echo ready' "$TIMEOUT"
	kill -TERM "$pid"
	wait "$pid"
	echo $? >"$OUT/sigterm.rc"
	expect_rc sigterm 0
	expect_err sigterm "terminating on signal 15"
}

test_triple_fault() {
	run_vmm triple --kernel "$GUEST" --cmdline "test=triple"
	expect_rc triple 4
	expect_out triple "^minitest: triple fault now"
	expect_err triple "triple fault|internal error"
	expect_err triple "RIP=[0-9a-f]{16}"
	expect_err triple "CR0=.*EFER="
}

# A bzImage whose header says boot protocol 2.04.
make_old_kernel() {
	cp "$GUEST" "$OUT/old.bzImage"
	printf '\x04\x02' | dd of="$OUT/old.bzImage" bs=1 seek=$((0x206)) conv=notrunc status=none
}

# bad NAME STATUS REGEX [minivmm args...]: refused with STATUS and one line naming the thing.
bad() {
	local name=$1 status=$2 regex=$3
	shift 3
	run_vmm "$name" "$@"
	expect_rc "$name" "$status"
	expect_err "$name" "^minivmm: .*$regex"
	local lines
	lines=$(grep -vc 'conservative CPU model' "$OUT/$name.err")
	if [ "$lines" = 1 ]; then
		pass "$name: exactly one error line"
	else
		fail "$name: exactly one error line" "$lines lines"
	fi
}

test_bad_input() {
	make_old_kernel
	head -c 100 "$GUEST" >"$OUT/short.bzImage"
	bad no-kernel 2 "--kernel: missing" --mem 64M
	bad missing-kernel 1 "/nonexistent/bzImage: No such file" --kernel /nonexistent/bzImage
	bad dir-kernel 1 "/: not a regular file" --kernel /
	bad not-bzimage 1 "/etc/os-release: (not a bzImage|too short)" --kernel /etc/os-release
	bad truncated 1 "short.bzImage: too short" --kernel "$OUT/short.bzImage"
	bad old-protocol 1 "boot protocol 2.04 is older than 2.06" --kernel "$OUT/old.bzImage"
	bad missing-initrd 1 "initrd /nonexistent/initrd: No such file" \
		--kernel "$GUEST" --initrd /nonexistent/initrd
	bad mem-garbage 2 "--mem lots: not a size" --kernel "$GUEST" --mem lots
	bad mem-zero 2 "--mem 0: must not be zero" --kernel "$GUEST" --mem 0
	bad mem-huge 2 "--mem .*: more than this host" --kernel "$GUEST" --mem 64T
	bad mem-overflow 2 "--mem 99999999999999G: too large" --kernel "$GUEST" \
		--mem 99999999999999G
	bad cpus-zero 2 "--cpus 0: must be a number" --kernel "$GUEST" --cpus 0
	bad cpus-many 2 "--cpus 300: must be a number" --kernel "$GUEST" --cpus 300
	bad unknown-option 2 "--frobnicate: unknown option" --kernel "$GUEST" --frobnicate
	bad missing-arg 2 "--mem: needs an argument" --kernel "$GUEST" --mem
	bad stray-arg 2 "extra: unexpected argument" --kernel "$GUEST" extra
	bad cpu-feature 2 "--cpu-features 'bogus': unknown CPU feature" --kernel "$GUEST" \
		--cpu-features -bogus
	bad long-cmdline 2 "--cmdline: .* longer than" --kernel "$GUEST" \
		--cmdline "$(head -c 70000 /dev/zero | tr '\0' x)"
	# /dev/kvm hidden in a private mount namespace, then not permitted for nobody.
	VMM_PREFIX=(unshare -m sh -c 'mount -t tmpfs none /dev && exec "$@"' sh)
	bad kvm-missing 1 "/dev/kvm: missing" --kernel "$GUEST"
	VMM_PREFIX=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
	bad kvm-denied 1 "/dev/kvm: Permission denied" --kernel "$GUEST"
	VMM_PREFIX=()
}

. "$here/blk_tests.sh"
. "$here/net_tests.sh"
. "$here/monitor_basic_tests.sh"
. "$here/monitor_tests.sh"
. "$here/monitor_timer_tests.sh"
. "$here/monitor_msr_tests.sh"

# INTEGRATION_TESTS="test_pause test_snapshot" runs only those.
all_tests="test_smp test_paravirt test_e820 test_cmdline test_echo test_virtio_console test_quit_and_signals test_triple_fault test_bad_input test_blk test_blk_no_acpi test_acpi_power test_disk_lock test_disk_bad_input test_net test_net_hostile test_net_bad_input test_monitor_echo_restore test_monitor_reset test_monitor_socket test_monitor_stale test_pause test_pause_blocked_console test_snapshot test_snapshot_pending test_snapshot_deadline_timer test_snapshot_mtrr test_snapshot_disk_safety test_snapshot_errors test_snapshot_soak test_powerdown"
for t in ${INTEGRATION_TESTS:-$all_tests}; do
	"$t"
done
summary
