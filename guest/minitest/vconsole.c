/*
 * test=vconsole: a virtio-console driver (device ID 3) set up as Linux's
 * virtio_console without MULTIPORT: VERSION_1 only, receiveq 0 and
 * transmitq 1 of port 0.  Writes "minitest: hvc hello" through it, then
 * echoes each line received as "minitest: hvc echo <line>" until "quit".
 */
#include "virtio.h"

#define RX_BUFS		8
#define RX_SIZE		256
#define LINE_MAX	256
#define NS_PER_MS	1000000ULL

struct vcon {
	struct vdev *v;
	struct vq rx, tx;
	uint8_t *qmem, *rxbuf, *txbuf;
	char line[LINE_MAX];
	unsigned len;
	bool cr;		/* last byte was CR: drop an LF after it */
};

static const char *vcon_init(struct vcon *c)
{
	uint64_t feat;
	const char *err;

	if ((err = vdev_negotiate(c->v, VF_VERSION_1, &feat)) ||
	    (err = vq_setup(&c->rx, c->v, 0, c->qmem, RX_BUFS)) ||
	    (err = vq_setup(&c->tx, c->v, 1, c->qmem + VQ_MEM, 4)))
		return err;
	for (uint16_t i = 0; i < c->rx.qsz; i++) {
		c->rx.desc[i] = (struct vdesc){ (uint64_t)c->rxbuf + i * RX_SIZE,
						RX_SIZE, VD_WRITE, 0 };
		vq_publish(&c->rx, i);
	}
	c->tx.avail[0] = VRING_AVAIL_NO_INTERRUPT;
	vdev_driver_ok(c->v);
	vq_kick(&c->rx);
	return NULL;
}

/* Sleep until @q has a used entry or @ms pass. */
static bool vq_wait(struct vq *q, uint64_t ms)
{
	uint64_t end = now_ns() + ms * NS_PER_MS;

	for (;;) {
		cli();
		if (vq_pending(q)) {
			sti();
			return true;
		}
		if (now_ns() >= end) {
			sti();
			return false;
		}
		sti_hlt();
	}
}

/* One line out through transmitq, waited for (1 s at most). */
static void hvc_say(struct vcon *c, const char *fmt, ...)
{
	va_list ap;
	uint32_t id, len;
	int n;

	va_start(ap, fmt);
	n = kvsnprintf((char *)c->txbuf, 4096, fmt, ap);
	va_end(ap);
	if (n > 4094)
		n = 4094;
	c->txbuf[n++] = '\n';
	c->tx.desc[0] = (struct vdesc){ (uint64_t)c->txbuf, (uint32_t)n, 0, 0 };
	vq_publish(&c->tx, 0);
	vq_kick(&c->tx);
	c->tx.avail[0] = 0;
	if (!vq_wait(&c->tx, 1000))
		say("vconsole transmit timeout");
	c->tx.avail[0] = VRING_AVAIL_NO_INTERRUPT;
	while (vq_pop(&c->tx, &id, &len))
		;
}

/* Feed one received byte; true on "quit". */
static bool vcon_byte(struct vcon *c, char ch)
{
	bool was_cr = c->cr;

	c->cr = ch == '\r';
	if (ch == '\n' && was_cr)
		return false;
	if (ch != '\r' && ch != '\n') {
		if (c->len + 1 < LINE_MAX)
			c->line[c->len++] = ch;
		return false;
	}
	c->line[c->len] = '\0';
	c->len = 0;
	if (!c->line[0])
		return false;
	hvc_say(c, "minitest: hvc echo %s", c->line);
	return !strcmp(c->line, "quit");
}

static bool vcon_rx(struct vcon *c)
{
	uint32_t id, len;
	bool quit = false;

	while (vq_pop(&c->rx, &id, &len)) {
		id %= c->rx.qsz;
		if (len > RX_SIZE)
			len = RX_SIZE;
		for (uint32_t i = 0; i < len && !quit; i++)
			quit = vcon_byte(c, (char)c->rxbuf[id * RX_SIZE + i]);
		vq_publish(&c->rx, (uint16_t)id);
	}
	vq_kick(&c->rx);
	return quit;
}

void mode_vconsole(void)
{
	static struct vcon c;
	const char *err;
	unsigned i;

	for (i = 0; i < sys.nvdev && sys.vdev[i].id != VIRTIO_ID_CONSOLE; i++)
		;
	if (i == sys.nvdev)
		fail("vconsole: no virtio-console device");
	c.v = &sys.vdev[i];
	c.qmem = dma_alloc(2 * VQ_MEM);
	c.rxbuf = dma_alloc(RX_BUFS * RX_SIZE);
	c.txbuf = dma_alloc(4096);
	gsi_route(c.v->r.gsi, VEC_VIRTIO + i);
	lapic_timer_periodic(VEC_TIMER);
	if ((err = vcon_init(&c)))
		fail("vconsole init: %s", err);
	hvc_say(&c, "minitest: hvc hello");
	say("vconsole ready");
	while (!vcon_rx(&c))
		vq_wait(&c.rx, 1000);
	lapic_timer_stop();
	say("result ok");
	power_off_or_reset();
}
