#!/usr/bin/env bash
# Run libFuzzer targets: scripts/run-fuzzers.sh BIN...
# Each runs for FUZZ_SECONDS (default 20) on a copy of its seed corpus
# tests/fuzz/corpus/<name>/ in <bin dir>/corpus-<name>/ (the committed corpus
# is never written). Crash inputs are kept as <bin dir>/crash-<name>-*.
# Prints "N passed, N failed"; exits non-zero if any fuzzer found something.
# Without clang the targets cannot be built: that is an error when CI=true.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-20}

if ! command -v clang >/dev/null 2>&1; then
	echo "############################################################"
	echo "# run-fuzzers: clang is not installed: the libFuzzer targets"
	echo "# cannot be built or run. Install clang (scripts/setup-deps.sh)."
	echo "############################################################"
	if [ "${CI:-}" = true ]; then
		exit 1
	fi
	exit 0
fi

if [ $# -eq 0 ]; then
	echo "usage: $0 FUZZER_BINARY..." >&2
	exit 2
fi

passed=0
failed=0
bad=()
for bin in "$@"; do
	name=$(basename "$bin")
	dir=$(dirname "$bin")
	echo "=== $name (${seconds}s)"
	if [ ! -x "$bin" ]; then
		echo "*** $bin: not found or not executable"
		failed=$((failed + 1))
		bad+=("$name (missing)")
		continue
	fi
	corpus="$dir/corpus-$name"
	mkdir -p "$corpus"
	if [ -d "$root/tests/fuzz/corpus/$name" ]; then
		cp -p "$root/tests/fuzz/corpus/$name"/* "$corpus"/ 2>/dev/null
	else
		echo "(no seed corpus in tests/fuzz/corpus/$name)"
	fi
	log="$dir/$name.log"
	prefix="$dir/crash-$name-"
	rm -f "$prefix"*
	"$bin" -max_total_time="$seconds" -max_len=65536 -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$prefix" "$corpus" >"$log" 2>&1
	rc=$?
	# The last progress line and the final stats say enough when all is well.
	grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1
	grep -E '^stat::(number_of_executed_units|new_units_added)' "$log"
	crashes=$(ls "$prefix"* 2>/dev/null)
	if [ "$rc" -ne 0 ] || [ -n "$crashes" ]; then
		echo "*** $name failed (exit status $rc); full log in $log"
		grep -E -A30 '^==[0-9]+==ERROR|runtime error|does not hold|deadly signal' "$log" | head -n 60
		if [ -n "$crashes" ]; then
			echo "input kept: $crashes"
			echo "reproduce: $bin $crashes"
		fi
		failed=$((failed + 1))
		bad+=("$name")
	else
		passed=$((passed + 1))
	fi
done

echo
if [ ${#bad[@]} -gt 0 ]; then
	echo "failing fuzzers:"
	printf '  %s\n' "${bad[@]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
