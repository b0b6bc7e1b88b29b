#!/usr/bin/env bash
# Run cmocka unit-test binaries: scripts/run-unit-tests.sh BIN...
# Prints each binary's output, then "N passed, N failed" counting test cases
# over all binaries. Exits 1 if any binary failed, crashed or did not finish.
# UNIT_TIMEOUT (seconds, default 300) bounds each binary.
set -u

if [ $# -eq 0 ]; then
	echo "usage: $0 TEST_BINARY..." >&2
	exit 2
fi

timeout_s=${UNIT_TIMEOUT:-300}
passed=0
failed=0
skipped=0
bad_bins=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# The last number on lines of cmocka's summary that start with @1 (a fixed string).
summary_count() {
	grep -F -- "$1" "$log" | sed -n 's/.*\] \([0-9][0-9]*\) test(s).*/\1/p' | tail -n 1
}

for bin in "$@"; do
	case $bin in
	*.d | *.o) continue ;; # make's dependency files beside the binaries, from a glob
	esac
	echo "=== $bin"
	if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
		echo "*** $bin: not found or not executable"
		bad_bins+=("$bin (missing)")
		failed=$((failed + 1))
		continue
	fi
	timeout --kill-after=10 "$timeout_s" "$bin" >"$log" 2>&1
	rc=$?
	cat "$log"

	p=$(summary_count '[  PASSED  ]')
	f=$(summary_count '[  FAILED  ]')
	s=$(summary_count '[  SKIPPED ]')
	if [ -z "$p" ] && [ -z "$f" ]; then
		# No summary: it crashed or hung. Count what finished, and the test it died in.
		ok=$(grep -c '^\[       OK \]' "$log")
		run=$(grep -c '^\[ RUN      \]' "$log")
		dead=$((run - ok))
		[ "$dead" -lt 1 ] && dead=1
		p=$ok
		f=$dead
		if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
			echo "*** $bin: timed out after ${timeout_s}s"
		else
			echo "*** $bin: exited with status $rc without a cmocka summary (crashed?)"
		fi
	fi
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	skipped=$((skipped + ${s:-0}))
	if [ "$rc" -ne 0 ]; then
		if [ "${f:-0}" -eq 0 ]; then
			# Every test passed, yet the binary failed: a sanitizer report at exit (a leak, ...).
			echo "*** $bin: all tests passed but it exited with status $rc"
		fi
		bad_bins+=("$bin")
	fi
done

echo
if [ ${#bad_bins[@]} -gt 0 ]; then
	echo "failing binaries:"
	printf '  %s\n' "${bad_bins[@]}"
fi
[ "$skipped" -gt 0 ] && echo "($skipped skipped: cmocka counts them in neither)"
echo "$passed passed, $failed failed"
[ ${#bad_bins[@]} -eq 0 ] && [ "$failed" -eq 0 ]
