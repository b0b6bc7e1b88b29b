/*
 * Split virtqueues: rings built by hand in real guest RAM, the way a driver
 * lays them out, then popped, pushed and notified through devices/virtqueue.c.
 * Most cases are hostile: every address, length, index and chain comes from
 * the guest.
 */
#include <errno.h>
#include <string.h>

#include "virtio_harness.h"
#include "../../devices/virtqueue.h"

#define RAM_SIZE (2 * MiB)
#define QSIZE 16
#define DESC_GPA 0x1000ULL
#define AVAIL_GPA 0x3000ULL
#define USED_GPA 0x4000ULL
#define TABLE_GPA 0x8000ULL /* indirect tables */
#define DATA_GPA 0x10000ULL

static struct virtq vq;
static struct virtq_chain chain;

static int setup(void **state)
{
	(void)state;
	if (guest_ram_map(RAM_SIZE))
		return -1;
	vq = (struct virtq){
		.size = QSIZE, .ready = true,
		.desc_gpa = DESC_GPA, .avail_gpa = AVAIL_GPA, .used_gpa = USED_GPA,
	};
	memset(&chain, 0xa5, sizeof(chain));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	guest_mem_unmap(&mem);
	return 0;
}

static void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	desc_at(vq.desc_gpa, i, addr, len, flags, next);
}

static uint16_t avail_idx(void)
{
	return get16(vq.avail_gpa + 2);
}

static void offer(uint16_t head)
{
	avail_offer(vq.avail_gpa, vq.size, head);
}

static uint16_t used_idx(void)
{
	return get16(vq.used_gpa + 2);
}

/* Pop one chain that must be malformed, reported with head @head. */
static void pop_einval(uint16_t head)
{
	assert_int_equal(virtq_pop(&vq, &mem, &chain), -EINVAL);
	assert_int_equal(chain.head, head);
}

static void test_three_descriptor_chain(void **state)
{
	(void)state;
	desc(3, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 7);
	desc(7, DATA_GPA + 0x1000, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	desc(1, DATA_GPA + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(3);

	assert_int_equal(virtq_pop(&vq, &mem, &chain), 1);
	assert_int_equal(chain.head, 3);
	assert_int_equal(chain.nout, 1);
	assert_int_equal(chain.nin, 2);
	assert_int_equal(chain.out_len, 16);
	assert_int_equal(chain.in_len, 513);
	assert_ptr_equal(chain.bufs[0].host, ram + DATA_GPA);
	assert_int_equal(chain.bufs[0].len, 16);
	assert_ptr_equal(chain.bufs[1].host, ram + DATA_GPA + 0x1000);
	assert_int_equal(chain.bufs[1].len, 512);
	assert_ptr_equal(chain.bufs[2].host, ram + DATA_GPA + 0x2000);
	assert_int_equal(chain.bufs[2].len, 1);
	assert_int_equal(vq.last_avail_idx, 1);
	/* Nothing more. */
	assert_int_equal(virtq_pop(&vq, &mem, &chain), 0);
}

static void test_empty_ring(void **state)
{
	(void)state;
	assert_int_equal(virtq_pop(&vq, &mem, &chain), 0);
	assert_int_equal(vq.last_avail_idx, 0);
	/* Also empty after the 16-bit index wrapped. */
	vq.last_avail_idx = 0xffff;
	put16(AVAIL_GPA + 2, 0xffff);
	assert_int_equal(virtq_pop(&vq, &mem, &chain), 0);
}

static void test_avail_index_wraps(void **state)
{
	(void)state;
	vq.last_avail_idx = 0xffff;
	put16(AVAIL_GPA + 2, 0xffff);
	desc(2, DATA_GPA, 8, 0, 0);
	offer(2); /* slot 0xffff % 16 = 15, idx 0 */
	assert_int_equal(avail_idx(), 0);
	assert_int_equal(get16(AVAIL_GPA + 4 + 2 * 15), 2);
	assert_int_equal(virtq_pop(&vq, &mem, &chain), 1);
	assert_int_equal(chain.head, 2);
	assert_int_equal(vq.last_avail_idx, 0);
}

static void test_addr_outside_ram(void **state)
{
	(void)state;
	desc(5, RAM_SIZE, 1, 0, 0);
	offer(5);
	pop_einval(5);
	desc(6, 4 * GiB, 16, 0, 0); /* where high RAM would be, but there is none */
	offer(6);
	pop_einval(6);
	/* In the middle of a chain: still the head is reported. */
	desc(0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, UINT64_MAX, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	pop_einval(0);
	assert_int_equal(vq.last_avail_idx, 3);
}

static void test_addr_straddles_end(void **state)
{
	(void)state;
	desc(0, RAM_SIZE - 8, 16, 0, 0);
	offer(0);
	pop_einval(0);
	/* The last 16 bytes exactly are fine. */
	desc(1, RAM_SIZE - 16, 16, 0, 0);
	offer(1);
	assert_int_equal(virtq_pop(&vq, &mem, &chain), 1);
	assert_ptr_equal(chain.bufs[0].host, ram + RAM_SIZE - 16);
}

static void test_len_overflow(void **state)
{
	(void)state;
	desc(0, 0xffffffffffff0000ULL, 0xffffffff, 0, 0); /* addr + len wraps to a small value */
	offer(0);
	pop_einval(0);
	desc(1, UINT64_MAX - 10, 0xffffffff, VIRTQ_DESC_F_WRITE, 0);
	offer(1);
	pop_einval(1);
	desc(2, 0x1000, 0xffffffff, 0, 0); /* more than all of RAM */
	offer(2);
	pop_einval(2);
}

static void test_next_out_of_range(void **state)
{
	(void)state;
	desc(0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, QSIZE);
	offer(0);
	pop_einval(0);
	desc(1, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 0xffff);
	offer(1);
	pop_einval(1);
}

static void test_loops(void **state)
{
	(void)state;
	desc(4, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 4); /* next -> itself */
	offer(4);
	pop_einval(4);
	desc(8, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 9); /* 8 -> 9 -> 8 */
	desc(9, DATA_GPA + 16, 16, VIRTQ_DESC_F_NEXT, 8);
	offer(8);
	pop_einval(8);
	/* A writable loop as well (no readable-after-writable to stop it first). */
	desc(10, DATA_GPA, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 11);
	desc(11, DATA_GPA + 16, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 10);
	offer(10);
	pop_einval(10);
}

static void test_chain_of_queue_size(void **state)
{
	(void)state;
	/* 0 -> 1 -> ... -> 15: every descriptor once is fine. */
	for (int i = 0; i < QSIZE; i++)
		desc(i, DATA_GPA + 32ULL * i, 32, i < QSIZE - 1 ? VIRTQ_DESC_F_NEXT : 0, i + 1);
	offer(0);
	assert_int_equal(virtq_pop(&vq, &mem, &chain), 1);
	assert_int_equal(chain.nout, QSIZE);
	assert_int_equal(chain.out_len, 32 * QSIZE);
	/* One longer can only come back around: 15 -> 0 makes 17 steps. */
	desc(QSIZE - 1, DATA_GPA, 32, VIRTQ_DESC_F_NEXT, 0);
	offer(1);
	pop_einval(1);
}

static void test_chain_of_max_queue_size(void **state)
{
	(void)state;
	vq.size = VIRTQ_MAX_SIZE;
	vq.avail_gpa = 0x5000;
	vq.used_gpa = 0x6000;
	assert_int_equal(virtq_check_rings(&vq, &mem), 0);
	for (int i = 0; i < VIRTQ_MAX_SIZE; i++)
		desc(i, DATA_GPA + 4ULL * i, 4,
		     (i < VIRTQ_MAX_SIZE - 1 ? VIRTQ_DESC_F_NEXT : 0) |
			     (i >= 100 ? VIRTQ_DESC_F_WRITE : 0),
		     i + 1);
	offer(0);
	assert_int_equal(virtq_pop(&vq, &mem, &chain), 1);
	assert_int_equal(chain.nout, 100);
	assert_int_equal(chain.nin, VIRTQ_MAX_SIZE - 100);
	assert_int_equal(chain.in_len, 4 * (VIRTQ_MAX_SIZE - 100));
	desc(VIRTQ_MAX_SIZE - 1, DATA_GPA, 4, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	pop_einval(0);
}

static void test_readable_after_writable(void **state)
{
	(void)state;
	desc(0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	desc(1, DATA_GPA + 16, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	desc(2, DATA_GPA + 32, 16, 0, 0);
	offer(0);
	pop_einval(0);
}

/* Head 0: one INDIRECT descriptor for a table of @n entries at TABLE_GPA. */
static void indirect_head(uint32_t table_len)
{
	desc(0, TABLE_GPA, table_len, VIRTQ_DESC_F_INDIRECT, 0);
	offer(0);
}

static void test_indirect_valid(void **state)
{
	(void)state;
	vq.indirect = true;
	desc_at(TABLE_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 2);
	desc_at(TABLE_GPA, 2, DATA_GPA + 0x1000, 1024, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	desc_at(TABLE_GPA, 1, DATA_GPA + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);
	indirect_head(3 * 16);
	assert_int_equal(virtq_pop(&vq, &mem, &chain), 1);
	assert_int_equal(chain.head, 0);
	assert_int_equal(chain.nout, 1);
	assert_int_equal(chain.nin, 2);
	assert_int_equal(chain.out_len, 16);
	assert_int_equal(chain.in_len, 1025);
	assert_ptr_equal(chain.bufs[0].host, ram + DATA_GPA);
	assert_ptr_equal(chain.bufs[1].host, ram + DATA_GPA + 0x1000);
	assert_ptr_equal(chain.bufs[2].host, ram + DATA_GPA + 0x2000);
	/* A table entry with NEXT in RAM but past the table's end is refused. */
	desc_at(TABLE_GPA, 1, DATA_GPA + 0x2000, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	offer(0);
	pop_einval(0);
}

static void test_indirect_bad_tables(void **state)
{
	(void)state;
	vq.indirect = true;
	desc_at(TABLE_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	desc_at(TABLE_GPA, 1, DATA_GPA + 16, 1, VIRTQ_DESC_F_WRITE, 0);

	indirect_head(24); /* not a multiple of 16 */
	pop_einval(0);
	indirect_head(0); /* empty */
	pop_einval(0);
	indirect_head(16 * (VIRTQ_MAX_CHAIN + 1)); /* more entries than a chain may have */
	pop_einval(0);
	desc(0, RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, 0); /* table straddles the end */
	offer(0);
	pop_einval(0);
	desc(0, 8 * GiB, 32, VIRTQ_DESC_F_INDIRECT, 0); /* table outside RAM */
	offer(0);
	pop_einval(0);
	/* A loop inside the table. */
	desc_at(TABLE_GPA, 1, DATA_GPA + 16, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	indirect_head(32);
	pop_einval(0);
	/* A table entry outside RAM. */
	desc_at(TABLE_GPA, 1, RAM_SIZE, 1, VIRTQ_DESC_F_WRITE, 0);
	indirect_head(32);
	pop_einval(0);
}

static void test_indirect_nested(void **state)
{
	(void)state;
	vq.indirect = true;
	desc_at(TABLE_GPA + 0x100, 0, DATA_GPA, 16, 0, 0);
	desc_at(TABLE_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	desc_at(TABLE_GPA, 1, TABLE_GPA + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	indirect_head(32);
	pop_einval(0);
	/* A table pointing at itself. */
	desc_at(TABLE_GPA, 0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	indirect_head(16);
	pop_einval(0);
}

static void test_indirect_with_next(void **state)
{
	(void)state;
	vq.indirect = true;
	desc_at(TABLE_GPA, 0, DATA_GPA, 16, 0, 0);
	desc(0, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1);
	desc(1, DATA_GPA + 16, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(0);
	pop_einval(0);
	/* Nor after direct descriptors in the same chain. */
	desc(2, DATA_GPA + 16, 16, VIRTQ_DESC_F_NEXT, 3);
	desc(3, TABLE_GPA, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(2);
	pop_einval(2);
}

static void test_indirect_feature_off(void **state)
{
	(void)state;
	vq.indirect = false;
	desc_at(TABLE_GPA, 0, DATA_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	desc_at(TABLE_GPA, 1, DATA_GPA + 16, 1, VIRTQ_DESC_F_WRITE, 0);
	indirect_head(32);
	pop_einval(0);
}

static void test_head_out_of_range(void **state)
{
	(void)state;
	offer(QSIZE);
	assert_int_equal(virtq_pop(&vq, &mem, &chain), -EIO);
	offer(0xffff);
	assert_int_equal(virtq_pop(&vq, &mem, &chain), -EIO);
}

static void test_avail_jump(void **state)
{
	(void)state;
	for (int i = 0; i < QSIZE; i++)
		desc(i, DATA_GPA, 16, 0, 0);
	/* Exactly a full ring is fine ... */
	put16(AVAIL_GPA + 2, QSIZE);
	for (int i = 0; i < QSIZE; i++)
		put16(AVAIL_GPA + 4 + 2 * i, i);
	for (int i = 0; i < QSIZE; i++) {
		assert_int_equal(virtq_pop(&vq, &mem, &chain), 1);
		assert_int_equal(chain.head, i);
	}
	assert_int_equal(virtq_pop(&vq, &mem, &chain), 0);
	/* ... one more than the ring holds is not. */
	put16(AVAIL_GPA + 2, 2 * QSIZE + 1);
	assert_int_equal(virtq_pop(&vq, &mem, &chain), -EIO);
	/* Nor is going backwards (a jump of nearly 65536). */
	vq.last_avail_idx = 100;
	put16(AVAIL_GPA + 2, 99);
	assert_int_equal(virtq_pop(&vq, &mem, &chain), -EIO);
}

static void test_push(void **state)
{
	uint32_t id, len;

	(void)state;
	virtq_push(&vq, &mem, 5, 100);
	assert_int_equal(used_idx(), 1);
	used_elem(vq.used_gpa, 0, &id, &len);
	assert_int_equal(id, 5);
	assert_int_equal(len, 100);
	virtq_push(&vq, &mem, 15, 0xffffffff);
	assert_int_equal(used_idx(), 2);
	used_elem(vq.used_gpa, 1, &id, &len);
	assert_int_equal(id, 15);
	assert_int_equal(len, 0xffffffff);
	/* Around the ring: slot (used idx % size), the index keeps counting. */
	vq.used_idx = 0xffff;
	virtq_push(&vq, &mem, 9, 7);
	assert_int_equal(used_idx(), 0);
	used_elem(vq.used_gpa, QSIZE - 1, &id, &len);
	assert_int_equal(id, 9);
	assert_int_equal(len, 7);
	virtq_push(&vq, &mem, 4, 8);
	assert_int_equal(used_idx(), 1);
	used_elem(vq.used_gpa, 0, &id, &len);
	assert_int_equal(id, 4);
	assert_int_equal(len, 8);
}

static void test_notify_flags(void **state)
{
	(void)state;
	virtq_push(&vq, &mem, 0, 1);
	assert_true(virtq_should_notify(&vq, &mem));
	assert_true(virtq_should_notify(&vq, &mem));
	put16(AVAIL_GPA, 1); /* VRING_AVAIL_F_NO_INTERRUPT */
	virtq_push(&vq, &mem, 0, 1);
	assert_false(virtq_should_notify(&vq, &mem));
	put16(AVAIL_GPA, 0);
	assert_true(virtq_should_notify(&vq, &mem));
}

static void set_used_event(uint16_t v)
{
	put16(vq.avail_gpa + 4 + 2ULL * vq.size, v);
}

static void test_notify_event_idx(void **state)
{
	(void)state;
	vq.event_idx = true;
	put16(AVAIL_GPA, 1); /* the flag means nothing with EVENT_IDX */
	virtq_push(&vq, &mem, 0, 1); /* used idx 1 */
	assert_true(virtq_should_notify(&vq, &mem)); /* the first time, always */

	/* The guest wants an interrupt once entry 3 is used: used idx going 3 -> 4. */
	set_used_event(3);
	virtq_push(&vq, &mem, 0, 1); /* 2 */
	assert_false(virtq_should_notify(&vq, &mem));
	virtq_push(&vq, &mem, 0, 1); /* 3 */
	assert_false(virtq_should_notify(&vq, &mem));
	virtq_push(&vq, &mem, 0, 1); /* 4 */
	assert_true(virtq_should_notify(&vq, &mem));
	virtq_push(&vq, &mem, 0, 1); /* 5: used_event is behind us */
	assert_false(virtq_should_notify(&vq, &mem));
	/* No push since the last check: nothing passed. */
	assert_false(virtq_should_notify(&vq, &mem));

	/* Several pushes in one batch that step over used_event. */
	set_used_event(6);
	virtq_push(&vq, &mem, 0, 1);
	virtq_push(&vq, &mem, 0, 1);
	virtq_push(&vq, &mem, 0, 1); /* 5 -> 8 crosses 6 -> 7 */
	assert_true(virtq_should_notify(&vq, &mem));
	/* A batch that stops right at used_event has not passed it. */
	set_used_event(10);
	virtq_push(&vq, &mem, 0, 1);
	virtq_push(&vq, &mem, 0, 1); /* 10 */
	assert_false(virtq_should_notify(&vq, &mem));
	virtq_push(&vq, &mem, 0, 1); /* 11 */
	assert_true(virtq_should_notify(&vq, &mem));

	/* Across the 16-bit wrap. */
	vq.used_idx = vq.signalled_used = 0xfffe;
	set_used_event(0xffff);
	virtq_push(&vq, &mem, 0, 1); /* 0xffff */
	assert_false(virtq_should_notify(&vq, &mem));
	virtq_push(&vq, &mem, 0, 1); /* 0 */
	assert_true(virtq_should_notify(&vq, &mem));
}

static void test_avail_event_written_on_pop(void **state)
{
	uint64_t avail_event = USED_GPA + 4 + 8ULL * QSIZE;

	(void)state;
	desc(0, DATA_GPA, 16, 0, 0);
	desc(1, DATA_GPA, 16, 0, 0);
	offer(0);
	offer(1);
	/* Without EVENT_IDX the field is the guest's (or past the ring): not touched. */
	put16(avail_event, 0x7777);
	assert_int_equal(virtq_pop(&vq, &mem, &chain), 1);
	assert_int_equal(get16(avail_event), 0x7777);

	vq.event_idx = true;
	assert_int_equal(virtq_pop(&vq, &mem, &chain), 1);
	assert_int_equal(get16(avail_event), 2);
	/* A malformed chain still moves it (the entry was consumed). */
	desc(2, RAM_SIZE, 16, 0, 0);
	offer(2);
	pop_einval(2);
	assert_int_equal(get16(avail_event), 3);
	assert_int_equal(virtq_pop(&vq, &mem, &chain), 0);
	assert_int_equal(get16(avail_event), 3);
}

static void test_check_rings(void **state)
{
	(void)state;
	assert_int_equal(virtq_check_rings(&vq, &mem), 0);
	for (unsigned s = 1; s <= VIRTQ_MAX_SIZE; s <<= 1) {
		vq.size = s;
		assert_int_equal(virtq_check_rings(&vq, &mem), 0);
	}
	static const uint16_t bad_sizes[] = { 0, 3, 6, 100, 255, 257, 512, 0xffff };

	for (size_t i = 0; i < ARRAY_SIZE(bad_sizes); i++) {
		vq.size = bad_sizes[i];
		if (virtq_check_rings(&vq, &mem) == 0)
			fail_msg("queue size %u accepted", bad_sizes[i]);
	}
	vq.size = QSIZE;

	/* Misaligned: desc to 16, avail to 2, used to 4. */
	vq.desc_gpa = DESC_GPA + 8;
	assert_int_not_equal(virtq_check_rings(&vq, &mem), 0);
	vq.desc_gpa = DESC_GPA;
	vq.avail_gpa = AVAIL_GPA + 1;
	assert_int_not_equal(virtq_check_rings(&vq, &mem), 0);
	vq.avail_gpa = AVAIL_GPA + 2;
	assert_int_equal(virtq_check_rings(&vq, &mem), 0);
	vq.avail_gpa = AVAIL_GPA;
	vq.used_gpa = USED_GPA + 2;
	assert_int_not_equal(virtq_check_rings(&vq, &mem), 0);
	vq.used_gpa = USED_GPA + 4;
	assert_int_equal(virtq_check_rings(&vq, &mem), 0);
	vq.used_gpa = USED_GPA;

	/* Out of RAM, straddling its end, and at the very end (fits). */
	vq.desc_gpa = RAM_SIZE - 16 * QSIZE;
	assert_int_equal(virtq_check_rings(&vq, &mem), 0);
	vq.desc_gpa = RAM_SIZE - 16 * QSIZE + 16;
	assert_int_not_equal(virtq_check_rings(&vq, &mem), 0);
	vq.desc_gpa = 0xfffffffffffffff0ULL;
	assert_int_not_equal(virtq_check_rings(&vq, &mem), 0);
	vq.desc_gpa = DESC_GPA;
	/* avail is 6 + 2 * size bytes: the used_event field counts. */
	vq.avail_gpa = RAM_SIZE - (6 + 2 * QSIZE);
	assert_int_equal(virtq_check_rings(&vq, &mem), 0);
	vq.avail_gpa = RAM_SIZE - (4 + 2 * QSIZE);
	assert_int_not_equal(virtq_check_rings(&vq, &mem), 0);
	vq.avail_gpa = AVAIL_GPA;
	/* used is 6 + 8 * size bytes: avail_event counts. */
	vq.used_gpa = RAM_SIZE - 8 - 8 * QSIZE; /* 4-aligned, room for 8 + 8 * size */
	assert_int_equal(virtq_check_rings(&vq, &mem), 0);
	vq.used_gpa = RAM_SIZE - 4 - 8 * QSIZE;
	assert_int_not_equal(virtq_check_rings(&vq, &mem), 0);
	vq.used_gpa = 4 * GiB;
	assert_int_not_equal(virtq_check_rings(&vq, &mem), 0);
}

static void test_copy_helpers(void **state)
{
	uint8_t buf[64], want[64];

	(void)state;
	/* out: 4 + 8 + 4 bytes, in: 3 + 5 + 1 bytes. */
	desc(0, DATA_GPA, 4, VIRTQ_DESC_F_NEXT, 1);
	desc(1, DATA_GPA + 0x100, 8, VIRTQ_DESC_F_NEXT, 2);
	desc(2, DATA_GPA + 0x200, 4, VIRTQ_DESC_F_NEXT, 3);
	desc(3, DATA_GPA + 0x300, 3, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 4);
	desc(4, DATA_GPA + 0x400, 5, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 5);
	desc(5, DATA_GPA + 0x500, 1, VIRTQ_DESC_F_WRITE, 0);
	for (int i = 0; i < 4; i++)
		ram[DATA_GPA + i] = i;
	for (int i = 0; i < 8; i++)
		ram[DATA_GPA + 0x100 + i] = 4 + i;
	for (int i = 0; i < 4; i++)
		ram[DATA_GPA + 0x200 + i] = 12 + i;
	offer(0);
	assert_int_equal(virtq_pop(&vq, &mem, &chain), 1);
	assert_int_equal(chain.out_len, 16);
	assert_int_equal(chain.in_len, 9);

	/* Bytes 2..13: the tail of the first buffer, all of the second, the start of the third. */
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(virtq_copy_from_out(&chain, 2, buf, 12), 12);
	for (int i = 0; i < 12; i++)
		want[i] = 2 + i;
	assert_memory_equal(buf, want, 12);
	assert_int_equal(buf[12], 0xee);
	/* Asking for more than there is: what there is. */
	assert_int_equal(virtq_copy_from_out(&chain, 10, buf, 64), 6);
	for (int i = 0; i < 6; i++)
		assert_int_equal(buf[i], 10 + i);
	assert_int_equal(virtq_copy_from_out(&chain, 16, buf, 1), 0);
	assert_int_equal(virtq_copy_from_out(&chain, 1000, buf, 1), 0);
	assert_int_equal(virtq_copy_from_out(&chain, 0, buf, 0), 0);

	/* Writable side: 5 bytes from offset 2 span all three buffers. */
	for (int i = 0; i < 64; i++)
		buf[i] = 0x80 + i;
	assert_int_equal(virtq_copy_to_in(&chain, 2, buf, 5), 5);
	assert_int_equal(ram[DATA_GPA + 0x300 + 0], 0);
	assert_int_equal(ram[DATA_GPA + 0x300 + 1], 0);
	assert_int_equal(ram[DATA_GPA + 0x300 + 2], 0x80);
	for (int i = 0; i < 4; i++)
		assert_int_equal(ram[DATA_GPA + 0x400 + i], 0x81 + i);
	assert_int_equal(ram[DATA_GPA + 0x400 + 4], 0);
	/* The last byte (where virtio-blk puts its status), and no further. */
	assert_int_equal(virtq_copy_to_in(&chain, 8, buf, 10), 1);
	assert_int_equal(ram[DATA_GPA + 0x500], 0x80);
	assert_int_equal(ram[DATA_GPA + 0x501], 0);
	assert_int_equal(virtq_copy_to_in(&chain, 9, buf, 1), 0);
	/* The readable buffers were not written by the in copies. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(ram[DATA_GPA + 0x200 + i], 12 + i);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_three_descriptor_chain),
		T(test_empty_ring),
		T(test_avail_index_wraps),
		T(test_addr_outside_ram),
		T(test_addr_straddles_end),
		T(test_len_overflow),
		T(test_next_out_of_range),
		T(test_loops),
		T(test_chain_of_queue_size),
		T(test_chain_of_max_queue_size),
		T(test_readable_after_writable),
		T(test_indirect_valid),
		T(test_indirect_bad_tables),
		T(test_indirect_nested),
		T(test_indirect_with_next),
		T(test_indirect_feature_off),
		T(test_head_out_of_range),
		T(test_avail_jump),
		T(test_push),
		T(test_notify_flags),
		T(test_notify_event_idx),
		T(test_avail_event_written_on_pop),
		T(test_check_rings),
		T(test_copy_helpers),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
