/*
 * Guest RAM: one host mapping per KVM memory slot, and the one checked
 * helper through which every guest-physical access goes.
 */
#ifndef MINIVMM_GUEST_MEM_H
#define MINIVMM_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

/* RAM above this goes above 4 GiB, leaving a hole for MMIO (LAPIC, IOAPIC, devices). */
#define LOW_RAM_MAX (3 * GiB)
#define HIGH_RAM_START (4 * GiB)
#define MAX_MEM_REGIONS 2

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct guest_mem {
	struct mem_region regions[MAX_MEM_REGIONS];
	int nregions;
	uint64_t ram_size;
};

/* Split @ram_size bytes into the low and high regions (no host memory yet). */
void guest_mem_layout(struct guest_mem *mem, uint64_t ram_size);

/* Map host memory for every region; returns -errno. */
int guest_mem_map(struct guest_mem *mem);
void guest_mem_unmap(struct guest_mem *mem);

/*
 * Host pointer for guest-physical [gpa, gpa + len), or NULL unless the whole
 * range lies in one RAM region. Overflow-safe for any guest-supplied values.
 */
void *gpa_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Copy to/from guest memory through gpa_ptr; return 0 or -EFAULT. */
int gpa_write(const struct guest_mem *mem, uint64_t gpa, const void *src, uint64_t len);
int gpa_read(const struct guest_mem *mem, uint64_t gpa, void *dst, uint64_t len);

#endif
