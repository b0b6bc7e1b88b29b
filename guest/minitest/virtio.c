/*
 * virtio-mmio discovery: the DSDT's LNRO0005 devices and the command
 * line's virtio_mmio.device= entries, each probed at its registers.
 */
#include "virtio.h"

static bool known(uint64_t base)
{
	for (unsigned i = 0; i < sys.nvdev; i++)
		if (sys.vdev[i].r.base == base)
			return true;
	return false;
}

/* Magic, then version 2 (not legacy), then the device ID. */
static void probe(const struct vmmio *r)
{
	struct vdev *v = &sys.vdev[sys.nvdev];
	uint32_t magic, version;

	if (known(r->base) || r->base + 0x200 > paging_mapped_end())
		return;
	if (!r->size) {		/* Linux's resource would end before it starts */
		say("virtio-mmio 0x%lx gsi %u size 0 rejected", r->base, r->gsi);
		return;
	}
	sys.nvdev++;
	v->r = *r;
	map_uncached(r->base);
	magic = vr(v, VR_MAGIC);
	version = vr(v, VR_VERSION);
	if (magic != VIRTIO_MAGIC) {
		say("virtio-mmio 0x%lx gsi %u bad magic 0x%x", r->base, r->gsi,
		    magic);
		return;
	}
	if (version != 2) {
		say("virtio-mmio 0x%lx gsi %u version %u unsupported",
		    r->base, r->gsi, version);
		return;
	}
	v->id = vr(v, VR_DEVICE_ID);
	say("virtio-mmio 0x%lx gsi %u id %u", r->base, r->gsi, v->id);
}

void virtio_discover(void)
{
	const struct acpi_info *a = &sys.acpi;
	struct vmmio list[MAX_VIRTIO];
	unsigned n = 0;

	if (a->dsdt)
		n = dsdt_find_virtio(a->dsdt + 36, a->dsdt_len - 36, list,
				     MAX_VIRTIO);
	n += cmdline_virtio_mmio(sys.cmdline, list + n, MAX_VIRTIO - n);
	for (unsigned i = 0; i < n && sys.nvdev < MAX_VIRTIO; i++)
		probe(&list[i]);
}

/* As Linux's vm_interrupt(): read the cause, acknowledge exactly it. */
void virtio_irq(unsigned idx)
{
	struct vdev *v = &sys.vdev[idx];
	uint32_t isr;

	if (idx >= sys.nvdev)
		return;
	isr = vr(v, VR_INTERRUPT_STATUS);
	vw(v, VR_INTERRUPT_ACK, isr);
	v->isr |= isr;
}

/* ---- generic device and split-virtqueue helpers ---- */

bool vdev_reset(const struct vdev *v)
{
	vw(v, VR_STATUS, 0);
	for (int i = 0; i < 1000; i++)
		if (!vr(v, VR_STATUS))
			return true;
	return false;
}

uint64_t vdev_features(const struct vdev *v)
{
	uint64_t hi;

	vw(v, VR_DEVICE_FEATURES_SEL, 1);
	hi = vr(v, VR_DEVICE_FEATURES);
	vw(v, VR_DEVICE_FEATURES_SEL, 0);
	return hi << 32 | vr(v, VR_DEVICE_FEATURES);
}

/* Reset, ACKNOWLEDGE, DRIVER, the wanted features offered, FEATURES_OK. */
const char *vdev_negotiate(struct vdev *v, uint64_t wanted, uint64_t *feat)
{
	uint32_t st = VS_ACKNOWLEDGE | VS_DRIVER;

	if (!vdev_reset(v))
		return "status did not read 0 after reset";
	v->isr = 0;
	vw(v, VR_STATUS, VS_ACKNOWLEDGE);
	vw(v, VR_STATUS, st);
	*feat = vdev_features(v) & wanted;
	if (!(*feat & VF_VERSION_1))
		return "VERSION_1 not offered";
	vw(v, VR_DRIVER_FEATURES_SEL, 1);
	vw(v, VR_DRIVER_FEATURES, *feat >> 32);
	vw(v, VR_DRIVER_FEATURES_SEL, 0);
	vw(v, VR_DRIVER_FEATURES, (uint32_t)*feat);
	vw(v, VR_STATUS, st | VS_FEATURES_OK);
	if (!(vr(v, VR_STATUS) & VS_FEATURES_OK))
		return "FEATURES_OK not accepted";
	return NULL;
}

void vdev_driver_ok(const struct vdev *v)
{
	vw(v, VR_STATUS, VS_ACKNOWLEDGE | VS_DRIVER | VS_FEATURES_OK |
	   VS_DRIVER_OK);
}

static void queue_addr(const struct vdev *v, unsigned lo, uint64_t a)
{
	vw(v, lo, (uint32_t)a);
	vw(v, lo + 4, (uint32_t)(a >> 32));
}

/* Queue @idx of min(QueueNumMax, @max) entries (a power of 2) in @mem. */
const char *vq_setup(struct vq *q, const struct vdev *v, unsigned idx,
		     void *mem, unsigned max)
{
	uint8_t *m = mem;
	uint32_t dmax;

	vw(v, VR_QUEUE_SEL, idx);
	if (vr(v, VR_QUEUE_READY))
		return "queue already ready";
	dmax = vr(v, VR_QUEUE_NUM_MAX);
	if (!dmax)
		return "queue has QueueNumMax 0";
	for (q->qsz = max > VQ_MAX ? VQ_MAX : max; q->qsz > dmax; q->qsz >>= 1)
		;
	memset(m, 0, VQ_MEM);
	q->v = v;
	q->idx = idx;
	q->desc = (struct vdesc *)m;
	q->avail = (volatile uint16_t *)(m + 4096);
	q->used = m + 8192;
	q->avail_idx = q->last_used = 0;
	vw(v, VR_QUEUE_NUM, q->qsz);
	queue_addr(v, VR_QUEUE_DESC_LOW, (uint64_t)q->desc);
	queue_addr(v, VR_QUEUE_DRIVER_LOW, (uint64_t)q->avail);
	queue_addr(v, VR_QUEUE_DEVICE_LOW, (uint64_t)q->used);
	vw(v, VR_QUEUE_READY, 1);
	return NULL;
}

void vq_publish(struct vq *q, uint16_t head)
{
	q->avail[2 + q->avail_idx % q->qsz] = head;
	barrier();
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
}

/* Notify unless the device asked not to be (VRING_USED_F_NO_NOTIFY). */
void vq_kick(struct vq *q)
{
	mb();
	if (!(*(volatile uint16_t *)q->used & VRING_USED_NO_NOTIFY))
		vw(q->v, VR_QUEUE_NOTIFY, q->idx);
}

bool vq_pop(struct vq *q, uint32_t *id, uint32_t *len)
{
	volatile const uint32_t *e;

	if (!vq_pending(q))
		return false;
	barrier();
	e = (volatile const uint32_t *)(q->used + 4 + 8 * (q->last_used % q->qsz));
	*id = e[0];
	*len = e[1];
	q->last_used++;
	return true;
}

extern const uint8_t _end[];
static uint64_t dma_next;

/*
 * Page-aligned memory from usable RAM after the kernel (never freed), as
 * left by whoever used it last.  blkbench uses the same RAM for its own
 * buffers; modes do not mix.
 */
void *dma_reserve(uint64_t bytes)
{
	uint64_t start = dma_next ? dma_next :
			 ((uint64_t)_end + 0x1fffff) & ~0x1fffffULL;

	bytes = (bytes + 4095) & ~4095ULL;
	for (unsigned i = 0; i < sys.e820_n; i++) {
		const struct e820_entry *e = &sys.e820[i];
		uint64_t end = e->addr + e->size;

		if (end > paging_mapped_end())
			end = paging_mapped_end();
		if (e->type == E820_RAM && e->addr <= start &&
		    end >= start + bytes) {
			dma_next = start + bytes;
			return phys_ptr(start);
		}
	}
	fail("out of RAM for %lu bytes of buffers", bytes);
}

/* dma_reserve, zeroed. */
void *dma_alloc(uint64_t bytes)
{
	void *p = dma_reserve(bytes);

	memset(p, 0, (bytes + 4095) & ~4095ULL);
	return p;
}
