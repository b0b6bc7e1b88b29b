/*
 * Host-side unit test for minitest's hardware-independent code
 * (formatting, command line, e820 summary, MP table parsing).
 * Built and run by `make -f guest/guest.mk minitest-hosttest`.
 * The guest's own lib.c replaces the C library's string functions here.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lib.c"
#include "parse.c"

static int failures;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
			__LINE__, #cond); \
		failures++; \
	} \
} while (0)

static void check_fmt(const char *want, const char *fmt, ...)
{
	char buf[128];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strcmp(buf, want)) {
		fprintf(stderr, "format \"%s\": got \"%s\", want \"%s\"\n",
			fmt, buf, want);
		failures++;
	}
}

static void test_fmt(void)
{
	char small[5];

	check_fmt("e820 00000000000a0000 12 -3", "e820 %016lx %u %d",
		  0xa0000UL, 12u, -3);
	check_fmt("0 ffffffffffffffff", "%lu %lx", 0UL, ~0UL);
	check_fmt("[  ab] x 100%", "[%4s] %c 100%%", "ab", 'x');
	check_fmt("-9223372036854775808", "%ld", (long)(-9223372036854775807L - 1));
	CHECK(ksnprintf(small, sizeof(small), "%s", "abcdefgh") == 8);
	CHECK(!strcmp(small, "abcd"));
}

static void test_cmdline(void)
{
	char v[16];
	uint64_t n;

	CHECK(cmdline_get("console=ttyS0 test=echo count=5", "test", v,
			  sizeof(v)) && !strcmp(v, "echo"));
	CHECK(cmdline_get("test=exits count=0x10", "count", v, sizeof(v)) &&
	      parse_u64(v, &n) && n == 16);
	CHECK(!cmdline_get("testing=1 xtest=2", "test", v, sizeof(v)));
	CHECK(cmdline_get("  quiet  ", "quiet", v, sizeof(v)) && !v[0]);
	CHECK(cmdline_get("test=averyveryverylongvalue", "test", v, 5) &&
	      !strcmp(v, "aver"));
	CHECK(!cmdline_get("", "test", v, sizeof(v)));
	CHECK(parse_u64("100000", &n) && n == 100000);
	CHECK(!parse_u64("12a", &n));
	CHECK(!parse_u64("", &n));
	CHECK(!parse_u64("99999999999999999999", &n));
}

static void test_e820(void)
{
	struct e820_entry e[] = {
		{ 0, 0x9fc00, 1 },
		{ 0x9fc00, 0x400, 2 },
		{ 0x100000, 0xff00000, 1 },
		{ 0x100000000ULL, 0x40000000, 1 },
		{ 0xfffc0000, 0x40000, 2 },
	};
	struct ram_summary r;

	e820_summarize(e, 5, &r);
	CHECK(r.total == 0x9fc00 + 0xff00000 + 0x40000000ULL);
	CHECK(r.top == 0x140000000ULL);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

/* A table like qboot's: entry count left at zero, IOAPIC id 3. */
static size_t build_mp(uint8_t *t)
{
	uint8_t *e = t + 44;

	memset(t, 0, 512);
	memcpy(t, "PCMP", 4);
	t[6] = 4;
	put32(t + 36, 0xfee00000);
	for (int i = 0; i < 3; i++, e += 20) {
		e[0] = 0;
		e[1] = i * 2;
		e[3] = (i == 2 ? 0 : 1) | (i == 0 ? 2 : 0);
	}
	e[0] = 1; e[1] = 0; memcpy(e + 2, "ISA   ", 6); e += 8;
	e[0] = 2; e[1] = 3; e[3] = 1; put32(e + 4, 0xfec00000); e += 8;
	e[0] = 3; e[4] = 0; e[5] = 4; e[6] = 3; e[7] = 9; e += 8;
	t[4] = (uint8_t)(e - t);
	t[5] = (uint8_t)((e - t) >> 8);
	t[7] = (uint8_t)-checksum8(t, e - t);
	return e - t;
}

static void test_mp(void)
{
	uint8_t area[1024] = { 0 }, table[512];
	struct mp_info mp;
	size_t len = build_mp(table);

	memcpy(area + 0x230, "_MP_", 4);
	area[0x230 + 8] = 1;
	area[0x230 + 10] = (uint8_t)-checksum8(area + 0x230, 16);
	CHECK(mp_find_fp(area, sizeof(area)) == 0x230);
	area[0x230 + 10] ^= 1;
	CHECK(mp_find_fp(area, sizeof(area)) == -1);

	CHECK(mp_parse_config(table, len, &mp));
	CHECK(mp.ncpus == 2);
	CHECK(mp.apic_id[0] == 0 && mp.bsp[0]);
	CHECK(mp.apic_id[1] == 2 && !mp.bsp[1]);
	CHECK(mp.ioapic_addr == 0xfec00000 && mp.ioapic_id == 3);
	CHECK(mp.isa_irq4_pin == 9);
	CHECK(mp.lapic_addr == 0xfee00000);
	table[7]++;
	CHECK(!mp_parse_config(table, len, &mp));
	CHECK(!mp_parse_config(table, 20, &mp));
}

int main(void)
{
	test_fmt();
	test_cmdline();
	test_e820();
	test_mp();
	if (failures) {
		fprintf(stderr, "minitest hosttest: %d failure(s)\n", failures);
		return 1;
	}
	printf("minitest hosttest: ok\n");
	return 0;
}
