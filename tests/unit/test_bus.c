/* bus_register, bus_find and dispatch through bus_read/bus_write. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "../../vmm/bus.h"

struct dev {
	int id;
	int reads, writes;
	uint64_t last_offset;
	unsigned last_size;
	uint64_t last_value;
};

static void dev_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	struct dev *d = opaque;
	uint64_t v = (uint64_t)d->id << 32 | offset;

	d->reads++;
	d->last_offset = offset;
	d->last_size = size;
	memcpy(data, &v, size);
}

static void dev_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct dev *d = opaque;

	d->writes++;
	d->last_offset = offset;
	d->last_size = size;
	d->last_value = 0;
	memcpy(&d->last_value, data, size);
}

static int reg(struct bus *b, uint64_t base, uint64_t len, struct dev *d)
{
	return bus_register(b, base, len, dev_read, dev_write, d);
}

static void assert_sorted(const struct bus *b)
{
	for (size_t i = 1; i < b->count; i++)
		assert_true(b->ranges[i - 1].base + b->ranges[i - 1].len - 1 < b->ranges[i].base);
}

static void test_sorted(void **state)
{
	struct bus b = { 0 };
	struct dev d[4] = { { 0 }, { 1 }, { 2 }, { 3 } };

	(void)state;
	assert_int_equal(reg(&b, 0x300, 0x10, &d[2]), 0);
	assert_int_equal(reg(&b, 0x100, 0x10, &d[0]), 0);
	assert_int_equal(reg(&b, 0x400, 0x10, &d[3]), 0);
	assert_int_equal(reg(&b, 0x200, 0x10, &d[1]), 0);
	assert_int_equal(b.count, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(b.ranges[i].base, 0x100 * (i + 1));
		assert_ptr_equal(b.ranges[i].opaque, &d[i]);
	}
	assert_sorted(&b);
	bus_destroy(&b);
	assert_int_equal(b.count, 0);
	assert_null(b.ranges);
}

static void test_overlap(void **state)
{
	struct bus b = { 0 };
	struct dev d = { 0 };

	(void)state;
	assert_int_equal(reg(&b, 0x1000, 0x100, &d), 0); /* [0x1000, 0x10ff] */
	assert_int_equal(reg(&b, 0x1000, 0x100, &d), -EEXIST); /* identical */
	assert_int_equal(reg(&b, 0x0f00, 0x101, &d), -EEXIST); /* over the start */
	assert_int_equal(reg(&b, 0x10ff, 0x10, &d), -EEXIST); /* over the end */
	assert_int_equal(reg(&b, 0x0800, 0x1000, &d), -EEXIST); /* containing */
	assert_int_equal(reg(&b, 0x1010, 0x10, &d), -EEXIST); /* contained */
	assert_int_equal(reg(&b, 0x1000, 1, &d), -EEXIST);
	assert_int_equal(reg(&b, 0x10ff, 1, &d), -EEXIST);
	assert_int_equal(b.count, 1);
	/* Touching on either side is fine. */
	assert_int_equal(reg(&b, 0x0f00, 0x100, &d), 0);
	assert_int_equal(reg(&b, 0x1100, 0x100, &d), 0);
	/* A range between two others that overlaps the later one. */
	assert_int_equal(reg(&b, 0x3000, 0x10, &d), 0);
	assert_int_equal(reg(&b, 0x2000, 0x1001, &d), -EEXIST);
	assert_int_equal(reg(&b, 0x2000, 0x1000, &d), 0);
	assert_int_equal(b.count, 5);
	assert_sorted(&b);
	bus_destroy(&b);
}

static void test_invalid(void **state)
{
	struct bus b = { 0 };
	struct dev d = { 0 };

	(void)state;
	assert_int_equal(reg(&b, 0x1000, 0, &d), -EINVAL);
	assert_int_equal(reg(&b, UINT64_MAX, 2, &d), -EINVAL);
	assert_int_equal(reg(&b, 2, UINT64_MAX, &d), -EINVAL);
	assert_int_equal(reg(&b, UINT64_MAX - 0xf, 0x20, &d), -EINVAL);
	assert_int_equal(b.count, 0);
	/* The very top of the address space is fine, and so is all of it. */
	assert_int_equal(reg(&b, UINT64_MAX, 1, &d), 0);
	assert_ptr_equal(bus_find(&b, UINT64_MAX), &b.ranges[0]);
	bus_destroy(&b);
	assert_int_equal(reg(&b, 0, UINT64_MAX, &d), 0);
	assert_non_null(bus_find(&b, 0));
	assert_non_null(bus_find(&b, UINT64_MAX - 1));
	assert_null(bus_find(&b, UINT64_MAX));
	bus_destroy(&b);
}

static void test_lookup(void **state)
{
	struct bus b = { 0 };
	struct dev d[3] = { { 0 }, { 1 }, { 2 } };

	(void)state;
	assert_null(bus_find(&b, 0)); /* empty bus */
	assert_int_equal(reg(&b, 0x3f8, 8, &d[0]), 0);
	assert_int_equal(reg(&b, 0x60, 5, &d[1]), 0);
	assert_int_equal(reg(&b, 0x600, 0x40, &d[2]), 0);
	assert_null(bus_find(&b, 0));
	assert_null(bus_find(&b, 0x5f));		/* before all */
	assert_ptr_equal(bus_find(&b, 0x60)->opaque, &d[1]); /* first byte */
	assert_ptr_equal(bus_find(&b, 0x64)->opaque, &d[1]); /* last byte */
	assert_null(bus_find(&b, 0x65));		/* gap */
	assert_null(bus_find(&b, 0x3f7));
	assert_ptr_equal(bus_find(&b, 0x3f8)->opaque, &d[0]);
	assert_ptr_equal(bus_find(&b, 0x3ff)->opaque, &d[0]);
	assert_null(bus_find(&b, 0x400));
	assert_ptr_equal(bus_find(&b, 0x63f)->opaque, &d[2]);
	assert_null(bus_find(&b, 0x640)); /* after all */
	assert_null(bus_find(&b, UINT64_MAX));
	bus_destroy(&b);
}

static void test_dispatch(void **state)
{
	struct bus b = { 0 };
	struct dev d[2] = { { 7 }, { 9 } };
	uint64_t v;
	uint8_t byte;

	(void)state;
	assert_int_equal(reg(&b, 0x1000, 0x100, &d[0]), 0);
	assert_int_equal(reg(&b, 0x2000, 0x10, &d[1]), 0);

	v = 0;
	assert_int_equal(bus_read(&b, 0x1010, &v, 4), 0);
	assert_int_equal(d[0].reads, 1);
	assert_int_equal(d[0].last_offset, 0x10);
	assert_int_equal(d[0].last_size, 4);
	assert_int_equal(v, 0x10); /* the low 4 bytes of id << 32 | offset */
	assert_int_equal(bus_read(&b, 0x2008, &v, 8), 0);
	assert_int_equal(d[1].reads, 1);
	assert_int_equal(v, 9ULL << 32 | 8);
	assert_int_equal(d[0].reads, 1);

	uint32_t w = 0xcafef00d;

	assert_int_equal(bus_write(&b, 0x10fc, &w, 4), 0); /* the last 4 bytes */
	assert_int_equal(d[0].writes, 1);
	assert_int_equal(d[0].last_offset, 0xfc);
	assert_int_equal(d[0].last_value, 0xcafef00d);

	/* Unmapped: all-ones and -ENOENT, no callback. */
	v = 0;
	assert_int_equal(bus_read(&b, 0x1800, &v, 8), -ENOENT);
	assert_int_equal(v, UINT64_MAX);
	byte = 0;
	assert_int_equal(bus_read(&b, 0, &byte, 1), -ENOENT);
	assert_int_equal(byte, 0xff);
	assert_int_equal(bus_write(&b, 0x1800, &w, 4), -ENOENT);

	/* Straddling a range's end: refused, no callback. */
	assert_int_equal(bus_read(&b, 0x10fe, &v, 4), -EINVAL);
	assert_int_equal(bus_write(&b, 0x10fd, &w, 4), -EINVAL);
	assert_int_equal(bus_read(&b, 0x200f, &v, 2), -EINVAL);
	assert_int_equal(d[0].reads, 1);
	assert_int_equal(d[0].writes, 1);
	assert_int_equal(d[1].reads, 1);
	bus_destroy(&b);
}

static void test_no_callbacks(void **state)
{
	struct bus b = { 0 };
	uint32_t v = 0;

	(void)state;
	assert_int_equal(bus_register(&b, 0x80, 1, NULL, NULL, NULL), 0);
	assert_int_equal(bus_read(&b, 0x80, &v, 1), 0);
	assert_int_equal(v, 0xff);
	assert_int_equal(bus_write(&b, 0x80, &v, 1), 0);
	bus_destroy(&b);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* 1000 ranges in random order: slot i is [i * 0x1000 + start, + len), with gaps between. */
#define NRANGES 1000

static void test_many(void **state)
{
	struct bus b = { 0 };
	static struct dev d[NRANGES];
	int order[NRANGES];
	uint64_t start[NRANGES], len[NRANGES];

	(void)state;
	for (int i = 0; i < NRANGES; i++) {
		d[i] = (struct dev){ .id = i };
		order[i] = i;
		start[i] = (uint64_t)i * 0x1000 + rnd() % 0x800;
		len[i] = 1 + rnd() % 0x800;
	}
	for (int i = NRANGES - 1; i > 0; i--) {
		int j = rnd() % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (int i = 0; i < NRANGES; i++) {
		int k = order[i];

		assert_int_equal(reg(&b, start[k], len[k], &d[k]), 0);
	}
	assert_int_equal(b.count, NRANGES);
	assert_sorted(&b);
	for (int i = 0; i < NRANGES; i++) {
		assert_ptr_equal(bus_find(&b, start[i])->opaque, &d[i]);
		assert_ptr_equal(bus_find(&b, start[i] + len[i] - 1)->opaque, &d[i]);
		assert_ptr_equal(bus_find(&b, start[i] + rnd() % len[i])->opaque, &d[i]);
		assert_null(bus_find(&b, start[i] + len[i]));
		if (start[i] > (uint64_t)i * 0x1000)
			assert_null(bus_find(&b, start[i] - 1));
		/* Re-registering any part of it fails. */
		assert_int_equal(reg(&b, start[i] + len[i] - 1, 0x10, &d[i]), -EEXIST);
	}
	/* Random probes agree with a linear scan. */
	for (int n = 0; n < 100000; n++) {
		uint64_t a = rnd() % ((uint64_t)NRANGES * 0x1000 + 0x1000);
		const struct bus_range *r = bus_find(&b, a);
		const struct dev *want = NULL;
		uint64_t slot = a / 0x1000;

		if (slot < NRANGES && a >= start[slot] && a < start[slot] + len[slot])
			want = &d[slot];
		assert_ptr_equal(r ? r->opaque : NULL, want);
	}
	bus_destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sorted),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_no_callbacks),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
