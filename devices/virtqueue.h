/*
 * Split virtqueues (virtio 1.x, 2.7). Everything in the rings is written by
 * the guest, so every index, address, length and chain is checked here, and
 * a bad chain is reported to the device instead of followed.
 */
#ifndef MINIVMM_VIRTQUEUE_H
#define MINIVMM_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "../vmm/guest_mem.h"

#define VIRTQ_MAX_SIZE 256 /* the QueueNumMax we offer */
#define VIRTQ_MAX_CHAIN VIRTQ_MAX_SIZE

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4

/* Negotiated ring features. */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX 29

struct virtq {
	uint16_t size; /* a power of 2, at most VIRTQ_MAX_SIZE */
	bool ready;
	bool event_idx;
	bool indirect;
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
	uint16_t last_avail_idx; /* next avail entry to take */
	uint16_t used_idx;	 /* next used entry to fill */
	uint16_t signalled_used; /* used_idx when the guest was last interrupted */
	bool signalled_valid;
};

/* One guest buffer of a chain, already checked to be inside guest RAM. */
struct virtq_buf {
	uint8_t *host;
	uint32_t len;
};

struct virtq_chain {
	uint16_t head;
	uint16_t nout; /* device-readable buffers come first ... */
	uint16_t nin;  /* ... then device-writable ones */
	uint64_t out_len;
	uint64_t in_len;
	struct virtq_buf bufs[VIRTQ_MAX_CHAIN];
};

/* Check that the rings of a queue the driver configured lie in guest RAM. */
int virtq_check_rings(const struct virtq *vq, const struct guest_mem *mem);

/*
 * Take the next available chain. Returns 1 with @chain filled, 0 when the
 * ring is empty, -EINVAL for a malformed chain (@chain->head is then valid:
 * return it with virtq_push(len 0)), -EIO when the ring itself is broken (the
 * avail index jumped past the queue size): the device needs a reset.
 */
int virtq_pop(struct virtq *vq, const struct guest_mem *mem, struct virtq_chain *chain);

/* Put chain @head in the used ring, @len bytes written by the device. */
void virtq_push(struct virtq *vq, const struct guest_mem *mem, uint16_t head, uint32_t len);

/* After pushes: whether the guest asked to be interrupted now (EVENT_IDX or flags). */
bool virtq_should_notify(struct virtq *vq, const struct guest_mem *mem);

/* Copy between a chain's buffers and a flat buffer, from byte @offset of the
 * readable (out) or writable (in) part. Return the bytes copied. */
uint64_t virtq_copy_from_out(const struct virtq_chain *c, uint64_t offset, void *dst, uint64_t len);
uint64_t virtq_copy_to_in(const struct virtq_chain *c, uint64_t offset, const void *src, uint64_t len);

#endif
