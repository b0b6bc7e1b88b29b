/*
 * virtio-console, single port. Output: every transmitq chain's readable bytes
 * go to the host console as they are, in order, without ever blocking the I/O
 * thread: while the console's output is full, the chain waits in the ring
 * and the output's EPOLLOUT resumes it. Input: the console hands us bytes only
 * up to the free space of a small ring, and the ring empties into the receive
 * buffers the guest posts; so no byte is ever dropped, and when the ring is
 * full the console stops reading stdin until a receiveq notification (the
 * guest posted buffers) lets it drain and calls rx_ready.
 *
 * All device state is under the transport lock: queue notifications and
 * console input run on the I/O thread, register accesses on vCPU threads.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../vmm/console.h"
#include "../vmm/device.h"
#include "../vmm/log.h"
#include "../vmm/vm.h"
#include "virtio_console.h"

#define STATE_VERSION 1
#define DEFAULT_COLS 80
#define DEFAULT_ROWS 25

/* Whether the driver has queue @q running; notifications check the same. */
static bool queue_live(const struct virtio_mmio *t, int q)
{
	return (t->status & VIRTIO_STATUS_DRIVER_OK) && !(t->status & VIRTIO_STATUS_NEEDS_RESET) &&
	       t->queues[q].ready;
}

/*
 * One transmit chain: all of it must be readable, else it is a driver bug and
 * dropped. Returns false if the output took only part of it: tx_off then says
 * how much, and the rest goes out first when the output has room.
 */
static bool transmit(struct virtio_console *vc)
{
	const struct virtq_chain *c = &vc->chain;
	uint64_t skip;

	if (c->nin) {
		log_debug("virtio-console: writable buffer in a transmit chain; dropped");
		return true;
	}
	if (c->head != vc->tx_head)
		vc->tx_off = 0; /* not the chain we stopped in (only a driver bug gets here) */
	skip = vc->tx_off;
	/* Straight from guest RAM: the buffers were checked to lie inside it. */
	for (int i = 0; i < c->nout; i++) {
		uint32_t len = c->bufs[i].len;
		size_t n;

		if (skip >= len) { /* written before */
			skip -= len;
			continue;
		}
		n = vc->output(vc->ctx, c->bufs[i].host + skip, len - skip);
		vc->tx_off += n;
		if (n < len - skip) {
			vc->tx_head = c->head;
			return false;
		}
		skip = 0;
	}
	vc->tx_off = 0;
	return true;
}

/*
 * Serve the transmitq. Output never blocks: when it is full, the chain goes
 * back to the ring (the used entry is written only once all of it is out)
 * and the output's EPOLLOUT, or the next notification, resumes it.
 */
static void process_tx(struct virtio_console *vc)
{
	struct virtio_mmio *t = &vc->transport;
	struct virtq *vq = &t->queues[VIRTIO_CONSOLE_TXQ];
	bool used = false;
	int i;

	/* At most a ring's worth per turn, so a busy guest cannot hold the I/O thread. */
	for (i = 0; i < vq->size; i++) {
		int r = virtq_pop(vq, t->mem, &vc->chain);

		if (r == 0)
			break;
		if (r == -EIO) {
			virtio_mmio_set_broken(t, "transmitq: avail index or head out of range");
			break;
		}
		if (r == 1 && !transmit(vc)) {
			vq->last_avail_idx--; /* back to the ring: the rest of it first, later */
			break;
		}
		virtq_push(vq, t->mem, vc->chain.head, 0); /* we write nothing into TX buffers */
		used = true;
	}
	if (i == vq->size)
		virtio_mmio_kick(t, VIRTIO_CONSOLE_TXQ);
	if (used)
		virtio_mmio_used(t, VIRTIO_CONSOLE_TXQ);
}

void virtio_console_tx_ready(void *dev)
{
	struct virtio_console *vc = dev;

	pthread_mutex_lock(&vc->transport.lock);
	if (queue_live(&vc->transport, VIRTIO_CONSOLE_TXQ))
		process_tx(vc);
	pthread_mutex_unlock(&vc->transport.lock);
}

size_t virtio_console_write_to(struct virtio_console *vc, struct console *con, const uint8_t *buf,
			       size_t len)
{
	size_t n = console_write_nonblock(con, buf, len);

	if (n < len)
		console_wait_writable(con, virtio_console_tx_ready, vc);
	return n;
}

/* Move buffered input into the current chain's writable buffers. Returns the bytes. */
static uint32_t fill_chain(struct virtio_console *vc)
{
	uint64_t room = vc->chain.in_len;
	uint32_t done = 0;

	while (vc->rx_len && done < room) {
		uint32_t run = VIRTIO_CONSOLE_RX_BUF - vc->rx_head; /* contiguous in the ring */

		if (run > vc->rx_len)
			run = vc->rx_len;
		if (run > room - done)
			run = room - done;
		virtq_copy_to_in(&vc->chain, done, vc->rx_buf + vc->rx_head, run);
		vc->rx_head = (vc->rx_head + run) % VIRTIO_CONSOLE_RX_BUF;
		vc->rx_len -= run;
		done += run;
	}
	return done;
}

/* Lock held. Empty the ring into posted receive buffers, as far as they go. */
static void rx_flush(struct virtio_console *vc)
{
	struct virtio_mmio *t = &vc->transport;
	struct virtq *vq = &t->queues[VIRTIO_CONSOLE_RXQ];
	bool used = false;
	int i;

	if (!queue_live(t, VIRTIO_CONSOLE_RXQ))
		return; /* kept until the driver is up and posts buffers */
	/* Only as many chains as there is input for: the rest wait for later input. */
	for (i = 0; vc->rx_len && i < vq->size; i++) {
		int r = virtq_pop(vq, t->mem, &vc->chain);

		if (r == 0)
			break;
		if (r == -EIO) {
			virtio_mmio_set_broken(t, "receiveq: avail index or head out of range");
			break;
		}
		/* A malformed chain, or one with no writable bytes, goes back empty. */
		virtq_push(vq, t->mem, vc->chain.head, r == 1 ? fill_chain(vc) : 0);
		used = true;
	}
	if (vc->rx_len && i == vq->size)
		virtio_mmio_kick(t, VIRTIO_CONSOLE_RXQ); /* a ring's worth done: finish next turn */
	if (used)
		virtio_mmio_used(t, VIRTIO_CONSOLE_RXQ);
}

/* Lock held. Append what fits of @buf to the ring; returns the bytes taken. */
static size_t rx_append(struct virtio_console *vc, const uint8_t *buf, size_t len)
{
	size_t taken = 0;

	while (taken < len && vc->rx_len < VIRTIO_CONSOLE_RX_BUF) {
		uint32_t tail = (vc->rx_head + vc->rx_len) % VIRTIO_CONSOLE_RX_BUF;
		/* Up to the ring's end, or up to the head when the free space does not wrap. */
		size_t run = tail >= vc->rx_head ? VIRTIO_CONSOLE_RX_BUF - tail : vc->rx_head - tail;

		if (run > VIRTIO_CONSOLE_RX_BUF - vc->rx_len)
			run = VIRTIO_CONSOLE_RX_BUF - vc->rx_len;
		if (run > len - taken)
			run = len - taken;
		memcpy(vc->rx_buf + tail, buf + taken, run);
		vc->rx_len += run;
		taken += run;
	}
	return taken;
}

static void queue_notify(void *dev, struct virtio_mmio *t, int q)
{
	struct virtio_console *vc = dev;

	(void)t;
	if (q == VIRTIO_CONSOLE_TXQ) {
		process_tx(vc);
		return;
	}
	/* The guest posted receive buffers: the ring drains, and stdin may resume. */
	rx_flush(vc);
	if (vc->rx_len < VIRTIO_CONSOLE_RX_BUF && vc->rx_ready)
		vc->rx_ready(vc->ctx);
}

size_t virtio_console_rx_space(void *dev)
{
	struct virtio_console *vc = dev;
	size_t space;

	pthread_mutex_lock(&vc->transport.lock);
	space = VIRTIO_CONSOLE_RX_BUF - vc->rx_len;
	pthread_mutex_unlock(&vc->transport.lock);
	return space;
}

void virtio_console_rx_push(void *dev, const uint8_t *buf, size_t len)
{
	struct virtio_console *vc = dev;

	pthread_mutex_lock(&vc->transport.lock);
	/* Flushing between appends lets even more than rx_space through while the guest has room. */
	for (;;) {
		size_t n = rx_append(vc, buf, len);

		buf += n;
		len -= n;
		rx_flush(vc);
		if (!len || vc->rx_len == VIRTIO_CONSOLE_RX_BUF)
			break;
	}
	pthread_mutex_unlock(&vc->transport.lock);
	if (len) /* only a caller ignoring rx_space gets here */
		log_debug("virtio-console: input beyond rx_space: %zu bytes dropped", len);
}

/* The driver reset the device: a chain half written is forgotten with the rings. */
static void driver_reset(void *dev)
{
	struct virtio_console *vc = dev;

	vc->tx_off = 0;
}

static const struct virtio_device_ops console_virtio_ops = {
	.name = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.nqueues = 2,
	.queue_notify = queue_notify,
	/* Input still buffered is kept: it belongs to the next driver (Linux resets at probe). */
	.reset = driver_reset,
};

/* No MULTIPORT: Linux then makes port 0 a console, hvc0. VERSION_1 comes from the transport. */
static const uint64_t offered_features = 1ULL << VIRTIO_CONSOLE_F_SIZE |
					 1ULL << VIRTIO_RING_F_INDIRECT_DESC |
					 1ULL << VIRTIO_RING_F_EVENT_IDX;

struct virtio_console *virtio_console_create_detached(
	const struct guest_mem *mem, size_t (*output)(void *ctx, const uint8_t *buf, size_t len),
	void (*rx_ready)(void *ctx), void *ctx)
{
	struct virtio_console *vc = calloc(1, sizeof(*vc));

	if (!vc)
		return NULL;
	vc->output = output;
	vc->rx_ready = rx_ready;
	vc->ctx = ctx;
	vc->config = (struct virtio_console_config){ .cols = DEFAULT_COLS, .rows = DEFAULT_ROWS };
	virtio_mmio_init(&vc->transport, &console_virtio_ops, vc, mem, offered_features,
			 &vc->config, sizeof(vc->config));
	return vc;
}

void virtio_console_free(struct virtio_console *vc)
{
	if (!vc)
		return;
	virtio_mmio_destroy(&vc->transport);
	free(vc);
}

/* The whole device back to power-on: rings forgotten and buffered input dropped. */
static void vcon_reset(void *dev)
{
	struct virtio_console *vc = dev;

	virtio_mmio_reset(&vc->transport);
	pthread_mutex_lock(&vc->transport.lock);
	vc->rx_head = vc->rx_len = 0;
	if (vc->rx_ready)
		vc->rx_ready(vc->ctx);
	pthread_mutex_unlock(&vc->transport.lock);
}

/* Saved state: this header, the transport's state, then the buffered input bytes. */
struct vcon_state {
	uint32_t version;
	uint32_t transport_len;
	uint32_t rx_len;
	uint32_t reserved;
};

static long vcon_save(void *dev, void *buf, size_t cap)
{
	struct virtio_console *vc = dev;
	struct vcon_state h = { .version = STATE_VERSION };
	uint8_t *out = buf;
	long n;

	if (cap < sizeof(h))
		return -ENOSPC;
	n = virtio_mmio_save(&vc->transport, out + sizeof(h), cap - sizeof(h));
	if (n < 0)
		return n;
	pthread_mutex_lock(&vc->transport.lock);
	h.transport_len = n;
	h.rx_len = vc->rx_len;
	if (cap - sizeof(h) - n < h.rx_len) {
		pthread_mutex_unlock(&vc->transport.lock);
		return -ENOSPC;
	}
	/* Unrolled from the ring, oldest byte first. */
	for (uint32_t i = 0; i < h.rx_len; i++)
		out[sizeof(h) + n + i] = vc->rx_buf[(vc->rx_head + i) % VIRTIO_CONSOLE_RX_BUF];
	pthread_mutex_unlock(&vc->transport.lock);
	memcpy(buf, &h, sizeof(h));
	return sizeof(h) + n + h.rx_len;
}

static int vcon_load(void *dev, const void *buf, size_t len)
{
	struct virtio_console *vc = dev;
	const uint8_t *in = buf;
	struct vcon_state h;
	int err;

	if (len < sizeof(h))
		return -EINVAL;
	memcpy(&h, buf, sizeof(h));
	if (h.version != STATE_VERSION || h.reserved || h.rx_len > VIRTIO_CONSOLE_RX_BUF ||
	    h.transport_len > len - sizeof(h) || len - sizeof(h) - h.transport_len != h.rx_len)
		return -EINVAL;
	err = virtio_mmio_load(&vc->transport, in + sizeof(h), h.transport_len);
	if (err)
		return err;
	pthread_mutex_lock(&vc->transport.lock);
	vc->tx_off = 0; /* not saved: a chain half written when saved goes out whole again */
	memcpy(vc->rx_buf, in + sizeof(h) + h.transport_len, h.rx_len);
	vc->rx_head = 0;
	vc->rx_len = h.rx_len;
	if (vc->rx_len < VIRTIO_CONSOLE_RX_BUF && vc->rx_ready)
		vc->rx_ready(vc->ctx);
	pthread_mutex_unlock(&vc->transport.lock);
	/* Buffers the guest already posted take the input on the I/O thread. */
	if (h.rx_len)
		virtio_mmio_kick(&vc->transport, VIRTIO_CONSOLE_RXQ);
	return 0;
}

static void vcon_destroy(void *dev)
{
	virtio_console_free(dev);
}

const struct device_ops virtio_console_ops = {
	.name = "virtio-console",
	.reset = vcon_reset,
	.save = vcon_save,
	.load = vcon_load,
	.destroy = vcon_destroy,
};

static size_t vm_output(void *ctx, const uint8_t *buf, size_t len)
{
	struct virtio_console *vc = ctx;

	if (!vc->vm->console) /* set by console_init, before any vCPU runs */
		return len;
	return virtio_console_write_to(vc, vc->vm->console, buf, len);
}

static void vm_rx_ready(void *ctx)
{
	console_rx_ready(((struct virtio_console *)ctx)->vm->console);
}

/* The host terminal's size if stdout is one, else 80x25. */
static void host_window_size(struct virtio_console_config *cfg)
{
	struct winsize ws;

	if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col &&
	    ws.ws_row) {
		cfg->cols = ws.ws_col;
		cfg->rows = ws.ws_row;
	}
}

struct virtio_console *virtio_console_create(struct vm *vm)
{
	struct virtio_console *vc =
		virtio_console_create_detached(&vm->mem, vm_output, vm_rx_ready, NULL);

	if (!vc || vm_add_device(vm, &virtio_console_ops, vc) < 0)
		die(EXIT_RUNTIME, "virtio-console: cannot create the device");
	vc->ctx = vc;
	vc->vm = vm;
	host_window_size(&vc->config);
	virtio_mmio_attach(&vc->transport, vm);
	return vc;
}
