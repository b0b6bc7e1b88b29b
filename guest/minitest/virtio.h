/* virtio-mmio (virtio 1.x, 4.2.2) register layout shared by virtio.c and blk.c. */
#ifndef MINITEST_VIRTIO_H
#define MINITEST_VIRTIO_H

#include "minitest.h"
#include "hw.h"

#define VIRTIO_MAGIC		0x74726976	/* "virt" */
#define VIRTIO_ID_NET		1
#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_CONSOLE	3

enum {
	VR_MAGIC = 0x000,
	VR_VERSION = 0x004,
	VR_DEVICE_ID = 0x008,
	VR_DEVICE_FEATURES = 0x010,
	VR_DEVICE_FEATURES_SEL = 0x014,
	VR_DRIVER_FEATURES = 0x020,
	VR_DRIVER_FEATURES_SEL = 0x024,
	VR_QUEUE_SEL = 0x030,
	VR_QUEUE_NUM_MAX = 0x034,
	VR_QUEUE_NUM = 0x038,
	VR_QUEUE_READY = 0x044,
	VR_QUEUE_NOTIFY = 0x050,
	VR_INTERRUPT_STATUS = 0x060,
	VR_INTERRUPT_ACK = 0x064,
	VR_STATUS = 0x070,
	VR_QUEUE_DESC_LOW = 0x080,
	VR_QUEUE_DESC_HIGH = 0x084,
	VR_QUEUE_DRIVER_LOW = 0x090,
	VR_QUEUE_DRIVER_HIGH = 0x094,
	VR_QUEUE_DEVICE_LOW = 0x0a0,
	VR_QUEUE_DEVICE_HIGH = 0x0a4,
	VR_CONFIG_GENERATION = 0x0fc,
	VR_CONFIG = 0x100,
};

#define VS_ACKNOWLEDGE	0x01
#define VS_DRIVER	0x02
#define VS_DRIVER_OK	0x04
#define VS_FEATURES_OK	0x08
#define VS_NEEDS_RESET	0x40

#define VISR_USED	0x1
#define VISR_CONFIG	0x2

#define VF_VERSION_1	(1ULL << 32)

#define VD_NEXT		1
#define VD_WRITE	2
#define VD_INDIRECT	4

#define VRING_AVAIL_NO_INTERRUPT	1
#define VRING_USED_NO_NOTIFY		1

struct vdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* A split virtqueue of up to 256 entries in one 12 KiB (3-page) area. */
#define VQ_MAX		256
#define VQ_MEM		(3 * 4096)

struct vq {
	const struct vdev *v;
	unsigned idx;			/* queue index for QueueSel/Notify */
	uint16_t qsz;
	struct vdesc *desc;
	volatile uint16_t *avail;	/* flags, idx, ring[qsz], used_event */
	volatile uint8_t *used;		/* flags, idx, ring[qsz], avail_event */
	uint16_t avail_idx, last_used;
};

static inline uint32_t vr(const struct vdev *v, unsigned reg)
{
	return mmio_read32(v->r.base + reg);
}

static inline void vw(const struct vdev *v, unsigned reg, uint32_t val)
{
	mmio_write32(v->r.base + reg, val);
}

/* virtio.c: the generic part of Linux's virtio_mmio + virtio_ring. */
bool vdev_reset(const struct vdev *v);
uint64_t vdev_features(const struct vdev *v);
const char *vdev_negotiate(struct vdev *v, uint64_t wanted, uint64_t *feat);
void vdev_driver_ok(const struct vdev *v);
const char *vq_setup(struct vq *q, const struct vdev *v, unsigned idx,
		     void *mem, unsigned max);
void vq_publish(struct vq *q, uint16_t head);
void vq_kick(struct vq *q);
bool vq_pop(struct vq *q, uint32_t *id, uint32_t *len);
void *dma_alloc(uint64_t bytes);
void *dma_reserve(uint64_t bytes);

static inline uint16_t vq_used_idx(const struct vq *q)
{
	return *(volatile const uint16_t *)(q->used + 2);
}

static inline bool vq_pending(const struct vq *q)
{
	return vq_used_idx(q) != q->last_used;
}

#endif
