/*
 * virtio-console through its transport registers, with the test acting as
 * the guest driver over 2 MiB of real guest RAM: transmit chains to the
 * output callback, console input into receive buffers, save and load; and
 * output to a real console whose output pipe is full.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "virtio_harness.h"
#include "../../devices/virtio_console.h"
#include "../../vmm/console.h"
#include "../../vmm/device.h"
#include "../../vmm/vm.h"
#include "test_vm.h"

#define RAM_SIZE (2 * MiB)

#define RXQ VIRTIO_CONSOLE_RXQ
#define TXQ VIRTIO_CONSOLE_TXQ
#define QSIZE 16
#define DATA_BASE 0x10000ULL /* guest buffers go here and up */

static struct virtio_console *vc;
static struct test_ring gq[2]; /* the guest driver's view of each queue */
static uint64_t next_data; /* bump allocator for guest buffers */
static uint8_t out[16384];
static size_t out_len;
static int ready_calls;

static size_t capture(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	assert_true(out_len + len <= sizeof(out));
	memcpy(out + out_len, buf, len);
	out_len += len;
	return len;
}

static void on_ready(void *ctx)
{
	(void)ctx;
	ready_calls++;
}

static int setup(void **state)
{
	(void)state;
	if (guest_ram_map(RAM_SIZE))
		return -1;
	vc = virtio_console_create_detached(&mem, capture, on_ready, NULL);
	if (!vc)
		return -1;
	gq[RXQ] = (struct test_ring){ .desc = 0x1000, .avail = 0x2000, .used = 0x3000,
				      .size = QSIZE };
	gq[TXQ] = (struct test_ring){ .desc = 0x4000, .avail = 0x5000, .used = 0x6000,
				      .size = QSIZE };
	next_data = DATA_BASE;
	out_len = 0;
	ready_calls = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	virtio_console_free(vc);
	guest_mem_unmap(&mem);
	return 0;
}

static uint32_t rd(uint64_t off)
{
	return mmio_read32(&vc->transport, off);
}

static void wr(uint64_t off, uint32_t v)
{
	mmio_write32(&vc->transport, off, v);
}

/* Queue @q at the rings in gq[q], ready. */
static void bring_up_queue(uint32_t q)
{
	setup_queue(&vc->transport, q, QSIZE, gq[q].desc, gq[q].avail, gq[q].used);
	wr(REG_QUEUE_READY, 1);
	assert_int_equal(rd(REG_QUEUE_READY), 1);
}

/* A driver that negotiated @extra on top of VERSION_1 and has both queues live. */
static void bring_up_with(uint64_t extra)
{
	assert_int_equal(negotiate(&vc->transport, 1ULL << VIRTIO_F_VERSION_1 | extra),
			 ACK | DRIVER | FEATURES_OK);
	bring_up_queue(RXQ);
	bring_up_queue(TXQ);
	wr(REG_STATUS, LIVE);
	assert_int_equal(rd(REG_STATUS), LIVE);
}

static void bring_up(void)
{
	bring_up_with(1ULL << VIRTIO_RING_F_EVENT_IDX | 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
}

/* What the transport's notification handler does on the I/O thread. */
static void notify(int q)
{
	struct virtio_mmio *t = &vc->transport;

	pthread_mutex_lock(&t->lock);
	if ((t->status & DRIVER_OK) && t->queues[q].ready)
		t->ops->queue_notify(t->dev, t, q);
	pthread_mutex_unlock(&t->lock);
}

static uint64_t alloc_data(uint32_t len)
{
	uint64_t gpa = next_data;

	next_data += (len + 15) & ~15U;
	assert_true(next_data < RAM_SIZE);
	return gpa;
}

/* A transmit chain of the strings in @parts, each in its own guest buffer. */
static uint16_t add_tx(const char *const *parts, int n)
{
	struct ring_buf d[8];

	assert_true(n <= 8);
	for (int i = 0; i < n; i++) {
		uint32_t len = strlen(parts[i]);
		uint64_t gpa = alloc_data(len);

		memcpy(ram + gpa, parts[i], len);
		d[i] = (struct ring_buf){ gpa, len, false };
	}
	return ring_add_chain(&gq[TXQ], d, n);
}

/* A receive chain of writable buffers of @lens bytes; their addresses go to @gpas. */
static uint16_t add_rx(const uint32_t *lens, int n, uint64_t *gpas)
{
	struct ring_buf d[8];

	assert_true(n <= 8);
	for (int i = 0; i < n; i++) {
		gpas[i] = alloc_data(lens[i]);
		memset(ram + gpas[i], 0xee, lens[i]);
		d[i] = (struct ring_buf){ gpas[i], lens[i], true };
	}
	return ring_add_chain(&gq[RXQ], d, n);
}

static void expect_output(const char *s)
{
	assert_int_equal(out_len, strlen(s));
	assert_memory_equal(out, s, out_len);
}

/* Features and config space as a driver sees them. */
static void test_identity(void **state)
{
	uint32_t lo, hi, v;

	(void)state;
	assert_int_equal(rd(REG_DEVICE_ID), 3);
	wr(REG_DEVICE_FEATURES_SEL, 0);
	lo = rd(REG_DEVICE_FEATURES);
	wr(REG_DEVICE_FEATURES_SEL, 1);
	hi = rd(REG_DEVICE_FEATURES);
	assert_int_equal(hi & 1, 1); /* VERSION_1, bit 32 */
	assert_int_equal(lo & 1U << VIRTIO_CONSOLE_F_MULTIPORT, 0);
	assert_int_not_equal(lo & 1U << VIRTIO_CONSOLE_F_SIZE, 0);
	assert_int_not_equal(lo & 1U << VIRTIO_RING_F_EVENT_IDX, 0);
	assert_int_not_equal(lo & 1U << VIRTIO_RING_F_INDIRECT_DESC, 0);
	assert_int_equal(lo & 1U << 2, 0); /* no EMERG_WRITE */
	/* cols, rows (detached: 80x25), then max_nr_ports and emerg_wr unused. */
	virtio_mmio_read(&vc->transport, REG_CONFIG, &v, 4);
	assert_int_equal(v, 80 | 25 << 16);
	assert_int_equal(rd(REG_CONFIG + 4), 0);
	assert_int_equal(rd(REG_CONFIG + 8), 0);
	/* Two queues: receiveq and transmitq. */
	for (uint32_t q = 0; q < 3; q++) {
		wr(REG_QUEUE_SEL, q);
		assert_int_equal(rd(REG_QUEUE_NUM_MAX), q < 2 ? VIRTQ_MAX_SIZE : 0);
	}
	/* MULTIPORT is refused: FEATURES_OK does not stick. */
	assert_int_equal(negotiate(&vc->transport,
				   1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_CONSOLE_F_MULTIPORT),
			 ACK | DRIVER);
}

static void test_tx_chains_in_order(void **state)
{
	static const char *const a[] = { "Hel", "lo, ", "world\n" };
	static const char *const b[] = { "second" };
	static const char *const c[] = { " and", "", " third\n" };
	uint16_t ha, hb, hc;

	(void)state;
	bring_up();
	ha = add_tx(a, 3);
	hb = add_tx(b, 1);
	notify(TXQ);
	expect_output("Hello, world\nsecond");
	hc = add_tx(c, 3);
	notify(TXQ);
	expect_output("Hello, world\nsecond and third\n");
	ring_expect_used(&gq[TXQ], ha, 0);
	ring_expect_used(&gq[TXQ], hb, 0);
	ring_expect_used(&gq[TXQ], hc, 0);
	assert_int_equal(ring_used_idx(&gq[TXQ]), 3);
	assert_int_not_equal(rd(REG_INTERRUPT_STATUS) & 1, 0); /* the guest was interrupted */
	assert_int_equal(ready_calls, 0); /* transmit is not input room */
}

/* Without EVENT_IDX or INDIRECT: plain flags-based notification, still fine. */
static void test_tx_without_ring_features(void **state)
{
	static const char *const a[] = { "x", "y" };
	uint16_t h;

	(void)state;
	bring_up_with(0);
	h = add_tx(a, 2);
	notify(TXQ);
	expect_output("xy");
	ring_expect_used(&gq[TXQ], h, 0);
}

static void test_tx_indirect(void **state)
{
	uint64_t table = alloc_data(32), b1 = alloc_data(4), b2 = alloc_data(4);
	uint16_t h;

	(void)state;
	bring_up();
	memcpy(ram + b1, "ind", 3);
	memcpy(ram + b2, "irect", 5);
	desc_at(table, 0, b1, 3, VIRTQ_DESC_F_NEXT, 1);
	desc_at(table, 1, b2, 5, 0, 0);
	h = ring_add_desc(&gq[TXQ], table, 32, VIRTQ_DESC_F_INDIRECT, 0);
	notify(TXQ);
	expect_output("indirect");
	ring_expect_used(&gq[TXQ], h, 0);
}

static void test_tx_malformed(void **state)
{
	static const char *const good[] = { "ok", "!" };
	uint64_t gpa = alloc_data(8);
	uint16_t h1, h2, h3, h4, h5;

	(void)state;
	bring_up();
	memcpy(ram + gpa, "secret", 6);
	/* Outside RAM. */
	h1 = ring_add_chain(&gq[TXQ], &(struct ring_buf){ RAM_SIZE - 2, 4, false }, 1);
	/* A readable buffer and then a writable one: not for the transmitq. */
	h2 = ring_add_chain(&gq[TXQ], (struct ring_buf[]){ { gpa, 6, false }, { gpa, 2, true } },
			    2);
	/* A loop: the descriptor points at itself. */
	h3 = gq[TXQ].next_desc;
	ring_add_desc(&gq[TXQ], gpa, 6, VIRTQ_DESC_F_NEXT, h3);
	/* Indirect with a table of bad size. */
	h4 = ring_add_desc(&gq[TXQ], gpa, 7, VIRTQ_DESC_F_INDIRECT, 0);
	h5 = add_tx(good, 2);
	notify(TXQ);
	expect_output("ok!");
	ring_expect_used(&gq[TXQ], h1, 0);
	ring_expect_used(&gq[TXQ], h2, 0);
	ring_expect_used(&gq[TXQ], h3, 0);
	ring_expect_used(&gq[TXQ], h4, 0);
	ring_expect_used(&gq[TXQ], h5, 0);
	assert_int_equal(rd(REG_STATUS), LIVE); /* bad chains are not a broken device */
}

/* An avail index that jumps past the queue size breaks the device, nothing else. */
static void test_tx_broken_ring(void **state)
{
	(void)state;
	bring_up();
	*(uint16_t *)(ram + gq[TXQ].avail + 2) = QSIZE + 1;
	notify(TXQ);
	assert_int_equal(out_len, 0);
	assert_int_not_equal(rd(REG_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

static void test_rx_into_posted_buffers(void **state)
{
	uint32_t lens[2] = { 3, 5 }, one = 16;
	uint64_t g1[2], g2[1];
	uint16_t h1, h2;

	(void)state;
	bring_up();
	assert_int_equal(virtio_console_rx_space(vc), VIRTIO_CONSOLE_RX_BUF);
	h1 = add_rx(lens, 2, g1);
	h2 = add_rx(&one, 1, g2);
	notify(RXQ);
	assert_int_equal(ready_calls, 1); /* buffers posted: reading may resume */
	virtio_console_rx_push(vc, (const uint8_t *)"abcdefghij", 10);
	/* The first chain takes 8 across its two buffers, the second the rest. */
	ring_expect_used(&gq[RXQ], h1, 8);
	ring_expect_used(&gq[RXQ], h2, 2);
	assert_memory_equal(ram + g1[0], "abc", 3);
	assert_memory_equal(ram + g1[1], "defgh", 5);
	assert_memory_equal(ram + g2[0], "ij", 2);
	assert_int_equal(ram[g2[0] + 2], 0xee); /* nothing past what was pushed */
	assert_int_equal(ring_used_idx(&gq[RXQ]), 2);
	assert_int_equal(virtio_console_rx_space(vc), VIRTIO_CONSOLE_RX_BUF);
	assert_int_not_equal(rd(REG_INTERRUPT_STATUS) & 1, 0);
}

/* With no buffers posted input waits, and space shrinks; posted buffers take it in order. */
static void test_rx_waits_for_buffers(void **state)
{
	uint8_t in[100];
	uint32_t len = 64;
	uint64_t g1, g2;
	uint16_t h1, h2;

	(void)state;
	bring_up();
	for (int i = 0; i < 100; i++)
		in[i] = i;
	virtio_console_rx_push(vc, in, 100);
	assert_int_equal(virtio_console_rx_space(vc), VIRTIO_CONSOLE_RX_BUF - 100);
	assert_int_equal(ring_used_idx(&gq[RXQ]), 0);
	h1 = add_rx(&len, 1, &g1);
	notify(RXQ);
	ring_expect_used(&gq[RXQ], h1, 64);
	assert_memory_equal(ram + g1, in, 64);
	assert_int_equal(virtio_console_rx_space(vc), VIRTIO_CONSOLE_RX_BUF - 36);
	assert_int_equal(ready_calls, 1);
	h2 = add_rx(&len, 1, &g2);
	notify(RXQ);
	ring_expect_used(&gq[RXQ], h2, 36);
	assert_memory_equal(ram + g2, in + 64, 36);
	assert_int_equal(virtio_console_rx_space(vc), VIRTIO_CONSOLE_RX_BUF);
	assert_int_equal(ready_calls, 2);
}

/* A full ring reports no space; draining across the ring's wrap keeps every byte in order. */
static void test_rx_full_and_wrap(void **state)
{
	static uint8_t in[VIRTIO_CONSOLE_RX_BUF + 3000], got[sizeof(in)];
	uint32_t len = 2000, big = 4000;
	size_t pushed, drained = 0;
	uint64_t g;
	uint16_t h;

	(void)state;
	bring_up();
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (i * 7 + i / 251) & 0xff;
	virtio_console_rx_push(vc, in, 3000);
	h = add_rx(&len, 1, &g);
	notify(RXQ);
	ring_expect_used(&gq[RXQ], h, 2000);
	memcpy(got, ram + g, 2000);
	drained = 2000;
	/* 1000 waiting, room for 3096: fill it exactly, across the ring's end. */
	pushed = 3000;
	assert_int_equal(virtio_console_rx_space(vc), VIRTIO_CONSOLE_RX_BUF - 1000);
	virtio_console_rx_push(vc, in + pushed, VIRTIO_CONSOLE_RX_BUF - 1000);
	pushed += VIRTIO_CONSOLE_RX_BUF - 1000;
	assert_int_equal(virtio_console_rx_space(vc), 0);
	while (drained < pushed) {
		size_t want = pushed - drained < big ? pushed - drained : big;

		h = add_rx(&big, 1, &g);
		notify(RXQ);
		ring_expect_used(&gq[RXQ], h, want);
		memcpy(got + drained, ram + g, want);
		drained += want;
		next_data = DATA_BASE; /* reuse the guest memory */
	}
	assert_int_equal(drained, pushed);
	assert_memory_equal(got, in, pushed);
	assert_int_equal(virtio_console_rx_space(vc), VIRTIO_CONSOLE_RX_BUF);
}

/* Input before the driver is up waits for it, through a driver reset too. */
static void test_rx_before_driver(void **state)
{
	uint32_t len = 32;
	uint64_t g;
	uint16_t h;

	(void)state;
	virtio_console_rx_push(vc, (const uint8_t *)"early", 5);
	assert_int_equal(virtio_console_rx_space(vc), VIRTIO_CONSOLE_RX_BUF - 5);
	bring_up(); /* writes status 0 first, as Linux does at probe */
	h = add_rx(&len, 1, &g);
	notify(RXQ);
	ring_expect_used(&gq[RXQ], h, 5);
	assert_memory_equal(ram + g, "early", 5);
}

static void test_rx_malformed(void **state)
{
	uint32_t len = 8;
	uint64_t g, ro = alloc_data(8);
	uint16_t h1, h2, h3;

	(void)state;
	bring_up();
	/* Readable only: nowhere to write. Outside RAM. Then a good one. */
	h1 = ring_add_chain(&gq[RXQ], &(struct ring_buf){ ro, 8, false }, 1);
	h2 = ring_add_chain(&gq[RXQ], &(struct ring_buf){ RAM_SIZE, 8, true }, 1);
	h3 = add_rx(&len, 1, &g);
	virtio_console_rx_push(vc, (const uint8_t *)"hi", 2);
	ring_expect_used(&gq[RXQ], h1, 0);
	ring_expect_used(&gq[RXQ], h2, 0);
	ring_expect_used(&gq[RXQ], h3, 2);
	assert_memory_equal(ram + g, "hi", 2);
	assert_int_equal(virtio_console_rx_space(vc), VIRTIO_CONSOLE_RX_BUF);
	assert_int_equal(rd(REG_STATUS), LIVE);
}

/* Pushing past rx_space keeps what fits when the guest has no buffers. */
static void test_rx_over_push(void **state)
{
	static uint8_t in[VIRTIO_CONSOLE_RX_BUF + 10];

	(void)state;
	bring_up();
	memset(in, 'z', sizeof(in));
	virtio_console_rx_push(vc, in, sizeof(in));
	assert_int_equal(virtio_console_rx_space(vc), 0);
}

static void test_save_load(void **state)
{
	static uint8_t buf[8192];
	uint32_t len = 32;
	long n;
	uint64_t g;
	uint16_t h;

	(void)state;
	bring_up();
	virtio_console_rx_push(vc, (const uint8_t *)"kept", 4);
	n = virtio_console_ops.save(vc, buf, sizeof(buf));
	assert_true(n > 4);
	assert_int_equal(virtio_console_ops.save(vc, buf, n - 1), -ENOSPC);
	assert_int_equal(virtio_console_ops.save(vc, buf, 3), -ENOSPC);
	n = virtio_console_ops.save(vc, buf, sizeof(buf));

	/* Onto a fresh device over the same RAM. */
	virtio_console_free(vc);
	vc = virtio_console_create_detached(&mem, capture, on_ready, NULL);
	assert_non_null(vc);
	assert_int_equal(virtio_console_ops.load(vc, buf, n), 0);
	assert_int_equal(rd(REG_STATUS), LIVE);
	assert_int_equal(virtio_console_rx_space(vc), VIRTIO_CONSOLE_RX_BUF - 4);
	h = add_rx(&len, 1, &g);
	notify(RXQ);
	ring_expect_used(&gq[RXQ], h, 4);
	assert_memory_equal(ram + g, "kept", 4);
}

static void test_load_refuses(void **state)
{
	static uint8_t buf[8192], bad[8192];
	uint32_t v;
	long n;

	(void)state;
	bring_up();
	virtio_console_rx_push(vc, (const uint8_t *)"abc", 3);
	n = virtio_console_ops.save(vc, buf, sizeof(buf));
	assert_true(n > 16);
	/* Wrong sizes. */
	assert_int_equal(virtio_console_ops.load(vc, buf, n - 1), -EINVAL);
	assert_int_equal(virtio_console_ops.load(vc, buf, n + 1), -EINVAL);
	assert_int_equal(virtio_console_ops.load(vc, buf, 8), -EINVAL);
	/* Wrong version. */
	memcpy(bad, buf, n);
	v = 99;
	memcpy(bad, &v, 4);
	assert_int_equal(virtio_console_ops.load(vc, bad, n), -EINVAL);
	/* A transport length past the end. */
	memcpy(bad, buf, n);
	v = 0xffffffff;
	memcpy(bad + 4, &v, 4);
	assert_int_equal(virtio_console_ops.load(vc, bad, n), -EINVAL);
	/* More buffered input than the ring holds, with a length to match. */
	memcpy(bad, buf, n);
	v = VIRTIO_CONSOLE_RX_BUF + 1;
	memcpy(bad + 8, &v, 4);
	assert_int_equal(virtio_console_ops.load(vc, bad, n - 3 + v), -EINVAL);
	/* The transport's own version. */
	memcpy(bad, buf, n);
	bad[16] ^= 0xff;
	assert_int_equal(virtio_console_ops.load(vc, bad, n), -EINVAL);
	/* None of it changed anything. */
	assert_int_equal(virtio_console_rx_space(vc), VIRTIO_CONSOLE_RX_BUF - 3);
	assert_int_equal(rd(REG_STATUS), LIVE);
}

/* A device reset drops buffered input and lets reading resume. */
static void test_device_reset(void **state)
{
	(void)state;
	bring_up();
	virtio_console_rx_push(vc, (const uint8_t *)"gone", 4);
	virtio_console_ops.reset(vc);
	assert_int_equal(rd(REG_STATUS), 0);
	assert_int_equal(virtio_console_rx_space(vc), VIRTIO_CONSOLE_RX_BUF);
	assert_int_equal(ready_calls, 1);
}

/* ---- Output to a real console on a pipe that fills up ---- */

/* A bare VM's event loop and a console writing into the pipe out[1]. */
struct out_rig {
	struct vm vm;
	struct console *con;
	int out[2];
};

static struct out_rig *orig; /* the output callback's console */

static size_t to_console(void *ctx, const uint8_t *buf, size_t len)
{
	(void)ctx;
	return virtio_console_write_to(vc, orig->con, buf, len);
}

static void out_rig_open(int pipe_size)
{
	struct out_rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	test_vm_init(&r->vm);
	/* Blocking, as stdout is; the read end is ours to read without blocking. */
	assert_int_equal(pipe2(r->out, O_CLOEXEC), 0);
	assert_int_equal(fcntl(r->out[0], F_SETFL, O_NONBLOCK), 0);
	assert_true(fcntl(r->out[1], F_SETPIPE_SZ, pipe_size) >= pipe_size);
	r->con = console_open(&r->vm,
			      &(struct console_frontend){ virtio_console_rx_space,
							  virtio_console_rx_push, vc },
			      -1, r->out[1]);
	orig = r;
	vc->output = to_console;
	signal(SIGPIPE, SIG_IGN);
	alarm(20); /* a console that blocks fails the test instead of hanging it */
}

static void out_rig_close(void)
{
	alarm(0);
	console_destroy(orig->con);
	close(orig->out[0]);
	close(orig->out[1]);
	test_vm_destroy(&orig->vm);
	free(orig);
	orig = NULL;
}

/*
 * Fill the pipe through its write end, non-blocking only while filling (the
 * write end is the test's own): returns the bytes it took.
 */
static size_t fill_pipe(void)
{
	static const uint8_t junk[4096] = { 0 };
	int fd = orig->out[1];
	size_t n = 0;
	ssize_t w;

	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	while ((w = write(fd, junk, sizeof(junk))) > 0)
		n += w;
	while ((w = write(fd, junk, 1)) > 0)
		n += w;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(fcntl(fd, F_SETFL, 0), 0); /* blocking again, as stdout */
	return n;
}

/* Read what the pipe holds into @buf at *@len (at most @cap in all). */
static void drain(uint8_t *buf, size_t *len, size_t cap)
{
	ssize_t n;

	while (*len < cap && (n = read(orig->out[0], buf + *len, cap - *len)) > 0)
		*len += n;
}

/* Serve the event loop until it has nothing more to do; returns the events served. */
static int pump(void)
{
	int i, total = 0, n;

	for (i = 0; i < 100 && (n = event_loop_run_once(&orig->vm.loop, 0)) > 0; i++)
		total += n;
	return total;
}

/* A transmit chain of @n buffers of @len bytes each, bytes counting on from *@seq. */
static uint16_t add_tx_pattern(int n, uint32_t len, uint8_t *seq)
{
	struct ring_buf d[8];

	assert_true(n <= 8);
	for (int i = 0; i < n; i++) {
		uint64_t gpa = alloc_data(len);

		for (uint32_t j = 0; j < len; j++)
			ram[gpa + j] = (*seq)++ % 251;
		d[i] = (struct ring_buf){ gpa, len, false };
	}
	return ring_add_chain(&gq[TXQ], d, n);
}

/*
 * The output pipe is full: the transmit handler returns at once, writes
 * nothing and uses no chain. Another notification does not change that, nor
 * does room while the VM is paused. Then, as the pipe is read, EPOLLOUT
 * resumes it: every byte in order, each used entry only after all its bytes.
 */
static void test_tx_full_output_waits(void **state)
{
	static uint8_t got[65536];
	size_t got_len = 0, junk, total = 3 * 3000 + 2 * 700;
	uint8_t seq = 0;
	uint16_t ha, hb;
	bool partial_seen = false;

	(void)state;
	bring_up();
	out_rig_open(4096);
	junk = fill_pipe();
	ha = add_tx_pattern(3, 3000, &seq); /* more than the pipe holds */
	notify(TXQ);
	assert_int_equal(ring_used_idx(&gq[TXQ]), 0);
	hb = add_tx_pattern(2, 700, &seq);
	notify(TXQ); /* still full: nothing, the first chain stays first */
	assert_int_equal(ring_used_idx(&gq[TXQ]), 0);
	assert_int_equal(pump(), 0); /* not writable: no EPOLLOUT */
	drain(got, &got_len, sizeof(got));
	assert_int_equal(got_len, junk); /* only the filler: the device wrote nothing */

	/* Paused: room in the pipe, but no device work until resume. */
	event_loop_pause_devices(&orig->vm.loop, true);
	assert_int_equal(pump(), 0);
	drain(got, &got_len, sizeof(got));
	assert_int_equal(got_len, junk);
	assert_int_equal(ring_used_idx(&gq[TXQ]), 0);
	event_loop_pause_devices(&orig->vm.loop, false);

	for (int round = 0; round < 100 && got_len < junk + total; round++) {
		assert_true(pump() > 0); /* EPOLLOUT: output resumed */
		drain(got, &got_len, sizeof(got));
		/* A used entry only once the chain's bytes are all out. */
		if (ring_used_idx(&gq[TXQ]) == 0)
			partial_seen |= got_len > junk;
		else
			assert_true(got_len >= junk + 3 * 3000);
		if (ring_used_idx(&gq[TXQ]) < 2)
			assert_true(got_len < junk + total);
	}
	assert_true(partial_seen); /* the first chain went out over several rounds */
	assert_int_equal(got_len, junk + total);
	for (size_t i = 0; i < total; i++)
		assert_int_equal(got[junk + i], i % 256 % 251);
	ring_expect_used(&gq[TXQ], ha, 0);
	ring_expect_used(&gq[TXQ], hb, 0);
	assert_int_equal(ring_used_idx(&gq[TXQ]), 2);
	assert_int_equal(pump(), 0); /* the watch is gone: nothing left to wait for */
	out_rig_close();
}

/* With room, output goes straight out; a reader gone drops it (nothing blocks). */
static void test_tx_console_room_and_gone(void **state)
{
	static const char *const a[] = { "straight", " out\n" };
	static const char *const b[] = { "nowhere" };
	static uint8_t got[64];
	size_t got_len = 0;
	uint16_t h;

	(void)state;
	bring_up();
	/* Linux counts a pipe's room in pages: one holding 8 bytes of one page is full. */
	out_rig_open(65536);
	h = add_tx(a, 2);
	notify(TXQ);
	ring_expect_used(&gq[TXQ], h, 0);
	drain(got, &got_len, sizeof(got));
	assert_int_equal(got_len, 13);
	assert_memory_equal(got, "straight out\n", 13);
	assert_int_equal(pump(), 0);

	close(orig->out[0]);
	orig->out[0] = open("/dev/null", O_RDONLY | O_CLOEXEC); /* for out_rig_close */
	h = add_tx(b, 1);
	notify(TXQ);
	ring_expect_used(&gq[TXQ], h, 0);
	out_rig_close();
}

/* A driver reset while a chain is half written: the next driver's chains start afresh. */
static void test_tx_reset_while_blocked(void **state)
{
	static const char *const a[] = { "fresh\n" };
	static uint8_t got[65536];
	size_t got_len = 0, junk;
	uint8_t seq = 0;
	uint16_t h;

	(void)state;
	bring_up();
	out_rig_open(4096);
	junk = fill_pipe();
	add_tx_pattern(2, 3000, &seq);
	notify(TXQ);
	drain(got, &got_len, sizeof(got)); /* room for part of it */
	assert_true(pump() > 0);
	assert_int_equal(ring_used_idx(&gq[TXQ]), 0);
	drain(got, &got_len, sizeof(got));
	assert_true(got_len > junk);

	/* A new driver, new rings: its first chain goes out whole. */
	wr(REG_STATUS, 0);
	memset(ram + gq[TXQ].avail, 0, 0x1000);
	memset(ram + gq[TXQ].used, 0, 0x1000);
	gq[TXQ].next_desc = gq[TXQ].used_seen = 0;
	gq[RXQ].next_desc = gq[RXQ].used_seen = 0;
	bring_up();
	got_len = 0;
	drain(got, &got_len, sizeof(got));
	pump(); /* a stale EPOLLOUT is harmless */
	drain(got, &got_len, sizeof(got));
	got_len = 0;
	h = add_tx(a, 1);
	notify(TXQ);
	ring_expect_used(&gq[TXQ], h, 0);
	drain(got, &got_len, sizeof(got));
	assert_int_equal(got_len, 6);
	assert_memory_equal(got, "fresh\n", 6);
	out_rig_close();
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_identity),
		T(test_tx_chains_in_order),
		T(test_tx_without_ring_features),
		T(test_tx_indirect),
		T(test_tx_malformed),
		T(test_tx_broken_ring),
		T(test_rx_into_posted_buffers),
		T(test_rx_waits_for_buffers),
		T(test_rx_full_and_wrap),
		T(test_rx_before_driver),
		T(test_rx_malformed),
		T(test_rx_over_push),
		T(test_save_load),
		T(test_load_refuses),
		T(test_device_reset),
		T(test_tx_full_output_waits),
		T(test_tx_console_room_and_gone),
		T(test_tx_reset_while_blocked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
