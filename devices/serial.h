/* An 8250/16550A UART: COM1 at 0x3f8, IRQ 4, wired to the console. */
#ifndef MINIVMM_SERIAL_H
#define MINIVMM_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#define COM1_BASE 0x3f8
#define COM1_IRQ 4

struct vm;
struct serial;

/* Create COM1 on @vm's port bus and make it the console's frontend. */
struct serial *serial_create(struct vm *vm);

/* Register access, as the bus calls them (exposed for unit tests). */
void serial_read(void *opaque, uint64_t offset, void *data, unsigned size);
void serial_write(void *opaque, uint64_t offset, const void *data, unsigned size);

/* Host-side input and room for it. */
size_t serial_rx_space(void *opaque);
void serial_rx_push(void *opaque, const uint8_t *buf, size_t len);

/*
 * For tests: a UART not attached to a VM; output and IRQ level go to callbacks,
 * and @rx_ready (may be NULL) is called, without the UART's lock, when the
 * receive FIFO has room again: a read from a full FIFO, an FCR clear, reset,
 * or loading a state whose FIFO is not full.
 */
struct serial *serial_create_detached(void (*output)(void *ctx, const uint8_t *buf, size_t len),
				      void (*irq)(void *ctx, int level),
				      void (*rx_ready)(void *ctx), void *ctx);
extern const struct device_ops serial_ops;

#endif
