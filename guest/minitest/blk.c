/*
 * A small virtio-blk driver over virtio-mmio, initialised and driven the
 * way Linux's virtio_mmio + virtio_ring + virtio_blk do it, plus the
 * blk test (requests, error paths, hostile chains) and blkbench.
 * Memory is identity-mapped, so buffer addresses are physical addresses.
 */
#include "virtio.h"

#define QSZ_MAX		64
#define SECTOR		512ULL

#define F_SIZE_MAX	(1ULL << 1)
#define F_SEG_MAX	(1ULL << 2)
#define F_RO		(1ULL << 5)
#define F_FLUSH		(1ULL << 9)
#define F_DISCARD	(1ULL << 13)
#define F_INDIRECT	(1ULL << 28)
#define F_EVENT_IDX	(1ULL << 29)
#define F_VERSION_1	(1ULL << 32)
#define F_WANTED	(F_SIZE_MAX | F_SEG_MAX | F_RO | F_FLUSH | F_DISCARD | \
			 F_INDIRECT | F_EVENT_IDX | F_VERSION_1)

#define D_NEXT		1
#define D_WRITE		2
#define D_INDIRECT	4

#define T_IN		0
#define T_OUT		1
#define T_FLUSH		4
#define T_GET_ID	8
#define T_DISCARD	11

/* Results of a request besides the status byte the device writes. */
#define R_TIMEOUT	(-1)
#define R_RESET		(-2)
#define R_RESET_NOIRQ	(-3)
#define R_BAD_USED	(-4)
#define R_NO_ROOM	(-5)

enum { W_USED, W_RESET, W_RESET_NOIRQ, W_TIMEOUT };

#define NS_PER_S	1000000000ULL
#define REQ_TIMEOUT	(10 * NS_PER_S)
#define HOSTILE_TIMEOUT	(3 * NS_PER_S)

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct seg {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
};

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk {
	struct vdev *v;
	unsigned vec;		/* VEC_VIRTIO + transport index */
	unsigned n;		/* blk<n> */
	uint64_t feat;		/* negotiated */
	uint64_t capacity;
	uint32_t size_max;
	uint16_t qsz;
	struct desc *desc;
	volatile uint16_t *avail;	/* flags, idx, ring[qsz], used_event */
	volatile uint8_t *used;		/* flags, idx, ring[qsz], avail_event */
	uint16_t avail_idx, last_used;
};

static uint8_t ring_mem[MAX_VIRTIO][4096] __attribute__((aligned(4096)));
static struct desc itable[2][16] __attribute__((aligned(16)));
static struct blk_hdr hdrs[QSZ_MAX];
static volatile uint8_t status[QSZ_MAX];
static uint8_t buf[64 * SECTOR] __attribute__((aligned(4096)));
static uint8_t wbuf[8 * SECTOR] __attribute__((aligned(4096)));
static uint8_t sector0[SECTOR];
static unsigned failures;

static bool has(const struct blk *b, uint64_t f)
{
	return (b->feat & f) == f;
}

static uint64_t addr_of(const volatile void *p)
{
	return (uint64_t)p;
}

/* ---- transport and ring set-up ---- */

static void queue_addr(const struct vdev *v, unsigned lo, uint64_t a)
{
	vw(v, lo, (uint32_t)a);
	vw(v, lo + 4, (uint32_t)(a >> 32));
}

static const char *queue_setup(struct blk *b, unsigned idx)
{
	const struct vdev *v = b->v;
	uint8_t *mem = ring_mem[idx];
	uint32_t max;

	vw(v, VR_QUEUE_SEL, 0);
	if (vr(v, VR_QUEUE_READY))
		return "queue 0 already ready";
	max = vr(v, VR_QUEUE_NUM_MAX);
	if (!max)
		return "queue 0 has QueueNumMax 0";
	for (b->qsz = QSZ_MAX; b->qsz > max; b->qsz >>= 1)
		;
	memset(mem, 0, 4096);
	b->desc = (struct desc *)mem;
	b->avail = (volatile uint16_t *)(mem + 1024);
	b->used = mem + 2048;
	b->avail_idx = b->last_used = 0;
	vw(v, VR_QUEUE_NUM, b->qsz);
	queue_addr(v, VR_QUEUE_DESC_LOW, addr_of(b->desc));
	queue_addr(v, VR_QUEUE_DRIVER_LOW, addr_of(b->avail));
	queue_addr(v, VR_QUEUE_DEVICE_LOW, addr_of(b->used));
	vw(v, VR_QUEUE_READY, 1);
	return NULL;
}

static uint64_t read_features(const struct vdev *v)
{
	uint64_t hi;

	vw(v, VR_DEVICE_FEATURES_SEL, 1);
	hi = vr(v, VR_DEVICE_FEATURES);
	vw(v, VR_DEVICE_FEATURES_SEL, 0);
	return hi << 32 | vr(v, VR_DEVICE_FEATURES);
}

static bool reset_device(const struct vdev *v)
{
	vw(v, VR_STATUS, 0);
	for (int i = 0; i < 1000; i++)
		if (!vr(v, VR_STATUS))
			return true;
	return false;
}

/* Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK, queue 0, DRIVER_OK. */
static const char *blk_init(struct blk *b, unsigned idx)
{
	const struct vdev *v = b->v;
	const char *err;
	uint32_t st = VS_ACKNOWLEDGE | VS_DRIVER;

	if (!reset_device(v))
		return "status did not read 0 after reset";
	b->v->isr = 0;
	vw(v, VR_STATUS, VS_ACKNOWLEDGE);
	vw(v, VR_STATUS, st);
	b->feat = read_features(v) & F_WANTED;
	if (!has(b, F_VERSION_1))
		return "VERSION_1 not offered";
	vw(v, VR_DRIVER_FEATURES_SEL, 1);
	vw(v, VR_DRIVER_FEATURES, b->feat >> 32);
	vw(v, VR_DRIVER_FEATURES_SEL, 0);
	vw(v, VR_DRIVER_FEATURES, (uint32_t)b->feat);
	st |= VS_FEATURES_OK;
	vw(v, VR_STATUS, st);
	if (!(vr(v, VR_STATUS) & VS_FEATURES_OK))
		return "FEATURES_OK not accepted";
	if ((err = queue_setup(b, idx)))
		return err;
	vw(v, VR_STATUS, st | VS_DRIVER_OK);
	return NULL;
}

/* 32-bit halves under ConfigGeneration, as virtio_cread() does. */
static uint64_t config_read64(const struct vdev *v, unsigned off)
{
	uint32_t gen, lo, hi;
	int tries = 0;

	do {
		gen = vr(v, VR_CONFIG_GENERATION);
		lo = vr(v, VR_CONFIG + off);
		hi = vr(v, VR_CONFIG + off + 4);
	} while (gen != vr(v, VR_CONFIG_GENERATION) && ++tries < 100);
	return (uint64_t)hi << 32 | lo;
}

/* ---- requests ---- */

static uint16_t used_idx(const struct blk *b)
{
	return *(volatile const uint16_t *)(b->used + 2);
}

static void pop_used(struct blk *b, uint32_t *id, uint32_t *len)
{
	volatile const uint32_t *e = (volatile const uint32_t *)
		(b->used + 4 + 8 * (b->last_used % b->qsz));

	*id = e[0];
	*len = e[1];
	b->last_used++;
}

static void publish(struct blk *b, uint16_t head)
{
	b->avail[2 + b->avail_idx % b->qsz] = head;
	barrier();
	b->avail_idx++;
	b->avail[1] = b->avail_idx;
}

/* Notify unless EVENT_IDX says the device will look anyway (vring_need_event). */
static void kick(struct blk *b, uint16_t old)
{
	uint16_t ev;

	mb();
	if (has(b, F_EVENT_IDX)) {
		ev = *(volatile uint16_t *)(b->used + 4 + 8 * b->qsz);
		if ((uint16_t)(b->avail_idx - ev - 1) >= (uint16_t)(b->avail_idx - old))
			return;
	}
	vw(b->v, VR_QUEUE_NOTIFY, 0);
}

/* With interrupts off: has anything happened?  -1 if not yet. */
static int wait_check(struct blk *b, uint64_t deadline)
{
	if (used_idx(b) != b->last_used)
		return W_USED;
	if ((b->v->isr & VISR_CONFIG) && (vr(b->v, VR_STATUS) & VS_NEEDS_RESET))
		return W_RESET;
	if (now_ns() >= deadline)
		return vr(b->v, VR_STATUS) & VS_NEEDS_RESET ? W_RESET_NOIRQ :
							      W_TIMEOUT;
	if (has(b, F_EVENT_IDX)) {	/* used_event: interrupt on the next one */
		b->avail[2 + b->qsz] = b->last_used;
		mb();
		if (used_idx(b) != b->last_used)
			return W_USED;
	}
	return -1;
}

/* Sleep in "sti; hlt" (the periodic LAPIC tick bounds each sleep). */
static int blk_wait(struct blk *b, uint64_t timeout)
{
	uint64_t deadline = now_ns() + timeout;
	int r;

	for (;;) {
		cli();
		if ((r = wait_check(b, deadline)) >= 0)
			return r;
		sti_hlt();
	}
}

/* Descriptors base.. for @s[0..n), linked in order. */
static void chain(struct desc *d, unsigned base, const struct seg *s,
		  unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		bool more = i + 1 < n;

		d[base + i] = (struct desc){ s[i].addr, s[i].len,
			(uint16_t)(s[i].flags | (more ? D_NEXT : 0)),
			(uint16_t)(more ? base + i + 1 : 0) };
	}
}

/* One request at head 0; returns the status byte or an R_ code. */
static int submit_sync(struct blk *b, uint64_t timeout)
{
	uint16_t old = b->avail_idx;
	uint32_t id, len;

	status[0] = 0xff;
	publish(b, 0);
	kick(b, old);
	switch (blk_wait(b, timeout)) {
	case W_USED:
		pop_used(b, &id, &len);
		return id == 0 && len >= 1 ? status[0] : R_BAD_USED;
	case W_RESET:
		return R_RESET;
	case W_RESET_NOIRQ:
		return R_RESET_NOIRQ;
	default:
		return R_TIMEOUT;
	}
}

/*
 * Header, data in pages of up to 4 KiB (at most 8), status.  Through an
 * indirect table when asked and negotiated, as Linux does for sg > 1.
 */
static int blk_rw(struct blk *b, uint32_t type, uint64_t sector, void *data,
		  uint32_t len, bool indirect)
{
	struct seg s[10];
	uint16_t dflags = type == T_IN || type == T_GET_ID ? D_WRITE : 0;
	unsigned n = 0;

	hdrs[0] = (struct blk_hdr){ type, 0, sector };
	s[n++] = (struct seg){ addr_of(&hdrs[0]), sizeof(hdrs[0]), 0 };
	for (uint32_t off = 0; off < len && n < 9; off += 4096)
		s[n++] = (struct seg){ addr_of(data) + off,
				       len - off < 4096 ? len - off : 4096,
				       dflags };
	s[n++] = (struct seg){ addr_of(&status[0]), 1, D_WRITE };
	if (indirect && has(b, F_INDIRECT)) {
		chain(itable[0], 0, s, n);
		b->desc[0] = (struct desc){ addr_of(itable[0]), n * 16,
					    D_INDIRECT, 0 };
	} else if (n <= b->qsz) {
		chain(b->desc, 0, s, n);
	} else {
		return R_NO_ROOM;
	}
	return submit_sync(b, REQ_TIMEOUT);
}

static const char *st_name(int r)
{
	switch (r) {
	case 0: return "ok";
	case 1: return "ioerr";
	case 2: return "unsupp";
	case 0xff: return "no-status";
	case R_TIMEOUT: return "timeout";
	case R_RESET: return "needs-reset";
	case R_RESET_NOIRQ: return "needs-reset-noirq";
	case R_BAD_USED: return "bad-used-elem";
	case R_NO_ROOM: return "queue-too-small";
	default: return "bad-status";
	}
}

static void check(bool ok)
{
	if (!ok)
		failures++;
}

/* ---- the blk test, per disk ---- */

static bool blk_open(struct blk *b, unsigned idx, unsigned n)
{
	const char *err;

	b->v = &sys.vdev[idx];
	b->n = n;
	b->vec = VEC_VIRTIO + idx;
	gsi_route(b->v->r.gsi, b->vec);
	if ((err = blk_init(b, idx))) {
		say("blk%u init FAIL %s", n, err);
		failures++;
		return false;
	}
	b->capacity = config_read64(b->v, 0);
	b->size_max = has(b, F_SIZE_MAX) ? vr(b->v, VR_CONFIG + 8) : 0;
	return true;
}

/* After NEEDS_RESET or a lost request: reset and set up again, as Linux would. */
static bool blk_reinit(struct blk *b)
{
	const char *err = blk_init(b, b->vec - VEC_VIRTIO);

	if (err)
		say("blk%u reinit FAIL %s", b->n, err);
	return !err;
}

static void print_id(struct blk *b)
{
	char serial[21];
	int r;

	memset(buf, 0, 20);
	r = blk_rw(b, T_GET_ID, 0, buf, 20, false);
	for (int i = 0; i < 20; i++)
		serial[i] = r == 0 && buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] :
			    (r == 0 && buf[i] ? '?' : '\0');
	serial[20] = '\0';
	say("blk%u capacity %lu ro %u serial %s", b->n, b->capacity,
	    has(b, F_RO) ? 1 : 0, serial[0] ? serial : "-");
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static void test_read(struct blk *b)
{
	uint64_t nsec = b->capacity < 64 ? b->capacity : 64;
	int r = blk_rw(b, T_IN, 0, buf, nsec * SECTOR, true);

	if (r) {
		say("blk%u read %s", b->n, st_name(r));
		failures++;
		return;
	}
	memcpy(sector0, buf, SECTOR);
	say("blk%u read fnv %016lx", b->n, fnv1a(buf, nsec * SECTOR));
}

/* Writes past the end of a small disk (< 72 sectors) fail like ro ones. */
static void test_write(struct blk *b)
{
	bool can = !has(b, F_RO) && b->capacity >= 72;
	int w, f, r;

	for (unsigned i = 0; i < sizeof(wbuf); i++)
		wbuf[i] = (uint8_t)(i * 7 + b->n);
	w = blk_rw(b, T_OUT, 64, wbuf, sizeof(wbuf), false);
	f = blk_rw(b, T_FLUSH, 0, NULL, 0, false);
	say("blk%u write %s flush %s", b->n, st_name(w), st_name(f));
	check(w == (can ? 0 : 1) && f == 0);
	if (!can) {
		say("blk%u readback skipped", b->n);
		return;
	}
	memset(buf, 0, sizeof(wbuf));
	r = blk_rw(b, T_IN, 64, buf, sizeof(wbuf), false);
	r = r || memcmp(buf, wbuf, sizeof(wbuf));
	say("blk%u readback %s", b->n, r ? "FAIL" : "ok");
	check(!r);
}

static void test_past_end(struct blk *b)
{
	uint64_t start = b->capacity >= 4 ? b->capacity - 4 : 0;
	int r = blk_rw(b, T_IN, start, buf, 8 * SECTOR, false);

	say("blk%u past-end %s", b->n, st_name(r));
	check(r == 1);
}

/* Fill 72..79 first, so zeroes afterwards mean the discard did it. */
static void test_discard(struct blk *b)
{
	struct { uint64_t sector; uint32_t num, flags; } range = { 72, 8, 0 };
	bool zero = true;
	int r;

	if (!has(b, F_DISCARD) || has(b, F_RO) || b->capacity < 80) {
		say("blk%u discard skipped", b->n);
		return;
	}
	blk_rw(b, T_OUT, 72, wbuf, sizeof(wbuf), false);
	r = blk_rw(b, T_DISCARD, 0, &range, sizeof(range), false);
	memset(buf, 0xaa, sizeof(wbuf));
	if (blk_rw(b, T_IN, 72, buf, sizeof(wbuf), false))
		zero = false;
	for (unsigned i = 0; i < sizeof(wbuf) && zero; i++)
		zero = !buf[i];
	say("blk%u discard %s zeroes %s", b->n, st_name(r), zero ? "ok" : "FAIL");
	check(r == 0 && zero);
}

/* ---- hostile chains ---- */

enum { H_LOOP, H_OOB, H_OVERFLOW, H_LONG, H_NESTED, H_BAD_HEAD, H_JUMP, H_N };

static const char *const hostile_name[H_N] = {
	"loop", "oob-addr", "len-overflow", "long-chain", "nested-indirect",
	"bad-head", "avail-jump",
};

/* A read of sector 0 whose data buffer is @data/@len. */
static void read_chain(struct blk *b, uint64_t data, uint32_t len)
{
	struct seg s[3] = {
		{ addr_of(&hdrs[0]), sizeof(hdrs[0]), 0 },
		{ data, len, D_WRITE },
		{ addr_of(&status[0]), 1, D_WRITE },
	};

	chain(b->desc, 0, s, 3);
}

static void nested_indirect(struct blk *b)
{
	itable[1][0] = (struct desc){ addr_of(buf), SECTOR, D_WRITE, 0 };
	itable[0][0] = (struct desc){ addr_of(&hdrs[0]), 16, D_NEXT, 1 };
	itable[0][1] = (struct desc){ addr_of(itable[1]), 16,
				      D_INDIRECT | D_NEXT, 2 };
	itable[0][2] = (struct desc){ addr_of(&status[0]), 1, D_WRITE, 0 };
	b->desc[0] = (struct desc){ addr_of(itable[0]), 48, D_INDIRECT, 0 };
}

/* Lay out the bad chain (or ring) of @kind and tell the device. */
static void hostile_post(struct blk *b, int kind)
{
	uint16_t old = b->avail_idx;

	hdrs[0] = (struct blk_hdr){ T_IN, 0, 0 };
	status[0] = 0xff;
	switch (kind) {
	case H_LOOP:
		b->desc[0] = (struct desc){ addr_of(&hdrs[0]), 16, D_NEXT, 0 };
		break;
	case H_OOB:
		read_chain(b, 1ULL << 40, SECTOR);
		break;
	case H_OVERFLOW:
		read_chain(b, 0xffffffffffffff00ULL, 0x10000);
		break;
	case H_LONG:	/* 0 -> 1 -> ... -> qsz-1 -> 0 -> ... */
		for (unsigned i = 0; i < b->qsz; i++)
			b->desc[i] = (struct desc){ addr_of(&hdrs[0]), 16,
				D_NEXT, (uint16_t)((i + 1) % b->qsz) };
		break;
	case H_NESTED:
		nested_indirect(b);
		break;
	}
	if (kind == H_BAD_HEAD) {
		publish(b, b->qsz);
	} else if (kind == H_JUMP) {
		b->avail_idx += b->qsz + 1;
		b->avail[1] = b->avail_idx;
	} else {
		publish(b, 0);
	}
	kick(b, old);
}

static const char *hostile_outcome(struct blk *b, char *tmp, size_t n)
{
	uint32_t id, len;

	switch (blk_wait(b, HOSTILE_TIMEOUT)) {
	case W_USED:
		pop_used(b, &id, &len);
		ksnprintf(tmp, n, "used-len%u", len);
		return tmp;
	case W_RESET:
		return "needs-reset";
	case W_RESET_NOIRQ:
		return "needs-reset-noirq";
	default:
		return "timeout";
	}
}

static void hostile(struct blk *b, int kind)
{
	char tmp[24];
	const char *out;
	bool ok;

	if (kind == H_NESTED && !has(b, F_INDIRECT)) {
		say("blk%u hostile %s skipped", b->n, hostile_name[kind]);
		return;
	}
	hostile_post(b, kind);
	out = hostile_outcome(b, tmp, sizeof(tmp));
	if (strncmp(out, "used-", 5) && !blk_reinit(b)) {
		failures++;
		return;
	}
	memset(buf, 0xaa, SECTOR);
	ok = !blk_rw(b, T_IN, 0, buf, SECTOR, false) &&
	     !memcmp(buf, sector0, SECTOR);
	say("blk%u hostile %s %s then read %s", b->n, hostile_name[kind], out,
	    ok ? "ok" : "FAIL");
	check(ok);
}

static void blk_test(unsigned idx, unsigned n)
{
	struct blk b;

	memset(&b, 0, sizeof(b));
	if (!blk_open(&b, idx, n))
		return;
	print_id(&b);
	test_read(&b);
	test_write(&b);
	test_past_end(&b);
	test_discard(&b);
	for (int k = 0; k < H_N; k++)
		hostile(&b, k);
}

void mode_blk(void)
{
	unsigned n = 0;

	lapic_timer_periodic(VEC_TIMER);
	for (unsigned i = 0; i < sys.nvdev; i++)
		if (sys.vdev[i].id == VIRTIO_ID_BLOCK)
			blk_test(i, n++);
	lapic_timer_stop();
	say("blk done %u", n);
	if (!n)
		say("result FAIL no virtio-blk device");
	else if (failures)
		say("result FAIL %u blk checks failed", failures);
	else
		say("result ok");
	power_off_or_reset();
}

/* ---- blk0 for other modes (counter): synchronous requests ---- */

static struct blk blk0;

/* Set up the first virtio-blk device; false (and a line) if none works. */
bool blk0_open(uint64_t *capacity)
{
	unsigned i;

	for (i = 0; i < sys.nvdev && sys.vdev[i].id != VIRTIO_ID_BLOCK; i++)
		;
	memset(&blk0, 0, sizeof(blk0));
	if (i == sys.nvdev || !blk_open(&blk0, i, 0))
		return false;
	*capacity = blk0.capacity;
	return true;
}

/* Read or write @len bytes (at most 32 KiB) at @sector: 0 or an error. */
int blk0_io(bool write, uint64_t sector, void *data, uint32_t len)
{
	return blk_rw(&blk0, write ? T_OUT : T_IN, sector, data, len, false);
}

/* FLUSH when negotiated (without it the device writes through). */
int blk0_flush(void)
{
	if (!has(&blk0, F_FLUSH))
		return 0;
	return blk_rw(&blk0, T_FLUSH, 0, NULL, 0, false);
}

const char *blk_status_name(int r)
{
	return st_name(r);
}

/* ---- blkbench: several requests in flight, big contiguous buffers ---- */

#define BENCH_CHUNK	(1u << 20)
#define BENCH_SLOTS	21

struct bench {
	struct blk *b;
	uint64_t mem;		/* BENCH_CHUNK per slot */
	unsigned slots, dps;	/* descriptors per slot */
	uint32_t seg_len;	/* largest data descriptor */
	uint8_t free[BENCH_SLOTS];
	unsigned nfree;
	uint64_t lcg;
	unsigned errors;
};

extern const uint8_t _end[];

/* Usable RAM from the first 2 MiB boundary after the kernel. */
static uint64_t ram_after_kernel(uint64_t *len)
{
	uint64_t start = ((uint64_t)_end + 0x1fffff) & ~0x1fffffULL;

	for (unsigned i = 0; i < sys.e820_n; i++) {
		const struct e820_entry *e = &sys.e820[i];
		uint64_t end = e->addr + e->size;

		if (end > paging_mapped_end())
			end = paging_mapped_end();
		if (e->type == E820_RAM && e->addr <= start && end > start) {
			*len = end - start;
			return start;
		}
	}
	*len = 0;
	return 0;
}

static bool bench_setup(struct bench *bn, struct blk *b)
{
	uint64_t len;

	memset(bn, 0, sizeof(*bn));
	bn->b = b;
	bn->seg_len = b->size_max && b->size_max < BENCH_CHUNK ?
		      b->size_max & ~4095u : BENCH_CHUNK;
	if (!bn->seg_len)
		bn->seg_len = 4096;
	bn->dps = 2 + (BENCH_CHUNK + bn->seg_len - 1) / bn->seg_len;
	bn->mem = ram_after_kernel(&len);
	bn->slots = b->qsz / bn->dps;
	if (bn->slots > BENCH_SLOTS)
		bn->slots = BENCH_SLOTS;
	if (bn->slots > len / BENCH_CHUNK)
		bn->slots = len / BENCH_CHUNK;
	for (unsigned i = 0; i < bn->slots; i++)
		bn->free[i] = i;
	bn->nfree = bn->slots;
	bn->lcg = 12345;
	return bn->slots > 0;
}

static void bench_post(struct bench *bn, uint32_t type, uint64_t sector,
		       uint32_t bytes)
{
	struct blk *b = bn->b;
	unsigned slot = bn->free[--bn->nfree], n = 0;
	uint64_t data = bn->mem + (uint64_t)slot * BENCH_CHUNK;
	struct seg s[2 + BENCH_CHUNK / 4096];

	hdrs[slot] = (struct blk_hdr){ type, 0, sector };
	status[slot] = 0xff;
	s[n++] = (struct seg){ addr_of(&hdrs[slot]), 16, 0 };
	for (uint32_t off = 0; off < bytes; off += bn->seg_len)
		s[n++] = (struct seg){ data + off, bytes - off < bn->seg_len ?
			bytes - off : bn->seg_len, type == T_IN ? D_WRITE : 0 };
	s[n++] = (struct seg){ addr_of(&status[slot]), 1, D_WRITE };
	chain(b->desc, slot * bn->dps, s, n);
	publish(b, slot * bn->dps);
}

static void bench_reap(struct bench *bn, unsigned *done)
{
	struct blk *b = bn->b;
	uint32_t id, len;

	while (used_idx(b) != b->last_used) {
		pop_used(b, &id, &len);
		if (status[id / bn->dps])
			bn->errors++;
		bn->free[bn->nfree++] = id / bn->dps;
		(*done)++;
	}
}

static uint64_t bench_sector(struct bench *bn, bool rnd, unsigned i,
			     uint32_t bytes)
{
	uint64_t span = bn->b->capacity / 8;

	if (!rnd)
		return (uint64_t)i * (bytes / SECTOR);
	bn->lcg = bn->lcg * 6364136223846793005ULL + 1442695040888963407ULL;
	return span ? (bn->lcg >> 33) % span * 8 : 0;
}

/* What the rings looked like when a request never came back. */
static void bench_stuck(struct bench *bn, unsigned sub, unsigned done)
{
	struct blk *b = bn->b;

	say("blkbench stuck submitted %u done %u avail %u used %u "
	    "avail_event %u used_event %u status 0x%x", sub, done,
	    b->avail_idx, used_idx(b),
	    *(volatile uint16_t *)(b->used + 4 + 8 * b->qsz),
	    b->avail[2 + b->qsz], vr(b->v, VR_STATUS));
}

/* @nreq requests of @bytes, keeping up to bn->slots in flight. */
static bool bench_run(struct bench *bn, uint32_t type, bool rnd,
		      unsigned nreq, uint32_t bytes)
{
	struct blk *b = bn->b;
	unsigned sub = 0, done = 0;

	while (done < nreq) {
		uint16_t old = b->avail_idx;

		while (sub < nreq && bn->nfree)
			bench_post(bn, type, bench_sector(bn, rnd, sub++, bytes),
				   bytes);
		if (b->avail_idx != old)
			kick(b, old);
		if (blk_wait(b, REQ_TIMEOUT) != W_USED) {
			bench_stuck(bn, sub, done);
			return false;
		}
		bench_reap(bn, &done);
	}
	return !bn->errors;
}

static void bench_phase(struct bench *bn, const char *name, uint32_t type,
			bool rnd, unsigned nreq, uint32_t bytes)
{
	bool ok;

	say("blkbench %s start", name);
	ok = bench_run(bn, type, rnd, nreq, bytes);
	if (ok && type == T_OUT)
		ok = blk_rw(bn->b, T_FLUSH, 0, NULL, 0, false) == 0;
	say("blkbench %s done", name);
	if (!ok)
		fail("blkbench %s: %u errors or a timeout", name, bn->errors);
}

void mode_blkbench(void)
{
	uint64_t count = cmdline_u64("count", 1000), mib = cmdline_u64("size", 16);
	struct blk b;
	struct bench bn;
	unsigned i;

	for (i = 0; i < sys.nvdev && sys.vdev[i].id != VIRTIO_ID_BLOCK; i++)
		;
	if (i == sys.nvdev)
		fail("blkbench: no virtio-blk device");
	memset(&b, 0, sizeof(b));
	lapic_timer_periodic(VEC_TIMER);
	if (!blk_open(&b, i, 0) || !bench_setup(&bn, &b))
		fail("blkbench: device set-up failed");
	if (mib > b.capacity / 2048)
		mib = b.capacity / 2048;
	say("blkbench slots %u size %lu count %lu", bn.slots, mib, count);
	bench_phase(&bn, "seqread", T_IN, false, mib, BENCH_CHUNK);
	bench_phase(&bn, "seqwrite", T_OUT, false, mib, BENCH_CHUNK);
	bench_phase(&bn, "randread", T_IN, true, count, 4096);
	lapic_timer_stop();
	say("result ok");
	power_off_or_reset();
}
