/*
 * The virtio-mmio transport, version 2 (virtio 1.x, 4.2). A device (blk, net,
 * console) supplies its ID, features, config space and a queue handler; the
 * transport owns registers, feature negotiation, the status state machine,
 * queue setup and interrupts. Register accesses come from vCPU threads, queue
 * work runs on the I/O thread (notifications arrive as ioeventfds); one lock
 * per transport orders them.
 */
#ifndef MINIVMM_VIRTIO_MMIO_H
#define MINIVMM_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtqueue.h"

#define VIRTIO_MMIO_SIZE 0x200
#define VIRTIO_MMIO_MAX_QUEUES 4
#define VIRTIO_F_VERSION_1 32

/* Device status bits */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

/*
 * Register offsets in the MMIO window: the virtio 1.x spec's MMIO register map
 * (4.2.2), so a public interface: the transport decodes them, unit tests and
 * fuzzers drive the transport through them. Device config space starts at
 * REG_CONFIG.
 */
enum {
	REG_MAGIC = 0x000,
	REG_VERSION = 0x004,
	REG_DEVICE_ID = 0x008,
	REG_VENDOR_ID = 0x00c,
	REG_DEVICE_FEATURES = 0x010,
	REG_DEVICE_FEATURES_SEL = 0x014,
	REG_DRIVER_FEATURES = 0x020,
	REG_DRIVER_FEATURES_SEL = 0x024,
	REG_QUEUE_SEL = 0x030,
	REG_QUEUE_NUM_MAX = 0x034,
	REG_QUEUE_NUM = 0x038,
	REG_QUEUE_READY = 0x044,
	REG_QUEUE_NOTIFY = 0x050,
	REG_INTERRUPT_STATUS = 0x060,
	REG_INTERRUPT_ACK = 0x064,
	REG_STATUS = 0x070,
	REG_QUEUE_DESC_LOW = 0x080,
	REG_QUEUE_DESC_HIGH = 0x084,
	REG_QUEUE_DRIVER_LOW = 0x090,
	REG_QUEUE_DRIVER_HIGH = 0x094,
	REG_QUEUE_DEVICE_LOW = 0x0a0,
	REG_QUEUE_DEVICE_HIGH = 0x0a4,
	REG_CONFIG_GENERATION = 0x0fc,
	REG_CONFIG = 0x100,
};

struct virtio_mmio;
struct vm;

struct virtio_device_ops {
	const char *name;
	uint32_t device_id;
	int nqueues;
	/* Queue @q was notified (or has work): process it. Transport lock held. */
	void (*queue_notify)(void *dev, struct virtio_mmio *t, int q);
	/* The driver reset the device: drop per-session device state. Lock held. */
	void (*reset)(void *dev);
	/* Config space writes (most devices have none); @offset/@size checked. */
	void (*config_write)(void *dev, uint64_t offset, const void *data, unsigned size);
};

struct virtio_mmio {
	pthread_mutex_t lock;
	const struct virtio_device_ops *ops;
	void *dev;
	const struct guest_mem *mem;
	uint64_t device_features;
	const uint8_t *config; /* the device's config space, read by the guest */
	uint32_t config_size;

	/* Driver-visible registers */
	uint32_t status;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint64_t driver_features;
	uint32_t queue_sel;
	uint32_t interrupt_status;
	uint32_t config_generation;
	struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];

	/* Host side */
	int irq_fd;		  /* irqfd: a write interrupts the guest */
	int notify_fds[VIRTIO_MMIO_MAX_QUEUES]; /* ioeventfds on QueueNotify */
	struct virtio_notify {
		struct virtio_mmio *t;
		int q;
	} notify[VIRTIO_MMIO_MAX_QUEUES]; /* event-loop handles of the notify fds */
	uint64_t base;
	uint32_t gsi;
};

/* A transport not attached to a VM (unit tests, fuzzing): interrupts go to @irq_fd if >= 0. */
void virtio_mmio_init(struct virtio_mmio *t, const struct virtio_device_ops *ops, void *dev,
		      const struct guest_mem *mem, uint64_t features, const void *config,
		      uint32_t config_size);

/*
 * Attach to @vm: take the next MMIO window and GSI, register the range,
 * ioeventfds and irqfd, serve notifications on the event loop, describe the
 * device for ACPI and the command line. Dies on failure (status 1).
 */
void virtio_mmio_attach(struct virtio_mmio *t, struct vm *vm);

void virtio_mmio_read(void *opaque, uint64_t offset, void *data, unsigned size);
void virtio_mmio_write(void *opaque, uint64_t offset, const void *data, unsigned size);

/* The device put buffers in queue @q's used ring: interrupt if the guest wants it. */
void virtio_mmio_used(struct virtio_mmio *t, int q);
/* Queue @q has work: have the I/O thread serve it (as a guest notification would). */
void virtio_mmio_kick(struct virtio_mmio *t, uint32_t q);
/* The driver broke the rules: set DEVICE_NEEDS_RESET and tell it. */
void virtio_mmio_set_broken(struct virtio_mmio *t, const char *why);
/* Whether the driver has features bit @bit. */
bool virtio_mmio_has_feature(const struct virtio_mmio *t, unsigned bit);

/* Transport state for snapshots; device state is saved by the device. */
long virtio_mmio_save(struct virtio_mmio *t, void *buf, size_t cap);
int virtio_mmio_load(struct virtio_mmio *t, const void *buf, size_t len);
void virtio_mmio_reset(struct virtio_mmio *t);
void virtio_mmio_destroy(struct virtio_mmio *t);

#endif
