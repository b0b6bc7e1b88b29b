/*
 * virtio-blk on a temporary image over real guest RAM, driven the way a guest
 * driver drives it: status sequence, features and queue setup through the
 * transport registers, then requests written into the ring and served by
 * virtio_blk_process. Checked from the guest's side (used ring, status byte,
 * buffers) and the host's (the image file).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "virtio_harness.h"
#include "../../devices/virtio_blk.h"

#define RAM_SIZE (2 * MiB)
#define DISK_SIZE (1 * MiB)
#define SECTORS (DISK_SIZE / 512)
#define QSIZE 16
#define DESC_GPA 0x1000ULL
#define AVAIL_GPA 0x2000ULL
#define USED_GPA 0x3000ULL
#define TABLE_GPA 0x8000ULL
#define BUF_GPA 0x10000ULL /* request buffers are allocated from here up */

/* virtio-blk */
#define F_RO 5
#define F_FLUSH 9
#define F_DISCARD 13
#define F_WRITE_ZEROES 14
#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_GET_ID 8
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define S_OK 0
#define S_IOERR 1
#define S_UNSUPP 2

#define SERIAL "0123456789abcdefghij" /* exactly 20 bytes */

static char path[] = "/tmp/minivmm-test-blk-XXXXXX";
static int fd = -1;
static int irq_fd = -1;
static struct virtio_blk *blk;
static uint64_t offered;
static struct test_ring ring; /* queue 0 */
static uint64_t next_buf;

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)(off * 31 + off / 512 + 7);
}

static uint32_t rd(uint64_t off)
{
	return mmio_read32(&blk->transport, off);
}

static void wr(uint64_t off, uint32_t v)
{
	mmio_write32(&blk->transport, off, v);
}

static uint64_t rd_config(uint64_t off, unsigned size)
{
	uint64_t v = 0;

	virtio_mmio_read(&blk->transport, REG_CONFIG + off, &v, size);
	return v;
}

/*
 * What a driver does: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue 0, DRIVER_OK.
 * (The offered features are read first: they do not depend on the status.)
 */
static void driver_init(uint64_t want)
{
	struct virtio_mmio *t = &blk->transport;

	offered = device_features(t);
	assert_true(offered >> VIRTIO_F_VERSION_1 & 1);
	assert_int_not_equal(negotiate(t, want & offered) & FEATURES_OK, 0);
	wr(REG_QUEUE_SEL, 0);
	assert_true(rd(REG_QUEUE_NUM_MAX) >= QSIZE);
	assert_int_equal(rd(REG_QUEUE_READY), 0);
	setup_queue(t, 0, QSIZE, DESC_GPA, AVAIL_GPA, USED_GPA);
	wr(REG_QUEUE_READY, 1);
	assert_int_equal(rd(REG_QUEUE_READY), 1);
	wr(REG_STATUS, LIVE);
	assert_int_equal(rd(REG_STATUS), LIVE);
}

static int setup_dev(bool ro, const char *serial, uint64_t features)
{
	uint8_t sector[512];

	if (guest_ram_map(RAM_SIZE))
		return -1;
	strcpy(path + strlen(path) - 6, "XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	unlink(path);
	for (uint64_t off = 0; off < DISK_SIZE; off += sizeof(sector)) {
		for (unsigned i = 0; i < sizeof(sector); i++)
			sector[i] = pattern(off + i);
		if (pwrite(fd, sector, sizeof(sector), off) != sizeof(sector))
			return -1;
	}
	blk = virtio_blk_create_detached(&mem, fd, DISK_SIZE, ro, serial);
	if (!blk)
		return -1;
	irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (irq_fd < 0)
		return -1;
	blk->transport.irq_fd = irq_fd; /* closed by virtio_blk_free */
	ring = (struct test_ring){ .desc = DESC_GPA, .avail = AVAIL_GPA, .used = USED_GPA,
				   .size = QSIZE };
	next_buf = BUF_GPA;
	driver_init(features);
	return 0;
}

#define ALL_FEATURES (~0ULL)

static int setup(void **state)
{
	(void)state;
	return setup_dev(false, SERIAL, ALL_FEATURES);
}

static int setup_ro(void **state)
{
	(void)state;
	return setup_dev(true, SERIAL, ALL_FEATURES);
}

static int setup_short_serial(void **state)
{
	(void)state;
	return setup_dev(false, "abc", ALL_FEATURES);
}

/* Without EVENT_IDX and INDIRECT_DESC: every used buffer interrupts. */
static int setup_plain(void **state)
{
	(void)state;
	return setup_dev(false, SERIAL,
			 ALL_FEATURES & ~(1ULL << VIRTIO_RING_F_EVENT_IDX |
					  1ULL << VIRTIO_RING_F_INDIRECT_DESC));
}

static int teardown(void **state)
{
	(void)state;
	if (blk)
		virtio_blk_free(blk);
	blk = NULL;
	if (fd >= 0)
		close(fd);
	fd = -1;
	guest_mem_unmap(&mem);
	return 0;
}

/* ---- The driver's side of the ring ---- */

/* @len bytes of guest RAM, filled with @fill. */
static uint64_t alloc(uint64_t len, uint8_t fill)
{
	uint64_t gpa = next_buf;

	next_buf = (next_buf + len + 15) & ~15ULL;
	assert_true(next_buf <= RAM_SIZE);
	memset(ram + gpa, fill, len);
	return gpa;
}

static uint64_t header(uint32_t type, uint64_t sector)
{
	uint64_t gpa = alloc(16, 0);

	memcpy(ram + gpa, &type, 4);
	memcpy(ram + gpa + 8, &sector, 8);
	return gpa;
}

/* header, one data buffer (device-writable for reads), status byte. */
struct req {
	uint16_t head;
	uint64_t data;
	uint64_t status;
};

static struct req simple(uint32_t type, uint64_t sector, uint32_t data_len, bool data_write)
{
	struct req r;
	struct ring_buf p[3];
	int n = 0;

	p[n++] = (struct ring_buf){ header(type, sector), 16, false };
	r.data = alloc(data_len, 0xcc);
	if (data_len)
		p[n++] = (struct ring_buf){ r.data, data_len, data_write };
	r.status = alloc(1, 0xff);
	p[n++] = (struct ring_buf){ r.status, 1, true };
	r.head = ring_add_chain(&ring, p, n);
	return r;
}

static void process(void)
{
	virtio_blk_process(blk);
}

/* Serve one request: it must come back as @head with @len; returns its status byte. */
static uint8_t serve(const struct req *r, uint32_t len)
{
	process();
	assert_int_equal(get16(USED_GPA + 2), (uint16_t)(ring.used_seen + 1));
	ring_expect_used(&ring, r->head, len);
	return ram[r->status];
}

static void file_read(uint64_t off, void *buf, size_t len)
{
	assert_int_equal(pread(fd, buf, len, off), (ssize_t)len);
}

/* The image still holds the pattern in [off, off + len). */
static void assert_pattern(uint64_t off, uint64_t len)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	file_read(off, buf, len);
	for (uint64_t i = 0; i < len; i++)
		if (buf[i] != pattern(off + i))
			fail_msg("image byte %llu is %#x, not the pattern's %#x",
				 (unsigned long long)(off + i), buf[i], pattern(off + i));
	free(buf);
}

static void assert_zero(uint64_t off, uint64_t len)
{
	uint8_t *buf = malloc(len);

	assert_non_null(buf);
	file_read(off, buf, len);
	for (uint64_t i = 0; i < len; i++)
		if (buf[i])
			fail_msg("image byte %llu is %#x, not 0", (unsigned long long)(off + i),
				 buf[i]);
	free(buf);
}

static void assert_ram_pattern(uint64_t gpa, uint64_t disk_off, uint64_t len)
{
	for (uint64_t i = 0; i < len; i++)
		if (ram[gpa + i] != pattern(disk_off + i))
			fail_msg("guest byte %llu of the read is %#x, not %#x",
				 (unsigned long long)i, ram[gpa + i], pattern(disk_off + i));
}

/* ---- Tests ---- */

static void test_config_space(void **state)
{
	(void)state;
	assert_int_equal(rd(REG_DEVICE_ID), 2);
	assert_int_equal(rd_config(0, 8), SECTORS);
	assert_int_equal(rd_config(0, 4), SECTORS); /* drivers may read it in halves */
	assert_int_equal(rd_config(4, 4), 0);
	assert_int_equal(rd_config(8, 4), 1 << 20); /* size_max */
	assert_int_equal(rd_config(12, 4), VIRTQ_MAX_SIZE - 2); /* seg_max */
	assert_int_equal(rd_config(20, 4), 512); /* blk_size */
	assert_int_equal(rd_config(36, 4), 1 << 22); /* max_discard_sectors */
	assert_int_equal(rd_config(40, 4), 32);      /* max_discard_seg */
	assert_int_equal(rd_config(48, 4), 1 << 22); /* max_write_zeroes_sectors */
	assert_int_equal(rd_config(52, 4), 32);      /* max_write_zeroes_seg */
	/* Past the end of the structure. */
	assert_int_equal(sizeof(struct virtio_blk_config), 60);
	assert_int_equal(rd_config(58, 4), 0);
	assert_int_equal(rd_config(60, 1), 0);
	/* Config space is read-only to the driver. */
	uint64_t junk = 0x1234;

	virtio_mmio_write(&blk->transport, REG_CONFIG, &junk, 8);
	assert_int_equal(rd_config(0, 8), SECTORS);
	/* Features: flush, discard, write zeroes; not read-only. */
	assert_true(offered >> F_FLUSH & 1);
	assert_true(offered >> F_DISCARD & 1);
	assert_true(offered >> F_WRITE_ZEROES & 1);
	assert_false(offered >> F_RO & 1);
	assert_true(offered >> VIRTIO_RING_F_EVENT_IDX & 1);
	assert_true(offered >> VIRTIO_RING_F_INDIRECT_DESC & 1);
}

static void test_read(void **state)
{
	struct req r;

	(void)state;
	r = simple(T_IN, 3, 1024, true);
	assert_int_equal(serve(&r, 1025), S_OK);
	assert_ram_pattern(r.data, 3 * 512, 1024);
	/* The last sector. */
	r = simple(T_IN, SECTORS - 1, 512, true);
	assert_int_equal(serve(&r, 513), S_OK);
	assert_ram_pattern(r.data, DISK_SIZE - 512, 512);
}

static void test_read_scattered(void **state)
{
	uint64_t a = alloc(100, 0xcc), b = alloc(924, 0xcc), st = alloc(1, 0xff);
	struct ring_buf p[] = {
		{ header(T_IN, 7), 16, false },
		{ a, 100, true },
		{ b, 924, true },
		{ st, 1, true },
	};
	struct req r = { ring_add_chain(&ring, p, 4), 0, st };

	(void)state;
	assert_int_equal(serve(&r, 1025), S_OK);
	assert_ram_pattern(a, 7 * 512, 100);
	assert_ram_pattern(b, 7 * 512 + 100, 924);

	/* Data and status in one buffer: the status is its last byte. */
	uint64_t one = alloc(513, 0xcc);
	struct ring_buf q[] = { { header(T_IN, 9), 16, false }, { one, 513, true } };

	r = (struct req){ ring_add_chain(&ring, q, 2), 0, one + 512 };
	assert_int_equal(serve(&r, 513), S_OK);
	assert_ram_pattern(one, 9 * 512, 512);

	/* The header split over two buffers. */
	uint64_t h = header(T_IN, 11), d = alloc(512, 0xcc);

	st = alloc(1, 0xff);
	struct ring_buf s[] = { { h, 5, false }, { h + 5, 11, false }, { d, 512, true },
				{ st, 1, true } };

	r = (struct req){ ring_add_chain(&ring, s, 4), d, st };
	assert_int_equal(serve(&r, 513), S_OK);
	assert_ram_pattern(d, 11 * 512, 512);
}

static void test_write(void **state)
{
	struct req r;
	uint8_t buf[1024];

	(void)state;
	r = simple(T_OUT, 5, 1024, false);
	for (int i = 0; i < 1024; i++)
		ram[r.data + i] = (uint8_t)(i ^ 0x5a);
	assert_int_equal(serve(&r, 1), S_OK);
	file_read(5 * 512, buf, sizeof(buf));
	assert_memory_equal(buf, ram + r.data, sizeof(buf));
	assert_pattern(0, 5 * 512);
	assert_pattern(7 * 512, DISK_SIZE - 7 * 512);

	/* Header and data in one readable buffer, data in a second one too. */
	uint64_t hd = alloc(16 + 512, 0x11), more = alloc(512, 0x22), st = alloc(1, 0xff);
	uint32_t type = T_OUT;
	uint64_t sector = SECTORS - 2;

	memcpy(ram + hd, &type, 4);
	memset(ram + hd + 4, 0, 4);
	memcpy(ram + hd + 8, &sector, 8);
	struct ring_buf p[] = { { hd, 16 + 512, false }, { more, 512, false }, { st, 1, true } };

	r = (struct req){ ring_add_chain(&ring, p, 3), 0, st };
	assert_int_equal(serve(&r, 1), S_OK);
	file_read(DISK_SIZE - 1024, buf, sizeof(buf));
	for (int i = 0; i < 512; i++) {
		assert_int_equal(buf[i], 0x11);
		assert_int_equal(buf[512 + i], 0x22);
	}
}

static void test_flush(void **state)
{
	struct req r;

	(void)state;
	r = simple(T_FLUSH, 0, 0, false);
	assert_int_equal(serve(&r, 1), S_OK);
	assert_pattern(0, DISK_SIZE);
}

static void test_get_id(void **state)
{
	struct req r;

	(void)state;
	r = simple(T_GET_ID, 0, VIRTIO_BLK_ID_BYTES, true);
	assert_int_equal(serve(&r, VIRTIO_BLK_ID_BYTES + 1), S_OK);
	assert_memory_equal(ram + r.data, SERIAL, VIRTIO_BLK_ID_BYTES);
	/* A larger buffer: still 20 bytes. */
	r = simple(T_GET_ID, 0, 64, true);
	assert_int_equal(serve(&r, VIRTIO_BLK_ID_BYTES + 1), S_OK);
	assert_memory_equal(ram + r.data, SERIAL, VIRTIO_BLK_ID_BYTES);
	assert_int_equal(ram[r.data + VIRTIO_BLK_ID_BYTES], 0xcc);
	/* A smaller one: what fits. */
	r = simple(T_GET_ID, 0, 8, true);
	assert_int_equal(serve(&r, 9), S_OK);
	assert_memory_equal(ram + r.data, SERIAL, 8);
}

static void test_get_id_short_serial(void **state)
{
	struct req r;
	uint8_t want[VIRTIO_BLK_ID_BYTES] = { 'a', 'b', 'c' };

	(void)state;
	r = simple(T_GET_ID, 0, VIRTIO_BLK_ID_BYTES, true);
	assert_int_equal(serve(&r, VIRTIO_BLK_ID_BYTES + 1), S_OK);
	assert_memory_equal(ram + r.data, want, VIRTIO_BLK_ID_BYTES); /* NUL-padded */
}

static uint64_t segments(const uint64_t (*segs)[3], int n)
{
	uint64_t gpa = alloc(16ULL * n, 0);

	for (int i = 0; i < n; i++) {
		uint32_t num = segs[i][1], flags = segs[i][2];

		memcpy(ram + gpa + 16 * i, &segs[i][0], 8);
		memcpy(ram + gpa + 16 * i + 8, &num, 4);
		memcpy(ram + gpa + 16 * i + 12, &flags, 4);
	}
	return gpa;
}

/* A DISCARD or WRITE_ZEROES request with @n segments { sector, num_sectors, flags }. */
static struct req ranges(uint32_t type, const uint64_t (*segs)[3], int n)
{
	struct req r;
	uint64_t data = segments(segs, n);

	r.status = alloc(1, 0xff);
	struct ring_buf p[] = { { header(type, 0), 16, false }, { data, 16 * n, false },
				{ r.status, 1, true } };

	r.head = ring_add_chain(&ring, p, 3);
	r.data = data;
	return r;
}

static void test_read_only(void **state)
{
	struct req r;
	static const uint64_t seg[][3] = { { 0, 1, 0 } };

	(void)state;
	assert_true(offered >> F_RO & 1);
	r = simple(T_OUT, 0, 512, false);
	assert_int_equal(serve(&r, 1), S_IOERR);
	r = simple(T_OUT, 100, 4096, false);
	assert_int_equal(serve(&r, 1), S_IOERR);
	r = ranges(T_DISCARD, seg, 1);
	assert_int_equal(serve(&r, 1), S_IOERR);
	r = ranges(T_WRITE_ZEROES, seg, 1);
	assert_int_equal(serve(&r, 1), S_IOERR);
	assert_pattern(0, DISK_SIZE);
	/* Reads, flushes and GET_ID still work. */
	r = simple(T_IN, 1, 512, true);
	assert_int_equal(serve(&r, 513), S_OK);
	assert_ram_pattern(r.data, 512, 512);
	r = simple(T_FLUSH, 0, 0, false);
	assert_int_equal(serve(&r, 1), S_OK);
	r = simple(T_GET_ID, 0, 20, true);
	assert_int_equal(serve(&r, 21), S_OK);
}

static void test_out_of_range(void **state)
{
	static const uint64_t bad_sectors[][2] = {
		{ SECTORS, 1 },
		{ SECTORS - 1, 2 },
		{ SECTORS + 1, 1 },
		{ UINT64_MAX, 1 },
		{ UINT64_MAX / 512 + 1, 1 }, /* sector * 512 wraps to 0 */
		{ UINT64_MAX / 512, 1 },
		{ 0, SECTORS + 1 },
	};
	struct req r;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad_sectors); i++) {
		uint32_t len = bad_sectors[i][1] * 512;

		r = simple(T_IN, bad_sectors[i][0], len, true);
		if (serve(&r, 1) != S_IOERR)
			fail_msg("IN at sector %llu, %u bytes: status %u, not IOERR",
				 (unsigned long long)bad_sectors[i][0], len, ram[r.status]);
		next_buf = BUF_GPA;
		r = simple(T_OUT, bad_sectors[i][0], len, false);
		if (serve(&r, 1) != S_IOERR)
			fail_msg("OUT at sector %llu, %u bytes: status %u, not IOERR",
				 (unsigned long long)bad_sectors[i][0], len, ram[r.status]);
		next_buf = BUF_GPA;
	}
	assert_pattern(0, DISK_SIZE);
	/* The whole disk in one read is fine. */
	r = simple(T_IN, 0, DISK_SIZE, true);
	assert_int_equal(serve(&r, DISK_SIZE + 1), S_OK);
	assert_ram_pattern(r.data, 0, DISK_SIZE);
}

/* The image shrank under the device (another process truncated it): reads past its end fail. */
static void test_image_shrank(void **state)
{
	struct req r;

	(void)state;
	assert_int_equal(ftruncate(fd, DISK_SIZE / 2), 0);
	r = simple(T_IN, SECTORS - 1, 512, true);
	assert_int_equal(serve(&r, 1), S_IOERR);
	r = simple(T_IN, SECTORS / 2 - 1, 1024, true); /* straddles the new end */
	assert_int_equal(serve(&r, 1), S_IOERR);
	r = simple(T_IN, SECTORS / 2 - 1, 512, true);
	assert_int_equal(serve(&r, 513), S_OK);
	assert_ram_pattern(r.data, DISK_SIZE / 2 - 512, 512);
}

static void test_unaligned_length(void **state)
{
	struct req r;

	(void)state;
	r = simple(T_IN, 0, 100, true);
	assert_int_equal(serve(&r, 1), S_IOERR);
	r = simple(T_IN, 0, 511, true);
	assert_int_equal(serve(&r, 1), S_IOERR);
	r = simple(T_OUT, 0, 513, false);
	assert_int_equal(serve(&r, 1), S_IOERR);
	r = simple(T_OUT, 0, 1, false);
	assert_int_equal(serve(&r, 1), S_IOERR);
	assert_pattern(0, DISK_SIZE);
}

static void test_discard_write_zeroes(void **state)
{
	static const uint64_t one[][3] = { { 10, 4, 0 } };
	static const uint64_t two[][3] = { { 20, 1, 0 }, { 30, 2, 1 /* UNMAP */ } };
	static const uint64_t last[][3] = { { SECTORS - 1, 1, 0 } };
	struct req r;

	(void)state;
	r = ranges(T_DISCARD, one, 1);
	assert_int_equal(serve(&r, 1), S_OK);
	assert_pattern(0, 10 * 512);
	assert_zero(10 * 512, 4 * 512);
	assert_pattern(14 * 512, 6 * 512);

	r = ranges(T_WRITE_ZEROES, two, 2);
	assert_int_equal(serve(&r, 1), S_OK);
	assert_zero(20 * 512, 512);
	assert_pattern(21 * 512, 9 * 512);
	assert_zero(30 * 512, 2 * 512);
	assert_pattern(32 * 512, 512);

	r = ranges(T_WRITE_ZEROES, last, 1);
	assert_int_equal(serve(&r, 1), S_OK);
	assert_zero(DISK_SIZE - 512, 512);
	assert_pattern(DISK_SIZE - 1024, 512);

	/* Read back through the device, too. */
	r = simple(T_IN, 10, 512, true);
	assert_int_equal(serve(&r, 513), S_OK);
	for (int i = 0; i < 512; i++)
		assert_int_equal(ram[r.data + i], 0);
	/* The image keeps its size (a hole, not a truncation). */
	assert_int_equal(lseek(fd, 0, SEEK_END), DISK_SIZE);
}

static void test_discard_bad(void **state)
{
	static const uint64_t flags2[][3] = { { 0, 1, 2 } };
	static const uint64_t flags_high[][3] = { { 0, 1, 0x80000000 } };
	static const uint64_t past_end[][3] = { { SECTORS - 1, 2, 0 } };
	static const uint64_t at_end[][3] = { { SECTORS, 1, 0 } };
	static const uint64_t huge_sector[][3] = { { UINT64_MAX, 1, 0 } };
	static const uint64_t wrap_sector[][3] = { { UINT64_MAX / 512 + 1, 1, 0 } };
	static const uint64_t too_many_sectors[][3] = { { 0, (1U << 22) + 1, 0 } };
	static const uint64_t max_num[][3] = { { 0, 0xffffffff, 0 } };
	static const uint64_t *bad[] = {
		past_end[0], at_end[0], huge_sector[0], wrap_sector[0], too_many_sectors[0],
		max_num[0],
	};
	/* The spec (5.2.6.2) asks for UNSUPP on unknown flags; IOERR refuses them too. */
	static const uint64_t *bad_flags[] = { flags2[0], flags_high[0] };
	uint64_t many[33][3];
	struct req r;

	(void)state;
	for (int type = 0; type < 2; type++) {
		uint32_t t = type ? T_WRITE_ZEROES : T_DISCARD;

		for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
			r = ranges(t, (const uint64_t(*)[3])bad[i], 1);
			if (serve(&r, 1) != S_IOERR)
				fail_msg("type %u, segment %zu: status %u, not IOERR", t, i,
					 ram[r.status]);
			next_buf = BUF_GPA;
		}
		for (size_t i = 0; i < ARRAY_SIZE(bad_flags); i++) {
			r = ranges(t, (const uint64_t(*)[3])bad_flags[i], 1);
			process();
			ring_expect_used(&ring, r.head, 1);
			if (ram[r.status] != S_IOERR && ram[r.status] != S_UNSUPP)
				fail_msg("type %u, flags %zu: status %u, not an error", t, i,
					 ram[r.status]);
			next_buf = BUF_GPA;
		}
		/* No segment at all. */
		r = simple(t, 0, 0, false);
		assert_int_equal(serve(&r, 1), S_IOERR);
		/* Not a whole number of segments. */
		r = simple(t, 0, 24, false);
		assert_int_equal(serve(&r, 1), S_IOERR);
		r = simple(t, 0, 8, false);
		assert_int_equal(serve(&r, 1), S_IOERR);
		/* More segments than max_discard_seg (32). */
		for (int i = 0; i < 33; i++) {
			many[i][0] = 2 * i;
			many[i][1] = 1;
			many[i][2] = 0;
		}
		r = ranges(t, (const uint64_t(*)[3])many, 33);
		assert_int_equal(serve(&r, 1), S_IOERR);
		next_buf = BUF_GPA;
	}
	assert_pattern(0, DISK_SIZE);
	/* 32 is fine. */
	r = ranges(T_DISCARD, (const uint64_t(*)[3])many, 32);
	assert_int_equal(serve(&r, 1), S_OK);
	assert_zero(0, 512);
	assert_pattern(512, 512);
	assert_zero(62 * 512, 512);
	assert_pattern(63 * 512, DISK_SIZE - 63 * 512);
}

/*
 * virtio 1.x, 5.2.6.2: "the device MUST set the status byte to
 * VIRTIO_BLK_S_UNSUPP for discard commands if the unmap flag is set" (the
 * flag only means something for WRITE_ZEROES). The range stays as it was.
 */
static void test_discard_unmap_flag_unsupported(void **state)
{
	static const uint64_t seg[][3] = { { 40, 2, 1 } };
	struct req r;

	(void)state;
	r = ranges(T_DISCARD, seg, 1);
	assert_int_equal(serve(&r, 1), S_UNSUPP);
	assert_pattern(0, DISK_SIZE);
}

static void test_unknown_type(void **state)
{
	static const uint32_t types[] = { 2, 3, 5, 7, 9, 10, 12, 14, 99, 0x80000000, 0xffffffff };
	struct req r;

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
		r = simple(types[i], 0, 512, true);
		if (serve(&r, 1) != S_UNSUPP)
			fail_msg("type %u: status %u, not UNSUPP", types[i], ram[r.status]);
		for (int j = 0; j < 512; j++)
			assert_int_equal(ram[r.data + j], 0xcc);
		next_buf = BUF_GPA;
	}
	assert_pattern(0, DISK_SIZE);
}

static void test_short_header(void **state)
{
	struct req r;
	uint64_t h = header(T_OUT, 0), st = alloc(1, 0xff);

	(void)state;
	for (uint32_t len = 0; len < 16; len += 5) {
		struct ring_buf p[] = { { h, len, false }, { st, 1, true } };

		ram[st] = 0xff;
		r = (struct req){ ring_add_chain(&ring, p, 2), 0, st };
		assert_int_equal(serve(&r, 1), S_IOERR);
	}
	/* No header at all: only the status byte. */
	struct ring_buf q[] = { { st, 1, true } };

	ram[st] = 0xff;
	r = (struct req){ ring_add_chain(&ring, q, 1), 0, st };
	assert_int_equal(serve(&r, 1), S_IOERR);
	assert_pattern(0, DISK_SIZE);
}

static void test_no_writable_byte(void **state)
{
	uint64_t d = alloc(512, 0x77);
	struct ring_buf p[] = { { header(T_OUT, 0), 16, false }, { d, 512, false } };
	struct req r = { ring_add_chain(&ring, p, 2), d, 0 };

	(void)state;
	process();
	ring_expect_used(&ring, r.head, 0);
	assert_pattern(0, DISK_SIZE);
	/* A read with nowhere to put data or status: nothing written either. */
	struct ring_buf q[] = { { header(T_IN, 0), 16, false } };

	r.head = ring_add_chain(&ring, q, 1);
	process();
	ring_expect_used(&ring, r.head, 0);
	/* A zero-length writable buffer is no better. */
	struct ring_buf s[] = { { header(T_GET_ID, 0), 16, false }, { d, 0, true } };

	r.head = ring_add_chain(&ring, s, 2);
	process();
	ring_expect_used(&ring, r.head, 0);
	for (int i = 0; i < 512; i++)
		assert_int_equal(ram[d + i], 0x77);
}

static void test_malformed_then_good(void **state)
{
	uint64_t st = alloc(1, 0xff);
	uint16_t bad;
	struct req good;

	(void)state;
	/* A loop: descriptor 0 -> itself. */
	desc_at(DESC_GPA, 0, header(T_FLUSH, 0), 16, VIRTQ_DESC_F_NEXT, 0);
	ring_offer(&ring, 0);
	bad = 0;
	ring.next_desc = 1;
	good = simple(T_IN, 2, 512, true);
	process();
	assert_int_equal(get16(USED_GPA + 2), 2);
	ring_expect_used(&ring, bad, 0);
	ring_expect_used(&ring, good.head, 513);
	assert_int_equal(ram[good.status], S_OK);
	assert_ram_pattern(good.data, 1024, 512);
	assert_int_equal(ram[st], 0xff);
	assert_int_equal(rd(REG_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);

	/* A buffer outside RAM, then a good one. */
	struct ring_buf p[] = { { header(T_IN, 0), 16, false }, { RAM_SIZE - 256, 512, true },
				{ st, 1, true } };

	bad = ring_add_chain(&ring, p, 3);
	good = simple(T_FLUSH, 0, 0, false);
	process();
	ring_expect_used(&ring, bad, 0);
	ring_expect_used(&ring, good.head, 1);
	assert_int_equal(ram[good.status], S_OK);
	assert_int_equal(ram[st], 0xff);
}

static void test_broken_ring(void **state)
{
	struct req r;

	(void)state;
	r = simple(T_FLUSH, 0, 0, false);
	assert_int_equal(serve(&r, 1), S_OK);
	eventfd_count(irq_fd);
	wr(REG_INTERRUPT_ACK, 0xffffffff);
	/* The avail index jumps a whole ring and more ahead. */
	put16(AVAIL_GPA + 2, get16(AVAIL_GPA + 2) + QSIZE + 1);
	process();
	assert_int_equal(get16(USED_GPA + 2), ring.used_seen); /* nothing used */
	assert_int_not_equal(rd(REG_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
	assert_int_not_equal(rd(REG_INTERRUPT_STATUS) & 2, 0); /* configuration change */
	assert_true(eventfd_count(irq_fd) >= 1);
	/* The driver resets and starts over; the device works again. */
	memset(ram + DESC_GPA, 0, 0x3000);
	ring.next_desc = 0;
	ring.used_seen = 0;
	driver_init(ALL_FEATURES);
	r = simple(T_IN, 0, 512, true);
	assert_int_equal(serve(&r, 513), S_OK);
}

static void test_head_out_of_range(void **state)
{
	(void)state;
	ring_offer(&ring, QSIZE);
	process();
	assert_int_equal(get16(USED_GPA + 2), 0);
	assert_int_not_equal(rd(REG_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

static void test_interrupts(void **state)
{
	struct req r;

	(void)state;
	eventfd_count(irq_fd);
	r = simple(T_FLUSH, 0, 0, false);
	assert_int_equal(serve(&r, 1), S_OK);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 1);
	assert_true(eventfd_count(irq_fd) >= 1); /* exactly 1: test_one_interrupt_per_request */
	wr(REG_INTERRUPT_ACK, 1);
	/* Nothing to do: no interrupt. */
	process();
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 0);
	assert_int_equal(eventfd_count(irq_fd), 0);
	/* With NO_INTERRUPT in the avail flags, none either. */
	put16(AVAIL_GPA, 1);
	r = simple(T_FLUSH, 0, 0, false);
	assert_int_equal(serve(&r, 1), S_OK);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 0);
	assert_int_equal(eventfd_count(irq_fd), 0);
}

/*
 * Without EVENT_IDX, one request served in a call of virtio_blk_process is one
 * used entry and must be one interrupt, not two: a second irqfd write for the
 * same entry is a spurious interrupt the guest finds nothing for (and a run of
 * unhandled ones makes Linux disable the IRQ line).
 */
static void test_one_interrupt_per_request(void **state)
{
	struct req r;

	(void)state;
	eventfd_count(irq_fd);
	r = simple(T_FLUSH, 0, 0, false);
	assert_int_equal(serve(&r, 1), S_OK);
	assert_int_equal(eventfd_count(irq_fd), 1);
}

static void test_event_idx(void **state)
{
	uint64_t avail_event = USED_GPA + 4 + 8ULL * QSIZE;
	uint64_t used_event = AVAIL_GPA + 4 + 2ULL * QSIZE;
	struct req r;

	(void)state;
	assert_true(blk->transport.queues[0].event_idx);
	eventfd_count(irq_fd);
	r = simple(T_FLUSH, 0, 0, false);
	assert_int_equal(serve(&r, 1), S_OK);
	assert_int_equal(get16(avail_event), 1);
	assert_int_equal(eventfd_count(irq_fd), 1);
	/* The guest asks for an interrupt only after the 3rd used entry (index 2). */
	put16(used_event, 2);
	r = simple(T_FLUSH, 0, 0, false);
	assert_int_equal(serve(&r, 1), S_OK);
	assert_int_equal(eventfd_count(irq_fd), 0);
	assert_int_equal(get16(avail_event), 2);
	r = simple(T_FLUSH, 0, 0, false);
	assert_int_equal(serve(&r, 1), S_OK);
	assert_int_equal(eventfd_count(irq_fd), 1);
}

static void test_indirect_request(void **state)
{
	uint64_t h = header(T_IN, 4), d = alloc(1024, 0xcc), st = alloc(1, 0xff);
	struct req r;

	(void)state;
	desc_at(TABLE_GPA, 0, h, 16, VIRTQ_DESC_F_NEXT, 1);
	desc_at(TABLE_GPA, 1, d, 1024, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	desc_at(TABLE_GPA, 2, st, 1, VIRTQ_DESC_F_WRITE, 0);
	desc_at(DESC_GPA, 5, TABLE_GPA, 48, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 5);
	r = (struct req){ 5, d, st };
	assert_int_equal(serve(&r, 1025), S_OK);
	assert_ram_pattern(d, 4 * 512, 1024);
	/* Nested: refused, used len 0. */
	desc_at(TABLE_GPA + 0x100, 0, TABLE_GPA, 48, VIRTQ_DESC_F_INDIRECT, 0);
	desc_at(DESC_GPA, 6, TABLE_GPA + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	ram[st] = 0xff;
	ring_offer(&ring, 6);
	process();
	ring_expect_used(&ring, 6, 0);
	assert_int_equal(ram[st], 0xff);
}

static void test_indirect_not_negotiated(void **state)
{
	uint64_t h = header(T_FLUSH, 0), st = alloc(1, 0xff);

	(void)state;
	assert_false(blk->transport.queues[0].indirect);
	desc_at(TABLE_GPA, 0, h, 16, VIRTQ_DESC_F_NEXT, 1);
	desc_at(TABLE_GPA, 1, st, 1, VIRTQ_DESC_F_WRITE, 0);
	desc_at(DESC_GPA, 0, TABLE_GPA, 32, VIRTQ_DESC_F_INDIRECT, 0);
	ring_offer(&ring, 0);
	process();
	ring_expect_used(&ring, 0, 0);
	assert_int_equal(ram[st], 0xff);
	/* Without EVENT_IDX the device never writes avail_event. */
	assert_int_equal(get16(USED_GPA + 4 + 8ULL * QSIZE), 0);
}

/* A FLUSH in one ring descriptor: INDIRECT, to a table of header and status. */
static struct req flush_indirect(void)
{
	uint64_t table = alloc(32, 0), h = header(T_FLUSH, 0), st = alloc(1, 0xff);

	desc_at(table, 0, h, 16, VIRTQ_DESC_F_NEXT, 1);
	desc_at(table, 1, st, 1, VIRTQ_DESC_F_WRITE, 0);
	return (struct req){ ring_add_desc(&ring, table, 32, VIRTQ_DESC_F_INDIRECT, 0), 0, st };
}

static void test_full_ring(void **state)
{
	int kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct req r[QSIZE];

	(void)state;
	assert_true(kick >= 0);
	blk->transport.notify_fds[0] = kick; /* closed by virtio_blk_free */
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < QSIZE; i++)
			r[i] = flush_indirect();
		process();
		assert_int_equal(get16(USED_GPA + 2), (uint16_t)(ring.used_seen + QSIZE));
		for (int i = 0; i < QSIZE; i++) {
			ring_expect_used(&ring, r[i].head, 1);
			assert_int_equal(ram[r[i].status], S_OK);
		}
		/* A whole ring served in one call: the device asks to be called again. */
		assert_int_equal(eventfd_count(kick), 1);
		next_buf = BUF_GPA;
	}
	/* A partial ring: no kick. */
	r[0] = simple(T_FLUSH, 0, 0, false);
	assert_int_equal(serve(&r[0], 1), S_OK);
	assert_int_equal(eventfd_count(kick), 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define T_RO(f) cmocka_unit_test_setup_teardown(f, setup_ro, teardown)
	const struct CMUnitTest tests[] = {
		T(test_config_space),
		T(test_read),
		T(test_read_scattered),
		T(test_write),
		T(test_flush),
		T(test_get_id),
		cmocka_unit_test_setup_teardown(test_get_id_short_serial, setup_short_serial,
						teardown),
		T_RO(test_read_only),
		T(test_out_of_range),
		T(test_image_shrank),
		T(test_unaligned_length),
		T(test_discard_write_zeroes),
		T(test_discard_bad),
		T(test_discard_unmap_flag_unsupported),
		T(test_unknown_type),
		T(test_short_header),
		T(test_no_writable_byte),
		T(test_malformed_then_good),
		T(test_broken_ring),
		T(test_head_out_of_range),
		cmocka_unit_test_setup_teardown(test_interrupts, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_one_interrupt_per_request, setup_plain,
						teardown),
		T(test_event_idx),
		T(test_indirect_request),
		cmocka_unit_test_setup_teardown(test_indirect_not_negotiated, setup_plain,
						teardown),
		T(test_full_ring),
	};
#undef T
#undef T_RO
	return cmocka_run_group_tests(tests, NULL, NULL);
}
