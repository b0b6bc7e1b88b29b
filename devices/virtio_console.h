/*
 * virtio-console over virtio-mmio (virtio 1.x, 5.3): one port, no MULTIPORT,
 * so Linux makes hvc0 of it. receiveq 0 carries console input to the guest,
 * transmitq 1 the guest's output to the host console.
 */
#ifndef MINIVMM_VIRTIO_CONSOLE_H
#define MINIVMM_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "virtio_mmio.h"

#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_CONSOLE_F_SIZE 0
#define VIRTIO_CONSOLE_F_MULTIPORT 1
#define VIRTIO_CONSOLE_RXQ 0
#define VIRTIO_CONSOLE_TXQ 1
/* Console input held until the guest posts receive buffers for it. */
#define VIRTIO_CONSOLE_RX_BUF 4096

struct vm;
struct console;

struct virtio_console_config {
	uint16_t cols;
	uint16_t rows;
	uint32_t max_nr_ports; /* only with MULTIPORT */
	uint32_t emerg_wr;     /* only with EMERG_WRITE */
} __attribute__((packed));

struct virtio_console {
	struct virtio_mmio transport;
	struct virtio_console_config config;
	/* Input not yet in guest buffers: a ring, under the transport lock. */
	uint8_t rx_buf[VIRTIO_CONSOLE_RX_BUF];
	uint32_t rx_head;
	uint32_t rx_len;
	/*
	 * Guest output, I/O thread, lock held: takes what it can without
	 * blocking and returns the bytes taken. When short, the chain goes back
	 * to the ring until virtio_console_tx_ready() (or a notification).
	 */
	size_t (*output)(void *ctx, const uint8_t *buf, size_t len);
	void (*rx_ready)(void *ctx); /* there is room for input again */
	void *ctx;
	struct vm *vm; /* NULL when detached */
	/* A transmit chain the output took only part of: its head, and how much. */
	uint16_t tx_head;
	uint64_t tx_off;
	struct virtq_chain chain; /* scratch for the chain being served */
};

/*
 * Create the device, attach it to @vm (output to vm->console, which
 * console_init sets later). Does not make it the console's input frontend.
 * Dies with a one-line error (status 1).
 */
struct virtio_console *virtio_console_create(struct vm *vm);

/*
 * For tests and fuzzing: a device over @mem, not attached to a VM. Guest
 * output goes to @output; @rx_ready (may be NULL) is called, transport lock
 * held, when input room may have opened up. NULL on allocation failure.
 */
struct virtio_console *virtio_console_create_detached(
	const struct guest_mem *mem, size_t (*output)(void *ctx, const uint8_t *buf, size_t len),
	void (*rx_ready)(void *ctx), void *ctx);
void virtio_console_free(struct virtio_console *vc);

/* The output has room again: resume the transmitq. I/O thread, lock not held. */
void virtio_console_tx_ready(void *dev);
/*
 * An output callback's work for output to @con: what it takes now without
 * blocking; when short, its EPOLLOUT calls virtio_console_tx_ready(@vc).
 */
size_t virtio_console_write_to(struct virtio_console *vc, struct console *con, const uint8_t *buf,
			       size_t len);

/* The console frontend (struct console_frontend): I/O thread, @dev is the device. */
size_t virtio_console_rx_space(void *dev);
void virtio_console_rx_push(void *dev, const uint8_t *buf, size_t len);

/* Reset (the whole device, buffered input too), save, load, destroy. */
extern const struct device_ops virtio_console_ops;

#endif
