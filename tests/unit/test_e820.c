/* e820_build and guest_mem_layout over RAM sizes around the 3–4 GiB hole. */
#include <stdio.h>

#include "unit.h"
#include "../../firmware/e820.h"

#define HOLE_START LOW_RAM_MAX
#define HOLE_END HIGH_RAM_START
#define LOW_HOLE (HIMEM_START - BASE_MEM_END) /* 0xa0000–0x100000: never usable */

static const uint64_t sizes[] = {
	128 * MiB, 1 * GiB, 3 * GiB - 4 * KiB, 3 * GiB, 3 * GiB + 4 * KiB,
	3 * GiB + 512 * MiB, 4 * GiB, 8 * GiB,
};

static void check_e820(uint64_t ram)
{
	struct guest_mem mem;
	struct e820_entry table[E820_MAX_ENTRIES + 1];
	uint64_t usable = 0, high = 0;

	guest_mem_layout(&mem, ram);
	int n = e820_build(&mem, table);

	print_message("RAM %#llx: %d entries\n", (unsigned long long)ram, n);
	assert_in_range(n, 1, E820_MAX_ENTRIES);
	for (int i = 0; i < n; i++) {
		const struct e820_entry *e = &table[i];
		uint64_t end = e->addr + e->size;

		assert_true(e->size > 0);
		assert_true(end > e->addr); /* no wrap */
		assert_true(e->type == E820_RAM || e->type == E820_RESERVED);
		if (i > 0)
			assert_true(table[i - 1].addr + table[i - 1].size <= e->addr);
		if (e->type != E820_RAM)
			continue;
		usable += e->size;
		/* Nothing usable in the MMIO hole, nor in 0xa0000–0x100000. */
		assert_false(e->addr < HOLE_END && end > HOLE_START);
		assert_false(e->addr < HIMEM_START && end > BASE_MEM_END);
		if (e->addr >= HOLE_END)
			high += e->size;
	}
	assert_int_equal(usable, ram - LOW_HOLE);
	if (ram > 3 * GiB)
		assert_int_equal(high, ram - 3 * GiB);
	else
		assert_int_equal(high, 0);
	/* The usable RAM is exactly what the layout maps. */
	uint64_t mapped = 0;

	for (int i = 0; i < mem.nregions; i++)
		mapped += mem.regions[i].size;
	assert_int_equal(mapped, ram);
}

static void test_e820_sizes(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
		check_e820(sizes[i]);
}

static void test_e820_low_entries(void **state)
{
	struct guest_mem mem;
	struct e820_entry t[E820_MAX_ENTRIES];

	(void)state;
	guest_mem_layout(&mem, 128 * MiB);
	int n = e820_build(&mem, t);

	assert_int_equal(n, 3);
	assert_int_equal(t[0].addr, 0);
	assert_int_equal(t[0].size, BASE_MEM_END);
	assert_int_equal(t[0].type, E820_RAM);
	/* The BIOS area (MP table, ACPI) is reserved so the kernel keeps it. */
	assert_true(t[1].addr <= MPTABLE_START && t[1].addr + t[1].size >= HIMEM_START);
	assert_int_equal(t[1].type, E820_RESERVED);
	assert_int_equal(t[2].addr, HIMEM_START);
	assert_int_equal(t[2].addr + t[2].size, 128 * MiB);
}

static void check_layout(uint64_t ram)
{
	struct guest_mem mem;

	guest_mem_layout(&mem, ram);
	assert_int_equal(mem.ram_size, ram);
	assert_int_equal(mem.regions[0].gpa, 0);
	assert_null(mem.regions[0].host);
	if (ram <= 3 * GiB) {
		assert_int_equal(mem.nregions, 1);
		assert_int_equal(mem.regions[0].size, ram);
	} else {
		assert_int_equal(mem.nregions, 2);
		assert_int_equal(mem.regions[0].size, 3 * GiB);
		assert_int_equal(mem.regions[1].gpa, 4 * GiB);
		assert_int_equal(mem.regions[1].size, ram - 3 * GiB);
		assert_null(mem.regions[1].host);
	}
}

static void test_layout_sizes(void **state)
{
	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
		check_layout(sizes[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_e820_sizes),
		cmocka_unit_test(test_e820_low_entries),
		cmocka_unit_test(test_layout_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
