/*
 * ACPI tables (RSDP, XSDT, FADT, MADT, DSDT) for a hardware-reduced ACPI
 * machine: how a kernel without MP table support finds its CPUs, its
 * virtio-mmio devices and its power-off and reset registers.
 */
#ifndef MINIVMM_ACPI_H
#define MINIVMM_ACPI_H

#include <stddef.h>
#include <stdint.h>

/* Where the tables go: the half of the BIOS area below the MP table. */
#define ACPI_TABLES_START 0xe0000ULL
#define ACPI_TABLES_SIZE 0x10000ULL

/* Most virtio-mmio devices the DSDT can name (\_SB.VR00 to \_SB.VRFF). */
#define ACPI_MAX_MMIO_DEVICES 256
/* xAPIC IDs are 8 bits, 0xff is broadcast, and the IOAPIC takes ID ncpus. */
#define ACPI_MAX_CPUS 254

struct acpi_mmio_device {
	uint64_t base; /* base + size must stay below 4 GiB (Memory32Fixed) */
	uint32_t size;
	uint32_t gsi; /* IOAPIC input, edge-triggered, active high */
};

/* A Generic Event Device with a power button (devices/ged.h). */
struct acpi_ged {
	uint16_t port; /* the 32-bit event register, SystemIO */
	uint32_t gsi; /* IOAPIC input, level-triggered, active high; no other device's */
};

struct acpi_config {
	int ncpus;
	const struct acpi_mmio_device *devices;
	int ndevices;
	const struct acpi_ged *ged; /* NULL: no \_SB.GED or \_SB.PWRB */
};

/*
 * Lay out the tables in @buf (@cap bytes), which the guest sees at physical
 * @gpa, and set *@rsdp_gpa to the RSDP's guest address (for the zero page's
 * acpi_rsdp_addr). Returns the bytes used, -ENOSPC if they do not fit in
 * @cap, -EINVAL for a configuration the tables cannot describe, -ENOMEM.
 */
long acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, const struct acpi_config *cfg,
		uint64_t *rsdp_gpa);

#endif
