# Assertion helpers for the integration tests: source this file, call the
# checks, end with `summary`. Bash only; safe under `set -euo pipefail`
# (no helper returns non-zero except `summary` and `require_kvm`).
#
#   . "$(dirname "$0")/lib.sh"
#   expect_line "$log" '^LINUXTEST nproc 2$' "two vCPUs"
#   summary        # prints "N passed, N failed" as the last line
#
# Test names are short phrases; results are printed as "PASS name" and
# "FAIL name: reason" on stdout, so a log reads top to bottom.

TESTS_PASSED=0
TESTS_FAILED=0

# pass NAME: record and print a passed check.
pass() {
	TESTS_PASSED=$((TESTS_PASSED + 1))
	echo "PASS $1"
}

# fail NAME REASON: record and print a failed check with why it failed.
fail() {
	TESTS_FAILED=$((TESTS_FAILED + 1))
	echo "FAIL $1: $2"
}

# expect_line FILE REGEX NAME: pass if some line of FILE matches the
# extended regular expression REGEX (grep -E), else fail. A missing FILE
# is a failure.
expect_line() {
	local file=$1 re=$2 name=$3
	if [[ ! -f $file ]]; then
		fail "$name" "$file: no such file"
	elif grep -aEq -- "$re" "$file"; then
		pass "$name"
	else
		fail "$name" "no line of $file matches /$re/"
	fi
}

# expect_eq GOT WANT NAME: pass if the strings GOT and WANT are equal.
expect_eq() {
	if [[ $1 == "$2" ]]; then
		pass "$3"
	else
		fail "$3" "got '$1', want '$2'"
	fi
}

# expect_range GOT MIN MAX NAME: pass if GOT is an integer in [MIN, MAX].
expect_range() {
	local got=$1 min=$2 max=$3 name=$4
	if [[ ! $got =~ ^[0-9]+$ ]]; then
		fail "$name" "got '$got', want an integer in [$min, $max]"
	elif ((got < min || got > max)); then
		fail "$name" "got $got, want $min..$max"
	else
		pass "$name"
	fi
}

# field FILE KEY: print the rest of the last line of FILE that starts with
# KEY and a space (e.g. field log "LINUXTEST nproc" -> "2"); prints nothing
# when there is none. For use with expect_eq and expect_range.
field() {
	local file=$1 key=$2
	[[ -f $file ]] || return 0
	grep -a -- "^$key " "$file" | tail -n1 | cut -d' ' -f"$(($(wc -w <<<"$key") + 1))"- | tr -d '\r'
}

# summary: print "N passed, N failed" (meant to be the last line of the
# output); return 1 if any check failed or none ran, else 0.
summary() {
	echo "$TESTS_PASSED passed, $TESTS_FAILED failed"
	((TESTS_FAILED == 0 && TESTS_PASSED > 0))
}

# require_kvm: return 0 if /dev/kvm can be opened for reading and writing;
# otherwise print a loud explanation to stderr and return 1. Callers decide
# what that means, usually: a failure when CI=true, else a skip (exit 77):
#   require_kvm || { [[ ${CI:-} == true ]] && exit 1; exit 77; }
require_kvm() {
	local why=
	if [[ ! -e /dev/kvm ]]; then
		why="/dev/kvm does not exist (no KVM: load kvm_intel/kvm_amd, or enable nested virtualization)"
	elif [[ ! -r /dev/kvm || ! -w /dev/kvm ]]; then
		why="/dev/kvm: no read/write permission for $(id -un) (join group kvm)"
	fi
	[[ -z $why ]] && return 0
	{
		echo "************************************************************"
		echo "${0##*/}: KVM NOT AVAILABLE: $why"
		echo "************************************************************"
	} >&2
	return 1
}
