/* gpa_ptr, gpa_read and gpa_write on mapped layouts, including hostile values. */
#include <errno.h>
#include <string.h>

#include "unit.h"
#include "../../vmm/guest_mem.h"

static void test_small_layout(void **state)
{
	struct guest_mem mem;
	const uint64_t end = 16 * MiB;

	(void)state;
	guest_mem_layout(&mem, end);
	assert_int_equal(guest_mem_map(&mem), 0);
	uint8_t *host = mem.regions[0].host;

	assert_non_null(host);
	assert_ptr_equal(gpa_ptr(&mem, 0, 1), host);
	assert_ptr_equal(gpa_ptr(&mem, 0, end), host);
	assert_ptr_equal(gpa_ptr(&mem, 0x1234, 100), host + 0x1234);
	assert_ptr_equal(gpa_ptr(&mem, end - 1, 1), host + end - 1);
	assert_ptr_equal(gpa_ptr(&mem, end - 4096, 4096), host + end - 4096);
	assert_ptr_equal(gpa_ptr(&mem, 0x5000, 0), host + 0x5000);
	/* Past the end and straddling it. */
	assert_null(gpa_ptr(&mem, end, 1));
	assert_null(gpa_ptr(&mem, end + 1, 0));
	assert_null(gpa_ptr(&mem, end - 1, 2));
	assert_null(gpa_ptr(&mem, end - 4096, 4097));
	assert_null(gpa_ptr(&mem, 0, end + 1));
	/* An empty range at the very end is either refused or the one-past-end pointer. */
	void *p = gpa_ptr(&mem, end, 0);

	assert_true(p == NULL || p == host + end);
	/* Hostile values: nothing may wrap. */
	assert_null(gpa_ptr(&mem, UINT64_MAX, 1));
	assert_null(gpa_ptr(&mem, UINT64_MAX, 0));
	assert_null(gpa_ptr(&mem, 0, UINT64_MAX));
	assert_null(gpa_ptr(&mem, 1, UINT64_MAX));
	assert_null(gpa_ptr(&mem, 0x1000, UINT64_MAX - 0x800)); /* gpa + len wraps to 0x7ff */
	assert_null(gpa_ptr(&mem, UINT64_MAX - 0xfff, 0x2000));
	assert_null(gpa_ptr(&mem, 4 * GiB, 16));
	guest_mem_unmap(&mem);
	assert_null(mem.regions[0].host);
	/* Unmapped regions give no pointer at all. */
	assert_null(gpa_ptr(&mem, 0, 1));
}

static void test_high_layout(void **state)
{
	struct guest_mem mem;
	const uint64_t low_end = 3 * GiB, high = 4 * GiB, high_end = 4 * GiB + 2 * GiB;

	(void)state;
	guest_mem_layout(&mem, 5 * GiB);
	assert_int_equal(mem.nregions, 2);
	assert_int_equal(guest_mem_map(&mem), 0);
	uint8_t *lo = mem.regions[0].host, *hi = mem.regions[1].host;

	assert_non_null(lo);
	assert_non_null(hi);
	assert_ptr_equal(gpa_ptr(&mem, low_end - 8, 8), lo + low_end - 8);
	assert_null(gpa_ptr(&mem, low_end - 8, 9));
	assert_null(gpa_ptr(&mem, low_end, 1));
	/* In the hole. */
	assert_null(gpa_ptr(&mem, 0xfec00000, 4));
	assert_null(gpa_ptr(&mem, 0xfee00000, 0));
	assert_null(gpa_ptr(&mem, high - 1, 1));
	assert_null(gpa_ptr(&mem, high - 1, 2)); /* straddles into the high region */
	assert_null(gpa_ptr(&mem, low_end - 1, high - low_end + 2)); /* spans the hole */
	/* The high region. */
	assert_ptr_equal(gpa_ptr(&mem, high, 1), hi);
	assert_ptr_equal(gpa_ptr(&mem, high, 2 * GiB), hi);
	assert_ptr_equal(gpa_ptr(&mem, high_end - 1, 1), hi + 2 * GiB - 1);
	assert_null(gpa_ptr(&mem, high_end, 1));
	assert_null(gpa_ptr(&mem, high_end - 1, 2));
	assert_null(gpa_ptr(&mem, high, 2 * GiB + 1));
	assert_null(gpa_ptr(&mem, 64 * GiB, 1));
	assert_null(gpa_ptr(&mem, UINT64_MAX, 1));
	assert_null(gpa_ptr(&mem, high + 1, UINT64_MAX));
	assert_null(gpa_ptr(&mem, UINT64_MAX - 4 * GiB + 1, 8 * GiB)); /* wraps onto the high region */
	/* Touch both ends of both regions. */
	lo[0] = 1;
	lo[low_end - 1] = 2;
	hi[0] = 3;
	hi[2 * GiB - 1] = 4;
	uint8_t b;

	assert_int_equal(gpa_read(&mem, high_end - 1, &b, 1), 0);
	assert_int_equal(b, 4);
	guest_mem_unmap(&mem);
}

static void test_read_write(void **state)
{
	struct guest_mem mem;
	const char msg[] = "hello, guest";
	char buf[sizeof(msg)];

	(void)state;
	guest_mem_layout(&mem, 16 * MiB);
	assert_int_equal(guest_mem_map(&mem), 0);
	assert_int_equal(gpa_write(&mem, 0x7000, msg, sizeof(msg)), 0);
	assert_memory_equal(mem.regions[0].host + 0x7000, msg, sizeof(msg));
	memset(buf, 0, sizeof(buf));
	assert_int_equal(gpa_read(&mem, 0x7000, buf, sizeof(buf)), 0);
	assert_string_equal(buf, msg);
	assert_int_equal(gpa_write(&mem, 16 * MiB - 4, msg, sizeof(msg)), -EFAULT);
	assert_int_equal(gpa_read(&mem, 16 * MiB - 4, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(gpa_write(&mem, UINT64_MAX, msg, sizeof(msg)), -EFAULT);
	assert_int_equal(gpa_read(&mem, 0, buf, UINT64_MAX), -EFAULT);
	assert_int_equal(gpa_read(&mem, 3 * GiB, buf, 1), -EFAULT);
	/* A refused write leaves memory alone. */
	assert_int_equal(mem.regions[0].host[16 * MiB - 4], 0);
	guest_mem_unmap(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_layout),
		cmocka_unit_test(test_high_layout),
		cmocka_unit_test(test_read_write),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
