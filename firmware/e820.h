/* The BIOS memory map handed to the kernel in the zero page. */
#ifndef MINIVMM_E820_H
#define MINIVMM_E820_H

#include <stdint.h>

#include "../vmm/guest_mem.h"

#define E820_RAM 1
#define E820_RESERVED 2

/* Fixed low-memory layout shared by the boot loader and the tables. */
#define BASE_MEM_END 0xa0000ULL	/* 640 KiB of conventional memory */
#define BIOS_AREA_START 0xe0000ULL /* ACPI tables, MP table: found by scanning here */
#define MPTABLE_START 0xf0000ULL
#define HIMEM_START 0x100000ULL

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

#define E820_MAX_ENTRIES 8

/* Fill @table from the RAM layout of @mem; returns the number of entries. */
int e820_build(const struct guest_mem *mem, struct e820_entry *table);

#endif
