/*
 * An address space (port I/O or MMIO) as a sorted table of device ranges.
 * Devices register before the vCPUs start; lookups afterwards need no lock.
 */
#ifndef MINIVMM_BUS_H
#define MINIVMM_BUS_H

#include <stddef.h>
#include <stdint.h>

/* @offset is relative to the range's base; @size is 1, 2, 4 or 8. */
typedef void (*bus_read_fn)(void *opaque, uint64_t offset, void *data, unsigned size);
typedef void (*bus_write_fn)(void *opaque, uint64_t offset, const void *data, unsigned size);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_read_fn read;
	bus_write_fn write;
	void *opaque;
};

struct bus {
	struct bus_range *ranges;
	size_t count;
	size_t capacity;
};

/* Returns 0, -EINVAL for an empty or wrapping range, -EEXIST on overlap, -ENOMEM. */
int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_read_fn read,
		 bus_write_fn write, void *opaque);

/* The range holding @addr, or NULL. */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr);

/*
 * Dispatch an access. Returns 0 if a device took it, -ENOENT if nothing is
 * there (then reads return all-ones), -EINVAL if it straddles a range's end.
 */
int bus_read(const struct bus *bus, uint64_t addr, void *data, unsigned size);
int bus_write(const struct bus *bus, uint64_t addr, const void *data, unsigned size);

void bus_destroy(struct bus *bus);

#endif
