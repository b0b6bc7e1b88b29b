/* virtio-blk over virtio-mmio, backed by a raw image file (virtio 1.x, 5.2). */
#ifndef MINIVMM_VIRTIO_BLK_H
#define MINIVMM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio_mmio.h"

#define VIRTIO_BLK_ID_BYTES 20
#define VIRTIO_BLK_SECTOR 512ULL

struct vm;
struct disk_config;

struct virtio_blk_config {
	uint64_t capacity; /* in 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	uint16_t cylinders;
	uint8_t heads;
	uint8_t sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
} __attribute__((packed));

struct virtio_blk {
	struct virtio_mmio transport;
	struct virtio_blk_config config;
	const char *path;
	int fd;
	bool read_only;
	uint64_t size; /* bytes the guest may address: capacity * 512 */
	char serial[VIRTIO_BLK_ID_BYTES];
	struct virtq_chain chain; /* scratch for the request being served */
};

/* Open and lock the image, and attach the device to @vm. Dies with a one-line error (status 1). */
struct virtio_blk *virtio_blk_create(struct vm *vm, const struct disk_config *disk);

/*
 * For tests and fuzzing: a device on an already open @fd of @size bytes,
 * over @mem, not attached to a VM. Returns NULL on allocation failure.
 */
struct virtio_blk *virtio_blk_create_detached(const struct guest_mem *mem, int fd, uint64_t size,
					      bool read_only, const char *serial);
void virtio_blk_free(struct virtio_blk *blk);

/*
 * The image under blk->fd was swapped for another of @size bytes (a snapshot's
 * disk put back): the capacity follows, as it was when that snapshot was taken.
 */
void virtio_blk_image_replaced(struct virtio_blk *blk, uint64_t size);

/* Serve queue 0 (what a notification does); exposed for tests and fuzzing. */
void virtio_blk_process(struct virtio_blk *blk);

#endif
