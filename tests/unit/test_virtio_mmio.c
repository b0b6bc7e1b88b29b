/*
 * The virtio-mmio transport with a dummy device: registers read and written
 * as a guest driver does, through virtio_mmio_read/write, over real guest RAM.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "virtio_harness.h"
#include "../../devices/virtio_mmio.h"

#define RAM_SIZE (2 * MiB)

#define DUMMY_ID 42
#define NQUEUES 2
/* Offered: bits 0 and 3, INDIRECT_DESC and EVENT_IDX; VERSION_1 comes from the transport. */
#define OFFERED (1ULL << 0 | 1ULL << 3 | 1ULL << 28 | 1ULL << 29)
#define CONFIG_SIZE 10

struct dummy {
	int notifies[NQUEUES];
	int resets;
	uint64_t cfg_offset;
	unsigned cfg_size;
	uint8_t cfg_data[8];
	int cfg_writes;
};

static void dummy_notify(void *dev, struct virtio_mmio *t, int q)
{
	struct dummy *d = dev;

	(void)t;
	assert_in_range(q, 0, NQUEUES - 1);
	d->notifies[q]++;
}

static void dummy_reset(void *dev)
{
	((struct dummy *)dev)->resets++;
}

static void dummy_config_write(void *dev, uint64_t offset, const void *data, unsigned size)
{
	struct dummy *d = dev;

	assert_true(size <= sizeof(d->cfg_data));
	d->cfg_offset = offset;
	d->cfg_size = size;
	memcpy(d->cfg_data, data, size);
	d->cfg_writes++;
}

static const struct virtio_device_ops dummy_ops = {
	.name = "dummy",
	.device_id = DUMMY_ID,
	.nqueues = NQUEUES,
	.queue_notify = dummy_notify,
	.reset = dummy_reset,
	.config_write = dummy_config_write,
};

static struct virtio_mmio t;
static struct dummy dummy;
static uint8_t *config; /* exactly CONFIG_SIZE bytes on the heap: ASan sees overreads */

static int setup(void **state)
{
	(void)state;
	if (guest_ram_map(RAM_SIZE))
		return -1;
	config = malloc(CONFIG_SIZE);
	if (!config)
		return -1;
	for (int i = 0; i < CONFIG_SIZE; i++)
		config[i] = 0x10 + i;
	memset(&dummy, 0, sizeof(dummy));
	virtio_mmio_init(&t, &dummy_ops, &dummy, &mem, OFFERED, config, CONFIG_SIZE);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	virtio_mmio_destroy(&t); /* closes irq_fd and notify fds the test put there */
	free(config);
	guest_mem_unmap(&mem);
	return 0;
}

static uint32_t rd(uint64_t off)
{
	return mmio_read32(&t, off);
}

static void wr(uint64_t off, uint32_t v)
{
	mmio_write32(&t, off, v);
}

static uint64_t rd_config(uint64_t off, unsigned size)
{
	uint64_t v;

	memset(&v, 0xee, sizeof(v));
	virtio_mmio_read(&t, REG_CONFIG + off, &v, size);
	return size == 8 ? v : v & ((1ULL << (8 * size)) - 1);
}

/* A driver that has done everything right: DRIVER_OK with queue 0 live. */
static void bring_up(void)
{
	assert_int_equal(negotiate(&t, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << 29),
			 ACK | DRIVER | FEATURES_OK);
	setup_queue(&t, 0, 16, 0x1000, 0x2000, 0x3000);
	wr(REG_QUEUE_READY, 1);
	assert_int_equal(rd(REG_QUEUE_READY), 1);
	wr(REG_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	assert_int_equal(rd(REG_STATUS), ACK | DRIVER | FEATURES_OK | DRIVER_OK);
}

static void test_identity(void **state)
{
	(void)state;
	assert_int_equal(rd(REG_MAGIC), 0x74726976);
	assert_int_equal(rd(REG_VERSION), 2);
	assert_int_equal(rd(REG_DEVICE_ID), DUMMY_ID);
	assert_int_equal(rd(REG_VENDOR_ID), 0x4d564d4d);
	assert_int_equal(rd(REG_STATUS), 0);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 0);
	/* Write-only and reserved registers read as zero. */
	assert_int_equal(rd(REG_DRIVER_FEATURES), 0);
	assert_int_equal(rd(REG_QUEUE_NOTIFY), 0);
	assert_int_equal(rd(0x0f0), 0);
}

static void test_device_features(void **state)
{
	(void)state;
	wr(REG_DEVICE_FEATURES_SEL, 0);
	assert_int_equal(rd(REG_DEVICE_FEATURES), (uint32_t)OFFERED);
	wr(REG_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(REG_DEVICE_FEATURES), 1); /* VERSION_1, bit 32 */
	wr(REG_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(REG_DEVICE_FEATURES), 0);
	wr(REG_DEVICE_FEATURES_SEL, 0xffffffff);
	assert_int_equal(rd(REG_DEVICE_FEATURES), 0);
}

static void test_negotiation_ok(void **state)
{
	(void)state;
	assert_int_equal(negotiate(&t, OFFERED | 1ULL << VIRTIO_F_VERSION_1),
			 ACK | DRIVER | FEATURES_OK);
	assert_true(virtio_mmio_has_feature(&t, 0));
	assert_true(virtio_mmio_has_feature(&t, 29));
	assert_true(virtio_mmio_has_feature(&t, VIRTIO_F_VERSION_1));
	assert_false(virtio_mmio_has_feature(&t, 1));
	assert_false(virtio_mmio_has_feature(&t, 64));
	/* A subset is fine too. */
	assert_int_equal(negotiate(&t, 1ULL << VIRTIO_F_VERSION_1), ACK | DRIVER | FEATURES_OK);
	assert_false(virtio_mmio_has_feature(&t, 0));
}

static void test_negotiation_refused(void **state)
{
	(void)state;
	/* An unoffered bit, low or high. */
	assert_int_equal(negotiate(&t, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << 1), ACK | DRIVER);
	assert_int_equal(negotiate(&t, 1ULL << VIRTIO_F_VERSION_1 | 1ULL << 40), ACK | DRIVER);
	/* No VERSION_1: a legacy driver. */
	assert_int_equal(negotiate(&t, OFFERED), ACK | DRIVER);
	/* Not a broken device, only a refused negotiation: the driver may retry after a reset. */
	assert_int_equal(rd(REG_STATUS) & NEEDS_RESET, 0);
	/* And it cannot go on to DRIVER_OK. */
	wr(REG_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	assert_int_equal(rd(REG_STATUS) & (FEATURES_OK | DRIVER_OK), 0);
	assert_int_not_equal(rd(REG_STATUS) & NEEDS_RESET, 0);
}

static void test_driver_features_when_ignored(void **state)
{
	(void)state;
	/* Before DRIVER. */
	wr(REG_STATUS, ACK);
	driver_features(&t, 1ULL << VIRTIO_F_VERSION_1 | 1);
	assert_false(virtio_mmio_has_feature(&t, 0));
	assert_false(virtio_mmio_has_feature(&t, VIRTIO_F_VERSION_1));
	/* After FEATURES_OK. */
	assert_int_equal(negotiate(&t, 1ULL << VIRTIO_F_VERSION_1), ACK | DRIVER | FEATURES_OK);
	driver_features(&t, 1ULL << VIRTIO_F_VERSION_1 | 1 | 1ULL << 29);
	assert_false(virtio_mmio_has_feature(&t, 0));
	assert_false(virtio_mmio_has_feature(&t, 29));
	assert_true(virtio_mmio_has_feature(&t, VIRTIO_F_VERSION_1));
	/* A selector past 1 selects nothing. */
	wr(REG_STATUS, 0);
	wr(REG_STATUS, ACK | DRIVER);
	driver_features(&t, 1ULL << VIRTIO_F_VERSION_1);
	wr(REG_DRIVER_FEATURES_SEL, 2);
	wr(REG_DRIVER_FEATURES, 0xffffffff);
	assert_true(virtio_mmio_has_feature(&t, VIRTIO_F_VERSION_1));
	assert_false(virtio_mmio_has_feature(&t, 1));
	assert_false(virtio_mmio_has_feature(&t, 33));
}

static void test_driver_ok_without_features_ok(void **state)
{
	(void)state;
	wr(REG_STATUS, ACK);
	wr(REG_STATUS, ACK | DRIVER);
	wr(REG_STATUS, ACK | DRIVER | DRIVER_OK);
	assert_int_equal(rd(REG_STATUS), ACK | DRIVER | NEEDS_RESET);
}

static void test_clearing_status_bits(void **state)
{
	(void)state;
	wr(REG_STATUS, ACK);
	wr(REG_STATUS, ACK | DRIVER);
	wr(REG_STATUS, ACK);
	assert_int_equal(rd(REG_STATUS), ACK | DRIVER | NEEDS_RESET);
	/* Once set, NEEDS_RESET stays through further writes ... */
	wr(REG_STATUS, ACK | DRIVER | 0x20);
	assert_int_not_equal(rd(REG_STATUS) & NEEDS_RESET, 0);
	/* ... until the driver writes 0. */
	wr(REG_STATUS, 0);
	assert_int_equal(rd(REG_STATUS), 0);
	/* Going from DRIVER_OK to another non-zero value is clearing too. */
	bring_up();
	wr(REG_STATUS, ACK | DRIVER | FEATURES_OK);
	assert_int_equal(rd(REG_STATUS), ACK | DRIVER | FEATURES_OK | DRIVER_OK | NEEDS_RESET);
}

static void test_reset_clears_everything(void **state)
{
	(void)state;
	bring_up();
	virtio_mmio_used(&t, 0);
	assert_int_not_equal(rd(REG_INTERRUPT_STATUS), 0);
	wr(REG_DEVICE_FEATURES_SEL, 1);
	wr(REG_QUEUE_SEL, 1);
	int resets = dummy.resets;

	wr(REG_STATUS, 0);
	assert_int_equal(dummy.resets, resets + 1);
	assert_int_equal(rd(REG_STATUS), 0);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 0);
	assert_false(virtio_mmio_has_feature(&t, VIRTIO_F_VERSION_1));
	assert_int_equal(rd(REG_DEVICE_FEATURES), (uint32_t)OFFERED); /* selector back to 0 */
	for (int q = 0; q < NQUEUES; q++) {
		wr(REG_QUEUE_SEL, q);
		assert_int_equal(rd(REG_QUEUE_READY), 0);
		assert_int_equal(t.queues[q].size, 0);
		assert_int_equal(t.queues[q].desc_gpa, 0);
		assert_int_equal(t.queues[q].avail_gpa, 0);
		assert_int_equal(t.queues[q].used_gpa, 0);
		assert_int_equal(t.queues[q].last_avail_idx, 0);
		assert_int_equal(t.queues[q].used_idx, 0);
	}
	/* The identity is not state. */
	assert_int_equal(rd(REG_MAGIC), 0x74726976);
	/* And the device comes up again from there. */
	bring_up();
}

static void test_queue_num_max(void **state)
{
	(void)state;
	for (int q = 0; q < NQUEUES; q++) {
		wr(REG_QUEUE_SEL, q);
		assert_int_equal(rd(REG_QUEUE_NUM_MAX), VIRTQ_MAX_SIZE);
	}
	wr(REG_QUEUE_SEL, NQUEUES);
	assert_int_equal(rd(REG_QUEUE_NUM_MAX), 0);
	assert_int_equal(rd(REG_QUEUE_READY), 0);
	wr(REG_QUEUE_SEL, 0xffffffff);
	assert_int_equal(rd(REG_QUEUE_NUM_MAX), 0);
	/* Writes to a queue that does not exist go nowhere. */
	wr(REG_QUEUE_NUM, 16);
	wr(REG_QUEUE_READY, 1);
	assert_int_equal(rd(REG_QUEUE_READY), 0);
	assert_int_equal(rd(REG_STATUS), 0);
	for (int q = 0; q < VIRTIO_MMIO_MAX_QUEUES; q++)
		assert_int_equal(t.queues[q].size, 0);
}

static void test_queue_ready_bad_rings(void **state)
{
	(void)state;
	assert_int_equal(negotiate(&t, 1ULL << VIRTIO_F_VERSION_1), ACK | DRIVER | FEATURES_OK);
	setup_queue(&t, 0, 16, RAM_SIZE, 0x2000, 0x3000); /* desc outside RAM */
	wr(REG_QUEUE_READY, 1);
	assert_int_equal(rd(REG_QUEUE_READY), 0);
	assert_int_not_equal(rd(REG_STATUS) & NEEDS_RESET, 0);
	assert_false(t.queues[0].ready);

	assert_int_equal(negotiate(&t, 1ULL << VIRTIO_F_VERSION_1), ACK | DRIVER | FEATURES_OK);
	setup_queue(&t, 0, 16, 0x1000, 0x2000, 4 * GiB); /* used in the MMIO hole */
	wr(REG_QUEUE_READY, 1);
	assert_int_equal(rd(REG_QUEUE_READY), 0);
	assert_int_not_equal(rd(REG_STATUS) & NEEDS_RESET, 0);

	assert_int_equal(negotiate(&t, 1ULL << VIRTIO_F_VERSION_1), ACK | DRIVER | FEATURES_OK);
	setup_queue(&t, 0, 12, 0x1000, 0x2000, 0x3000); /* not a power of 2 */
	wr(REG_QUEUE_READY, 1);
	assert_int_equal(rd(REG_QUEUE_READY), 0);
	assert_int_not_equal(rd(REG_STATUS) & NEEDS_RESET, 0);

	assert_int_equal(negotiate(&t, 1ULL << VIRTIO_F_VERSION_1), ACK | DRIVER | FEATURES_OK);
	setup_queue(&t, 0, 512, 0x1000, 0x2000, 0x3000); /* more than QueueNumMax */
	wr(REG_QUEUE_READY, 1);
	assert_int_equal(rd(REG_QUEUE_READY), 0);
	assert_int_not_equal(rd(REG_STATUS) & NEEDS_RESET, 0);
}

static void test_queue_layout_ignored_while_ready(void **state)
{
	(void)state;
	bring_up();
	wr(REG_QUEUE_SEL, 0);
	wr(REG_QUEUE_NUM, 8);
	wr(REG_QUEUE_DESC_LOW, 0x5000);
	wr(REG_QUEUE_DESC_HIGH, 1);
	wr(REG_QUEUE_DRIVER_LOW, 0x6000);
	wr(REG_QUEUE_DEVICE_LOW, 0x7000);
	wr(REG_QUEUE_DEVICE_HIGH, 0xffffffff);
	assert_int_equal(t.queues[0].size, 16);
	assert_int_equal(t.queues[0].desc_gpa, 0x1000);
	assert_int_equal(t.queues[0].avail_gpa, 0x2000);
	assert_int_equal(t.queues[0].used_gpa, 0x3000);
	assert_true(t.queues[0].event_idx);
	assert_false(t.queues[0].indirect);
	/* QueueReady 0 takes the queue down; then the layout may change. */
	wr(REG_QUEUE_READY, 0);
	assert_int_equal(rd(REG_QUEUE_READY), 0);
	wr(REG_QUEUE_NUM, 8);
	assert_int_equal(t.queues[0].size, 8);
}

static void test_64bit_addresses(void **state)
{
	(void)state;
	wr(REG_QUEUE_SEL, 1);
	wr(REG_QUEUE_DESC_LOW, 0x89abcdef);
	wr(REG_QUEUE_DESC_HIGH, 0x01234567);
	wr(REG_QUEUE_DRIVER_HIGH, 0xfedcba98);
	wr(REG_QUEUE_DRIVER_LOW, 0x76543210);
	wr(REG_QUEUE_DEVICE_LOW, 0x1000);
	wr(REG_QUEUE_DEVICE_HIGH, 0x1);
	assert_int_equal(t.queues[1].desc_gpa, 0x0123456789abcdefULL);
	assert_int_equal(t.queues[1].avail_gpa, 0xfedcba9876543210ULL);
	assert_int_equal(t.queues[1].used_gpa, 0x100001000ULL);
	/* Each half replaces only its half. */
	wr(REG_QUEUE_DESC_LOW, 0x10);
	assert_int_equal(t.queues[1].desc_gpa, 0x0123456700000010ULL);
	wr(REG_QUEUE_DESC_HIGH, 0);
	assert_int_equal(t.queues[1].desc_gpa, 0x10);
	/* Queue 0 untouched. */
	assert_int_equal(t.queues[0].desc_gpa, 0);
	assert_int_equal(t.queues[0].used_gpa, 0);
	/* A high address with no RAM there: refused at QueueReady. */
	assert_int_equal(negotiate(&t, 1ULL << VIRTIO_F_VERSION_1), ACK | DRIVER | FEATURES_OK);
	setup_queue(&t, 1, 16, 0x100001000ULL, 0x2000, 0x3000);
	wr(REG_QUEUE_READY, 1);
	assert_int_equal(rd(REG_QUEUE_READY), 0);
}

static void test_interrupt_status_ack(void **state)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	t.irq_fd = fd;
	bring_up();
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 0);
	virtio_mmio_used(&t, 0);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 1);
	assert_int_equal(eventfd_count(fd), 1);
	/* Acking another bit leaves bit 0; acking bit 0 clears it. */
	wr(REG_INTERRUPT_ACK, 2);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 1);
	wr(REG_INTERRUPT_ACK, 1);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 0);
	/* Writes to InterruptStatus itself do nothing. With EVENT_IDX (negotiated by
	 * bring_up) a new used entry is needed for another interrupt. */
	virtq_push(&t.queues[0], &mem, 0, 1);
	virtio_mmio_used(&t, 0);
	wr(REG_INTERRUPT_STATUS, 0);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 1);
	assert_int_equal(eventfd_count(fd), 1);
	wr(REG_INTERRUPT_ACK, 0xffffffff);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 0);
}

static void test_used_respects_no_interrupt(void **state)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	t.irq_fd = fd;
	assert_int_equal(negotiate(&t, 1ULL << VIRTIO_F_VERSION_1), ACK | DRIVER | FEATURES_OK);
	setup_queue(&t, 0, 16, 0x1000, 0x2000, 0x3000);
	wr(REG_QUEUE_READY, 1);
	wr(REG_STATUS, ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	uint16_t no_interrupt = 1;

	memcpy(ram + 0x2000, &no_interrupt, 2); /* avail flags */
	virtio_mmio_used(&t, 0);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 0);
	assert_int_equal(eventfd_count(fd), 0);
	no_interrupt = 0;
	memcpy(ram + 0x2000, &no_interrupt, 2);
	virtio_mmio_used(&t, 0);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 1);
	assert_int_equal(eventfd_count(fd), 1);
}

static void test_odd_register_accesses(void **state)
{
	uint8_t buf[8];
	uint32_t v;

	(void)state;
	/* Reads of 1, 2 and 8 bytes and misaligned 4-byte reads are zero. */
	for (unsigned size = 1; size <= 8; size *= 2) {
		if (size == 4)
			continue;
		memset(buf, 0xee, sizeof(buf));
		virtio_mmio_read(&t, REG_MAGIC, buf, size);
		for (unsigned i = 0; i < size; i++)
			assert_int_equal(buf[i], 0);
	}
	v = 0xdeadbeef;
	virtio_mmio_read(&t, REG_MAGIC + 1, &v, 4);
	assert_int_equal(v, 0);
	v = 0xdeadbeef;
	virtio_mmio_read(&t, REG_VERSION + 2, &v, 4);
	assert_int_equal(v, 0);
	/* Writes of other sizes or misaligned go nowhere. */
	uint16_t s16 = ACK;
	uint8_t s8 = ACK;
	uint64_t s64 = ACK;

	virtio_mmio_write(&t, REG_STATUS, &s16, 2);
	virtio_mmio_write(&t, REG_STATUS, &s8, 1);
	virtio_mmio_write(&t, REG_STATUS, &s64, 8);
	v = ACK;
	virtio_mmio_write(&t, REG_STATUS + 1, &v, 4);
	virtio_mmio_write(&t, REG_STATUS - 2, &v, 4);
	assert_int_equal(rd(REG_STATUS), 0);
	/* Out past the config space and the window. */
	assert_int_equal(rd(0x1fc), 0);
	assert_int_equal(rd(0x200), 0);
	assert_int_equal(rd(0xfffffffffffffffcULL), 0);
	wr(0x1fc, 1);
	wr(0xfffffffffffffffcULL, 1);
	assert_int_equal(dummy.cfg_writes, 0);
}

static void test_config_reads(void **state)
{
	(void)state;
	/* config[i] = 0x10 + i, 10 bytes. */
	assert_int_equal(rd_config(0, 1), 0x10);
	assert_int_equal(rd_config(9, 1), 0x19);
	assert_int_equal(rd_config(0, 2), 0x1110);
	assert_int_equal(rd_config(3, 2), 0x1413); /* any alignment */
	assert_int_equal(rd_config(8, 2), 0x1918);
	assert_int_equal(rd_config(0, 4), 0x13121110);
	assert_int_equal(rd_config(6, 4), 0x19181716);
	assert_int_equal(rd_config(0, 8), 0x1716151413121110ULL);
	assert_int_equal(rd_config(2, 8), 0x1918171615141312ULL);
	/* Crossing the end or past it: zeros, and nothing read beyond the buffer. */
	assert_int_equal(rd_config(9, 2), 0);
	assert_int_equal(rd_config(8, 4), 0);
	assert_int_equal(rd_config(3, 8), 0);
	assert_int_equal(rd_config(7, 4), 0);
	assert_int_equal(rd_config(10, 1), 0);
	assert_int_equal(rd_config(10, 8), 0);
	assert_int_equal(rd_config(0xff, 1), 0);
	assert_int_equal(rd_config(0xfffffffffffffeffULL, 1), 0); /* offset wraps past 0x100 */
}

static void test_config_writes(void **state)
{
	uint32_t v = 0xa1b2c3d4;

	(void)state;
	virtio_mmio_write(&t, REG_CONFIG + 6, &v, 4);
	assert_int_equal(dummy.cfg_writes, 1);
	assert_int_equal(dummy.cfg_offset, 6);
	assert_int_equal(dummy.cfg_size, 4);
	assert_memory_equal(dummy.cfg_data, &v, 4);
	/* Crossing the end: not passed on. */
	virtio_mmio_write(&t, REG_CONFIG + 7, &v, 4);
	virtio_mmio_write(&t, REG_CONFIG + 10, &v, 1);
	assert_int_equal(dummy.cfg_writes, 1);
	/* The transport's copy of config space is the device's: unchanged. */
	assert_int_equal(rd_config(6, 4), 0x19181716);
}

static void test_queue_notify_kicks(void **state)
{
	int fds[NQUEUES];

	(void)state;
	for (int q = 0; q < NQUEUES; q++) {
		fds[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		assert_true(fds[q] >= 0);
		t.notify_fds[q] = fds[q];
	}
	bring_up();
	wr(REG_QUEUE_NOTIFY, 1);
	assert_int_equal(eventfd_count(fds[1]), 1);
	assert_int_equal(eventfd_count(fds[0]), 0);
	wr(REG_QUEUE_NOTIFY, NQUEUES); /* no such queue */
	wr(REG_QUEUE_NOTIFY, 0xffffffff);
	assert_int_equal(eventfd_count(fds[0]), 0);
	assert_int_equal(eventfd_count(fds[1]), 0);
	/* The work is the I/O thread's: never done on the vCPU's write. */
	assert_int_equal(dummy.notifies[0], 0);
	assert_int_equal(dummy.notifies[1], 0);
}

static void test_set_broken(void **state)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	t.irq_fd = fd;
	/* Before DRIVER_OK: the status bit only. */
	assert_int_equal(negotiate(&t, 1ULL << VIRTIO_F_VERSION_1), ACK | DRIVER | FEATURES_OK);
	virtio_mmio_set_broken(&t, "test");
	assert_int_equal(rd(REG_STATUS), ACK | DRIVER | FEATURES_OK | NEEDS_RESET);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 0);
	assert_int_equal(eventfd_count(fd), 0);
	/* After DRIVER_OK: a config-change interrupt too, once. */
	bring_up();
	virtio_mmio_set_broken(&t, "test");
	assert_int_not_equal(rd(REG_STATUS) & NEEDS_RESET, 0);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 2);
	assert_int_equal(eventfd_count(fd), 1);
	virtio_mmio_set_broken(&t, "again");
	assert_int_equal(eventfd_count(fd), 0);
}

static void test_save_reset_load(void **state)
{
	uint8_t buf[1024];
	long n;

	(void)state;
	bring_up();
	setup_queue(&t, 1, 32, 0x10000, 0x11000, 0x12000);
	wr(REG_QUEUE_READY, 1);
	wr(REG_QUEUE_SEL, 1);
	wr(REG_DEVICE_FEATURES_SEL, 1);
	t.queues[0].last_avail_idx = 7;
	t.queues[0].used_idx = 5;
	virtio_mmio_used(&t, 0);
	struct virtio_mmio before = t;

	assert_int_equal(virtio_mmio_save(&t, buf, 16), -ENOSPC);
	n = virtio_mmio_save(&t, buf, sizeof(buf));
	assert_true(n > 0 && (size_t)n <= sizeof(buf));

	wr(REG_STATUS, 0);
	assert_int_equal(rd(REG_STATUS), 0);
	assert_int_equal(virtio_mmio_load(&t, buf, n), 0);
	assert_int_equal(rd(REG_STATUS), ACK | DRIVER | FEATURES_OK | DRIVER_OK);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 1);
	assert_int_equal(rd(REG_DEVICE_FEATURES), 1);
	assert_true(virtio_mmio_has_feature(&t, VIRTIO_F_VERSION_1));
	assert_true(virtio_mmio_has_feature(&t, 29));
	assert_int_equal(rd(REG_QUEUE_READY), 1); /* queue 1 is selected */
	assert_memory_equal(t.queues, before.queues, sizeof(t.queues));
	assert_int_equal(t.queue_sel, 1);
	assert_int_equal(t.queues[0].last_avail_idx, 7);
	assert_int_equal(t.queues[1].size, 32);
	assert_int_equal(t.queues[1].used_gpa, 0x12000);
	/* Into a fresh transport as well (the restore path). */
	virtio_mmio_destroy(&t);
	virtio_mmio_init(&t, &dummy_ops, &dummy, &mem, OFFERED, config, CONFIG_SIZE);
	assert_int_equal(virtio_mmio_load(&t, buf, n), 0);
	assert_memory_equal(t.queues, before.queues, sizeof(t.queues));
	assert_int_equal(rd(REG_STATUS), ACK | DRIVER | FEATURES_OK | DRIVER_OK);
}

/* A kick the guest gave before the save lived in an eventfd: load gives every ready queue one. */
static void test_load_kicks_ready_queues(void **state)
{
	uint8_t buf[1024];
	int fds[NQUEUES];
	long n;

	(void)state;
	for (int q = 0; q < NQUEUES; q++) {
		fds[q] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		assert_true(fds[q] >= 0);
		t.notify_fds[q] = fds[q];
	}
	bring_up(); /* queue 0 ready, queue 1 not */
	n = virtio_mmio_save(&t, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(virtio_mmio_load(&t, buf, n), 0);
	assert_int_equal(eventfd_count(fds[0]), 1);
	assert_int_equal(eventfd_count(fds[1]), 0); /* not ready: left alone */
	assert_int_equal(dummy.notifies[0], 0);	    /* the work is still the I/O thread's */
}

/*
 * KVM delivers an irqfd write asynchronously, so a snapshot can hold an
 * InterruptStatus bit whose edge never reached the saved irqchip: load raises it again.
 */
static void test_load_raises_pending_interrupt(void **state)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	uint8_t pending[1024], acked[1024], idle[1024];
	long n;

	(void)state;
	assert_true(fd >= 0);
	t.irq_fd = fd;
	bring_up();
	virtio_mmio_used(&t, 0);
	n = virtio_mmio_save(&t, pending, sizeof(pending));
	assert_true(n > 0);
	wr(REG_INTERRUPT_ACK, 1);
	assert_int_equal(virtio_mmio_save(&t, acked, sizeof(acked)), n);
	/* Not DRIVER_OK: no driver to interrupt, whatever the status says. */
	wr(REG_STATUS, 0);
	t.interrupt_status = 1;
	assert_int_equal(virtio_mmio_save(&t, idle, sizeof(idle)), n);
	assert_int_equal(eventfd_count(fd), 1); /* virtio_mmio_used's */

	assert_int_equal(virtio_mmio_load(&t, pending, n), 0);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 1);
	assert_int_equal(eventfd_count(fd), 1);
	assert_int_equal(virtio_mmio_load(&t, acked, n), 0);
	assert_int_equal(eventfd_count(fd), 0);
	assert_int_equal(virtio_mmio_load(&t, idle, n), 0);
	assert_int_equal(rd(REG_INTERRUPT_STATUS), 1);
	assert_int_equal(eventfd_count(fd), 0);
	/* A refused load raises nothing. */
	assert_int_equal(virtio_mmio_load(&t, pending, n - 1), -EINVAL);
	assert_int_equal(eventfd_count(fd), 0);
}

static void test_load_refuses(void **state)
{
	uint8_t buf[1024], bad[1024];
	long n;
	uint32_t version;

	(void)state;
	bring_up();
	n = virtio_mmio_save(&t, buf, sizeof(buf));
	assert_true(n > 8);
	wr(REG_STATUS, 0);

	assert_int_equal(virtio_mmio_load(&t, buf, n - 1), -EINVAL);
	assert_int_equal(virtio_mmio_load(&t, buf, 0), -EINVAL);
	memcpy(bad, buf, n);
	memset(bad + n, 0, 8);
	assert_int_equal(virtio_mmio_load(&t, bad, n + 8), -EINVAL);
	/* The version is the first word. */
	memcpy(&version, buf, 4);
	version++;
	memcpy(bad, &version, 4);
	assert_int_equal(virtio_mmio_load(&t, bad, n), -EINVAL);
	assert_int_equal(rd(REG_STATUS), 0); /* nothing half-loaded */

	/* A ready queue whose rings are outside RAM. */
	bring_up();
	t.queues[0].used_gpa = RAM_SIZE - 8;
	n = virtio_mmio_save(&t, bad, sizeof(bad));
	t.queues[0].size = 0;
	t.queues[0].used_gpa = 0x3000;
	wr(REG_STATUS, 0);
	assert_int_equal(virtio_mmio_load(&t, bad, n), -EINVAL);
	assert_int_equal(rd(REG_STATUS), 0);
	assert_false(t.queues[0].ready);
	/* Or of a bad size. */
	bring_up();
	t.queues[0].size = 24;
	n = virtio_mmio_save(&t, bad, sizeof(bad));
	wr(REG_STATUS, 0);
	assert_int_equal(virtio_mmio_load(&t, bad, n), -EINVAL);
	/* The good state still loads. */
	assert_int_equal(virtio_mmio_load(&t, buf, n), 0);
	assert_int_equal(rd(REG_STATUS), ACK | DRIVER | FEATURES_OK | DRIVER_OK);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_identity),
		T(test_device_features),
		T(test_negotiation_ok),
		T(test_negotiation_refused),
		T(test_driver_features_when_ignored),
		T(test_driver_ok_without_features_ok),
		T(test_clearing_status_bits),
		T(test_reset_clears_everything),
		T(test_queue_num_max),
		T(test_queue_ready_bad_rings),
		T(test_queue_layout_ignored_while_ready),
		T(test_64bit_addresses),
		T(test_interrupt_status_ack),
		T(test_used_respects_no_interrupt),
		T(test_odd_register_accesses),
		T(test_config_reads),
		T(test_config_writes),
		T(test_queue_notify_kicks),
		T(test_set_broken),
		T(test_save_reset_load),
		T(test_load_kicks_ready_queues),
		T(test_load_raises_pending_interrupt),
		T(test_load_refuses),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
