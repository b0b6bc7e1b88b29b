/*
 * libFuzzer target: virtio-blk with everything in guest RAM from the input.
 * The input is copied to guest address 0; the driver side is set up through
 * the transport registers; then virtio_blk_process serves queue 0 a few times.
 *
 * Input layout:
 *   byte 0   queue size: 1 << (byte % 9), 1 to 256
 *   byte 1   bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 read-only device,
 *            bits 4-5: extra rounds in which the avail index moves by byte 2
 *   byte 2   avail index step between rounds
 *   0x10     descriptor table (16 * size bytes)
 *   then     avail ring (6 + 2 * size), used ring at the next multiple of 4
 *            (6 + 8 * size, written by the device), then anything: headers,
 *            indirect tables, data. Descriptors may point anywhere.
 *
 * Guest RAM has inaccessible guard pages on both sides, so any access outside
 * it crashes; ASan/UBSan watch the rest. The image is a 64 KiB memfd.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../devices/virtio_blk.h"
#include "../../vmm/guest_mem.h"

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: %s does not hold\n", __FILE__,   \
				__LINE__, #cond);                                \
			abort();                                                 \
		}                                                                \
	} while (0)

#define RAM_SIZE (1 * MiB)
#define GUARD 4096
#define DISK_SIZE (64 * KiB)
#define DESC_GPA 0x10ULL

static struct guest_mem mem;
static uint8_t *ram;
static int img = -1;

static void init_once(void)
{
	uint8_t *area;

	/* guest_mem_layout, then our own mapping: RAM between two PROT_NONE pages. */
	guest_mem_layout(&mem, RAM_SIZE);
	CHECK(mem.nregions == 1);
	area = mmap(NULL, RAM_SIZE + 2 * GUARD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(area != MAP_FAILED);
	ram = area + GUARD;
	CHECK(mprotect(ram, RAM_SIZE, PROT_READ | PROT_WRITE) == 0);
	mem.regions[0].host = ram;
	img = memfd_create("fuzz-virtio-blk", MFD_CLOEXEC);
	CHECK(img >= 0);
}

static uint32_t rd(struct virtio_blk *blk, uint64_t off)
{
	uint32_t v;

	virtio_mmio_read(&blk->transport, off, &v, 4);
	return v;
}

static void wr(struct virtio_blk *blk, uint64_t off, uint32_t v)
{
	virtio_mmio_write(&blk->transport, off, &v, 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool inited;
	uint8_t b0 = size > 0 ? data[0] : 0, b1 = size > 1 ? data[1] : 0;
	uint8_t step = size > 2 ? data[2] : 0;
	uint16_t qsize = 1 << (b0 % 9);
	uint64_t avail = DESC_GPA + 16ULL * qsize;
	uint64_t used = (avail + 6 + 2ULL * qsize + 3) & ~3ULL;
	uint64_t features = 0;
	struct virtio_blk *blk;
	struct stat st;

	if (!inited) {
		init_once();
		inited = true;
	}
	/* A fresh zeroed image and RAM for every input. */
	CHECK(ftruncate(img, 0) == 0 && ftruncate(img, DISK_SIZE) == 0);
	memset(ram, 0, RAM_SIZE);
	memcpy(ram, data, size < RAM_SIZE ? size : RAM_SIZE);

	blk = virtio_blk_create_detached(&mem, img, DISK_SIZE, b1 & 4, "fuzz-serial");
	CHECK(blk);

	/* The driver's side, register by register. */
	wr(blk, REG_STATUS, 0);
	wr(blk, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(blk, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(blk, REG_DEVICE_FEATURES_SEL, 0);
	features = rd(blk, REG_DEVICE_FEATURES);
	wr(blk, REG_DEVICE_FEATURES_SEL, 1);
	features |= (uint64_t)rd(blk, REG_DEVICE_FEATURES) << 32;
	if (!(b1 & 1))
		features &= ~(1ULL << VIRTIO_RING_F_EVENT_IDX);
	if (!(b1 & 2))
		features &= ~(1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	wr(blk, REG_DRIVER_FEATURES_SEL, 0);
	wr(blk, REG_DRIVER_FEATURES, (uint32_t)features);
	wr(blk, REG_DRIVER_FEATURES_SEL, 1);
	wr(blk, REG_DRIVER_FEATURES, features >> 32);
	wr(blk, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				    VIRTIO_STATUS_FEATURES_OK);
	CHECK(rd(blk, REG_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	wr(blk, REG_QUEUE_SEL, 0);
	wr(blk, REG_QUEUE_NUM, qsize);
	wr(blk, REG_QUEUE_DESC_LOW, DESC_GPA);
	wr(blk, REG_QUEUE_DESC_HIGH, 0);
	wr(blk, REG_QUEUE_DRIVER_LOW, avail);
	wr(blk, REG_QUEUE_DRIVER_HIGH, 0);
	wr(blk, REG_QUEUE_DEVICE_LOW, used);
	wr(blk, REG_QUEUE_DEVICE_HIGH, 0);
	wr(blk, REG_QUEUE_READY, 1);
	CHECK(rd(blk, REG_QUEUE_READY) == 1);
	wr(blk, REG_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	CHECK(rd(blk, REG_STATUS) & VIRTIO_STATUS_DRIVER_OK);

	int rounds = 2 + (b1 >> 4 & 3);

	for (int i = 0; i < rounds; i++) {
		struct virtq *vq = &blk->transport.queues[0];
		uint16_t before = vq->used_idx, avail_before = vq->last_avail_idx;

		/* As the notification path does: no work once the device needs a reset. */
		if (rd(blk, REG_STATUS) & VIRTIO_STATUS_NEEDS_RESET)
			break;
		virtio_blk_process(blk);
		/* At most one ring's worth per call; one used entry per entry taken. */
		CHECK((uint16_t)(vq->used_idx - before) <= qsize);
		CHECK((uint16_t)(vq->last_avail_idx - avail_before) <= qsize);
		CHECK((uint16_t)(vq->used_idx - before) <= (uint16_t)(vq->last_avail_idx - avail_before));
		if (i > 0 && step) { /* the guest adds more (or garbage) meanwhile */
			uint16_t a;

			memcpy(&a, ram + avail + 2, 2);
			a += step;
			memcpy(ram + avail + 2, &a, 2);
		}
	}
	/* The image never grows, whatever the requests said. */
	CHECK(fstat(img, &st) == 0 && st.st_size == DISK_SIZE);
	virtio_blk_free(blk);
	return 0;
}
