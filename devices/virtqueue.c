#include <errno.h>
#include <string.h>

#include "virtqueue.h"

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Offsets in the avail and used rings. */
#define AVAIL_FLAGS 0
#define AVAIL_IDX 2
#define AVAIL_RING 4
#define USED_FLAGS 0
#define USED_IDX 2
#define USED_RING 4
#define VRING_AVAIL_F_NO_INTERRUPT 1

static uint64_t avail_bytes(uint16_t size)
{
	return 6 + 2ULL * size;
}

static uint64_t used_bytes(uint16_t size)
{
	return 6 + 8ULL * size;
}

int virtq_check_rings(const struct virtq *vq, const struct guest_mem *mem)
{
	if (vq->size == 0 || vq->size > VIRTQ_MAX_SIZE || (vq->size & (vq->size - 1)))
		return -EINVAL;
	if (!gpa_ptr(mem, vq->desc_gpa, 16ULL * vq->size) ||
	    !gpa_ptr(mem, vq->avail_gpa, avail_bytes(vq->size)) ||
	    !gpa_ptr(mem, vq->used_gpa, used_bytes(vq->size)))
		return -EFAULT;
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
		return -EINVAL;
	return 0;
}

/* Ring fields are shared with a guest running on other CPUs: access them atomically. */
static uint16_t load16(const struct guest_mem *mem, uint64_t gpa, int order)
{
	uint16_t *p = gpa_ptr(mem, gpa, 2);

	return p ? __atomic_load_n(p, order) : 0;
}

static void store16(const struct guest_mem *mem, uint64_t gpa, uint16_t v, int order)
{
	uint16_t *p = gpa_ptr(mem, gpa, 2);

	if (p)
		__atomic_store_n(p, v, order);
}

static int read_desc(const struct guest_mem *mem, uint64_t table, uint32_t i, struct vring_desc *d)
{
	return gpa_read(mem, table + 16ULL * i, d, sizeof(*d));
}

/* Add one buffer to @c, keeping readable buffers before writable ones. */
static int add_buf(struct virtq_chain *c, const struct guest_mem *mem, const struct vring_desc *d)
{
	bool writable = d->flags & VIRTQ_DESC_F_WRITE;
	uint8_t *host = gpa_ptr(mem, d->addr, d->len);

	if (!host)
		return -EINVAL;
	if (!writable && c->nin)
		return -EINVAL; /* a readable buffer after a writable one */
	if (c->nout + c->nin == VIRTQ_MAX_CHAIN)
		return -EINVAL;
	c->bufs[c->nout + c->nin] = (struct virtq_buf){ host, d->len };
	if (writable) {
		c->nin++;
		c->in_len += d->len;
	} else {
		c->nout++;
		c->out_len += d->len;
	}
	return 0;
}

/* Walk an indirect table: its descriptors may not be indirect themselves. */
static int walk_indirect(struct virtq_chain *c, const struct guest_mem *mem,
			 const struct vring_desc *outer)
{
	uint32_t count = outer->len / 16;
	uint32_t i = 0, steps = 0;
	struct vring_desc d;

	if (outer->len % 16 || count == 0 || count > VIRTQ_MAX_CHAIN ||
	    !gpa_ptr(mem, outer->addr, outer->len))
		return -EINVAL;
	for (;;) {
		if (steps++ == count || read_desc(mem, outer->addr, i, &d))
			return -EINVAL; /* longer than the table: a loop */
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return -EINVAL;
		if (add_buf(c, mem, &d))
			return -EINVAL;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= count)
			return -EINVAL;
		i = d.next;
	}
}

static int walk_chain(struct virtq *vq, const struct guest_mem *mem, struct virtq_chain *c)
{
	uint32_t i = c->head, steps = 0;
	struct vring_desc d;

	for (;;) {
		/* More steps than descriptors means the chain loops. */
		if (steps++ == vq->size || read_desc(mem, vq->desc_gpa, i, &d))
			return -EINVAL;
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* An indirect descriptor must be alone in its chain. */
			if (!vq->indirect || (d.flags & VIRTQ_DESC_F_NEXT) || steps > 1)
				return -EINVAL;
			return walk_indirect(c, mem, &d);
		}
		if (add_buf(c, mem, &d))
			return -EINVAL;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		if (d.next >= vq->size)
			return -EINVAL;
		i = d.next;
	}
}

int virtq_pop(struct virtq *vq, const struct guest_mem *mem, struct virtq_chain *chain)
{
	/* Acquire: the ring entries and descriptors were written before idx. */
	uint16_t avail_idx = load16(mem, vq->avail_gpa + AVAIL_IDX, __ATOMIC_ACQUIRE);
	uint16_t pending = avail_idx - vq->last_avail_idx;

	if (pending == 0)
		return 0;
	if (pending > vq->size)
		return -EIO;
	uint64_t slot = vq->avail_gpa + AVAIL_RING + 2ULL * (vq->last_avail_idx % vq->size);
	uint16_t head = load16(mem, slot, __ATOMIC_RELAXED);

	vq->last_avail_idx++;
	if (vq->event_idx) { /* avail_event: tell the guest how far we have read */
		store16(mem, vq->used_gpa + USED_RING + 8ULL * vq->size, vq->last_avail_idx,
			__ATOMIC_RELEASE);
		/* Store, then load of avail idx on the next pop: only a full fence orders
		 * them, else a guest that skips its notification could be missed. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	chain->nout = chain->nin = 0;
	chain->out_len = chain->in_len = 0;
	if (head >= vq->size)
		return -EIO; /* not even a chain we could hand back */
	chain->head = head;
	return walk_chain(vq, mem, chain) ? -EINVAL : 1;
}

void virtq_push(struct virtq *vq, const struct guest_mem *mem, uint16_t head, uint32_t len)
{
	uint64_t elem = vq->used_gpa + USED_RING + 8ULL * (vq->used_idx % vq->size);
	uint32_t entry[2] = { head, len };

	gpa_write(mem, elem, entry, sizeof(entry));
	vq->used_idx++;
	/* Release: the element is visible before the index that publishes it. */
	store16(mem, vq->used_gpa + USED_IDX, vq->used_idx, __ATOMIC_RELEASE);
}

bool virtq_should_notify(struct virtq *vq, const struct guest_mem *mem)
{
	/* The used index must be visible before we read what the guest wants. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(load16(mem, vq->avail_gpa + AVAIL_FLAGS, __ATOMIC_RELAXED) &
			 VRING_AVAIL_F_NO_INTERRUPT);

	uint16_t used_event = load16(mem, vq->avail_gpa + AVAIL_RING + 2ULL * vq->size,
				     __ATOMIC_RELAXED);
	uint16_t old = vq->signalled_used, new = vq->used_idx;
	bool valid = vq->signalled_valid;

	vq->signalled_used = new;
	vq->signalled_valid = true;
	/* vring_need_event(): did used_idx step over used_event since the last signal? */
	return !valid || (uint16_t)(new - used_event - 1) < (uint16_t)(new - old);
}

/* Copy between @n buffers, starting @offset bytes in, and a flat buffer. */
static uint64_t copy_bufs(const struct virtq_buf *bufs, int n, uint64_t offset, uint8_t *flat,
			  uint64_t len, bool to_guest)
{
	uint64_t done = 0;

	for (int i = 0; i < n && done < len; i++) {
		if (offset >= bufs[i].len) {
			offset -= bufs[i].len;
			continue;
		}
		uint64_t avail = bufs[i].len - offset;
		uint64_t chunk = avail < len - done ? avail : len - done;

		if (to_guest)
			memcpy(bufs[i].host + offset, flat + done, chunk);
		else
			memcpy(flat + done, bufs[i].host + offset, chunk);
		done += chunk;
		offset = 0;
	}
	return done;
}

uint64_t virtq_copy_from_out(const struct virtq_chain *c, uint64_t offset, void *dst, uint64_t len)
{
	return copy_bufs(c->bufs, c->nout, offset, dst, len, false);
}

uint64_t virtq_copy_to_in(const struct virtq_chain *c, uint64_t offset, const void *src, uint64_t len)
{
	return copy_bufs(c->bufs + c->nout, c->nin, offset, (uint8_t *)src, len, true);
}
