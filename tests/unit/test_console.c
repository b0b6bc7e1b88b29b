/*
 * console_filter: the Ctrl-A escape on console input; console input through a
 * UART; output that never blocks, to a pipe that fills up.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "unit.h"
#include "../../devices/serial.h"
#include "../../vmm/console.h"
#include "../../vmm/vm.h"
#include "test_vm.h"

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

/* A console reading a pipe into a detached UART, on a bare VM's event loop. */
struct rig {
	struct vm vm;
	struct serial *uart;
	struct console *con;
	int in[2];
};

static void no_output(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx, (void)buf, (void)len;
}

static void no_irq(void *ctx, int level)
{
	(void)ctx, (void)level;
}

static void rig_rx_ready(void *ctx)
{
	console_rx_ready(((struct rig *)ctx)->con);
}

static struct rig *rig_open(void)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	test_vm_init(&r->vm);
	assert_int_equal(pipe2(r->in, O_NONBLOCK | O_CLOEXEC), 0);
	r->uart = serial_create_detached(no_output, no_irq, rig_rx_ready, r);
	r->con = console_open(&r->vm, &(struct console_frontend){ serial_rx_space, serial_rx_push,
								   r->uart },
			      r->in[0], -1);
	return r;
}

static void rig_close(struct rig *r)
{
	console_destroy(r->con);
	serial_ops.destroy(r->uart);
	close(r->in[0]);
	close(r->in[1]);
	test_vm_destroy(&r->vm);
	free(r);
}

static void type(struct rig *r, const char *s, size_t len)
{
	assert_int_equal(write(r->in[1], s, len), (ssize_t)len);
}

/* Serve the event loop until it has nothing more to do. */
static void pump(struct rig *r)
{
	for (int i = 0; i < 1000 && event_loop_run_once(&r->vm.loop, 0) > 0; i++)
		;
}

/* The guest reads the UART: one byte, or -1 if the FIFO is empty. */
static int guest_getc(struct rig *r)
{
	uint8_t lsr, c;

	serial_read(r->uart, 5, &lsr, 1);
	if (!(lsr & 0x01))
		return -1;
	serial_read(r->uart, 0, &c, 1);
	return c;
}

/* Pump and read until the guest has @len bytes or nothing more comes. */
static size_t guest_read(struct rig *r, uint8_t *buf, size_t len)
{
	size_t n = 0;
	int c;

	pump(r);
	while (n < len && (c = guest_getc(r)) >= 0) {
		buf[n++] = c;
		pump(r);
	}
	return n;
}

/*
 * Ctrl-A typed when the FIFO has one free slot: the byte after it may need
 * two. The UART wakes the console only on a read from a full FIFO, so the
 * console must not wait with the FIFO one short of full.
 */
static void test_escape_with_one_free_slot(void **state)
{
	struct rig *r = rig_open();
	uint8_t got[32];

	(void)state;
	type(r, "aaaaaaaaaaaaaaa", 15);
	pump(r);
	assert_int_equal(serial_rx_space(r->uart), 1);
	type(r, "\x01", 1);
	pump(r);
	type(r, "yz", 2);
	assert_int_equal(guest_read(r, got, sizeof(got)), 18);
	assert_memory_equal(got + 15, "\x01yz", 3);
	rig_close(r);
}

/* While the VM is paused nothing reaches the UART, yet Ctrl-A x still quits. */
static void test_paused_holds_input(void **state)
{
	struct rig *r = rig_open();

	(void)state;
	event_loop_pause_devices(&r->vm.loop, true);
	type(r, "hi", 2);
	pump(r);
	assert_int_equal(serial_rx_space(r->uart), 16);
	type(r, "\x01x", 2);
	pump(r);
	assert_true(vm_exiting(&r->vm));
	assert_int_equal(serial_rx_space(r->uart), 16);
	rig_close(r);
}

/*
 * More typed while paused than the console holds: it stops reading (the rest
 * stays in the pipe) and on resume everything arrives, in order, none dropped.
 */
static void test_paused_input_delivered_on_resume(void **state)
{
	struct rig *r = rig_open();
	static char in[3000];
	static uint8_t got[sizeof(in) + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = 'a' + i % 26;
	event_loop_pause_devices(&r->vm.loop, true);
	type(r, in, sizeof(in));
	pump(r);
	assert_int_equal(serial_rx_space(r->uart), 16);
	assert_int_equal(guest_read(r, got, sizeof(got)), 0);
	event_loop_pause_devices(&r->vm.loop, false);
	assert_int_equal(guest_read(r, got, sizeof(got)), sizeof(in));
	assert_memory_equal(got, in, sizeof(in));
	rig_close(r);
}

static int writable_calls;

static void count_writable(void *opaque)
{
	(void)opaque;
	writable_calls++;
}

/*
 * console_write_nonblock to a full, blocking pipe takes nothing and returns;
 * console_wait_writable calls back once the pipe is read, then no more. With
 * room it writes everything; to a pipe nobody can read it drops the output.
 */
static void test_write_nonblock(void **state)
{
	static uint8_t big[3 * PIPE_BUF + 5], back[sizeof(big)], junk[4096];
	struct rig *r = rig_open();
	struct console *con;
	int out[2];
	ssize_t n;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	alarm(20); /* a write that blocks fails the test instead of hanging it */
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(fcntl(out[0], F_SETFL, O_NONBLOCK), 0);
	con = console_open(&r->vm, &(struct console_frontend){ serial_rx_space, serial_rx_push,
								r->uart },
			   -1, out[1]);
	/* Fill it, non-blocking only meanwhile (the write end is the test's own). */
	assert_int_equal(fcntl(out[1], F_SETFL, O_NONBLOCK), 0);
	while (write(out[1], junk, sizeof(junk)) > 0)
		;
	while (write(out[1], junk, 1) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(fcntl(out[1], F_SETFL, 0), 0);

	writable_calls = 0;
	assert_int_equal(console_write_nonblock(con, (const uint8_t *)"abc", 3), 0);
	console_wait_writable(con, count_writable, NULL);
	console_wait_writable(con, count_writable, NULL); /* once is enough */
	pump(r);
	assert_int_equal(writable_calls, 0);
	while (read(out[0], junk, sizeof(junk)) > 0)
		;
	pump(r);
	assert_int_equal(writable_calls, 1);
	pump(r);
	assert_int_equal(writable_calls, 1); /* the watch went with the call */

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = i * 7;
	assert_int_equal(console_write_nonblock(con, big, sizeof(big)), sizeof(big));
	n = read(out[0], back, sizeof(back));
	assert_int_equal(n, sizeof(big));
	assert_memory_equal(back, big, sizeof(big));

	close(out[0]);
	assert_int_equal(console_write_nonblock(con, big, sizeof(big)), sizeof(big));
	console_destroy(con);
	close(out[1]);
	alarm(0);
	rig_close(r);
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
		cmocka_unit_test(test_escape_with_one_free_slot),
		cmocka_unit_test(test_paused_holds_input),
		cmocka_unit_test(test_paused_input_delivered_on_resume),
		cmocka_unit_test(test_write_nonblock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
