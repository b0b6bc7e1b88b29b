/* The Generic Event Device: its power button, event register, line and state. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "unit.h"
#include "../../devices/ged.h"
#include "../../vmm/device.h"

/* The line as the device last drove it, and how many times it did. */
static int level = -1;
static int calls;

static void on_irq(void *ctx, int l)
{
	assert_ptr_equal(ctx, &level);
	level = l;
	calls++;
}

static int setup(void **state)
{
	level = -1;
	calls = 0;
	*state = ged_create_detached(on_irq, &level);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	ged_ops.destroy(*state);
	return 0;
}

static uint32_t read32(struct ged *g)
{
	uint32_t v = 0xa5a5a5a5;

	ged_read(g, 0, &v, 4);
	return v;
}

static void test_starts_quiet(void **state)
{
	struct ged *g = *state;

	assert_int_equal(calls, 0); /* the line starts low without being driven */
	assert_int_equal(read32(g), 0);
	assert_int_equal(calls, 0);
}

static void test_power_button(void **state)
{
	struct ged *g = *state;

	ged_power_button(g);
	assert_int_equal(level, 1);
	assert_int_equal(calls, 1);
	ged_power_button(g); /* pressed again before the guest looked: still one event */
	assert_int_equal(calls, 1);
	assert_int_equal(read32(g), GED_EVENT_POWER_BUTTON);
	assert_int_equal(level, 0);
	assert_int_equal(calls, 2);
	assert_int_equal(read32(g), 0); /* the read cleared it */
	assert_int_equal(calls, 2);
	ged_power_button(g);
	assert_int_equal(level, 1);
	assert_int_equal(calls, 3);
}

/* Narrow reads clear only the bits they return. */
static void test_narrow_reads(void **state)
{
	struct ged *g = *state;
	uint8_t b = 0xaa;
	uint16_t w = 0xaaaa;

	ged_power_button(g);
	ged_read(g, 1, &b, 1);
	assert_int_equal(b, 0);
	ged_read(g, 2, &w, 2);
	assert_int_equal(w, 0);
	assert_int_equal(level, 1);
	ged_read(g, 0, &b, 1);
	assert_int_equal(b, GED_EVENT_POWER_BUTTON);
	assert_int_equal(level, 0);
}

static void test_writes_ignored(void **state)
{
	struct ged *g = *state;
	uint32_t v = 0;

	ged_power_button(g);
	ged_write(g, 0, &v, 4); /* not a way to acknowledge */
	assert_int_equal(level, 1);
	v = 0xffffffff;
	ged_write(g, 0, &v, 4);
	assert_int_equal(read32(g), GED_EVENT_POWER_BUTTON);
	ged_write(g, 0, &v, 4); /* nor to raise events */
	assert_int_equal(level, 0);
	assert_int_equal(read32(g), 0);
}

static void test_reset(void **state)
{
	struct ged *g = *state;

	ged_power_button(g);
	ged_ops.reset(g);
	assert_int_equal(level, 0);
	assert_int_equal(read32(g), 0);
}

static void test_save_load(void **state)
{
	struct ged *g = *state, *h;
	uint8_t saved[64], again[64], bad[64];
	long n;

	ged_power_button(g);
	assert_int_equal(ged_ops.save(g, saved, 2), -ENOSPC);
	n = ged_ops.save(g, saved, sizeof(saved));
	assert_true(n > 0 && n < (long)sizeof(saved));

	h = ged_create_detached(on_irq, &level);
	assert_non_null(h);
	calls = 0;
	assert_int_equal(ged_ops.load(h, saved, n - 1), -EINVAL);
	memcpy(bad, saved, n);
	bad[0] ^= 0xff; /* the version */
	assert_int_equal(ged_ops.load(h, bad, n), -EINVAL);
	memcpy(bad, saved, n);
	bad[n - 1] = 0x80; /* an event this version does not have */
	assert_int_equal(ged_ops.load(h, bad, n), -EINVAL);
	assert_int_equal(calls, 0);

	level = 0; /* whatever the line was, load drives it from the state */
	assert_int_equal(ged_ops.load(h, saved, n), 0);
	assert_int_equal(level, 1);
	assert_int_equal(calls, 1);
	assert_int_equal(ged_ops.save(h, again, sizeof(again)), n);
	assert_memory_equal(again, saved, n);
	assert_int_equal(read32(h), GED_EVENT_POWER_BUTTON);
	assert_int_equal(level, 0);

	/* A state with nothing pending lowers a line left high. */
	n = ged_ops.save(h, saved, sizeof(saved));
	level = 1;
	assert_int_equal(ged_ops.load(g, saved, n), 0);
	assert_int_equal(level, 0);
	assert_int_equal(read32(g), 0);
	ged_ops.destroy(h);
}

static void *press_many(void *g)
{
	for (int i = 0; i < 20000; i++)
		ged_power_button(g);
	return NULL;
}

/* Presses from another thread while the guest reads: the line ends as the events say. */
static void test_threads(void **state)
{
	struct ged *g = *state;
	pthread_t t;
	int seen = 0, last;
	uint32_t v;

	assert_int_equal(pthread_create(&t, NULL, press_many, g), 0);
	for (int i = 0; i < 20000; i++) {
		v = read32(g);
		assert_true(v == 0 || v == GED_EVENT_POWER_BUTTON);
		seen += v != 0;
	}
	pthread_join(t, NULL);
	last = level; /* only now is it ours to read */
	v = read32(g);
	assert_int_equal(last, v != 0);
	seen += v != 0;
	assert_true(seen >= 1);
	assert_int_equal(level, 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_starts_quiet),
		T(test_power_button),
		T(test_narrow_reads),
		T(test_writes_ignored),
		T(test_reset),
		T(test_save_load),
		T(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
