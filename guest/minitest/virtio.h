/* virtio-mmio (virtio 1.x, 4.2.2) register layout shared by virtio.c and blk.c. */
#ifndef MINITEST_VIRTIO_H
#define MINITEST_VIRTIO_H

#include "minitest.h"
#include "hw.h"

#define VIRTIO_MAGIC		0x74726976	/* "virt" */
#define VIRTIO_ID_BLOCK		2

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

static inline uint32_t vr(const struct vdev *v, unsigned reg)
{
	return mmio_read32(v->r.base + reg);
}

static inline void vw(const struct vdev *v, unsigned reg, uint32_t val)
{
	mmio_write32(v->r.base + reg, val);
}

#endif
