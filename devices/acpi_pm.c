/*
 * The hardware-reduced ACPI sleep and reset registers.
 *
 * Sleep control (0x600): writing SLP_EN with SLP_TYP == ACPI_PM_SLP_TYP_S5
 * powers the machine off. Any other sleep type is not one the DSDT offers, so
 * the machine "wakes" at once: WAK_STS is set, and a guest polling for it
 * (as Linux's acpi_hw_extended_sleep() does) carries on rather than hanging.
 * Reads return the last SLP_TYP; SLP_EN always reads as 0 (write-only).
 *
 * Sleep status (0x601): WAK_STS in bit 7, write 1 to clear. Reads return it.
 *
 * Reset (0x602): writing ACPI_PM_RESET_VALUE resets the machine; other values
 * are ignored; reads return 0.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../vmm/device.h"
#include "../vmm/log.h"
#include "../vmm/vm.h"
#include "acpi_pm.h"

#define ACPI_PM_STATE_VERSION 1

enum { SLEEP_CONTROL = 0, SLEEP_STATUS = 1, RESET = 2 };

struct acpi_pm_regs {
	uint32_t version;
	uint8_t sleep_control; /* SLP_TYP only */
	uint8_t sleep_status;
	uint8_t reserved[2]; /* no padding: save() copies the struct as is */
};

struct acpi_pm {
	pthread_mutex_t lock;
	struct acpi_pm_regs r;
	void (*event)(void *ctx, enum acpi_pm_event e);
	void *ctx;
};

/* Returns true if the write asks for soft-off. */
static bool sleep_control_write(struct acpi_pm *pm, uint8_t v)
{
	uint8_t typ = (v & ACPI_PM_SLP_TYP_MASK) >> ACPI_PM_SLP_TYP_SHIFT;

	pm->r.sleep_control = v & ACPI_PM_SLP_TYP_MASK;
	if (!(v & ACPI_PM_SLP_EN))
		return false;
	if (typ == ACPI_PM_SLP_TYP_S5)
		return true;
	pm->r.sleep_status |= ACPI_PM_WAK_STS; /* an unsupported state: awake at once */
	return false;
}

static uint8_t read_port(struct acpi_pm *pm, uint64_t port)
{
	switch (port) {
	case SLEEP_CONTROL: return pm->r.sleep_control;
	case SLEEP_STATUS: return pm->r.sleep_status;
	default: return 0;
	}
}

/* Returns the event the write triggers, or -1. */
static int write_port(struct acpi_pm *pm, uint64_t port, uint8_t v)
{
	switch (port) {
	case SLEEP_CONTROL: return sleep_control_write(pm, v) ? ACPI_PM_POWER_OFF : -1;
	case SLEEP_STATUS: pm->r.sleep_status &= ~(v & ACPI_PM_WAK_STS); return -1;
	case RESET: return v == ACPI_PM_RESET_VALUE ? ACPI_PM_RESET : -1;
	default: return -1;
	}
}

/* Wider accesses touch each byte-wide register in turn, as on a real I/O bus. */
void acpi_pm_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	struct acpi_pm *pm = opaque;
	uint8_t *out = data;

	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < size; i++)
		out[i] = read_port(pm, offset + i);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct acpi_pm *pm = opaque;
	const uint8_t *in = data;
	int event = -1;

	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < size; i++) {
		int e = write_port(pm, offset + i, in[i]);

		if (e >= 0 && event < 0)
			event = e;
	}
	pthread_mutex_unlock(&pm->lock);
	/* Outside the lock: the callback may take the VM's own locks. */
	if (event >= 0)
		pm->event(pm->ctx, (enum acpi_pm_event)event);
}

static void acpi_pm_reset(void *opaque)
{
	struct acpi_pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	pm->r = (struct acpi_pm_regs){ .version = ACPI_PM_STATE_VERSION };
	pthread_mutex_unlock(&pm->lock);
}

static long acpi_pm_save(void *opaque, void *buf, size_t cap)
{
	struct acpi_pm *pm = opaque;

	return device_save_plain(&pm->lock, &pm->r, sizeof(pm->r), buf, cap);
}

static int acpi_pm_load(void *opaque, const void *buf, size_t len)
{
	struct acpi_pm *pm = opaque;

	return device_load_plain(&pm->lock, &pm->r, sizeof(pm->r), ACPI_PM_STATE_VERSION, buf,
				 len);
}

static void acpi_pm_destroy(void *opaque)
{
	struct acpi_pm *pm = opaque;

	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

const struct device_ops acpi_pm_ops = {
	.name = "acpi-pm",
	.reset = acpi_pm_reset,
	.save = acpi_pm_save,
	.load = acpi_pm_load,
	.destroy = acpi_pm_destroy,
};

struct acpi_pm *acpi_pm_create_detached(void (*event)(void *ctx, enum acpi_pm_event e),
					void *ctx)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	pthread_mutex_init(&pm->lock, NULL);
	pm->event = event;
	pm->ctx = ctx;
	acpi_pm_reset(pm);
	return pm;
}

static void vm_event(void *ctx, enum acpi_pm_event e)
{
	vm_request_exit(ctx, e == ACPI_PM_RESET ? EXIT_RESET : EXIT_POWEROFF);
}

struct acpi_pm *acpi_pm_create(struct vm *vm)
{
	struct acpi_pm *pm = acpi_pm_create_detached(vm_event, vm);

	if (!pm || vm_add_device(vm, &acpi_pm_ops, pm) < 0)
		die(EXIT_RUNTIME, "acpi-pm: cannot create the ACPI power management registers");
	vm_register_pio(vm, ACPI_PM_SLEEP_CONTROL_PORT, ACPI_PM_NPORTS, acpi_pm_read,
			acpi_pm_write, pm);
	return pm;
}
