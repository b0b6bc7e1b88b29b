/*
 * The guest driver's side of virtio, shared by the virtio unit tests
 * (test_virtqueue.c, test_virtio_mmio.c, test_virtio_blk.c,
 * test_virtio_console.c, test_virtio_net.c). Each test program is a single
 * file, so this is a header of static functions; it also owns the guest RAM.
 *
 *   Guest RAM    mem and ram, mapped by guest_ram_map(); put16(), get16()
 *                and get32() at a guest physical address.
 *   Split rings  desc_at() writes a descriptor, avail_offer() publishes a
 *                head, used_elem() reads a used entry, all at given GPAs.
 *                struct test_ring is a driver's bookkeeping for one queue:
 *                chains built in descriptors handed out round-robin
 *                (ring_add_chain, ring_add_desc), used entries taken in
 *                order (ring_next_used, ring_expect_used).
 *   virtio-mmio  REG_* register offsets and status-bit shorthands; 32-bit
 *                register access, the device's features, feature negotiation
 *                and queue setup as a driver does them.
 *   eventfds     eventfd_count() drains an irq or queue-notify eventfd.
 */
#ifndef MINIVMM_VIRTIO_HARNESS_H
#define MINIVMM_VIRTIO_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "../../devices/virtio_mmio.h"
#include "../../vmm/guest_mem.h"

/* ---- Guest RAM ---- */

static struct guest_mem mem;
static uint8_t *ram; /* where guest physical address 0 is mapped */

/* Lay out and map @size bytes of guest RAM (unmap with guest_mem_unmap(&mem)). */
static inline int guest_ram_map(uint64_t size)
{
	guest_mem_layout(&mem, size);
	if (guest_mem_map(&mem))
		return -1;
	ram = mem.regions[0].host;
	return 0;
}

static inline void put16(uint64_t gpa, uint16_t v)
{
	memcpy(ram + gpa, &v, 2);
}

static inline uint16_t get16(uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, ram + gpa, 2);
	return v;
}

static inline uint32_t get32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, ram + gpa, 4);
	return v;
}

/* ---- Split rings (virtio 1.x, 2.7), by guest physical address ---- */

/* Descriptor @i of the table at @table. */
static inline void desc_at(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
			   uint16_t next)
{
	uint8_t *d = ram + table + 16ULL * i;

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
}

/* Put @head in the next slot of the avail ring at @avail (of @size entries) and publish it. */
static inline void avail_offer(uint64_t avail, uint16_t size, uint16_t head)
{
	uint16_t idx = get16(avail + 2);

	put16(avail + 4 + 2ULL * (idx % size), head);
	__atomic_thread_fence(__ATOMIC_RELEASE); /* the entry before the index, as a driver does */
	put16(avail + 2, idx + 1);
}

/* Entry @slot of the used ring at @used. */
static inline void used_elem(uint64_t used, uint16_t slot, uint32_t *id, uint32_t *len)
{
	*id = get32(used + 4 + 8ULL * slot);
	*len = get32(used + 8 + 8ULL * slot);
}

/* ---- One queue, as its driver keeps track of it ---- */

struct test_ring {
	uint64_t desc, avail, used; /* where the three parts are */
	uint16_t size;
	uint16_t next_desc; /* the next descriptor to hand out */
	uint16_t used_seen; /* used entries taken so far */
};

/* One buffer of a chain: device-readable, or device-writable if @write. */
struct ring_buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

static inline void ring_offer(const struct test_ring *r, uint16_t head)
{
	avail_offer(r->avail, r->size, head);
}

/* Chain @n buffers in the next free descriptors and offer the chain; returns its head. */
static inline uint16_t ring_add_chain(struct test_ring *r, const struct ring_buf *bufs, int n)
{
	uint16_t head = r->next_desc;

	for (int i = 0; i < n; i++) {
		uint16_t me = (head + i) % r->size, next = (me + 1) % r->size;
		uint16_t flags =
		    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) | (bufs[i].write ? VIRTQ_DESC_F_WRITE : 0);

		desc_at(r->desc, me, bufs[i].gpa, bufs[i].len, flags, next);
	}
	r->next_desc = (head + n) % r->size;
	ring_offer(r, head);
	return head;
}

/* A chain of one descriptor written as given (INDIRECT, a NEXT that loops, ...); returns it. */
static inline uint16_t ring_add_desc(struct test_ring *r, uint64_t addr, uint32_t len,
				     uint16_t flags, uint16_t next)
{
	uint16_t head = r->next_desc;

	desc_at(r->desc, head, addr, len, flags, next);
	r->next_desc = (head + 1) % r->size;
	ring_offer(r, head);
	return head;
}

static inline uint16_t ring_used_idx(const struct test_ring *r)
{
	return get16(r->used + 2);
}

/* The next used entry, which must be there. */
static inline void ring_next_used(struct test_ring *r, uint32_t *id, uint32_t *len)
{
	assert_int_not_equal(ring_used_idx(r), r->used_seen);
	used_elem(r->used, r->used_seen % r->size, id, len);
	r->used_seen++;
}

/* The next used entry must be chain @head with @len bytes written. */
static inline void ring_expect_used(struct test_ring *r, uint16_t head, uint32_t len)
{
	uint32_t id, l;

	ring_next_used(r, &id, &l);
	assert_int_equal(id, head);
	assert_int_equal(l, len);
}

/* ---- The virtio-mmio transport, driven as a driver drives it ---- */

/* Register offsets: the REG_* enum in devices/virtio_mmio.h */

/* Device status bits */
#define ACK VIRTIO_STATUS_ACKNOWLEDGE
#define DRIVER VIRTIO_STATUS_DRIVER
#define FEATURES_OK VIRTIO_STATUS_FEATURES_OK
#define DRIVER_OK VIRTIO_STATUS_DRIVER_OK
#define NEEDS_RESET VIRTIO_STATUS_NEEDS_RESET
#define LIVE (ACK | DRIVER | FEATURES_OK | DRIVER_OK)

static inline uint32_t mmio_read32(struct virtio_mmio *t, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	virtio_mmio_read(t, off, &v, 4);
	return v;
}

static inline void mmio_write32(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	virtio_mmio_write(t, off, &v, 4);
}

/* The features the device offers, both words of DeviceFeatures. */
static inline uint64_t device_features(struct virtio_mmio *t)
{
	uint64_t f;

	mmio_write32(t, REG_DEVICE_FEATURES_SEL, 0);
	f = mmio_read32(t, REG_DEVICE_FEATURES);
	mmio_write32(t, REG_DEVICE_FEATURES_SEL, 1);
	return f | (uint64_t)mmio_read32(t, REG_DEVICE_FEATURES) << 32;
}

/* Both words of DriverFeatures. */
static inline void driver_features(struct virtio_mmio *t, uint64_t f)
{
	mmio_write32(t, REG_DRIVER_FEATURES_SEL, 0);
	mmio_write32(t, REG_DRIVER_FEATURES, (uint32_t)f);
	mmio_write32(t, REG_DRIVER_FEATURES_SEL, 1);
	mmio_write32(t, REG_DRIVER_FEATURES, f >> 32);
}

/* Reset, ACKNOWLEDGE, DRIVER, features @f, FEATURES_OK; returns the status read back. */
static inline uint32_t negotiate(struct virtio_mmio *t, uint64_t f)
{
	mmio_write32(t, REG_STATUS, 0);
	mmio_write32(t, REG_STATUS, ACK);
	mmio_write32(t, REG_STATUS, ACK | DRIVER);
	driver_features(t, f);
	mmio_write32(t, REG_STATUS, ACK | DRIVER | FEATURES_OK);
	return mmio_read32(t, REG_STATUS);
}

/* Select queue @q and give it @size entries with rings at @desc/@avail/@used (not ready yet). */
static inline void setup_queue(struct virtio_mmio *t, uint32_t q, uint32_t size, uint64_t desc,
			       uint64_t avail, uint64_t used)
{
	mmio_write32(t, REG_QUEUE_SEL, q);
	mmio_write32(t, REG_QUEUE_NUM, size);
	mmio_write32(t, REG_QUEUE_DESC_LOW, (uint32_t)desc);
	mmio_write32(t, REG_QUEUE_DESC_HIGH, desc >> 32);
	mmio_write32(t, REG_QUEUE_DRIVER_LOW, (uint32_t)avail);
	mmio_write32(t, REG_QUEUE_DRIVER_HIGH, avail >> 32);
	mmio_write32(t, REG_QUEUE_DEVICE_LOW, (uint32_t)used);
	mmio_write32(t, REG_QUEUE_DEVICE_HIGH, used >> 32);
}

/* ---- eventfds ---- */

/* What was written to @fd since the last call (0 if nothing: the fds are non-blocking). */
static inline uint64_t eventfd_count(int fd)
{
	uint64_t n = 0;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

#endif
