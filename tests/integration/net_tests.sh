# virtio-net tests: the guest behind tap devices in a network namespace this
# test creates and deletes; only addresses inside that namespace are used.
# Sourced by run.sh (run_vmm, expect_rc, expect_out, bad, wait_for).

NETNS=minivmm-test-$$
NETTOOL=$OUT/nettool
# A transfer crosses every frame through the VMM; under KVM backed by an
# instruction emulator that is ~0.2 MiB/s, so the size adapts to the machine.
NET_MIB=${NET_MIB:-64}
[ -d /sys/module/kvm_pvm ] && NET_MIB=${NET_MIB_EMULATED:-2}

in_ns() { ip netns exec "$NETNS" "$@"; }

net_setup() {
	cc -O2 -Wall -o "$NETTOOL" "$here/nettool.c" || return 1
	ip netns add "$NETNS" || return 1
	trap 'ip netns del "$NETNS" 2>/dev/null' EXIT
	in_ns ip link set lo up
	in_ns ip tuntap add tap0 mode tap vnet_hdr
	in_ns ip tuntap add tap1 mode tap vnet_hdr
	in_ns ip addr add 10.77.0.1/24 dev tap0
	in_ns ip addr add 10.78.0.1/24 dev tap1
	in_ns ip link set tap0 up
	in_ns ip link set tap1 up
}

# start_net_guest NAME CMDLINE [minivmm args]: boot in the namespace, wait for "net ready".
start_net_guest() {
	local name=$1 cmdline=$2
	shift 2
	in_ns timeout -k 5 "$TIMEOUT" "$VMM" --kernel "$GUEST" --cmdline "$cmdline" "$@" \
		</dev/null >"$OUT/$name.out" 2>"$OUT/$name.err" &
	NET_PID=$!
	wait_for "$OUT/$name.out" '^minitest: net ready|^minitest: result' "$TIMEOUT"
}

# expect_cmd NAME COMMAND...: a host-side command succeeds.
expect_cmd() {
	local name=$1
	shift
	if "$@" >"$OUT/cmd.log" 2>&1; then
		pass "$name"
	else
		fail "$name" "$(tail -n 2 "$OUT/cmd.log" | tr '\n' ' ')"
	fi
}

test_net() {
	if ! net_setup; then
		fail "net: namespace and taps" "could not set them up"
		return
	fi
	start_net_guest net "test=net" --net tap=tap0,mac=52:54:00:12:34:56 --net tap=tap1
	expect_out net "^minitest: net0 mac 52:54:00:12:34:56 link up mrg 1\$"
	expect_out net "^minitest: net1 mac [0-9a-f][26ae](:[0-9a-f]{2}){5} link up mrg 1\$"
	expect_cmd "net: host pings the guest on tap0" in_ns ping -c 3 -W 5 10.77.0.2
	expect_cmd "net: host pings the guest on tap1" in_ns ping -c 3 -W 5 10.78.0.2
	in_ns "$NETTOOL" send 10.77.0.2 7777 "$NET_MIB" >"$OUT/net-send.log" 2>&1
	in_ns "$NETTOOL" recv 10.77.0.2 7777 "$NET_MIB" >"$OUT/net-recv.log" 2>&1
	in_ns "$NETTOOL" quit 10.77.0.2 7777 >/dev/null 2>&1
	wait "$NET_PID"
	echo $? >"$OUT/net.rc"
	expect_rc net 0
	local bytes=$((NET_MIB * 1024 * 1024)) sent got
	sent=$(sed -n 's/^nettool sent \([0-9]* fnv [0-9a-f]*\)$/\1/p' "$OUT/net-send.log")
	got=$(sed -n 's/^nettool received \([0-9]* fnv [0-9a-f]*\)$/\1/p' "$OUT/net-recv.log")
	expect_out net "^minitest: net rx $bytes fnv ${sent#* fnv }\$"
	expect_out net "^minitest: net tx $bytes fnv ${got#* fnv }\$"
	if [ "${sent%% *}" = "$bytes" ] && [ "${got%% *}" = "$bytes" ]; then
		pass "net: $NET_MIB MiB each way"
	else
		fail "net: $NET_MIB MiB each way" "sent '$sent', received '$got'"
	fi
	expect_out net "^minitest: result ok\$"
}

test_net_hostile() {
	start_net_guest nethostile "test=nethostile" --net tap=tap0
	wait "$NET_PID"
	echo $? >"$OUT/nethostile.rc"
	expect_rc nethostile 0
	expect_out nethostile "^minitest: net hostile "
	if grep -q "^minitest: net hostile .* then tx FAIL" "$OUT/nethostile.out"; then
		fail "nethostile: device lives on" "$(grep hostile "$OUT/nethostile.out")"
	else
		pass "nethostile: device lives on"
	fi
	expect_out nethostile "^minitest: result ok\$"
}

test_net_bad_input() {
	bad net-notap 2 "--net mac=52:54:00:12:34:56: " --kernel "$GUEST" --net mac=52:54:00:12:34:56
	bad net-badmac 2 "--net tap=tap0,mac=52:54:zz:12:34:56: " --kernel "$GUEST" \
		--net tap=tap0,mac=52:54:zz:12:34:56
	bad net-multicast 2 "--net tap=tap0,mac=01:00:5e:00:00:01: " --kernel "$GUEST" \
		--net tap=tap0,mac=01:00:5e:00:00:01
	bad net-option 2 "--net tap=tap0,speed=10: " --kernel "$GUEST" --net tap=tap0,speed=10
	bad net-longname 2 "--net tap=abcdefghijklmnopq: " --kernel "$GUEST" \
		--net tap=abcdefghijklmnopq
	ip netns del "$NETNS" 2>/dev/null
	trap - EXIT
}
