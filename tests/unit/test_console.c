/* console_filter: the Ctrl-A escape on console input. */
#include <stdbool.h>
#include <string.h>

#include "unit.h"
#include "../../vmm/console.h"

#define GUARD 0xee

/* console_filter into @out, which has @len bytes and 8 guard bytes behind them. */
static size_t filter(struct escape_state *st, const char *in, size_t len, uint8_t *out,
		     bool *quit)
{
	memset(out, GUARD, len + 8);
	size_t n = console_filter(st, (const uint8_t *)in, len, out, quit);

	/* The documented contract: @out holds @len + 1 bytes, and that is enough. */
	assert_true(n <= len + 1);
	for (size_t i = len + 1; i < len + 8; i++)
		assert_int_equal(out[i], GUARD);
	return n;
}

static void test_plain(void **state)
{
	struct escape_state st = { 0 };
	uint8_t out[64];
	bool quit = false;

	(void)state;
	assert_int_equal(filter(&st, "hello\r\n", 7, out, &quit), 7);
	assert_memory_equal(out, "hello\r\n", 7);
	assert_false(quit);
	assert_int_equal(filter(&st, "", 0, out, &quit), 0);
	/* Other control characters (Ctrl-C, Ctrl-B, NUL) pass untouched. */
	assert_int_equal(filter(&st, "\x03\x02\x00x", 4, out, &quit), 4);
	assert_memory_equal(out, "\x03\x02\x00x", 4);
	assert_false(quit);
}

static void test_quit(void **state)
{
	struct escape_state st = { 0 };
	uint8_t out[64];
	bool quit = false;

	(void)state;
	assert_int_equal(filter(&st, "ab\x01xcd", 6, out, &quit), 2);
	assert_true(quit);
	assert_memory_equal(out, "ab", 2);

	st = (struct escape_state){ 0 };
	quit = false;
	assert_int_equal(filter(&st, "\x01X", 2, out, &quit), 0);
	assert_true(quit);
}

static void test_double_escape(void **state)
{
	struct escape_state st = { 0 };
	uint8_t out[64];
	bool quit = false;

	(void)state;
	assert_int_equal(filter(&st, "a\x01\x01" "b", 4, out, &quit), 3);
	assert_memory_equal(out, "a\x01" "b", 3);
	assert_false(quit);
	assert_false(st.after_escape);
	/* Three in a row: one Ctrl-A through, the third starts a new escape. */
	assert_int_equal(filter(&st, "\x01\x01\x01x", 4, out, &quit), 1);
	assert_int_equal(out[0], 0x01);
	assert_true(quit);
}

static void test_other_byte(void **state)
{
	struct escape_state st = { 0 };
	uint8_t out[64];
	bool quit = false;

	(void)state;
	assert_int_equal(filter(&st, "\x01y\x01" "c", 4, out, &quit), 4);
	assert_memory_equal(out, "\x01y\x01" "c", 4);
	assert_false(quit);
}

static void test_split_quit(void **state)
{
	struct escape_state st = { 0 };
	uint8_t out[64];
	bool quit = false;

	(void)state;
	assert_int_equal(filter(&st, "ab\x01", 3, out, &quit), 2);
	assert_memory_equal(out, "ab", 2);
	assert_true(st.after_escape);
	assert_false(quit);
	assert_int_equal(filter(&st, "x", 1, out, &quit), 0);
	assert_true(quit);
}

static void test_split_double_escape(void **state)
{
	struct escape_state st = { 0 };
	uint8_t out[64];
	bool quit = false;

	(void)state;
	assert_int_equal(filter(&st, "\x01", 1, out, &quit), 0);
	assert_int_equal(filter(&st, "\x01z", 2, out, &quit), 2);
	assert_memory_equal(out, "\x01z", 2);
	assert_false(quit);
}

/* An escape split across two reads, followed by an ordinary byte: both bytes reach the guest. */
static void test_split_other_byte(void **state)
{
	struct escape_state st = { 0 };
	uint8_t out[64];
	bool quit = false;

	(void)state;
	assert_int_equal(console_filter(&st, (const uint8_t *)"\x01", 1, out, &quit), 0);
	assert_int_equal(console_filter(&st, (const uint8_t *)"y", 1, out, &quit), 2);
	assert_memory_equal(out, "\x01y", 2);
	assert_false(quit);
}

/*
 * The same split, checked against console.h's contract: "@out (at least
 * @len + 1 bytes)". on_input relies on it: it reads one byte less than the
 * UART has room for while an escape is pending, so the FIFO never overflows.
 */
static void test_output_fits_len(void **state)
{
	struct escape_state st = { 0 };
	uint8_t out[64];
	bool quit = false;

	(void)state;
	filter(&st, "\x01", 1, out, &quit);
	filter(&st, "y", 1, out, &quit);
	/* And with a full buffer's worth, as on_input would read it. */
	char in[256];

	memset(in, 'p', sizeof(in));
	st = (struct escape_state){ 0 };
	filter(&st, "\x01", 1, out, &quit);
	uint8_t big[sizeof(in) + 8];

	filter(&st, in, sizeof(in), big, &quit);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_quit),
		cmocka_unit_test(test_double_escape),
		cmocka_unit_test(test_other_byte),
		cmocka_unit_test(test_split_quit),
		cmocka_unit_test(test_split_double_escape),
		cmocka_unit_test(test_split_other_byte),
		cmocka_unit_test(test_output_fits_len),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
