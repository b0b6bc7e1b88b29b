#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../vmm/log.h"
#include "../vmm/vm.h"
#include "virtio_mmio.h"

#define MAGIC 0x74726976 /* "virt" */
#define VENDOR_ID 0x4d564d4d /* "MMVM" */
#define INT_USED_BUFFER 1
#define INT_CONFIG_CHANGE 2
#define TRANSPORT_STATE_VERSION 1

void virtio_mmio_init(struct virtio_mmio *t, const struct virtio_device_ops *ops, void *dev,
		      const struct guest_mem *mem, uint64_t features, const void *config,
		      uint32_t config_size)
{
	memset(t, 0, sizeof(*t));
	if (ops->nqueues > VIRTIO_MMIO_MAX_QUEUES)
		die(EXIT_RUNTIME, "%s: %d queues, the transport has room for %d", ops->name,
		    ops->nqueues, VIRTIO_MMIO_MAX_QUEUES);
	pthread_mutex_init(&t->lock, NULL);
	t->ops = ops;
	t->dev = dev;
	t->mem = mem;
	t->device_features = features | 1ULL << VIRTIO_F_VERSION_1;
	t->config = config;
	t->config_size = config_size;
	t->irq_fd = -1;
	for (int q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
		t->notify_fds[q] = -1;
}

static void interrupt(struct virtio_mmio *t, uint32_t why)
{
	uint64_t one = 1;

	t->interrupt_status |= why;
	if (t->irq_fd >= 0 && write(t->irq_fd, &one, sizeof(one)) < 0)
		log_debug("%s: irqfd: %s", t->ops->name, strerror(errno));
}

void virtio_mmio_used(struct virtio_mmio *t, int q)
{
	if (virtq_should_notify(&t->queues[q], t->mem))
		interrupt(t, INT_USED_BUFFER);
}

void virtio_mmio_set_broken(struct virtio_mmio *t, const char *why)
{
	if (t->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	log_debug("%s: device needs reset: %s", t->ops->name, why);
	t->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (t->status & VIRTIO_STATUS_DRIVER_OK)
		interrupt(t, INT_CONFIG_CHANGE);
}

bool virtio_mmio_has_feature(const struct virtio_mmio *t, unsigned bit)
{
	return bit < 64 && (t->driver_features >> bit) & 1;
}

/* Lock held. Back to the state after power-on; the guest's rings are forgotten. */
static void reset_locked(struct virtio_mmio *t)
{
	t->status = 0;
	t->device_features_sel = t->driver_features_sel = 0;
	t->driver_features = 0;
	t->queue_sel = 0;
	t->interrupt_status = 0;
	memset(t->queues, 0, sizeof(t->queues));
	if (t->ops->reset)
		t->ops->reset(t->dev);
}

void virtio_mmio_reset(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	reset_locked(t);
	pthread_mutex_unlock(&t->lock);
}

static struct virtq *selected_queue(struct virtio_mmio *t)
{
	return t->queue_sel < (uint32_t)t->ops->nqueues ? &t->queues[t->queue_sel] : NULL;
}

static uint32_t read_reg(struct virtio_mmio *t, uint64_t reg)
{
	struct virtq *vq = selected_queue(t);

	switch (reg) {
	case REG_MAGIC: return MAGIC;
	case REG_VERSION: return 2;
	case REG_DEVICE_ID: return t->ops->device_id;
	case REG_VENDOR_ID: return VENDOR_ID;
	case REG_DEVICE_FEATURES:
		return t->device_features_sel < 2 ? t->device_features >> (32 * t->device_features_sel)
						  : 0;
	case REG_QUEUE_NUM_MAX: return vq ? VIRTQ_MAX_SIZE : 0;
	case REG_QUEUE_READY: return vq ? vq->ready : 0;
	case REG_INTERRUPT_STATUS: return t->interrupt_status;
	case REG_STATUS: return t->status;
	case REG_CONFIG_GENERATION: return t->config_generation;
	default: return 0; /* write-only or reserved */
	}
}

static bool features_acceptable(const struct virtio_mmio *t)
{
	return !(t->driver_features & ~t->device_features) &&
	       virtio_mmio_has_feature(t, VIRTIO_F_VERSION_1);
}

/* The driver may only add status bits, in order; 0 resets. */
static void write_status(struct virtio_mmio *t, uint32_t v)
{
	if (v == 0) {
		reset_locked(t);
		return;
	}
	if ((t->status & ~v) & ~VIRTIO_STATUS_NEEDS_RESET) {
		virtio_mmio_set_broken(t, "driver cleared status bits");
		return;
	}
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(t->status & VIRTIO_STATUS_FEATURES_OK) &&
	    !features_acceptable(t))
		v &= ~VIRTIO_STATUS_FEATURES_OK; /* the driver reads it back and gives up */
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_mmio_set_broken(t, "DRIVER_OK without FEATURES_OK");
		return;
	}
	t->status = v | (t->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void write_driver_features(struct virtio_mmio *t, uint32_t v)
{
	/* Only between DRIVER and FEATURES_OK, as the spec orders it. */
	if (!(t->status & VIRTIO_STATUS_DRIVER) || (t->status & VIRTIO_STATUS_FEATURES_OK) ||
	    t->driver_features_sel > 1)
		return;
	unsigned shift = 32 * t->driver_features_sel;

	t->driver_features = (t->driver_features & ~(0xffffffffULL << shift)) | (uint64_t)v << shift;
}

static void set_half(uint64_t *field, bool high, uint32_t v)
{
	*field = high ? (*field & 0xffffffffULL) | (uint64_t)v << 32
		      : (*field & ~0xffffffffULL) | v;
}

static void queue_ready(struct virtio_mmio *t, struct virtq *vq, uint32_t v)
{
	if (!v) {
		vq->ready = false;
		return;
	}
	if (virtq_check_rings(vq, t->mem)) {
		virtio_mmio_set_broken(t, "queue rings outside RAM or bad size");
		return;
	}
	vq->event_idx = virtio_mmio_has_feature(t, VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = virtio_mmio_has_feature(t, VIRTIO_RING_F_INDIRECT_DESC);
	vq->ready = true;
}

/* Queue layout registers only mean something while the queue is not live. */
static void write_queue_reg(struct virtio_mmio *t, uint64_t reg, uint32_t v)
{
	struct virtq *vq = selected_queue(t);

	if (!vq || (vq->ready && reg != REG_QUEUE_READY))
		return;
	switch (reg) {
	case REG_QUEUE_NUM: vq->size = v <= VIRTQ_MAX_SIZE ? v : 0; break;
	case REG_QUEUE_READY: queue_ready(t, vq, v); break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH: set_half(&vq->desc_gpa, reg & 4, v); break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH: set_half(&vq->avail_gpa, reg & 4, v); break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH: set_half(&vq->used_gpa, reg & 4, v); break;
	}
}

void virtio_mmio_kick(struct virtio_mmio *t, uint32_t q)
{
	uint64_t one = 1;

	/* Without an ioeventfd the write lands here; the work still goes to the I/O thread. */
	if (q < (uint32_t)t->ops->nqueues && t->notify_fds[q] >= 0 &&
	    write(t->notify_fds[q], &one, sizeof(one)) < 0)
		log_debug("%s: notify: %s", t->ops->name, strerror(errno));
}

static void write_reg(struct virtio_mmio *t, uint64_t reg, uint32_t v)
{
	switch (reg) {
	case REG_DEVICE_FEATURES_SEL: t->device_features_sel = v; break;
	case REG_DRIVER_FEATURES: write_driver_features(t, v); break;
	case REG_DRIVER_FEATURES_SEL: t->driver_features_sel = v; break;
	case REG_QUEUE_SEL: t->queue_sel = v; break;
	case REG_QUEUE_NOTIFY: virtio_mmio_kick(t, v); break;
	case REG_INTERRUPT_ACK: t->interrupt_status &= ~v; break;
	case REG_STATUS: write_status(t, v); break;
	default: write_queue_reg(t, reg, v); break;
	}
}

/* Config space: any width up to 8 inside it; outside it reads as zero. */
static bool config_access(const struct virtio_mmio *t, uint64_t offset, unsigned size)
{
	return offset >= REG_CONFIG && offset - REG_CONFIG <= t->config_size &&
	       size <= t->config_size - (offset - REG_CONFIG);
}

void virtio_mmio_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	struct virtio_mmio *t = opaque;

	memset(data, 0, size);
	pthread_mutex_lock(&t->lock);
	if (config_access(t, offset, size)) {
		memcpy(data, t->config + (offset - REG_CONFIG), size);
	} else if (offset < REG_CONFIG && size == 4 && !(offset & 3)) {
		uint32_t v = read_reg(t, offset);

		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct virtio_mmio *t = opaque;
	uint32_t v;

	pthread_mutex_lock(&t->lock);
	if (config_access(t, offset, size)) {
		if (t->ops->config_write)
			t->ops->config_write(t->dev, offset - REG_CONFIG, data, size);
	} else if (offset < REG_CONFIG && size == 4 && !(offset & 3)) {
		memcpy(&v, data, 4);
		write_reg(t, offset, v);
	}
	pthread_mutex_unlock(&t->lock);
}

/* The I/O thread's side of a queue notification. */
static void on_notify(struct virtio_mmio *t, int q)
{
	uint64_t count;

	if (read(t->notify_fds[q], &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_debug("%s: notify read: %s", t->ops->name, strerror(errno));
	pthread_mutex_lock(&t->lock);
	if ((t->status & VIRTIO_STATUS_DRIVER_OK) && !(t->status & VIRTIO_STATUS_NEEDS_RESET) &&
	    t->queues[q].ready)
		t->ops->queue_notify(t->dev, t, q);
	pthread_mutex_unlock(&t->lock);
}

static void notify_event(void *opaque, uint32_t events)
{
	struct virtio_notify *h = opaque;

	(void)events;
	on_notify(h->t, h->q);
}

static int new_eventfd(const char *what, const struct virtio_mmio *t)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		die(EXIT_RUNTIME, "%s: %s eventfd: %s", t->ops->name, what, strerror(errno));
	return fd;
}

/* QueueNotify writes of value q signal notify_fds[q] inside KVM, never exiting to us. */
static void attach_queue(struct virtio_mmio *t, struct vm *vm, int q)
{
	struct kvm_ioeventfd io = {
		.datamatch = q, .addr = t->base + REG_QUEUE_NOTIFY, .len = 4,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	t->notify_fds[q] = new_eventfd("notify", t);
	io.fd = t->notify_fds[q];
	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0)
		die(EXIT_RUNTIME, "%s: KVM_IOEVENTFD: %s", t->ops->name, strerror(errno));
	t->notify[q] = (struct virtio_notify){ t, q };
	if (event_loop_add(&vm->loop, t->notify_fds[q], EPOLLIN, notify_event, &t->notify[q]) < 0)
		die(EXIT_RUNTIME, "%s: event loop full", t->ops->name);
}

void virtio_mmio_attach(struct virtio_mmio *t, struct vm *vm)
{
	struct kvm_irqfd irqfd;

	if (vm_alloc_mmio(vm, VIRTIO_MMIO_SIZE, &t->base, &t->gsi) < 0)
		die(EXIT_RUNTIME, "%s: no room for another virtio-mmio device", t->ops->name);
	if (bus_register(&vm->mmio, t->base, VIRTIO_MMIO_SIZE, virtio_mmio_read,
			 virtio_mmio_write, t) < 0)
		die(EXIT_RUNTIME, "%s: MMIO window %#llx taken", t->ops->name,
		    (unsigned long long)t->base);
	t->irq_fd = new_eventfd("irq", t);
	irqfd = (struct kvm_irqfd){ .fd = t->irq_fd, .gsi = t->gsi };
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		die(EXIT_RUNTIME, "%s: KVM_IRQFD: %s", t->ops->name, strerror(errno));
	for (int q = 0; q < t->ops->nqueues; q++)
		attach_queue(t, vm, q);
}

struct virtio_mmio_state {
	uint32_t version;
	uint32_t status, device_features_sel, driver_features_sel, queue_sel;
	uint32_t interrupt_status, config_generation;
	uint64_t driver_features;
	struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];
};

long virtio_mmio_save(struct virtio_mmio *t, void *buf, size_t cap)
{
	struct virtio_mmio_state s;

	if (cap < sizeof(s))
		return -ENOSPC;
	memset(&s, 0, sizeof(s));
	pthread_mutex_lock(&t->lock);
	s.version = TRANSPORT_STATE_VERSION;
	s.status = t->status;
	s.device_features_sel = t->device_features_sel;
	s.driver_features_sel = t->driver_features_sel;
	s.queue_sel = t->queue_sel;
	s.interrupt_status = t->interrupt_status;
	s.config_generation = t->config_generation;
	s.driver_features = t->driver_features;
	memcpy(s.queues, t->queues, sizeof(s.queues));
	pthread_mutex_unlock(&t->lock);
	memcpy(buf, &s, sizeof(s));
	return sizeof(s);
}

/*
 * A completion sets InterruptStatus and writes the irqfd, which KVM delivers
 * asynchronously: a snapshot can hold a status bit whose edge never reached the
 * saved irqchip, and the driver would wait for it forever. Raise it again; a
 * spurious interrupt only makes a virtio driver look at its rings.
 */
static void raise_pending_interrupt(struct virtio_mmio *t)
{
	pthread_mutex_lock(&t->lock);
	if (t->interrupt_status && (t->status & VIRTIO_STATUS_DRIVER_OK))
		interrupt(t, t->interrupt_status);
	pthread_mutex_unlock(&t->lock);
}

int virtio_mmio_load(struct virtio_mmio *t, const void *buf, size_t len)
{
	struct virtio_mmio_state s;

	if (len != sizeof(s))
		return -EINVAL;
	memcpy(&s, buf, sizeof(s));
	if (s.version != TRANSPORT_STATE_VERSION)
		return -EINVAL;
	for (int q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
		if (s.queues[q].ready && virtq_check_rings(&s.queues[q], t->mem))
			return -EINVAL;
	pthread_mutex_lock(&t->lock);
	t->status = s.status;
	t->device_features_sel = s.device_features_sel;
	t->driver_features_sel = s.driver_features_sel;
	t->queue_sel = s.queue_sel;
	t->interrupt_status = s.interrupt_status;
	t->config_generation = s.config_generation;
	t->driver_features = s.driver_features;
	memcpy(t->queues, s.queues, sizeof(t->queues));
	pthread_mutex_unlock(&t->lock);
	/*
	 * A notification the guest made just before the save sat in an eventfd
	 * that is not part of the snapshot: look at every ready queue once, or
	 * a request offered then would wait for a kick that never comes.
	 */
	for (int q = 0; q < t->ops->nqueues && q < VIRTIO_MMIO_MAX_QUEUES; q++)
		if (t->queues[q].ready)
			virtio_mmio_kick(t, (uint32_t)q);
	raise_pending_interrupt(t);
	return 0;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	for (int q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
		if (t->notify_fds[q] >= 0)
			close(t->notify_fds[q]);
	if (t->irq_fd >= 0)
		close(t->irq_fd);
	pthread_mutex_destroy(&t->lock);
}
