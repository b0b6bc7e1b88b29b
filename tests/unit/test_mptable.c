/* mptable_build: checksums, lengths, entries, and no byte written outside mptable_size(). */
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "../../firmware/mptable.h"

#define CANARY 64
#define GPA 0xf0000U
#define MPF_SIZE 16
#define MPC_HDR 44

static uint16_t rd16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t rd32(const uint8_t *p)
{
	return rd16(p) | (uint32_t)rd16(p + 2) << 16;
}

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

static void check(int ncpus)
{
	size_t size = mptable_size(ncpus);
	uint8_t *mem = malloc(size + 2 * CANARY);
	uint8_t *buf = mem + CANARY;

	print_message("%d CPUs: %zu bytes\n", ncpus, size);
	assert_non_null(mem);
	memset(mem, 0xcc, size + 2 * CANARY);
	mptable_build(buf, GPA, ncpus);
	for (size_t i = 0; i < CANARY; i++) {
		assert_int_equal(mem[i], 0xcc);
		assert_int_equal(buf[size + i], 0xcc);
	}

	/* Floating pointer structure. */
	assert_memory_equal(buf, "_MP_", 4);
	assert_int_equal(rd32(buf + 4), GPA + MPF_SIZE);
	assert_int_equal(buf[8], 1); /* length in 16-byte units */
	assert_int_equal(buf[9], 4); /* spec 1.4 */
	assert_int_equal(sum(buf, MPF_SIZE), 0);
	assert_int_equal(buf[11], 0); /* feature 1: a configuration table follows */

	/* Configuration table header. */
	const uint8_t *mpc = buf + (rd32(buf + 4) - GPA);
	uint16_t len = rd16(mpc + 4);

	assert_memory_equal(mpc, "PCMP", 4);
	assert_int_equal(mpc[6], 4);
	assert_int_equal(len, size - MPF_SIZE); /* mptable_size is exactly what is written */
	assert_int_equal(sum(mpc, len), 0);
	assert_int_equal(rd32(mpc + 36), LAPIC_ADDR);

	/* Entries. */
	const uint8_t *p = mpc + MPC_HDR, *end = mpc + len;
	int cpus = 0, buses = 0, ioapics = 0, ioints = 0, lints = 0, entries = 0;
	int ioapic_id = -1;
	int irq_seen[16] = { 0 };

	while (p < end) {
		entries++;
		switch (p[0]) {
		case 0:
			assert_true(p + 20 <= end);
			assert_int_equal(p[1], cpus); /* APIC ID = vCPU index */
			assert_true(p[3] & 1);	      /* enabled */
			assert_int_equal(!!(p[3] & 2), cpus == 0); /* BSP flag on the first only */
			cpus++;
			p += 20;
			break;
		case 1:
			assert_true(p + 8 <= end);
			assert_memory_equal(p + 2, "ISA   ", 6);
			buses++;
			p += 8;
			break;
		case 2:
			assert_true(p + 8 <= end);
			assert_true(p[3] & 1);
			assert_int_equal(rd32(p + 4), IOAPIC_ADDR);
			ioapic_id = p[1];
			ioapics++;
			p += 8;
			break;
		case 3:
			assert_true(p + 8 <= end);
			assert_in_range(p[5], 0, 15);
			irq_seen[p[5]]++;
			assert_int_equal(p[7], p[5]); /* ISA IRQ n on pin n */
			assert_int_equal(p[6], ioapic_id);
			ioints++;
			p += 8;
			break;
		case 4:
			assert_true(p + 8 <= end);
			lints++;
			p += 8;
			break;
		default:
			fail_msg("unknown entry type %u at offset %td", p[0], p - mpc);
		}
	}
	assert_ptr_equal(p, end);
	assert_int_equal(cpus, ncpus);
	assert_int_equal(buses, 1);
	assert_int_equal(ioapics, 1);
	assert_true(ioapic_id >= ncpus && ioapic_id < 255); /* no clash with a CPU's APIC ID */
	assert_int_equal(ioints, 16);
	for (int i = 0; i < 16; i++)
		assert_int_equal(irq_seen[i], 1);
	assert_int_equal(lints, 2);
	assert_int_equal(rd16(mpc + 34), entries); /* entry count */
	free(mem);
}

static void test_cpu_counts(void **state)
{
	static const int counts[] = { 1, 2, 4, 16, 254 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(counts); i++)
		check(counts[i]);
}

static void test_size_grows_per_cpu(void **state)
{
	(void)state;
	assert_int_equal(mptable_size(2) - mptable_size(1), 20);
	assert_int_equal(mptable_size(254) - mptable_size(1), 253 * 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cpu_counts),
		cmocka_unit_test(test_size_grows_per_cpu),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
