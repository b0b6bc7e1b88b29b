/*
 * test=counter: progress a monitor test can watch and check across
 * pause/resume, snapshot/restore and the ACPI power button.  A tick
 * every period= ms (kvm-clock, else the TSC) prints the counter and the
 * clock; every diskevery= ticks the counter goes to blk0's sector= and
 * to one of 16 slots from region=, whose expected contents stay in RAM
 * for `verify`.  fill= MiB of RAM get a page-dependent word in every
 * page first, so a snapshot has that much to save and `fillcheck` can
 * tell whether it came back.  The next tick is a one-shot LAPIC timer,
 * or with timer=deadline the TSC-deadline timer Linux's clockevent uses.
 * UART lines `quit`, `verify`, `fillcheck`, `mtrr` and `mtrrset`; GED
 * power button.
 */
#include "minitest.h"
#include "hw.h"
#include "virtio.h"

#define NS_PER_MS	1000000UL
#define SECTOR		512
#define SLOTS		16
#define TEXT_MAX	80

struct counter {
	uint64_t period, diskevery, max, sector, region;	/* period in ns */
	bool disk, verify_each;
	bool deadline;		/* timer=deadline, and the CPU has it */
	uint64_t n, next;
	uint64_t *fill;		/* fill_pages pages from here */
	uint64_t fill_pages;
	char line[64];
	size_t len;
	int prev;
};

static uint8_t sec[SECTOR] __attribute__((aligned(4096)));
static uint8_t readback[SLOTS * SECTOR] __attribute__((aligned(4096)));
static uint8_t expect[SLOTS * SECTOR]	/* what each slot should hold */
	__attribute__((aligned(8)));

/* The sector's text up to its first NUL, unprintable bytes as '?'. */
static const char *sector_text(const uint8_t *s, char *out)
{
	unsigned i;

	for (i = 0; i < TEXT_MAX && s[i]; i++)
		out[i] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	out[i] = '\0';
	return i ? out : "empty";
}

/* What a restored disk holds: sector=, and the slots verify expects. */
static void disk_start(struct counter *c)
{
	char text[TEXT_MAX + 1];
	int r;

	r = blk0_io(false, c->sector, sec, SECTOR);
	if (r)
		say("counter disk-start FAIL %s", blk_status_name(r));
	else
		say("counter disk-start %s", sector_text(sec, text));
	r = blk0_io(false, c->region, expect, sizeof(expect));
	if (r) {
		memset(expect, 0, sizeof(expect));
		say("counter region-start FAIL %s", blk_status_name(r));
	}
}

/* One sector each, a word at a time (memcmp's bytes cost ~8x more). */
static bool same_sector(const uint8_t *a, const uint8_t *b)
{
	const uint64_t *x = (const uint64_t *)a, *y = (const uint64_t *)b;

	for (unsigned i = 0; i < SECTOR / 8; i++)
		if (x[i] != y[i])
			return false;
	return true;
}

/* Read the 16 slots back and compare with what was last written. */
static void verify(struct counter *c)
{
	int r;

	if (!c->disk) {
		say("counter verify FAIL no disk");
		return;
	}
	lapic_timer_periodic(VEC_TIMER);	/* bounds blk0's waits */
	r = blk0_io(false, c->region, readback, sizeof(readback));
	if (r) {
		say("counter verify FAIL read %s", blk_status_name(r));
		return;
	}
	for (unsigned k = 0; k < SLOTS; k++)
		if (!same_sector(readback + k * SECTOR, expect + k * SECTOR)) {
			say("counter verify FAIL slot %u", k);
			return;
		}
	say("counter verify ok");
}

/* "counter <n>" NUL-padded to sector= and slot k, then FLUSH. */
static void disk_tick(struct counter *c)
{
	unsigned k = (unsigned)(c->n / c->diskevery % SLOTS);
	int r;

	lapic_timer_periodic(VEC_TIMER);
	memset(sec, 0, SECTOR);
	ksnprintf((char *)sec, SECTOR, "counter %lu", c->n);
	r = blk0_io(true, c->sector, sec, SECTOR);
	if (!r)
		r = blk0_io(true, c->region + k, sec, SECTOR);
	if (!r)
		memcpy(expect + k * SECTOR, sec, SECTOR);
	if (!r)
		r = blk0_flush();
	if (r)
		say("counter %lu disk FAIL %s", c->n, blk_status_name(r));
	else
		say("counter %lu disk ok slot %u", c->n, k);
	if (c->verify_each)
		verify(c);
}

/* What fill= puts in the first word of the page at guest address pa. */
static uint64_t fill_word(uint64_t pa)
{
	return (pa >> 12) * 0x9e3779b97f4a7c15ULL | 1;
}

#define WORDS_PER_PAGE	(4096 / sizeof(uint64_t))

static void fill_memory(struct counter *c, uint64_t mib)
{
	c->fill_pages = mib << 8;
	c->fill = dma_reserve(mib << 20);
	for (uint64_t i = 0; i < c->fill_pages; i++) {
		uint64_t *w = c->fill + i * WORDS_PER_PAGE;

		*w = fill_word((uint64_t)w);
	}
	say("counter fill %lu MiB done", mib);
}

static void fillcheck(struct counter *c)
{
	for (uint64_t i = 0; i < c->fill_pages; i++) {
		uint64_t *w = c->fill + i * WORDS_PER_PAGE;

		if (*w != fill_word((uint64_t)w)) {
			say("counter fillcheck FAIL page 0x%lx", (uint64_t)w);
			return;
		}
	}
	say("counter fillcheck ok %lu pages", c->fill_pages);
}

static void finish(void)
{
	lapic_timer_stop();
	say("result ok");
	power_off_or_reset();
}

/* Missed deadlines are dropped, not made up in a burst. */
static void tick(struct counter *c)
{
	uint64_t now;

	c->n++;
	say("counter %lu time %lu", c->n, now_ns() / NS_PER_MS);
	if (c->disk && c->diskevery && c->n % c->diskevery == 0)
		disk_tick(c);
	if (c->max && c->n >= c->max)
		finish();
	now = now_ns();
	c->next += c->period;
	if (c->next <= now)
		c->next = now + c->period;
}

/* `mtrr` prints the MTRRs; `mtrrset` sets test values first (see cpu.c). */
static void mtrr_command(bool set)
{
	const char *word = set ? "mtrrset" : "mtrr";
	unsigned vcnt = mtrr_vcnt();
	char text[256];

	if (!vcnt) {
		say("counter %s absent", word);
		return;
	}
	if (set)
		mtrr_set_test_values(vcnt);
	mtrr_describe(vcnt, text, sizeof(text));
	say("counter %s %s", word, text);
}

static void command(struct counter *c)
{
	if (!strcmp(c->line, "quit"))
		finish();
	else if (!strcmp(c->line, "verify"))
		verify(c);
	else if (!strcmp(c->line, "fillcheck"))
		fillcheck(c);
	else if (!strcmp(c->line, "mtrr"))
		mtrr_command(false);
	else if (!strcmp(c->line, "mtrrset"))
		mtrr_command(true);
	else
		say("counter unknown %s", c->line);
}

/* CR, LF or CR LF end a line; empty lines are ignored. */
static void input(struct counter *c, int ch)
{
	bool crlf = ch == '\n' && c->prev == '\r';

	c->prev = ch;
	if (crlf)
		return;
	if (ch != '\r' && ch != '\n') {
		if (c->len + 1 < sizeof(c->line))
			c->line[c->len++] = (char)ch;
		return;
	}
	c->line[c->len] = '\0';
	c->len = 0;
	if (c->line[0])
		command(c);
}

/* timer=oneshot (default) or timer=deadline, if the CPU has it. */
static bool want_deadline(void)
{
	char v[16];

	if (!cmdline_get(sys.cmdline, "timer", v, sizeof(v)) ||
	    !strcmp(v, "oneshot"))
		return false;
	if (strcmp(v, "deadline"))
		fail("bad timer=%s", v);
	if (lapic_has_tsc_deadline())
		return true;
	say("counter tsc-deadline absent (CPUID.1:ECX[24] clear), timer oneshot");
	return false;
}

static void counter_setup(struct counter *c)
{
	char v[4];
	uint64_t cap;

	memset(c, 0, sizeof(*c));
	c->period = cmdline_u64("period", 20) * NS_PER_MS;
	c->diskevery = cmdline_u64("diskevery", 5);
	c->max = cmdline_u64("max", 0);
	c->sector = cmdline_u64("sector", 8);
	c->region = cmdline_u64("region", c->sector + 1);
	c->verify_each = cmdline_get(sys.cmdline, "verify", v, sizeof(v));
	if (!c->period)
		fail("bad period=0");
	c->deadline = want_deadline();
	irq_setup();
	uart_irq_enable_rx();
	ged_setup();
	c->disk = blk0_open(&cap);
	say("counter start period %lu diskevery %lu sector %lu region %lu "
	    "clock %s disk %s timer %s", c->period / NS_PER_MS, c->diskevery,
	    c->sector, c->region, kvmclock_active() ? "kvmclock" : "tsc",
	    c->disk ? "blk0" : "none", c->deadline ? "deadline" : "oneshot");
	lapic_timer_periodic(VEC_TIMER);
	if (c->disk)
		disk_start(c);
	uint64_t fill = cmdline_u64("fill", 0);

	if (fill > sys.ram.total >> 20)
		fail("fill=%lu MiB is more than the RAM", fill);
	if (fill)
		fill_memory(c, fill);
}

void mode_counter(void)
{
	static struct counter c;
	uint64_t now;
	int ch;

	counter_setup(&c);
	c.next = now_ns() + c.period;
	for (;;) {
		cli();
		if (ged_power_pressed) {
			say("power button");
			lapic_timer_stop();
			power_off_or_reset();
		}
		if ((ch = uart_getc_nonblock()) >= 0) {
			sti();
			input(&c, ch);
			continue;
		}
		now = now_ns();
		if (now >= c.next) {
			sti();
			tick(&c);
			continue;
		}
		if (c.deadline)
			lapic_timer_deadline(VEC_TIMER, c.next - now);
		else
			lapic_timer_oneshot(VEC_TIMER, c.next - now);
		sti_hlt();
	}
}
