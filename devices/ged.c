/*
 * The Generic Event Device's event register and interrupt line.
 *
 * Reads of the register (any width, at any offset within its 4 bytes) return
 * the pending events' bytes and clear exactly the bits returned, so a 32-bit
 * read at offset 0, as the DSDT's Field does, takes them all. Writes are
 * ignored. The line follows "any event pending": raised by an event, lowered
 * by the read that clears the last one, so with a level-triggered IOAPIC pin
 * the guest's EOI after _EVT does not bring the interrupt back.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../vmm/device.h"
#include "../vmm/log.h"
#include "../vmm/vm.h"
#include "ged.h"

#define GED_STATE_VERSION 1

struct ged_regs {
	uint32_t version;
	uint32_t events; /* pending, GED_EVENT_* bits */
};

struct ged {
	pthread_mutex_t lock;
	struct ged_regs r;
	int level; /* of the line, as last driven */
	void (*irq)(void *ctx, int level);
	void *ctx;
};

/* Drive the line from the pending events; @force drives it even if unchanged. */
static void update_irq(struct ged *g, int force)
{
	int level = g->r.events != 0;

	if (!force && level == g->level)
		return;
	g->level = level;
	g->irq(g->ctx, level);
}

void ged_power_button(struct ged *g)
{
	pthread_mutex_lock(&g->lock);
	g->r.events |= GED_EVENT_POWER_BUTTON;
	update_irq(g, 0);
	pthread_mutex_unlock(&g->lock);
}

void ged_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	struct ged *g = opaque;
	uint8_t *out = data;

	pthread_mutex_lock(&g->lock);
	for (unsigned i = 0; i < size; i++) {
		uint64_t byte = offset + i;

		out[i] = byte < GED_NPORTS ? (uint8_t)(g->r.events >> (8 * byte)) : 0;
		if (byte < GED_NPORTS)
			g->r.events &= ~(0xffU << (8 * byte));
	}
	update_irq(g, 0);
	pthread_mutex_unlock(&g->lock);
}

void ged_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	(void)opaque;
	(void)offset;
	(void)data;
	(void)size; /* read-only */
}

static void ged_reset(void *opaque)
{
	struct ged *g = opaque;

	pthread_mutex_lock(&g->lock);
	g->r = (struct ged_regs){ .version = GED_STATE_VERSION };
	update_irq(g, 1);
	pthread_mutex_unlock(&g->lock);
}

static long ged_save(void *opaque, void *buf, size_t cap)
{
	struct ged *g = opaque;

	return device_save_plain(&g->lock, &g->r, sizeof(g->r), buf, cap);
}

/* Also puts the line where the restored events say, whatever it was before. */
static int ged_load(void *opaque, const void *buf, size_t len)
{
	struct ged *g = opaque;
	struct ged_regs r;

	if (device_check_plain(buf, len, sizeof(r), GED_STATE_VERSION))
		return -EINVAL;
	memcpy(&r, buf, sizeof(r));
	if (r.events & ~GED_EVENTS_ALL)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	g->r = r;
	update_irq(g, 1);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static void ged_destroy(void *opaque)
{
	struct ged *g = opaque;

	pthread_mutex_destroy(&g->lock);
	free(g);
}

const struct device_ops ged_ops = {
	.name = "ged",
	.reset = ged_reset,
	.save = ged_save,
	.load = ged_load,
	.destroy = ged_destroy,
};

struct ged *ged_create_detached(void (*irq)(void *ctx, int level), void *ctx)
{
	struct ged *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	pthread_mutex_init(&g->lock, NULL);
	g->irq = irq;
	g->ctx = ctx;
	g->r.version = GED_STATE_VERSION; /* the line starts low: no call needed */
	return g;
}

static void vm_irq(void *ctx, int level)
{
	vm_irq_line(ctx, GED_GSI, level);
}

struct ged *ged_create(struct vm *vm)
{
	struct ged *g = ged_create_detached(vm_irq, vm);

	if (!g || vm_add_device(vm, &ged_ops, g) < 0)
		die(EXIT_RUNTIME, "ged: cannot create the ACPI power button");
	vm_register_pio(vm, GED_PORT, GED_NPORTS, ged_read, ged_write, g);
	return g;
}
