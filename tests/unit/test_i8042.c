/* The i8042's reset line and the probes Linux makes, on a detached controller. */
#include <errno.h>
#include <string.h>

#include "unit.h"
#include "../../devices/i8042.h"
#include "../../vmm/device.h"

#define DATA 0
#define CMD 4 /* 0x64 - 0x60 */
#define OBF 0x01

static int resets;

static void on_reset(void *ctx)
{
	assert_ptr_equal(ctx, &resets);
	resets++;
}

static int setup(void **state)
{
	resets = 0;
	*state = i8042_create_detached(on_reset, &resets);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	i8042_ops.destroy(*state);
	return 0;
}

static uint8_t in(struct i8042 *k, unsigned port)
{
	uint32_t v = 0xa5a5a5a5;

	i8042_read(k, port, &v, 1);
	assert_int_equal(v >> 8, 0xa5a5a5); /* a 1-byte read writes 1 byte */
	return v;
}

static void out(struct i8042 *k, unsigned port, uint8_t v)
{
	i8042_write(k, port, &v, 1);
}

static void test_pulse_reset(void **state)
{
	struct i8042 *k = *state;

	out(k, CMD, 0xfe);
	assert_int_equal(resets, 1);
	out(k, CMD, 0xfe);
	assert_int_equal(resets, 2);
	/* 0xfe on the data port is a keyboard byte, not the command. */
	out(k, DATA, 0xfe);
	assert_int_equal(resets, 2);
}

static void test_write_output_port(void **state)
{
	struct i8042 *k = *state;

	out(k, CMD, 0xd1);
	assert_int_equal(resets, 0);
	out(k, DATA, 0xfe); /* bit 0 clear: reset asserted */
	assert_int_equal(resets, 1);
	out(k, CMD, 0xd1);
	out(k, DATA, 0xff); /* bit 0 set: no reset */
	assert_int_equal(resets, 1);
	/* The pending command is used once: a second data byte is not an output-port write. */
	out(k, DATA, 0x00);
	assert_int_equal(resets, 1);
}

static void test_command_byte(void **state)
{
	struct i8042 *k = *state;

	assert_int_equal(in(k, CMD) & OBF, 0);
	out(k, CMD, 0x20);
	assert_int_equal(in(k, CMD) & OBF, OBF);
	uint8_t ctr = in(k, DATA);

	assert_int_equal(in(k, CMD) & OBF, 0); /* reading the data port empties it */
	out(k, CMD, 0x60);
	out(k, DATA, 0x47);
	assert_int_equal(resets, 0);
	out(k, CMD, 0x20);
	assert_int_equal(in(k, DATA), 0x47);
	assert_int_not_equal(ctr, 0x47);
}

static void test_self_tests(void **state)
{
	struct i8042 *k = *state;

	out(k, CMD, 0xaa);
	assert_int_equal(in(k, CMD) & OBF, OBF);
	assert_int_equal(in(k, DATA), 0x55);
	out(k, CMD, 0xab);
	assert_int_equal(in(k, DATA), 0x00);
	out(k, CMD, 0xa9);
	assert_int_equal(in(k, DATA), 0x00);
	assert_int_equal(in(k, CMD) & 0x04, 0x04); /* system flag */
	assert_int_equal(in(k, 2), 0xff);	      /* 0x62: nothing there */
	assert_int_equal(resets, 0);
}

static void test_save_load(void **state)
{
	struct i8042 *k = *state;
	uint8_t saved[64], again[64];
	long n;

	out(k, CMD, 0x60);
	out(k, DATA, 0x61);
	out(k, CMD, 0x20); /* OBF with the command byte waiting */
	out(k, CMD, 0xd1); /* and an output-port write pending */
	assert_int_equal(i8042_ops.save(k, saved, 2), -ENOSPC);
	n = i8042_ops.save(k, saved, sizeof(saved));
	assert_true(n > 0 && n < (long)sizeof(saved));

	i8042_ops.reset(k);
	assert_int_equal(in(k, CMD) & OBF, 0);
	assert_int_equal(i8042_ops.load(k, saved, n - 1), -EINVAL);
	assert_int_equal(i8042_ops.load(k, saved, n), 0);
	assert_int_equal(i8042_ops.save(k, again, sizeof(again)), n);
	assert_memory_equal(again, saved, n);
	assert_int_equal(in(k, CMD) & OBF, OBF);
	assert_int_equal(in(k, DATA), 0x61);
	out(k, DATA, 0x00); /* completes the restored 0xd1 */
	assert_int_equal(resets, 1);

	saved[0] ^= 0xff; /* version */
	assert_int_equal(i8042_ops.load(k, saved, n), -EINVAL);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_pulse_reset),
		T(test_write_output_port),
		T(test_command_byte),
		T(test_self_tests),
		T(test_save_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
