# virtio-blk, ACPI power and disk-image tests; sourced by run.sh, which
# provides run_vmm, expect_rc, expect_out, expect_err, bad and wait_for.

# fnv_sectors IMG N: FNV-1a 64 over the first N sectors, as minitest computes it.
fnv_sectors() {
	local h=$((0xcbf29ce484222325)) b
	for b in $(head -c $(($2 * 512)) "$1" | od -An -v -tu1); do
		h=$(((h ^ b) * 0x100000001b3))
	done
	printf '%016x\n' "$h"
}

# The pattern minitest writes to sectors 64..71 of disk N: byte i is (i * 7 + N) & 0xff.
write_pattern() {
	local i
	for ((i = 0; i < 4096; i++)); do
		printf "\\$(printf '%03o' $(((i * 7 + $1) & 255)))"
	done
}

# expect_sectors NAME IMG FIRST COUNT EXPECTED_FILE: the image holds those bytes there.
expect_sectors() {
	if dd if="$2" bs=512 skip="$3" count="$4" status=none | cmp -s - "$5"; then
		pass "$1"
	else
		fail "$1" "sectors $3..$(($3 + $4 - 1)) of $2 differ from $5"
	fi
}

test_blk() {
	local d0=$OUT/blk0.img d1=$OUT/blk1.img
	head -c 1M /dev/urandom >"$d0"
	head -c 1M /dev/urandom >"$d1"
	local fnv0 fnv1 sum1
	fnv0=$(fnv_sectors "$d0" 64)
	fnv1=$(fnv_sectors "$d1" 64)
	sum1=$(sha256sum <"$d1")

	run_vmm blk --kernel "$GUEST" --cpus 2 --disk "$d0,serial=disk-zero" --disk "$d1,ro" \
		--cmdline "test=blk"
	expect_rc blk 0
	expect_out blk "^minitest: virtio-mmio 0xd0000000 gsi 5 id 2\$"
	expect_out blk "^minitest: virtio-mmio 0xd0001000 gsi 6 id 2\$"
	expect_out blk "^minitest: blk0 capacity 2048 ro 0 serial disk-zero\$"
	expect_out blk "^minitest: blk1 capacity 2048 ro 1 serial -\$"
	expect_out blk "^minitest: blk0 read fnv $fnv0\$"
	expect_out blk "^minitest: blk1 read fnv $fnv1\$"
	expect_out blk "^minitest: blk0 write ok flush ok\$"
	expect_out blk "^minitest: blk0 readback ok\$"
	expect_out blk "^minitest: blk1 write ioerr "
	expect_out blk "^minitest: blk0 past-end ioerr\$"
	expect_out blk "^minitest: blk1 past-end ioerr\$"
	expect_out blk "^minitest: blk0 discard ok zeroes ok\$"
	local h
	for h in loop oob-addr len-overflow long-chain nested-indirect; do
		expect_out blk "^minitest: blk[01] hostile $h used-len0 then read ok\$"
	done
	for h in bad-head avail-jump; do
		expect_out blk "^minitest: blk[01] hostile $h needs-reset then read ok\$"
	done
	expect_out blk "^minitest: blk done 2\$"
	expect_out blk "^minitest: result ok\$"
	if grep -q "then read FAIL\|hostile .* timeout" "$OUT/blk.out"; then
		fail "blk: device lives on after hostile chains" "$(grep hostile "$OUT/blk.out")"
	else
		pass "blk: device lives on after hostile chains"
	fi

	# What the guest wrote and flushed is in the image after exit.
	write_pattern 0 >"$OUT/pattern0"
	head -c 4096 /dev/zero >"$OUT/zeroes"
	expect_sectors "blk: guest write is on the host's disk" "$d0" 64 8 "$OUT/pattern0"
	expect_sectors "blk: guest discard reads back zeroes" "$d0" 72 8 "$OUT/zeroes"
	if [ "$(sha256sum <"$d1")" = "$sum1" ]; then
		pass "blk: read-only image unchanged"
	else
		fail "blk: read-only image unchanged" "its sha256 changed"
	fi
}

# Without ACPI the devices are on the command line (virtio_mmio.device=).
test_blk_no_acpi() {
	local d0=$OUT/noacpi.img
	head -c 64K /dev/urandom >"$d0"
	run_vmm blk-noacpi --kernel "$GUEST" --no-acpi --disk "$d0" --cmdline "test=blk"
	expect_rc blk-noacpi 3
	expect_out blk-noacpi "^minitest: acpi none\$"
	expect_out blk-noacpi "^minitest: cmdline test=blk virtio_mmio.device=512@0xd0000000:5\$"
	expect_out blk-noacpi "^minitest: blk0 read fnv $(fnv_sectors "$d0" 64)\$"
	expect_out blk-noacpi "^minitest: result ok\$"
}

test_acpi_power() {
	run_vmm poweroff --kernel "$GUEST" --cpus 2 --cmdline "test=poweroff"
	expect_rc poweroff 0
	expect_out poweroff "^minitest: acpi madt cpus 2 ioapic 0xfec00000\$"
	expect_out poweroff "^minitest: acpi s5 5\$"
	run_vmm acpireset --kernel "$GUEST" --cmdline "test=acpireset"
	expect_rc acpireset 3
}

# A writable image belongs to one VMM: a second one is refused, read-only or not.
test_disk_lock() {
	local d0=$OUT/locked.img
	head -c 64K /dev/zero >"$d0"
	timeout -k 5 "$TIMEOUT" "$VMM" --kernel "$GUEST" --disk "$d0" --cmdline "test=echo" \
		</dev/null >"$OUT/lock-owner.out" 2>"$OUT/lock-owner.err" &
	local pid=$!
	wait_for "$OUT/lock-owner.out" '^minitest: echo ready' "$TIMEOUT"
	bad lock-second 1 "disk $d0: locked by another process" --kernel "$GUEST" --disk "$d0"
	bad lock-second-ro 1 "disk $d0: locked by another process" --kernel "$GUEST" \
		--disk "$d0,ro"
	kill -TERM "$pid"
	wait "$pid"
	echo $? >"$OUT/lock-owner.rc"
	expect_rc lock-owner 0
}

test_disk_bad_input() {
	: >"$OUT/empty.img"
	head -c 64K /dev/zero >"$OUT/ok.img"
	bad disk-missing 1 "disk /nonexistent/d.img: No such file" --kernel "$GUEST" \
		--disk /nonexistent/d.img
	bad disk-empty 1 "disk $OUT/empty.img: empty \(0 bytes\)" --kernel "$GUEST" \
		--disk "$OUT/empty.img"
	bad disk-dir 1 "disk /: (Is a directory|not a regular file or block device)" --kernel "$GUEST" --disk /
	bad disk-option 2 "--disk $OUT/ok.img,rw: unknown disk option" --kernel "$GUEST" \
		--disk "$OUT/ok.img,rw"
	bad disk-serial 2 "serial longer than 20 bytes" --kernel "$GUEST" \
		--disk "$OUT/ok.img,serial=abcdefghijklmnopqrstu"
	bad disk-nopath 2 "--disk ,ro: no image path" --kernel "$GUEST" --disk ,ro
}
