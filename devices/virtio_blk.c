/*
 * virtio-blk: each request is a header (type, sector) in readable buffers,
 * data in readable (write) or writable (read) buffers, and a status byte in
 * the last writable byte. Requests run on the I/O thread, straight between
 * guest memory and the image with preadv/pwritev.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../vmm/cli.h"
#include "../vmm/log.h"
#include "../vmm/vm.h"
#include "virtio_blk.h"

#define VIRTIO_ID_BLOCK 2

/* Feature bits */
#define BLK_F_SIZE_MAX 1
#define BLK_F_SEG_MAX 2
#define BLK_F_RO 5
#define BLK_F_BLK_SIZE 6
#define BLK_F_FLUSH 9
#define BLK_F_DISCARD 13
#define BLK_F_WRITE_ZEROES 14

/* Request types and statuses */
#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define BLK_T_DISCARD 11
#define BLK_T_WRITE_ZEROES 13
#define BLK_S_OK 0
#define BLK_S_IOERR 1
#define BLK_S_UNSUPP 2

#define HEADER_BYTES 16
#define SEGMENT_BYTES 16 /* discard / write-zeroes range */
#define SEG_MAX (VIRTQ_MAX_SIZE - 2) /* room for the header and status */
#define SIZE_MAX_BYTES (1U << 20)
#define MAX_DISCARD_SEGS 32
#define MAX_DISCARD_SECTORS (1U << 22)

struct blk_header {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_segment {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/* Whether [sector, sector + bytes) lies inside the disk, for any guest values. */
static bool in_disk(const struct virtio_blk *blk, uint64_t sector, uint64_t bytes)
{
	uint64_t max_sector = blk->size / VIRTIO_BLK_SECTOR;

	return sector <= max_sector && bytes <= (max_sector - sector) * VIRTIO_BLK_SECTOR;
}

/* iovecs for @len bytes of @bufs starting @skip bytes in. Returns the count. */
static int to_iov(const struct virtq_buf *bufs, int n, uint64_t skip, uint64_t len,
		  struct iovec *iov)
{
	int count = 0;

	for (int i = 0; i < n && len; i++) {
		if (skip >= bufs[i].len) {
			skip -= bufs[i].len;
			continue;
		}
		uint64_t chunk = bufs[i].len - skip < len ? bufs[i].len - skip : len;

		iov[count++] = (struct iovec){ bufs[i].host + skip, chunk };
		len -= chunk;
		skip = 0;
	}
	return count;
}

/* Move all of @iov to or from the image at @offset; short transfers retry. */
static int transfer(int fd, struct iovec *iov, int cnt, uint64_t offset, bool write)
{
	while (cnt > 0) {
		ssize_t n = write ? pwritev(fd, iov, cnt, offset) : preadv(fd, iov, cnt, offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1; /* an error, or the image shrank under us */
		offset += n;
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= n;
		}
	}
	return 0;
}

static uint8_t read_write(struct virtio_blk *blk, const struct blk_header *h, bool write,
			  uint32_t *written)
{
	const struct virtq_chain *c = &blk->chain;
	struct iovec iov[VIRTQ_MAX_CHAIN];
	uint64_t len = write ? c->out_len - HEADER_BYTES : c->in_len - 1;
	int cnt;

	if (write && blk->read_only)
		return BLK_S_IOERR;
	if (len % VIRTIO_BLK_SECTOR || !in_disk(blk, h->sector, len))
		return BLK_S_IOERR;
	if (write)
		cnt = to_iov(c->bufs, c->nout, HEADER_BYTES, len, iov);
	else
		cnt = to_iov(c->bufs + c->nout, c->nin, 0, len, iov);
	if (transfer(blk->fd, iov, cnt, h->sector * VIRTIO_BLK_SECTOR, write) < 0)
		return BLK_S_IOERR;
	if (!write)
		*written = len;
	return BLK_S_OK;
}

static uint8_t get_id(struct virtio_blk *blk, uint32_t *written)
{
	uint64_t room = blk->chain.in_len - 1;
	uint64_t n = room < VIRTIO_BLK_ID_BYTES ? room : VIRTIO_BLK_ID_BYTES;

	*written = virtq_copy_to_in(&blk->chain, 0, blk->serial, n);
	return BLK_S_OK;
}

/* Zeroes that read back as zeroes: punch a hole, or write them where holes are unsupported. */
static int zero_range(struct virtio_blk *blk, uint64_t offset, uint64_t len)
{
	static const uint8_t zeroes[65536];

	if (fallocate(blk->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len) == 0)
		return 0;
	while (len) {
		uint64_t n = len < sizeof(zeroes) ? len : sizeof(zeroes);
		struct iovec iov = { (void *)zeroes, n };

		if (transfer(blk->fd, &iov, 1, offset, true) < 0)
			return -1;
		offset += n;
		len -= n;
	}
	return 0;
}

#define SEGMENT_F_UNMAP 1

/*
 * DISCARD and WRITE_ZEROES both leave zeroes behind (a punched hole). Only
 * WRITE_ZEROES may carry the unmap flag (virtio 5.2.6.2); other flags are
 * unsupported. Every segment is checked before any is applied.
 */
static uint8_t discard(struct virtio_blk *blk, uint32_t type)
{
	const struct virtq_chain *c = &blk->chain;
	uint32_t allowed = type == BLK_T_WRITE_ZEROES ? SEGMENT_F_UNMAP : 0;
	uint64_t bytes = c->out_len - HEADER_BYTES;
	struct blk_segment seg;

	if (blk->read_only || bytes == 0 || bytes % SEGMENT_BYTES ||
	    bytes / SEGMENT_BYTES > MAX_DISCARD_SEGS)
		return BLK_S_IOERR;
	for (uint64_t off = 0; off < bytes; off += SEGMENT_BYTES) {
		virtq_copy_from_out(c, HEADER_BYTES + off, &seg, sizeof(seg));
		if (seg.flags & ~allowed)
			return BLK_S_UNSUPP;
		if (seg.num_sectors > MAX_DISCARD_SECTORS ||
		    !in_disk(blk, seg.sector, (uint64_t)seg.num_sectors * VIRTIO_BLK_SECTOR))
			return BLK_S_IOERR;
	}
	for (uint64_t off = 0; off < bytes; off += SEGMENT_BYTES) {
		virtq_copy_from_out(c, HEADER_BYTES + off, &seg, sizeof(seg));
		if (zero_range(blk, seg.sector * VIRTIO_BLK_SECTOR,
			       (uint64_t)seg.num_sectors * VIRTIO_BLK_SECTOR) < 0)
			return BLK_S_IOERR;
	}
	return BLK_S_OK;
}

/* Serve one well-formed chain; returns bytes written into guest buffers. */
static uint32_t handle_request(struct virtio_blk *blk)
{
	const struct virtq_chain *c = &blk->chain;
	struct blk_header h;
	uint32_t written = 0;
	uint8_t status;

	if (c->in_len == 0)
		return 0; /* nowhere to put a status: nothing to answer */
	if (c->out_len < HEADER_BYTES) {
		status = BLK_S_IOERR;
		goto done;
	}
	virtq_copy_from_out(c, 0, &h, sizeof(h));
	switch (h.type) {
	case BLK_T_IN: status = read_write(blk, &h, false, &written); break;
	case BLK_T_OUT: status = read_write(blk, &h, true, &written); break;
	case BLK_T_FLUSH: status = fdatasync(blk->fd) == 0 ? BLK_S_OK : BLK_S_IOERR; break;
	case BLK_T_GET_ID: status = get_id(blk, &written); break;
	case BLK_T_DISCARD:
	case BLK_T_WRITE_ZEROES: status = discard(blk, h.type); break;
	default: status = BLK_S_UNSUPP;
	}
done:
	virtq_copy_to_in(c, c->in_len - 1, &status, 1);
	return written + 1;
}

void virtio_blk_process(struct virtio_blk *blk)
{
	struct virtio_mmio *t = &blk->transport;
	struct virtq *vq = &t->queues[0];
	int i;

	/*
	 * At most one ring's worth per call, so a guest that keeps adding cannot
	 * hold the I/O thread; the rest is served on the next turn of the loop
	 * (the guest will not notify again: with EVENT_IDX it sees us reading).
	 */
	for (i = 0; i < vq->size; i++) {
		int r = virtq_pop(vq, t->mem, &blk->chain);

		if (r == 0)
			break;
		if (r == -EIO) {
			virtio_mmio_set_broken(t, "avail ring index or head out of range");
			break;
		}
		virtq_push(vq, t->mem, blk->chain.head, r == 1 ? handle_request(blk) : 0);
		/* Complete as we go: the guest can refill the ring while we serve the rest. */
		virtio_mmio_used(t, 0);
	}
	if (i == vq->size)
		virtio_mmio_kick(t, 0);
}

static void queue_notify(void *dev, struct virtio_mmio *t, int q)
{
	(void)t;
	(void)q;
	virtio_blk_process(dev);
}

static const struct virtio_device_ops blk_virtio_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.nqueues = 1,
	.queue_notify = queue_notify,
};

static uint64_t offered_features(bool read_only)
{
	uint64_t f = 1ULL << BLK_F_SIZE_MAX | 1ULL << BLK_F_SEG_MAX | 1ULL << BLK_F_BLK_SIZE |
		     1ULL << BLK_F_FLUSH | 1ULL << BLK_F_DISCARD | 1ULL << BLK_F_WRITE_ZEROES |
		     1ULL << VIRTIO_RING_F_INDIRECT_DESC | 1ULL << VIRTIO_RING_F_EVENT_IDX;

	return read_only ? f | 1ULL << BLK_F_RO : f;
}

struct virtio_blk *virtio_blk_create_detached(const struct guest_mem *mem, int fd, uint64_t size,
					      bool read_only, const char *serial)
{
	struct virtio_blk *blk = calloc(1, sizeof(*blk));

	if (!blk)
		return NULL;
	blk->fd = fd;
	blk->read_only = read_only;
	blk->size = size & ~(VIRTIO_BLK_SECTOR - 1);
	strncpy(blk->serial, serial ? serial : "", sizeof(blk->serial));
	blk->config = (struct virtio_blk_config){
		.capacity = blk->size / VIRTIO_BLK_SECTOR,
		.size_max = SIZE_MAX_BYTES,
		.seg_max = SEG_MAX,
		.blk_size = VIRTIO_BLK_SECTOR,
		.num_queues = 1,
		.max_discard_sectors = MAX_DISCARD_SECTORS,
		.max_discard_seg = MAX_DISCARD_SEGS,
		.discard_sector_alignment = 1,
		.max_write_zeroes_sectors = MAX_DISCARD_SECTORS,
		.max_write_zeroes_seg = MAX_DISCARD_SEGS,
		.write_zeroes_may_unmap = 1,
	};
	virtio_mmio_init(&blk->transport, &blk_virtio_ops, blk, mem, offered_features(read_only),
			 &blk->config, sizeof(blk->config));
	return blk;
}

void virtio_blk_free(struct virtio_blk *blk)
{
	virtio_mmio_destroy(&blk->transport);
	free(blk);
}

static void blk_reset(void *dev)
{
	virtio_mmio_reset(&((struct virtio_blk *)dev)->transport);
}

static long blk_save(void *dev, void *buf, size_t cap)
{
	return virtio_mmio_save(&((struct virtio_blk *)dev)->transport, buf, cap);
}

static int blk_load(void *dev, const void *buf, size_t len)
{
	return virtio_mmio_load(&((struct virtio_blk *)dev)->transport, buf, len);
}

static void blk_destroy(void *dev)
{
	struct virtio_blk *blk = dev;

	close(blk->fd);
	virtio_blk_free(blk);
}

static const struct device_ops blk_device_ops = {
	.name = "virtio-blk",
	.reset = blk_reset,
	.save = blk_save,
	.load = blk_load,
	.destroy = blk_destroy,
};

void virtio_blk_image_replaced(struct virtio_blk *blk, uint64_t size)
{
	pthread_mutex_lock(&blk->transport.lock);
	blk->size = size & ~(VIRTIO_BLK_SECTOR - 1);
	blk->config.capacity = blk->size / VIRTIO_BLK_SECTOR;
	pthread_mutex_unlock(&blk->transport.lock);
}

/* Open, lock and size the image: one-line errors name it. */
static int open_image(const struct disk_config *disk, uint64_t *size)
{
	int fd = open(disk->path, (disk->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		die(EXIT_RUNTIME, "disk %s: %s", disk->path, strerror(errno));
	if (fstat(fd, &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)))
		die(EXIT_RUNTIME, "disk %s: not a regular file or block device", disk->path);
	/* A writer excludes everyone; readers exclude writers. */
	if (flock(fd, (disk->read_only ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0)
		die(EXIT_RUNTIME, "disk %s: %s", disk->path,
		    errno == EWOULDBLOCK ? "locked by another process" : strerror(errno));
	off_t end = lseek(fd, 0, SEEK_END);

	if (end < 0)
		die(EXIT_RUNTIME, "disk %s: %s", disk->path, strerror(errno));
	if ((uint64_t)end < VIRTIO_BLK_SECTOR)
		die(EXIT_RUNTIME, "disk %s: empty (%lld bytes); a disk needs at least one sector",
		    disk->path, (long long)end);
	if (end % VIRTIO_BLK_SECTOR)
		log_msg("disk %s: size is not a multiple of 512; the last %lld bytes are unused",
			disk->path, (long long)(end % VIRTIO_BLK_SECTOR));
	*size = end;
	return fd;
}

struct virtio_blk *virtio_blk_create(struct vm *vm, const struct disk_config *disk)
{
	uint64_t size;
	int fd = open_image(disk, &size);
	struct virtio_blk *blk =
		virtio_blk_create_detached(&vm->mem, fd, size, disk->read_only, disk->serial);

	if (!blk || vm_add_device(vm, &blk_device_ops, blk) < 0)
		die(EXIT_RUNTIME, "disk %s: cannot create the device", disk->path);
	blk->path = disk->path;
	virtio_mmio_attach(&blk->transport, vm);
	return blk;
}
