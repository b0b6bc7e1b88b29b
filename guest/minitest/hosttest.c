/*
 * Host-side unit test for minitest's hardware-independent code
 * (formatting, command line, e820 summary, MP table parsing, ACPI tables,
 * DSDT scans, virtio_mmio.device=).
 * Built and run by `make -f guest/guest.mk minitest-hosttest`.
 * The guest's own lib.c replaces the C library's string functions here.
 */
#include <stdio.h>
#include <stdlib.h>

#include "lib.c"
#include "parse.c"
#include "tables.c"

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

static void test_rsdp(void)
{
	uint8_t r[36] = "RSD PTR ";

	memcpy(r + 9, "MINVMM", 6);
	r[15] = 2;
	r[20] = 36;
	r[8] = (uint8_t)-checksum8(r, 20);
	r[32] = (uint8_t)-checksum8(r, 36);
	CHECK(rsdp_valid(r));
	r[33] = 1;		/* only the extended checksum notices */
	CHECK(!rsdp_valid(r));
	r[15] = 0;		/* ACPI 1.0: the 20-byte checksum only */
	r[8] = (uint8_t)-checksum8(r + 9, 11) - checksum8(r, 8);
	CHECK(rsdp_valid(r));
}

static void test_madt(void)
{
	uint8_t t[44 + 8 * 3 + 12] = { 0 }, *e = t + 44;
	struct madt_info m;

	put32(t + 36, 0xfee00000);
	e[0] = 0; e[1] = 8; e[3] = 0; e[4] = 1; e += 8;
	e[0] = 0; e[1] = 8; e[3] = 7; e[4] = 0; e += 8;	/* disabled */
	e[0] = 0; e[1] = 8; e[3] = 2; e[4] = 1; e += 8;
	e[0] = 1; e[1] = 12; put32(e + 4, 0xfec00000); put32(e + 8, 24);
	madt_parse(t, sizeof(t), &m);
	CHECK(m.ncpus == 2 && m.apic_id[0] == 0 && m.apic_id[1] == 2);
	CHECK(m.nioapic == 1 && m.ioapic_addr[0] == 0xfec00000);
	CHECK(m.ioapic_gsi_base[0] == 24 && m.lapic_addr == 0xfee00000);
	t[44 + 1] = 0;		/* a zero-length entry ends the walk */
	madt_parse(t, sizeof(t), &m);
	CHECK(m.ncpus == 0);
}

/* Device(VRnn) as firmware/acpi.c lays it out: _HID, _UID, _CCA, _CRS. */
static size_t put_virtio_dev(uint8_t *p, uint32_t base, uint32_t gsi)
{
	static const uint8_t head[] = "\x5b\x82\x40VR00\x08_HID\x0dLNRO0005\0"
		"\x08_UID\x00\x08_CCA\x01\x08_CRS\x11\x1a\x0a\x17"
		"\x86\x09\x00\x01";
	uint8_t *q = p + sizeof(head) - 1;

	memcpy(p, head, sizeof(head) - 1);
	put32(q, base);
	put32(q + 4, 0x200);
	memcpy(q + 8, "\x89\x06\x00\x09\x01", 5);
	put32(q + 13, gsi);
	memcpy(q + 17, "\x79\x00", 2);
	return q + 19 - p;
}

static void test_dsdt(void)
{
	static const uint8_t s5[] = "\x08\x5c_S5_\x12\x07\x04\x0a\x05\0\0\0";
	uint8_t aml[256];
	struct vmmio d[4];
	uint32_t typ = 99;
	size_t n = 0;

	memcpy(aml, s5, sizeof(s5) - 1);
	n += sizeof(s5) - 1;
	n += put_virtio_dev(aml + n, 0xd0000000, 5);
	n += put_virtio_dev(aml + n, 0xd0001000, 6);
	CHECK(dsdt_find_s5(aml, n, &typ) && typ == 5);
	CHECK(dsdt_find_virtio(aml, n, d, 4) == 2);
	CHECK(d[0].base == 0xd0000000 && d[0].size == 0x200 && d[0].gsi == 5);
	CHECK(d[1].base == 0xd0001000 && d[1].gsi == 6);
	CHECK(dsdt_find_virtio(aml, n, d, 1) == 1);
	aml[9] = 0x00;		/* Package { Zero, Zero, ... } */
	aml[10] = 0x00;
	CHECK(dsdt_find_s5(aml, n, &typ) && typ == 0);
	CHECK(!dsdt_find_s5(aml + 12, n - 12, &typ));
}

/* Device(GED_) as QEMU's microvm writes it, then @region and @evt. */
static size_t put_ged(uint8_t *p, const char *region, size_t rlen,
		      const char *evt, size_t elen)
{
	static const char head[] = "GED_\x08_HID\x0d" "ACPI0013\0"
		"\x08_UID\x0d" "ACPI0013\0\x08_CRS\x11\x0e\x0a\x0b"
		"\x89\x06\x00\x09\x01\x17\0\0\0\x79\x00";
	size_t n = 4;

	memcpy(p + n, head, sizeof(head) - 1);
	n += sizeof(head) - 1;
	memcpy(p + n, region, rlen);
	n += rlen;
	memcpy(p + n, evt, elen);
	n += elen;
	p[0] = 0x5b;
	p[1] = 0x82;
	p[2] = 0x40 | ((n - 2) & 0xf);
	p[3] = (uint8_t)((n - 2) >> 4);
	return n;
}

static void test_ged(void)
{
	static const char mem[] = "\x5b\x80" "EREG\x00\x0c\x00\x00\xa0\xfe\x0a\x04";
	static const char io[] = "\x5b\x80" "EREG\x01\x0b\x10\x06\x0a\x04";
	static const char evt[] = "\x14\x1a_EVT\x09\x70" "ESEL\x60"
		"\xa0\x0d\x93\x7b\x60\x0a\x01\x00\x0a\x01\x70\x01\x60"
		"\xa0\x10\x93\x7b\x60\x0a\x02\x00\x0a\x02\x86" "PWRB\x0a\x80";
	uint8_t aml[256];
	struct ged_info g;
	size_t n;

	n = put_virtio_dev(aml, 0xd0000000, 5);
	n += put_ged(aml + n, mem, sizeof(mem) - 1, evt, sizeof(evt) - 1);
	CHECK(dsdt_find_ged(aml, n, &g));
	CHECK(g.addr == 0xfea00000 && g.space == 0 && g.gsi == 23 &&
	      g.mask == 2);
	n = put_ged(aml, io, sizeof(io) - 1, "", 0);
	CHECK(dsdt_find_ged(aml, n, &g));
	CHECK(g.addr == 0x610 && g.space == 1 && g.gsi == 23 && g.mask == 1);
	CHECK(!dsdt_find_ged(aml, n - 8, &g));	/* region cut off */
	n = put_virtio_dev(aml, 0xd0000000, 5);
	CHECK(!dsdt_find_ged(aml, n, &g) && g.mask == 1);
}

static void test_virtio_cmdline(void)
{
	struct vmmio d[4];
	const char *cl = "test=blk virtio_mmio.device=4K@0xd0000000:5 "
		"virtio_mmio.device=512@0xfeb00e00:12:3 x=virtio_mmio.device=1K@1:1 "
		"virtio_mmio.device=1M@0x1000 virtio_mmio.device=0K@0xd0001000:6";

	CHECK(cmdline_virtio_mmio(cl, d, 4) == 3);
	CHECK(d[0].base == 0xd0000000 && d[0].size == 4096 && d[0].gsi == 5);
	CHECK(d[1].base == 0xfeb00e00 && d[1].size == 512 && d[1].gsi == 12);
	CHECK(d[2].base == 0xd0001000 && d[2].size == 0 && d[2].gsi == 6);
	CHECK(cmdline_virtio_mmio(cl, d, 1) == 1);
}

int main(void)
{
	test_fmt();
	test_cmdline();
	test_e820();
	test_mp();
	test_rsdp();
	test_madt();
	test_dsdt();
	test_ged();
	test_virtio_cmdline();
	if (failures) {
		fprintf(stderr, "minitest hosttest: %d failure(s)\n", failures);
		return 1;
	}
	printf("minitest hosttest: ok\n");
	return 0;
}
