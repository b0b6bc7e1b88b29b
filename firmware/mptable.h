/* Intel MultiProcessor Specification 1.4 tables: how a guest without ACPI finds its CPUs. */
#ifndef MINIVMM_MPTABLE_H
#define MINIVMM_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

#define IOAPIC_ADDR 0xfec00000U
#define LAPIC_ADDR 0xfee00000U

/* Bytes the tables need for @ncpus. */
size_t mptable_size(int ncpus);

/*
 * Write the floating pointer and the configuration table into @buf, which
 * the guest sees at physical @gpa. @buf holds mptable_size(ncpus) bytes.
 */
void mptable_build(uint8_t *buf, uint32_t gpa, int ncpus);

#endif
