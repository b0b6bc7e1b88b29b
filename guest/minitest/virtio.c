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
