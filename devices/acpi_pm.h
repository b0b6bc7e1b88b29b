/*
 * Hardware-reduced ACPI power management (ACPI 6.5, 4.8.3.7 and 4.8.3.6):
 * the sleep control, sleep status and reset registers the FADT points to,
 * as three byte-wide I/O ports. Enough for a guest to power off (\_S5) and
 * to reboot; there is no S1-S4.
 */
#ifndef MINIVMM_ACPI_PM_H
#define MINIVMM_ACPI_PM_H

#include <stdint.h>

/* Port numbers, as the FADT advertises them (firmware/acpi.c). */
#define ACPI_PM_SLEEP_CONTROL_PORT 0x600
#define ACPI_PM_SLEEP_STATUS_PORT 0x601
#define ACPI_PM_RESET_PORT 0x602
#define ACPI_PM_NPORTS 3

/* The SLP_TYP the DSDT's \_S5 package gives for soft-off. */
#define ACPI_PM_SLP_TYP_S5 5
#define ACPI_PM_RESET_VALUE 0x01

/* Sleep control register bits */
#define ACPI_PM_SLP_TYP_SHIFT 2
#define ACPI_PM_SLP_TYP_MASK 0x1c
#define ACPI_PM_SLP_EN 0x20
/* Sleep status register bit */
#define ACPI_PM_WAK_STS 0x80

enum acpi_pm_event { ACPI_PM_POWER_OFF, ACPI_PM_RESET };

struct vm;
struct acpi_pm;

/* Register the ports on @vm; power off and reset become vm_request_exit(). */
struct acpi_pm *acpi_pm_create(struct vm *vm);

/* For tests: registers not attached to a VM; power off and reset call @event. */
struct acpi_pm *acpi_pm_create_detached(void (*event)(void *ctx, enum acpi_pm_event e),
					void *ctx);
/* Register access, as the bus calls them: @offset from ACPI_PM_SLEEP_CONTROL_PORT. */
void acpi_pm_read(void *opaque, uint64_t offset, void *data, unsigned size);
void acpi_pm_write(void *opaque, uint64_t offset, const void *data, unsigned size);
extern const struct device_ops acpi_pm_ops;

#endif
