/* The 8250/16550A UART, detached from any VM: output and IRQ level go to callbacks. */
#include <errno.h>
#include <string.h>

#include "unit.h"
#include "../../devices/serial.h"
#include "../../vmm/device.h"

enum { RBR = 0, THR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

struct rec {
	uint8_t out[256];
	size_t nout;
	int level;
	int edges;
	int rx_ready; /* calls saying the RX FIFO has room again */
};

static void on_output(void *ctx, const uint8_t *buf, size_t len)
{
	struct rec *r = ctx;

	assert_true(r->nout + len <= sizeof(r->out));
	memcpy(r->out + r->nout, buf, len);
	r->nout += len;
}

static void on_irq(void *ctx, int level)
{
	struct rec *r = ctx;

	assert_int_not_equal(level, r->level); /* only changes are reported */
	r->level = level;
	r->edges++;
}

static void on_rx_ready(void *ctx)
{
	((struct rec *)ctx)->rx_ready++;
}

struct fixture {
	struct rec rec;
	struct serial *s;
};

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.s = serial_create_detached(on_output, on_irq, on_rx_ready, &f.rec);
	if (!f.s)
		return -1;
	f.rec.rx_ready = 0; /* the power-on reset may have said the empty FIFO has room */
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	serial_ops.destroy(f->s);
	return 0;
}

static uint8_t in(struct serial *s, unsigned reg)
{
	uint8_t v = 0x5a;

	serial_read(s, reg, &v, 1);
	return v;
}

static void out(struct serial *s, unsigned reg, uint8_t v)
{
	serial_write(s, reg, &v, 1);
}

static void test_reset_state(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(in(f->s, IIR), 0x01);
	assert_int_equal(in(f->s, LSR) & 0x60, 0x60); /* THRE | TEMT */
	assert_int_equal(in(f->s, LSR) & 0x01, 0);
	assert_int_equal(in(f->s, IER), 0);
	assert_int_equal(f->rec.level, 0);
	assert_int_equal(f->rec.edges, 0);
}

static void test_thr_output(void **state)
{
	struct fixture *f = *state;

	out(f->s, THR, 'h');
	out(f->s, THR, 'i');
	assert_int_equal(f->rec.nout, 2);
	assert_memory_equal(f->rec.out, "hi", 2);
	assert_int_equal(in(f->s, LSR) & 0x60, 0x60); /* transmission is instant */
	assert_int_equal(f->rec.level, 0); /* no interrupt enabled */
}

static void test_thri_needs_out2(void **state)
{
	struct fixture *f = *state;

	out(f->s, IER, 0x02);
	assert_int_equal(f->rec.level, 0); /* OUT2 clear: the line is gated */
	assert_int_equal(in(f->s, IIR) & 0x0f, 0x02); /* ... but the UART has it pending */
	assert_int_equal(in(f->s, IIR) & 0x0f, 0x01); /* and reading IIR acknowledged it */

	out(f->s, IER, 0x00);
	out(f->s, MCR, 0x08); /* OUT2 */
	assert_int_equal(f->rec.level, 0);
	out(f->s, IER, 0x02);
	assert_int_equal(f->rec.level, 1);
	assert_int_equal(in(f->s, IIR), 0x02);
	assert_int_equal(f->rec.level, 0); /* IIR read acknowledges THRE */
	assert_int_equal(in(f->s, IIR), 0x01);

	/* Each byte sent raises THRE again, as a new edge. */
	int edges = f->rec.edges;

	out(f->s, THR, 'x');
	assert_int_equal(f->rec.level, 1);
	assert_true(f->rec.edges > edges);
	assert_int_equal(in(f->s, IIR), 0x02);
	assert_int_equal(f->rec.level, 0);

	/* Dropping OUT2 lowers a pending line. */
	out(f->s, THR, 'y');
	assert_int_equal(f->rec.level, 1);
	out(f->s, MCR, 0x00);
	assert_int_equal(f->rec.level, 0);
}

static void test_rx(void **state)
{
	struct fixture *f = *state;

	out(f->s, MCR, 0x08);
	out(f->s, IER, 0x01); /* RDI */
	assert_int_equal(f->rec.level, 0);
	serial_rx_push(f->s, (const uint8_t *)"ab", 2);
	assert_int_equal(f->rec.level, 1);
	assert_int_equal(in(f->s, LSR) & 0x01, 0x01);
	assert_int_equal(in(f->s, IIR), 0x04);
	assert_int_equal(in(f->s, RBR), 'a');
	assert_int_equal(f->rec.level, 1);
	assert_int_equal(in(f->s, RBR), 'b');
	assert_int_equal(f->rec.level, 0);
	assert_int_equal(in(f->s, LSR) & 0x01, 0);
	assert_int_equal(in(f->s, IIR), 0x01);
	assert_int_equal(serial_rx_space(f->s), 16);
}

static void test_rx_fifo_overflow(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[20];

	for (int i = 0; i < 20; i++)
		buf[i] = 'A' + i;
	assert_int_equal(serial_rx_space(f->s), 16);
	serial_rx_push(f->s, buf, 10);
	assert_int_equal(serial_rx_space(f->s), 6);
	assert_int_equal(in(f->s, LSR) & 0x02, 0);
	serial_rx_push(f->s, buf + 10, 6);
	assert_int_equal(serial_rx_space(f->s), 0);
	assert_int_equal(in(f->s, LSR) & 0x02, 0);
	serial_rx_push(f->s, buf + 16, 1); /* one too many */
	assert_int_equal(serial_rx_space(f->s), 0);
	/* Overrun shows in LSR (and clears on that read), and as RLSI when enabled. */
	out(f->s, IER, 0x05);
	assert_int_equal(in(f->s, IIR), 0x06);
	uint8_t lsr = in(f->s, LSR);

	assert_int_equal(lsr & 0x03, 0x03);
	assert_int_equal(in(f->s, LSR) & 0x02, 0);
	assert_int_equal(in(f->s, IIR), 0x04);
	/* The first 16 bytes are kept, in order; the 17th was lost. */
	for (int i = 0; i < 16; i++)
		assert_int_equal(in(f->s, RBR), 'A' + i);
	assert_int_equal(in(f->s, LSR) & 0x01, 0);
	assert_int_equal(serial_rx_space(f->s), 16);
	/* The ring wraps around correctly. */
	serial_rx_push(f->s, (const uint8_t *)"0123456789", 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(in(f->s, RBR), '0' + i);
}

/* Top the RX FIFO up with '0', '1', ... until it is full. */
static void fill_fifo(struct serial *s)
{
	serial_rx_push(s, (const uint8_t *)"0123456789abcdef", serial_rx_space(s));
	assert_int_equal(serial_rx_space(s), 0);
}

/* The console stops reading stdin on a full FIFO; the guest's read restarts it, once. */
static void test_read_from_full_fifo_wakes_console(void **state)
{
	struct fixture *f = *state;

	serial_rx_push(f->s, (const uint8_t *)"ab", 2);
	assert_int_equal(in(f->s, RBR), 'a'); /* room already: nobody is waiting */
	assert_int_equal(f->rec.rx_ready, 0);
	fill_fifo(f->s);
	assert_int_equal(in(f->s, RBR), 'b');
	assert_int_equal(f->rec.rx_ready, 1);
	assert_int_equal(in(f->s, RBR), '0');
	assert_int_equal(f->rec.rx_ready, 1);
	/* A divisor-latch read does not touch the FIFO. */
	fill_fifo(f->s);
	out(f->s, LCR, 0x80);
	in(f->s, RBR);
	assert_int_equal(f->rec.rx_ready, 1);
}

/* loadvm replaces the FIFO: a console that stopped on a full one must hear there is room. */
static void test_load_wakes_console(void **state)
{
	struct fixture *f = *state;
	uint8_t empty[512], full[512];
	long n;

	n = serial_ops.save(f->s, empty, sizeof(empty));
	assert_true(n > 0);
	fill_fifo(f->s);
	assert_int_equal(serial_ops.save(f->s, full, sizeof(full)), n);
	assert_int_equal(f->rec.rx_ready, 0);

	assert_int_equal(serial_ops.load(f->s, empty, n), 0);
	assert_int_equal(serial_rx_space(f->s), 16);
	assert_int_equal(f->rec.rx_ready, 1);
	/* Loading a full FIFO leaves no room: the guest's first read says so. */
	assert_int_equal(serial_ops.load(f->s, full, n), 0);
	assert_int_equal(f->rec.rx_ready, 1);
	assert_int_equal(in(f->s, RBR), '0');
	assert_int_equal(f->rec.rx_ready, 2);
	/* A refused load changed nothing, so there is nothing to say. */
	fill_fifo(f->s);
	assert_int_equal(serial_ops.load(f->s, empty, n - 1), -EINVAL);
	assert_int_equal(f->rec.rx_ready, 2);
}

/* Linux clears the FIFOs through FCR when the port is opened; a full one must not stay stuck. */
static void test_fcr_clear_wakes_console(void **state)
{
	struct fixture *f = *state;

	fill_fifo(f->s);
	out(f->s, FCR, 0x01); /* enable only: the bytes stay */
	assert_int_equal(serial_rx_space(f->s), 0);
	assert_int_equal(f->rec.rx_ready, 0);
	out(f->s, FCR, 0x03); /* enable, clear RX */
	assert_int_equal(serial_rx_space(f->s), 16);
	assert_int_equal(f->rec.rx_ready, 1);
}

static void test_reset_wakes_console(void **state)
{
	struct fixture *f = *state;

	fill_fifo(f->s);
	serial_ops.reset(f->s);
	assert_int_equal(serial_rx_space(f->s), 16);
	assert_int_equal(f->rec.rx_ready, 1);
}

static void test_fifo_clear(void **state)
{
	struct fixture *f = *state;

	serial_rx_push(f->s, (const uint8_t *)"xyz", 3);
	out(f->s, FCR, 0x03); /* enable, clear RX */
	assert_int_equal(serial_rx_space(f->s), 16);
	assert_int_equal(in(f->s, LSR) & 0x01, 0);
}

static void test_dlab(void **state)
{
	struct fixture *f = *state;

	out(f->s, IER, 0x03);
	out(f->s, LCR, 0x83); /* DLAB, 8N1 */
	out(f->s, RBR, 0x01); /* DLL: 115200 baud */
	out(f->s, IER, 0x00); /* DLM */
	assert_int_equal(in(f->s, RBR), 0x01);
	assert_int_equal(in(f->s, IER), 0x00);
	assert_int_equal(f->rec.nout, 0); /* the divisor write went nowhere else */
	out(f->s, LCR, 0x03);
	assert_int_equal(in(f->s, LCR), 0x03);
	assert_int_equal(in(f->s, IER), 0x03); /* IER untouched by the DLM write */
	serial_rx_push(f->s, (const uint8_t *)"q", 1);
	assert_int_equal(in(f->s, RBR), 'q');
	out(f->s, LCR, 0x83);
	assert_int_equal(in(f->s, RBR), 0x01);
}

static void test_scratch_and_ier_probe(void **state)
{
	struct fixture *f = *state;

	/* What Linux's autoconfig does before anything else. */
	out(f->s, IER, 0x00);
	assert_int_equal(in(f->s, IER) & 0x0f, 0);
	out(f->s, IER, 0x0f);
	assert_int_equal(in(f->s, IER) & 0x0f, 0x0f);
	out(f->s, IER, 0x00);
	out(f->s, SCR, 0xa5);
	assert_int_equal(in(f->s, SCR), 0xa5);
	out(f->s, SCR, 0x5a);
	assert_int_equal(in(f->s, SCR), 0x5a);
}

static void test_loopback(void **state)
{
	struct fixture *f = *state;

	out(f->s, MCR, 0x10 | 0x0a); /* LOOP | OUT2 | RTS */
	assert_int_equal(in(f->s, MSR) & 0xf0, 0x90); /* DCD | CTS */
	out(f->s, MCR, 0x10 | 0x0f);
	assert_int_equal(in(f->s, MSR) & 0xf0, 0xf0);
	out(f->s, MCR, 0x10);
	assert_int_equal(in(f->s, MSR) & 0xf0, 0x00);
	/* THR loops back to RX, not to the output. */
	out(f->s, THR, 'L');
	assert_int_equal(f->rec.nout, 0);
	assert_int_equal(in(f->s, LSR) & 0x01, 0x01);
	assert_int_equal(in(f->s, RBR), 'L');
	/* Out of loopback the modem lines are the attached terminal's again. */
	out(f->s, MCR, 0x03);
	assert_int_equal(in(f->s, MSR) & 0xb0, 0xb0);
	out(f->s, THR, 'M');
	assert_int_equal(f->rec.nout, 1);
}

static void test_fcr_iir(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(in(f->s, IIR) & 0xc0, 0);
	out(f->s, FCR, 0x01);
	assert_int_equal(in(f->s, IIR), 0xc1);
	out(f->s, FCR, 0x00);
	assert_int_equal(in(f->s, IIR), 0x01);
}

static void test_save_load(void **state)
{
	struct fixture *f = *state;
	uint8_t saved[512], again[512];
	long n, m;

	out(f->s, MCR, 0x0b);
	out(f->s, IER, 0x01);
	out(f->s, LCR, 0x80);
	out(f->s, RBR, 0x03);
	out(f->s, LCR, 0x1b);
	out(f->s, SCR, 0x42);
	out(f->s, FCR, 0x01);
	serial_rx_push(f->s, (const uint8_t *)"snap", 4);
	assert_int_equal(in(f->s, RBR), 's');
	assert_int_equal(f->rec.level, 1);

	assert_int_equal(serial_ops.save(f->s, saved, 4), -ENOSPC);
	n = serial_ops.save(f->s, saved, sizeof(saved));
	assert_true(n > 0 && n < (long)sizeof(saved));

	serial_ops.reset(f->s);
	assert_int_equal(f->rec.level, 0);
	assert_int_equal(in(f->s, SCR), 0);
	assert_int_equal(serial_rx_space(f->s), 16);

	assert_int_equal(serial_ops.load(f->s, saved, n), 0);
	assert_int_equal(f->rec.level, 1);
	m = serial_ops.save(f->s, again, sizeof(again));
	assert_int_equal(m, n);
	assert_memory_equal(again, saved, n);
	assert_int_equal(in(f->s, SCR), 0x42);
	assert_int_equal(in(f->s, LCR), 0x1b);
	assert_int_equal(in(f->s, MCR), 0x0b);
	assert_int_equal(in(f->s, IIR), 0xc4);
	assert_int_equal(serial_rx_space(f->s), 13);
	assert_int_equal(in(f->s, RBR), 'n');
	assert_int_equal(in(f->s, RBR), 'a');
	assert_int_equal(in(f->s, RBR), 'p');
	assert_int_equal(f->rec.level, 0);
	out(f->s, LCR, 0x9b);
	assert_int_equal(in(f->s, RBR), 0x03);
}

/* Offsets in the saved state, as serial.c lays out struct serial_regs. */
#define ST_VERSION 0
#define ST_RX_COUNT 14
#define ST_RX_HEAD 15

static void test_load_rejects(void **state)
{
	struct fixture *f = *state;
	uint8_t saved[512], bad[512];
	long n;

	out(f->s, SCR, 0x77);
	n = serial_ops.save(f->s, saved, sizeof(saved));
	assert_true(n > ST_RX_HEAD);
	assert_int_equal(serial_ops.load(f->s, saved, n - 1), -EINVAL);
	assert_int_equal(serial_ops.load(f->s, saved, n + 1), -EINVAL);
	assert_int_equal(serial_ops.load(f->s, saved, 0), -EINVAL);

	memcpy(bad, saved, n);
	bad[ST_VERSION] ^= 0xff;
	assert_int_equal(serial_ops.load(f->s, bad, n), -EINVAL);

	memcpy(bad, saved, n);
	assert_int_equal(bad[ST_RX_COUNT], 0);
	bad[ST_RX_COUNT] = 17;
	assert_int_equal(serial_ops.load(f->s, bad, n), -EINVAL);
	bad[ST_RX_COUNT] = 255;
	assert_int_equal(serial_ops.load(f->s, bad, n), -EINVAL);
	bad[ST_RX_COUNT] = 16;
	assert_int_equal(serial_ops.load(f->s, bad, n), 0); /* a full FIFO is fine */
	assert_int_equal(serial_rx_space(f->s), 0);

	memcpy(bad, saved, n);
	bad[ST_RX_HEAD] = 16;
	assert_int_equal(serial_ops.load(f->s, bad, n), -EINVAL);

	/* A refused load left the last good state. */
	assert_int_equal(serial_rx_space(f->s), 0);
	assert_int_equal(in(f->s, SCR), 0x77);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_reset_state),
		T(test_thr_output),
		T(test_thri_needs_out2),
		T(test_rx),
		T(test_rx_fifo_overflow),
		T(test_read_from_full_fifo_wakes_console),
		T(test_load_wakes_console),
		T(test_fcr_clear_wakes_console),
		T(test_reset_wakes_console),
		T(test_fifo_clear),
		T(test_dlab),
		T(test_scratch_and_ier_probe),
		T(test_loopback),
		T(test_fcr_iir),
		T(test_save_load),
		T(test_load_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
