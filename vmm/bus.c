#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"

/* Index of the first range whose base is above @addr. */
static size_t upper_bound(const struct bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (bus->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint64_t range_last(const struct bus_range *r)
{
	return r->base + (r->len - 1);
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_read_fn read,
		 bus_write_fn write, void *opaque)
{
	if (len == 0 || base + (len - 1) < base)
		return -EINVAL;

	size_t pos = upper_bound(bus, base);

	if (pos > 0 && range_last(&bus->ranges[pos - 1]) >= base)
		return -EEXIST;
	if (pos < bus->count && bus->ranges[pos].base <= base + (len - 1))
		return -EEXIST;

	if (bus->count == bus->capacity) {
		size_t cap = bus->capacity ? bus->capacity * 2 : 8;
		struct bus_range *r = realloc(bus->ranges, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		bus->ranges = r;
		bus->capacity = cap;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos], (bus->count - pos) * sizeof(*bus->ranges));
	bus->ranges[pos] = (struct bus_range){ base, len, read, write, opaque };
	bus->count++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr)
{
	size_t pos = upper_bound(bus, addr);

	if (pos == 0)
		return NULL;
	const struct bus_range *r = &bus->ranges[pos - 1];

	return addr <= range_last(r) ? r : NULL;
}

/* The range that holds all of [addr, addr + size), or an error code. */
static int find_whole(const struct bus *bus, uint64_t addr, unsigned size,
		      const struct bus_range **out)
{
	const struct bus_range *r = bus_find(bus, addr);

	if (!r)
		return -ENOENT;
	if (size - 1 > range_last(r) - addr)
		return -EINVAL;
	*out = r;
	return 0;
}

int bus_read(const struct bus *bus, uint64_t addr, void *data, unsigned size)
{
	const struct bus_range *r;
	int err = find_whole(bus, addr, size, &r);

	if (err || !r->read) {
		memset(data, 0xff, size);
		return err ? err : 0;
	}
	r->read(r->opaque, addr - r->base, data, size);
	return 0;
}

int bus_write(const struct bus *bus, uint64_t addr, const void *data, unsigned size)
{
	const struct bus_range *r;
	int err = find_whole(bus, addr, size, &r);

	if (err)
		return err;
	if (r->write)
		r->write(r->opaque, addr - r->base, data, size);
	return 0;
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	memset(bus, 0, sizeof(*bus));
}
