# MSRs across a snapshot; sourced by run.sh after monitor_timer_tests.sh, and uses
# monitor_tests.sh's helpers (start_counter_fifo, lines, mon, expect_mon, finish).

# The guest's MTRRs come back with --restore in a new process. KVM's MSR index list
# leaves them out, so unless minivmm saves them by name the restored vCPU has the
# boot defaults (MTRRdefType 0x806, every range MTRR 0). The counter guest's
# `mtrrset` writes MTRRdefType, two fixed-range MTRRs and the first and last
# variable-range pair, and prints them; `mtrr` prints them again.
test_snapshot_mtrr() {
	local sock=$MON_DIR/mtrr.sock before set after
	start_counter_fifo mtrr --kernel "$GUEST" --cmdline "test=counter period=20"
	before=$(ask mtrr mtrr)
	if [ "$before" = absent ] || [ -z "$before" ]; then
		fail "mtrr: the guest has MTRRs" "'mtrr' answered '$before'"
		finish mtrr 0
		return
	fi
	set=$(ask mtrr mtrrset)
	if [[ "$set" == "deftype 0xc06 "* ]] && [ "$set" != "$before" ]; then
		pass "mtrr: the guest sets its MTRRs ($set)"
	else
		fail "mtrr: the guest sets its MTRRs" "before '$before', after mtrrset '$set'"
	fi
	mon mtrr-save "$sock" stop "savevm mtrr" "info snapshots"
	expect_mon mtrr-save "^mtrr "
	finish mtrr 0
	start_counter_fifo mtrr-restore --restore "$MON_DIR/snaps/mtrr"
	after=$(ask mtrr-restore mtrr)
	expect_eq "$after" "$set" "mtrr: the MTRRs come back with --restore"
	mon mtrr-delvm "$MON_DIR/mtrr-restore.sock" "delvm mtrr"
	finish mtrr-restore 0
}
