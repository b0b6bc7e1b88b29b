/*
 * A Generic Event Device (ACPI 6.5, 5.6.9): the ACPI power button of a
 * hardware-reduced machine. One 32-bit read-only event register at
 * GED_PORT and a level-triggered, active-high interrupt on GED_GSI, asserted
 * while any event is pending. Reading the register returns the pending events
 * and clears them (the bits read), which lowers the line. The DSDT's
 * \_SB.GED._EVT reads it and notifies \_SB.PWRB (firmware/acpi.c).
 */
#ifndef MINIVMM_GED_H
#define MINIVMM_GED_H

#include <stdint.h>

/* Fixed, not from vm_alloc_mmio(): next to the acpi_pm ports, and the last IOAPIC pin. */
#define GED_PORT 0x610
#define GED_NPORTS 4
#define GED_GSI 23

/* Event register bits */
#define GED_EVENT_POWER_BUTTON (1U << 0)
#define GED_EVENTS_ALL GED_EVENT_POWER_BUTTON

struct vm;
struct ged;

/* Register the port and add the device to @vm; the line is vm_irq_line(vm, GED_GSI). */
struct ged *ged_create(struct vm *vm);

/*
 * Press the power button: set its event and raise the line. Thread-safe (the
 * monitor calls it from the I/O thread while vCPUs read the register).
 */
void ged_power_button(struct ged *g);

/*
 * For tests: a device not attached to a VM; line changes call @irq with the
 * new level. @irq is called with the device's lock held and must not call
 * back into the device.
 */
struct ged *ged_create_detached(void (*irq)(void *ctx, int level), void *ctx);
/* Register access, as the bus calls them: @offset from GED_PORT. */
void ged_read(void *opaque, uint64_t offset, void *data, unsigned size);
void ged_write(void *opaque, uint64_t offset, const void *data, unsigned size);
extern const struct device_ops ged_ops;

#endif
