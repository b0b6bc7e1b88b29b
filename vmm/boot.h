/* Loading a bzImage the way a boot loader does, and the state vCPU 0 starts in. */
#ifndef MINIVMM_BOOT_H
#define MINIVMM_BOOT_H

#include <stdint.h>

/* Low-memory layout the loader writes (all inside the first 640 KiB of RAM). */
#define BOOT_GDT_ADDR 0x500ULL
#define BOOT_IDT_ADDR 0x520ULL
#define BOOT_PARAMS_ADDR 0x7000ULL
#define BOOT_PML4_ADDR 0x9000ULL
#define BOOT_PDPT_ADDR 0xa000ULL
#define BOOT_PD_ADDR 0xb000ULL /* four page directories: 4 GiB in 2 MiB pages */
#define BOOT_STACK_TOP 0x8ff0ULL
#define BOOT_CMDLINE_ADDR 0x20000ULL
#define BOOT_CMDLINE_MAX 0x10000ULL /* up to the next 64 KiB */
#define KERNEL_LOAD_ADDR 0x100000ULL
#define KERNEL_ENTRY64_OFFSET 0x200

/* Segment selectors in the boot GDT, the ones Linux's 64-bit boot protocol names. */
#define BOOT_CS 0x10
#define BOOT_DS 0x18
#define BOOT_TSS 0x20

struct vm;

struct boot_info {
	uint64_t entry;	      /* 64-bit entry point */
	uint64_t boot_params; /* RSI at entry */
};

/*
 * Load the kernel, initrd and command line from vm->cfg into guest RAM and
 * write the zero page, MP table, GDT and page tables. Dies with a one-line
 * error naming the file and the reason (status 1, or 2 for a bad argument).
 */
void boot_load(struct vm *vm, struct boot_info *info);

/* Where a @size-byte initrd goes: page aligned, as high as allowed. 0 if it does not fit. */
uint64_t initrd_place(uint64_t size, uint64_t kernel_end, uint64_t ram_top, uint64_t addr_max);

#endif
