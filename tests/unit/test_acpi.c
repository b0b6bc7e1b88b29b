/*
 * ACPI tables, AML encodings and the acpi_pm registers. The tables are read
 * back the way a guest would: from the RSDP, through the XSDT and the FADT,
 * checking every length and checksum on the way.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../devices/acpi_pm.h"
#include "../../devices/ged.h"
#include "../../firmware/acpi.h"
#include "../../firmware/aml.h"
#include "../../vmm/device.h"

#define GPA ACPI_TABLES_START
#define HDR_LEN 36
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static uint8_t tables[ACPI_TABLES_SIZE];

static const struct acpi_mmio_device mmio_devices[] = {
	{ .base = 0xd0000000, .size = 0x200, .gsi = 5 },
	{ .base = 0xd0001000, .size = 0x1000, .gsi = 6 },
	{ .base = 0xfebff000, .size = 0x1000, .gsi = 22 },
};

static const struct acpi_ged ged = { .port = GED_PORT, .gsi = GED_GSI };

static uint64_t get(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* The table at guest address @gpa, after checking it lies in the buffer and sums to zero. */
static const uint8_t *table_at(uint64_t gpa, size_t used, const char *sig)
{
	const uint8_t *t;
	uint32_t len;

	assert_true(gpa >= GPA && gpa - GPA + HDR_LEN <= used);
	t = tables + (gpa - GPA);
	len = get(t + 4, 4);
	assert_true(len >= HDR_LEN && gpa - GPA + len <= used);
	assert_memory_equal(t, sig, 4);
	assert_int_equal(sum(t, len), 0);
	assert_memory_equal(t + 10, "MINVMM", 6);
	return t;
}

static size_t count(const uint8_t *hay, size_t len, const void *needle, size_t nlen)
{
	size_t n = 0;

	for (size_t i = 0; i + nlen <= len; i++)
		n += memcmp(hay + i, needle, nlen) == 0;
	return n;
}

static const uint8_t *find(const uint8_t *hay, size_t len, const void *needle, size_t nlen)
{
	for (size_t i = 0; i + nlen <= len; i++)
		if (memcmp(hay + i, needle, nlen) == 0)
			return hay + i;
	return NULL;
}

static const uint8_t *check_rsdp(uint64_t rsdp_gpa)
{
	const uint8_t *r = tables + (rsdp_gpa - GPA);

	assert_int_equal(rsdp_gpa % 16, 0); /* where a guest scanning memory looks */
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(sum(r, 20), 0);
	assert_int_equal(r[15], 2); /* revision */
	assert_int_equal(get(r + 20, 4), 36);
	assert_int_equal(sum(r, 36), 0);
	return r;
}

static void check_fadt(const uint8_t *f, size_t used)
{
	const uint8_t *dsdt;

	assert_int_equal(get(f + 4, 4), 276);
	assert_int_equal(f[8], 6);
	assert_true(get(f + 112, 4) & (1U << 20)); /* HW_REDUCED_ACPI */
	assert_true(get(f + 112, 4) & (1U << 10)); /* RESET_REG_SUP */
	/* RESET_REG, SLEEP_CONTROL_REG, SLEEP_STATUS_REG: byte-wide SystemIO */
	assert_int_equal(f[116], 1);
	assert_int_equal(f[117], 8);
	assert_int_equal(get(f + 120, 8), ACPI_PM_RESET_PORT);
	assert_int_equal(f[128], ACPI_PM_RESET_VALUE);
	assert_int_equal(f[244], 1);
	assert_int_equal(get(f + 248, 8), ACPI_PM_SLEEP_CONTROL_PORT);
	assert_int_equal(f[256], 1);
	assert_int_equal(get(f + 260, 8), ACPI_PM_SLEEP_STATUS_PORT);
	dsdt = table_at(get(f + 140, 8), used, "DSDT");
	assert_non_null(dsdt);
}

static void check_madt(const uint8_t *m, int ncpus)
{
	uint32_t len = get(m + 4, 4);
	uint8_t seen[256] = { 0 };
	int lapics = 0, ioapics = 0, irq0 = 0;

	assert_int_equal(get(m + 36, 4), 0xfee00000);
	assert_int_equal(get(m + 40, 4) & 1, 1); /* PCAT_COMPAT */
	for (uint32_t off = 44; off < len; off += m[off + 1]) {
		const uint8_t *e = m + off;

		assert_true(e[1] >= 2 && off + e[1] <= len);
		if (e[0] == 0) {
			assert_int_equal(e[1], 8);
			assert_int_equal(get(e + 4, 4) & 1, 1); /* enabled */
			assert_true(e[3] < ncpus);
			assert_int_equal(seen[e[3]]++, 0);
			lapics++;
		} else if (e[0] == 1) {
			assert_int_equal(e[2], ncpus);
			assert_int_equal(get(e + 4, 4), 0xfec00000);
			assert_int_equal(get(e + 8, 4), 0);
			ioapics++;
		} else if (e[0] == 2 && e[3] == 0) {
			assert_int_equal(get(e + 4, 4), 0); /* ISA IRQ 0 is GSI 0 on KVM */
			irq0++;
		}
	}
	assert_int_equal(lapics, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(irq0, 1);
}

/*
 * \_SB.GED: its _HID, a level-triggered Interrupt on its GSI, the event
 * register as a SystemIO region and _EVT, byte for byte; \_SB.PWRB's _HID.
 */
static void check_ged(const uint8_t *d, uint32_t len, bool present)
{
	static const uint8_t ged_dev[] = { 'G', 'E', 'D', '_', 0x08, '_', 'H', 'I', 'D', 0x0d,
					   'A', 'C', 'P', 'I', '0', '0', '1', '3', 0 };
	static const uint8_t pwrb_hid[] = { '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0c, 0x0c };
	/* Extended Interrupt: consumer, level, active high, exclusive; one GSI */
	static const uint8_t irq[] = { 0x89, 0x06, 0x00, 0x01, 0x01, GED_GSI, 0, 0, 0 };
	/* OperationRegion(EREG, SystemIO, 0x610, 4); Field(EREG, DWordAcc, NoLock, Preserve) { ESEL, 32 } */
	static const uint8_t region[] = { 0x5b, 0x80, 'E', 'R', 'E', 'G', 0x01, 0x0b, 0x10, 0x06,
					  0x0a, 0x04, 0x5b, 0x81, 0x0b, 'E', 'R', 'E', 'G', 0x03,
					  'E', 'S', 'E', 'L', 0x20 };
	/* Method(_EVT, 1, Serialized) { Local0 = ESEL; If ((Local0 & One) == One) { Notify(\_SB.PWRB, 0x80) } } */
	static const uint8_t evt[] = { 0x14, 0x21, '_', 'E', 'V', 'T', 0x09, 0x70, 'E', 'S', 'E',
				       'L', 0x60, 0xa0, 0x14, 0x93, 0x7b, 0x60, 0x01, 0x00, 0x01,
				       0x86, 0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'W', 'R', 'B',
				       0x0a, 0x80 };
	const uint8_t *dev = find(d, len, ged_dev, sizeof(ged_dev));
	size_t n = present;

	assert_int_equal(count(d, len, "ACPI0013", 8), n);
	assert_int_equal(count(d, len, pwrb_hid, sizeof(pwrb_hid)), n);
	assert_int_equal(count(d, len, "_EVT", 4), n);
	if (!present)
		return;
	assert_non_null(dev);
	/* everything after _HID, inside the device */
	assert_non_null(find(dev, len - (dev - d), irq, sizeof(irq)));
	assert_non_null(find(dev, len - (dev - d), region, sizeof(region)));
	assert_non_null(find(dev, len - (dev - d), evt, sizeof(evt)));
	assert_int_equal(GED_EVENT_POWER_BUTTON, 1); /* the One in _EVT */
}

static void check_dsdt(const uint8_t *d, int ndevices, bool has_ged)
{
	uint32_t len = get(d + 4, 4);
	static const uint8_t com1_hid[] = { '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01 };
	static const uint8_t s5[] = { '_', 'S', '5', '_', 0x12 };
	const uint8_t *p;

	assert_int_equal(count(d, len, "LNRO0005", 8), ndevices);
	assert_int_equal(count(d, len, com1_hid, sizeof(com1_hid)), 1);
	p = find(d, len, s5, sizeof(s5));
	assert_non_null(p);
	/* PkgLength (one byte here), NumElements, then SLP_TYPa as a BytePrefix integer */
	assert_int_equal(p[7], 0x0a);
	assert_int_equal(p[8], ACPI_PM_SLP_TYP_S5);
	for (int i = 0; i < ndevices; i++) {
		uint8_t mem32[12] = { 0x86, 0x09, 0x00, 0x01 };

		memcpy(mem32 + 4, &(uint32_t){ mmio_devices[i].base }, 4);
		memcpy(mem32 + 8, &mmio_devices[i].size, 4);
		assert_int_equal(count(d, len, mem32, sizeof(mem32)), 1);
	}
	check_ged(d, len, has_ged);
}

static void build_and_parse(int ncpus, int ndevices, bool has_ged)
{
	struct acpi_config cfg = { .ncpus = ncpus, .devices = mmio_devices, .ndevices = ndevices,
				   .ged = has_ged ? &ged : NULL };
	uint64_t rsdp_gpa = 0;
	long used;
	const uint8_t *xsdt, *fadt = NULL, *madt = NULL;
	uint32_t xlen;

	memset(tables, 0xaa, sizeof(tables));
	used = acpi_build(tables, sizeof(tables), GPA, &cfg, &rsdp_gpa);
	assert_true(used > 0 && (size_t)used <= sizeof(tables));
	xsdt = table_at(get(check_rsdp(rsdp_gpa) + 24, 8), used, "XSDT");
	xlen = get(xsdt + 4, 4);
	assert_int_equal((xlen - HDR_LEN) % 8, 0);
	for (uint32_t off = HDR_LEN; off < xlen; off += 8) {
		uint64_t gpa = get(xsdt + off, 8);
		const uint8_t *t = tables + (gpa - GPA);

		if (gpa >= GPA && gpa - GPA + 4 <= (uint64_t)used && !memcmp(t, "FACP", 4))
			fadt = table_at(gpa, used, "FACP");
		else
			madt = table_at(gpa, used, "APIC");
	}
	assert_non_null(fadt);
	assert_non_null(madt);
	check_fadt(fadt, used);
	check_madt(madt, ncpus);
	check_dsdt(table_at(get(fadt + 140, 8), used, "DSDT"), ndevices, has_ged);
}

static void test_tables(void **state)
{
	static const int cpus[] = { 1, 2, 16 };
	static const int devs[] = { 0, 1, 3 };

	(void)state;
	for (size_t i = 0; i < 3; i++)
		for (size_t j = 0; j < 3; j++)
			for (int g = 0; g < 2; g++)
				build_and_parse(cpus[i], devs[j], g);
}

static void test_max_cpus(void **state)
{
	(void)state;
	build_and_parse(ACPI_MAX_CPUS, 3, true);
}

static void test_too_small(void **state)
{
	struct acpi_config cfg = { .ncpus = 16, .devices = mmio_devices, .ndevices = 3,
				   .ged = &ged };
	uint64_t rsdp_gpa = 0;
	long used = acpi_build(tables, sizeof(tables), GPA, &cfg, &rsdp_gpa);

	(void)state;
	assert_true(used > 0);
	assert_int_equal(acpi_build(tables, used - 1, GPA, &cfg, &rsdp_gpa), -ENOSPC);
	assert_int_equal(acpi_build(tables, 64, GPA, &cfg, &rsdp_gpa), -ENOSPC);
	assert_int_equal(acpi_build(tables, used, GPA, &cfg, &rsdp_gpa), used);
}

static void test_bad_config(void **state)
{
	struct acpi_mmio_device high = { .base = 0x100000000ULL, .size = 0x200, .gsi = 5 };
	struct acpi_mmio_device wraps = { .base = 0xfffff000, .size = 0x2000, .gsi = 5 };
	struct acpi_config cfg = { .ncpus = 0 };
	uint64_t rsdp_gpa;

	(void)state;
	assert_int_equal(acpi_build(tables, sizeof(tables), GPA, &cfg, &rsdp_gpa), -EINVAL);
	cfg.ncpus = ACPI_MAX_CPUS + 1;
	assert_int_equal(acpi_build(tables, sizeof(tables), GPA, &cfg, &rsdp_gpa), -EINVAL);
	cfg = (struct acpi_config){ .ncpus = 1, .devices = &high, .ndevices = 1 };
	assert_int_equal(acpi_build(tables, sizeof(tables), GPA, &cfg, &rsdp_gpa), -EINVAL);
	cfg.devices = &wraps;
	assert_int_equal(acpi_build(tables, sizeof(tables), GPA, &cfg, &rsdp_gpa), -EINVAL);
}

/* The GED's level-triggered pin is its own, on the IOAPIC; its register fits in port space. */
static void test_bad_ged(void **state)
{
	static const uint32_t taken[] = { 0, 4, 9, 24, 255 }; /* PIT, COM1, SCI, no such pin */
	struct acpi_mmio_device on_23 = { .base = 0xd0000000, .size = 0x200, .gsi = GED_GSI };
	struct acpi_ged g = ged;
	struct acpi_config cfg = { .ncpus = 1, .devices = mmio_devices, .ndevices = 3, .ged = &g };
	uint64_t rsdp_gpa;

	(void)state;
	assert_true(acpi_build(tables, sizeof(tables), GPA, &cfg, &rsdp_gpa) > 0);
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
		g.gsi = taken[i];
		assert_int_equal(acpi_build(tables, sizeof(tables), GPA, &cfg, &rsdp_gpa), -EINVAL);
	}
	g.gsi = mmio_devices[1].gsi; /* an edge-triggered virtio-mmio device's */
	assert_int_equal(acpi_build(tables, sizeof(tables), GPA, &cfg, &rsdp_gpa), -EINVAL);
	cfg.devices = &on_23;
	cfg.ndevices = 1;
	g.gsi = GED_GSI;
	assert_int_equal(acpi_build(tables, sizeof(tables), GPA, &cfg, &rsdp_gpa), -EINVAL);
	cfg.ged = NULL; /* without the GED, GSI 23 is free for virtio */
	assert_true(acpi_build(tables, sizeof(tables), GPA, &cfg, &rsdp_gpa) > 0);
	cfg = (struct acpi_config){ .ncpus = 1, .ged = &g };
	g.port = 0xfffd; /* 4 bytes from there wrap */
	assert_int_equal(acpi_build(tables, sizeof(tables), GPA, &cfg, &rsdp_gpa), -EINVAL);
	g.port = 0xfffc;
	assert_true(acpi_build(tables, sizeof(tables), GPA, &cfg, &rsdp_gpa) > 0);
}

static void test_pkglen_round_trip(void **state)
{
	static const uint32_t values[] = { 0, 63, 64, 4095, 4096, 1048575, 1048576,
					   AML_PKGLEN_MAX };
	static const int sizes[] = { 1, 1, 2, 2, 3, 3, 4, 4 };
	uint8_t enc[4];
	uint32_t back;

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		int n = aml_pkglen_encode(values[i], enc);

		assert_int_equal(n, sizes[i]);
		assert_int_equal(aml_pkglen_decode(enc, n, &back), n);
		assert_int_equal(back, values[i]);
	}
	assert_int_equal(aml_pkglen_encode(AML_PKGLEN_MAX + 1, enc), 0);
	assert_int_equal(aml_pkglen_decode(enc, 0, &back), 0);
	enc[0] = 0xc0; /* says three more bytes follow */
	assert_int_equal(aml_pkglen_decode(enc, 2, &back), 0);
}

/* A Device's PkgLength counts itself: check it across the 1-to-2 and 2-to-3 byte steps. */
static void test_device_pkglen(void **state)
{
	(void)state;
	for (size_t body_len = 50; body_len < 4200; body_len++) {
		struct aml body, out;
		uint32_t pkglen;
		int n;

		aml_init(&body);
		aml_init(&out);
		for (size_t i = 0; i < body_len; i++)
			aml_append(&body, "\xa3", 1); /* Noop */
		aml_device(&out, "DEV0", &body);
		assert_int_equal(out.err, 0);
		assert_int_equal(out.data[0], 0x5b);
		assert_int_equal(out.data[1], 0x82);
		n = aml_pkglen_decode(out.data + 2, out.len - 2, &pkglen);
		assert_true(n > 0);
		assert_int_equal(pkglen, out.len - 2); /* everything after the opcode */
		assert_memory_equal(out.data + 2 + n, "DEV0", 4);
		aml_free(&body);
		aml_free(&out);
		if (body_len == 80)
			body_len = 4070; /* skip to the next boundary */
	}
}

static void test_eisaid(void **state)
{
	(void)state;
	assert_int_equal(aml_eisaid("PNP0501"), 0x0105d041);
	assert_int_equal(aml_eisaid("PNP0A03"), 0x030ad041);
	assert_int_equal(aml_eisaid("pnp0501"), 0);
	assert_int_equal(aml_eisaid("PNP050"), 0);
	assert_int_equal(aml_eisaid("PNP05G1"), 0);
}

static void assert_aml(void (*emit)(struct aml *a), const uint8_t *want, size_t len)
{
	struct aml a;

	aml_init(&a);
	emit(&a);
	assert_int_equal(a.err, 0);
	assert_int_equal(a.len, len);
	assert_memory_equal(a.data, want, len);
	aml_free(&a);
}

static void emit_root_path(struct aml *a) { aml_name_string(a, "\\_SB.COM1"); }
static void emit_multi_path(struct aml *a) { aml_name_string(a, "\\_SB.PCI0.S1"); }
static void emit_short_seg(struct aml *a) { aml_name_string(a, "_S5"); }
static void emit_integers(struct aml *a)
{
	aml_integer(a, 0);
	aml_integer(a, 1);
	aml_integer(a, 0xff);
	aml_integer(a, 0x100);
	aml_integer(a, 0x10000);
	aml_integer(a, 0x100000000ULL);
}

static void test_aml_encodings(void **state)
{
	static const uint8_t root_path[] = "\\\x2e_SB_COM1";
	static const uint8_t multi_path[] = "\\\x2f\x03_SB_PCI0S1__";
	static const uint8_t ints[] = { 0x00, 0x01, 0x0a, 0xff, 0x0b, 0x00, 0x01,
					0x0c, 0x00, 0x00, 0x01, 0x00, 0x0e, 0, 0,
					0, 0, 1, 0, 0, 0 };

	(void)state;
	assert_aml(emit_root_path, root_path, sizeof(root_path) - 1);
	assert_aml(emit_multi_path, multi_path, sizeof(multi_path) - 1);
	assert_aml(emit_short_seg, (const uint8_t *)"_S5_", 4);
	assert_aml(emit_integers, ints, sizeof(ints));
}

static void emit_method(struct aml *a)
{
	struct aml body;

	aml_init(&body);
	aml_arg(&body, 0);
	aml_method(a, "_EVT", 1, true, &body);
	aml_free(&body);
}

static void emit_region_field(struct aml *a)
{
	aml_operation_region(a, "EREG", AML_SYSTEM_MEMORY, 0xfea00000, 4);
	aml_field(a, "EREG", AML_FIELD_BYTE_ACC, "F", 64); /* a two-byte width */
}

static void emit_locals_args(struct aml *a)
{
	aml_local(a, 0);
	aml_local(a, 7);
	aml_arg(a, 0);
	aml_arg(a, 6);
}

/* If (LEqual(And(Arg0, 2), 2)) { Notify(PWRB, 0x80) } ; Store(Arg0, Local1) */
static void emit_statements(struct aml *a)
{
	struct aml arg0, local1, two, masked, test, pwrb, v, notify;
	struct aml *all[] = { &arg0, &local1, &two, &masked, &test, &pwrb, &v, &notify };

	for (size_t i = 0; i < ARRAY_LEN(all); i++)
		aml_init(all[i]);
	aml_arg(&arg0, 0);
	aml_local(&local1, 1);
	aml_integer(&two, 2);
	aml_and(&masked, &arg0, &two);
	aml_lequal(&test, &masked, &two);
	aml_name_string(&pwrb, "PWRB");
	aml_integer(&v, 0x80);
	aml_notify(&notify, &pwrb, &v);
	aml_if(a, &test, &notify);
	aml_store(a, &arg0, &local1);
	for (size_t i = 0; i < ARRAY_LEN(all); i++)
		aml_free(all[i]);
}

static void test_aml_terms(void **state)
{
	static const uint8_t method[] = { 0x14, 0x07, '_', 'E', 'V', 'T', 0x09, 0x68 };
	static const uint8_t region_field[] = { 0x5b, 0x80, 'E', 'R', 'E', 'G', 0x00, 0x0c, 0x00,
						0x00, 0xa0, 0xfe, 0x0a, 0x04, 0x5b, 0x81, 0x0c,
						'E', 'R', 'E', 'G', 0x01, 'F', '_', '_', '_',
						0x40, 0x04 };
	static const uint8_t locals_args[] = { 0x60, 0x67, 0x68, 0x6e };
	static const uint8_t statements[] = { 0xa0, 0x10, 0x93, 0x7b, 0x68, 0x0a, 0x02, 0x00,
					      0x0a, 0x02, 0x86, 'P', 'W', 'R', 'B', 0x0a,
					      0x80, 0x70, 0x68, 0x61 };

	(void)state;
	assert_aml(emit_method, method, sizeof(method));
	assert_aml(emit_region_field, region_field, sizeof(region_field));
	assert_aml(emit_locals_args, locals_args, sizeof(locals_args));
	assert_aml(emit_statements, statements, sizeof(statements));
}

static void test_aml_bad_terms(void **state)
{
	struct aml a, bad, ok;

	(void)state;
	aml_init(&a);
	aml_local(&a, 8);
	assert_int_equal(a.err, -EINVAL);
	aml_free(&a);
	aml_arg(&a, 7);
	assert_int_equal(a.err, -EINVAL);
	aml_free(&a);
	aml_init(&ok);
	aml_method(&a, "M", 8, false, &ok);
	assert_int_equal(a.err, -EINVAL);
	aml_free(&a);
	aml_field(&a, "EREG", 0, "ESEL", 0);
	assert_int_equal(a.err, -EINVAL);
	aml_free(&a);
	aml_field(&a, "EREG", 0, "TOOLONG", 8);
	assert_int_equal(a.err, -EINVAL);
	aml_free(&a);
	/* A failed operand fails the term that holds it. */
	aml_init(&bad);
	aml_local(&bad, -1);
	aml_local(&ok, 0);
	aml_store(&a, &bad, &ok);
	assert_int_equal(a.err, -EINVAL);
	aml_free(&a);
	aml_if(&a, &ok, &bad);
	assert_int_equal(a.err, -EINVAL);
	assert_int_equal(a.len, 0);
	aml_free(&a);
	aml_free(&bad);
	aml_free(&ok);
}

static void test_aml_bad_names(void **state)
{
	static const char *bad[] = { "TOOLONG", "1ABC", "a", "_SB..X", "_SB.", "\\_SB.CO-1" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct aml a;

		aml_init(&a);
		aml_name_string(&a, bad[i]);
		assert_int_equal(a.err, -EINVAL);
		aml_free(&a);
	}
}

/* An acpi_pm whose events land here. */
static int events[2];

static void count_event(void *ctx, enum acpi_pm_event e)
{
	(void)ctx;
	events[e]++;
}

static struct acpi_pm *new_pm(void)
{
	struct acpi_pm *pm = acpi_pm_create_detached(count_event, NULL);

	assert_non_null(pm);
	memset(events, 0, sizeof(events));
	return pm;
}

static void write_port(struct acpi_pm *pm, uint16_t port, uint8_t v)
{
	acpi_pm_write(pm, port - ACPI_PM_SLEEP_CONTROL_PORT, &v, 1);
}

static uint8_t read_port(struct acpi_pm *pm, uint16_t port)
{
	uint8_t v;

	acpi_pm_read(pm, port - ACPI_PM_SLEEP_CONTROL_PORT, &v, 1);
	return v;
}

static void test_pm_power_off(void **state)
{
	struct acpi_pm *pm = new_pm();

	(void)state;
	write_port(pm, ACPI_PM_SLEEP_CONTROL_PORT, ACPI_PM_SLP_TYP_S5 << 2); /* no SLP_EN */
	assert_int_equal(events[ACPI_PM_POWER_OFF], 0);
	write_port(pm, ACPI_PM_SLEEP_CONTROL_PORT, (ACPI_PM_SLP_TYP_S5 << 2) | 0x20);
	assert_int_equal(events[ACPI_PM_POWER_OFF], 1);
	assert_int_equal(events[ACPI_PM_RESET], 0);
	acpi_pm_ops.destroy(pm);
}

static void test_pm_other_sleep_types(void **state)
{
	struct acpi_pm *pm = new_pm();

	(void)state;
	for (unsigned typ = 0; typ < 8; typ++) {
		if (typ == ACPI_PM_SLP_TYP_S5)
			continue;
		write_port(pm, ACPI_PM_SLEEP_CONTROL_PORT, typ << 2 | 0x20);
		/* Not a state we offer: awake at once, so a guest polling WAK_STS goes on. */
		assert_int_equal(read_port(pm, ACPI_PM_SLEEP_STATUS_PORT), ACPI_PM_WAK_STS);
		write_port(pm, ACPI_PM_SLEEP_STATUS_PORT, ACPI_PM_WAK_STS); /* write 1 to clear */
		assert_int_equal(read_port(pm, ACPI_PM_SLEEP_STATUS_PORT), 0);
	}
	write_port(pm, ACPI_PM_SLEEP_STATUS_PORT, (ACPI_PM_SLP_TYP_S5 << 2) | 0x20);
	write_port(pm, ACPI_PM_RESET_PORT, (ACPI_PM_SLP_TYP_S5 << 2) | 0x20);
	assert_int_equal(events[ACPI_PM_POWER_OFF], 0);
	assert_int_equal(events[ACPI_PM_RESET], 0);
	acpi_pm_ops.destroy(pm);
}

static void test_pm_reset(void **state)
{
	struct acpi_pm *pm = new_pm();

	(void)state;
	write_port(pm, ACPI_PM_RESET_PORT, 0x02);
	write_port(pm, ACPI_PM_RESET_PORT, 0x00);
	assert_int_equal(events[ACPI_PM_RESET], 0);
	write_port(pm, ACPI_PM_RESET_PORT, ACPI_PM_RESET_VALUE);
	assert_int_equal(events[ACPI_PM_RESET], 1);
	assert_int_equal(events[ACPI_PM_POWER_OFF], 0);
	assert_int_equal(read_port(pm, ACPI_PM_RESET_PORT), 0);
	acpi_pm_ops.destroy(pm);
}

/* A 16-bit write at 0x601 reaches the status and reset registers both. */
static void test_pm_wide_access(void **state)
{
	struct acpi_pm *pm = new_pm();
	uint8_t v[2] = { 0, ACPI_PM_RESET_VALUE };

	(void)state;
	acpi_pm_write(pm, 1, v, 2);
	assert_int_equal(events[ACPI_PM_RESET], 1);
	acpi_pm_ops.destroy(pm);
}

static void test_pm_save_load(void **state)
{
	struct acpi_pm *a = new_pm(), *b = new_pm();
	uint8_t buf[64], bad[64];
	long len;

	(void)state;
	write_port(a, ACPI_PM_SLEEP_CONTROL_PORT, 3 << 2 | 0x20); /* sets WAK_STS */
	assert_int_equal(acpi_pm_ops.save(a, buf, 1), -ENOSPC);
	len = acpi_pm_ops.save(a, buf, sizeof(buf));
	assert_true(len > 0);
	assert_int_equal(acpi_pm_ops.load(b, buf, len - 1), -EINVAL);
	memcpy(bad, buf, len);
	bad[0] ^= 0xff; /* the version */
	assert_int_equal(acpi_pm_ops.load(b, bad, len), -EINVAL);
	assert_int_equal(read_port(b, ACPI_PM_SLEEP_STATUS_PORT), 0);
	assert_int_equal(acpi_pm_ops.load(b, buf, len), 0);
	assert_int_equal(read_port(b, ACPI_PM_SLEEP_STATUS_PORT), ACPI_PM_WAK_STS);
	assert_int_equal(read_port(b, ACPI_PM_SLEEP_CONTROL_PORT), 3 << 2);
	acpi_pm_ops.reset(b);
	assert_int_equal(read_port(b, ACPI_PM_SLEEP_STATUS_PORT), 0);
	acpi_pm_ops.destroy(a);
	acpi_pm_ops.destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_max_cpus),
		cmocka_unit_test(test_too_small),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_bad_ged),
		cmocka_unit_test(test_pkglen_round_trip),
		cmocka_unit_test(test_device_pkglen),
		cmocka_unit_test(test_eisaid),
		cmocka_unit_test(test_aml_encodings),
		cmocka_unit_test(test_aml_bad_names),
		cmocka_unit_test(test_aml_terms),
		cmocka_unit_test(test_aml_bad_terms),
		cmocka_unit_test(test_pm_power_off),
		cmocka_unit_test(test_pm_other_sleep_types),
		cmocka_unit_test(test_pm_reset),
		cmocka_unit_test(test_pm_wide_access),
		cmocka_unit_test(test_pm_save_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
