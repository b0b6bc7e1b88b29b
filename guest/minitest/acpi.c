/*
 * ACPI discovery the way Linux does it (RSDP from boot_params, else the
 * BIOS area scan; XSDT or RSDT; FADT, MADT, DSDT, every checksum checked),
 * and power-off and reset through the FADT's registers.
 */
#include "minitest.h"
#include "hw.h"

#define FADT_DSDT		40
#define FADT_PM1A_CNT		64
#define FADT_FLAGS		112
#define FADT_RESET_REG		116
#define FADT_RESET_VALUE	128
#define FADT_X_DSDT		140
#define FADT_SLEEP_CONTROL	244
#define FADT_RESET_REG_SUP	(1u << 10)
#define SLP_EN			0x20
#define PM1_SLP_EN		(1u << 13)

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

/* A table we may read: mapped, signature, sane length, checksum 0. */
static const uint8_t *table_at(uint64_t addr, const char *sig)
{
	const uint8_t *t = phys_ptr(addr);
	uint32_t len;

	if (!addr || addr + 36 > paging_mapped_end() || memcmp(t, sig, 4))
		return NULL;
	len = rd32(t + 4);
	if (len < 36 || addr + len > paging_mapped_end())
		return NULL;
	if (checksum8(t, len)) {
		say("acpi table %s at 0x%lx bad checksum", sig, addr);
		return NULL;
	}
	return t;
}

static uint64_t rsdp_find(uint64_t bp_rsdp)
{
	if (bp_rsdp && bp_rsdp + 36 <= paging_mapped_end() &&
	    rsdp_valid(phys_ptr(bp_rsdp)))
		return bp_rsdp;
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
		if (rsdp_valid(phys_ptr(a)))
			return a;
	return 0;
}

/* One XSDT/RSDT entry: keep the FADT and MADT. */
static void sdt_entry(uint64_t addr)
{
	struct acpi_info *a = &sys.acpi;
	const uint8_t *t;

	if (!a->fadt && (t = table_at(addr, "FACP"))) {
		a->fadt = t;
		a->fadt_len = rd32(t + 4);
	} else if (!a->madt && (t = table_at(addr, "APIC"))) {
		a->madt = t;
	}
}

static void sdt_walk(const uint8_t *rsdp)
{
	bool x = rsdp[15] >= 2 && rd64(rsdp + 24);
	const uint8_t *sdt = x ? table_at(rd64(rsdp + 24), "XSDT") :
				 table_at(rd32(rsdp + 16), "RSDT");
	unsigned esz = x ? 8 : 4;

	if (!sdt)
		return;
	for (uint32_t off = 36; off + esz <= rd32(sdt + 4); off += esz)
		sdt_entry(x ? rd64(sdt + off) : rd32(sdt + off));
}

/* X_DSDT when the FADT is long enough to have it and it is set. */
static void dsdt_locate(void)
{
	struct acpi_info *a = &sys.acpi;
	uint64_t addr = 0;

	if (!a->fadt)
		return;
	if (a->fadt_len >= FADT_X_DSDT + 8)
		addr = rd64(a->fadt + FADT_X_DSDT);
	if (!addr)
		addr = rd32(a->fadt + FADT_DSDT);
	a->dsdt = table_at(addr, "DSDT");
	if (a->dsdt)
		a->dsdt_len = rd32(a->dsdt + 4);
}

void acpi_scan(uint64_t bp_rsdp)
{
	struct acpi_info *a = &sys.acpi;
	const uint8_t *rsdp;

	a->rsdp = rsdp_find(bp_rsdp);
	if (!a->rsdp)
		return;
	a->found = true;
	rsdp = phys_ptr(a->rsdp);
	memcpy(a->oem, rsdp + 9, 6);
	a->oem[6] = '\0';
	sdt_walk(rsdp);
	dsdt_locate();
	if (a->madt)
		madt_parse(a->madt, rd32(a->madt + 4), &a->m);
}

void acpi_report(void)
{
	const struct acpi_info *a = &sys.acpi;

	if (!a->found) {
		say("acpi none");
		return;
	}
	say("acpi rsdp 0x%lx oem %s", a->rsdp, a->oem);
	if (a->madt)
		say("acpi madt cpus %u ioapic 0x%lx", a->m.ncpus,
		    a->m.nioapic ? a->m.ioapic_addr[0] : 0);
	else
		say("acpi madt none");
	if (!a->fadt)
		say("acpi fadt none");
	if (!a->dsdt)
		say("acpi dsdt none");
}

/* The IOAPIC serving @gsi: the MADT's (highest GSI base <= gsi), else MP. */
static void gsi_route_mode(uint32_t gsi, uint8_t vector, bool level)
{
	const struct madt_info *m = &sys.acpi.m;
	uint64_t base = sys.mp.ioapic_addr ? sys.mp.ioapic_addr : 0xfec00000;
	uint32_t gbase = 0;

	/*
	 * Mask the 8259s first: KVM also feeds each GSI to its PIC, which
	 * nobody initialised under minivmm (vector base 0), and the BSP's
	 * LINT0 is ExtINT after reset, so IRQ 5 would arrive as vector 5.
	 */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	for (unsigned i = 0; i < m->nioapic; i++)
		if (m->ioapic_gsi_base[i] <= gsi &&
		    (!gbase || m->ioapic_gsi_base[i] >= gbase)) {
			base = m->ioapic_addr[i];
			gbase = m->ioapic_gsi_base[i];
		}
	ioapic_route_mode(base, gsi - gbase, vector, cpu_apic_id(), level);
}

void gsi_route(uint32_t gsi, uint8_t vector)
{
	gsi_route_mode(gsi, vector, false);
}

void gsi_route_level(uint32_t gsi, uint8_t vector)
{
	gsi_route_mode(gsi, vector, true);
}

/* ---- the Generic Event Device (power button) ---- */

static struct ged_info ged;
static bool ged_found;
volatile bool ged_power_pressed;

/*
 * Find the GED in the DSDT, print `ged ...`, and route its GSI
 * level-triggered, active high (as its _CRS says for minivmm).
 */
bool ged_setup(void)
{
	const struct acpi_info *a = &sys.acpi;

	if (!a->dsdt || !dsdt_find_ged(a->dsdt + 36, a->dsdt_len - 36, &ged)) {
		say("ged none");
		return false;
	}
	say("ged 0x%x gsi %u%s", ged.addr, ged.gsi,
	    ged.space ? "" : " memory");
	if (ged.mask != 1)
		say("ged power-button mask 0x%x", ged.mask);
	if (!ged.space)
		map_uncached(ged.addr);
	ged_found = true;
	gsi_route_level(ged.gsi, VEC_GED);
	return true;
}

/* Read (and so acknowledge) the event register before the EOI. */
void ged_irq(void)
{
	uint32_t evt;

	if (!ged_found)
		return;
	evt = ged.space ? inl(ged.addr) : mmio_read32(ged.addr);
	if (evt & ged.mask)
		ged_power_pressed = true;
}

/* Generic Address Structure write: SystemMemory (0) or SystemIO (1). */
static bool gas_write(const uint8_t *gas, uint32_t v)
{
	uint64_t addr = rd64(gas + 4);
	unsigned bits = gas[1] ? gas[1] : 8;

	if (!addr || gas[0] > 1)
		return false;
	if (gas[0] == 1)
		bits == 32 ? outl(addr, v) : bits == 16 ? outw(addr, v) :
			     outb(addr, v);
	else
		bits == 32 ? mmio_write32(addr, v) :
		bits == 16 ? mmio_write16(addr, v) : mmio_write8(addr, v);
	return true;
}

/*
 * \_S5 then the hardware-reduced sleep control register; a FADT without
 * one (a PC-style one) gets PM1a_CNT instead, as Linux would use.
 */
void acpi_poweroff(void)
{
	const struct acpi_info *a = &sys.acpi;
	uint32_t typ;
	uint32_t pm1a;

	if (!a->fadt || !a->dsdt)
		fail("acpi poweroff: no %s", a->fadt ? "DSDT" : "FADT");
	if (!dsdt_find_s5(a->dsdt + 36, a->dsdt_len - 36, &typ))
		fail("acpi poweroff: no \\_S5 package in the DSDT");
	say("acpi s5 %u", typ);
	cli();
	if (a->fadt_len < FADT_SLEEP_CONTROL + 12 ||
	    !gas_write(a->fadt + FADT_SLEEP_CONTROL, (typ & 7) << 2 | SLP_EN)) {
		pm1a = rd32(a->fadt + FADT_PM1A_CNT);
		if (!pm1a)
			fail("acpi poweroff: no sleep control register");
		outw(pm1a, (typ & 7) << 10 | PM1_SLP_EN);
	}
	delay_us(100000);
	fail("acpi poweroff: still running 100 ms after the S5 write");
}

void acpi_reset(void)
{
	const struct acpi_info *a = &sys.acpi;

	if (!a->fadt || a->fadt_len < FADT_RESET_VALUE + 1)
		fail("acpi reset: no FADT reset register");
	if (!(rd32(a->fadt + FADT_FLAGS) & FADT_RESET_REG_SUP))
		fail("acpi reset: FADT flags lack RESET_REG_SUP");
	cli();
	if (!gas_write(a->fadt + FADT_RESET_REG, a->fadt[FADT_RESET_VALUE]))
		fail("acpi reset: RESET_REG missing or not I/O or memory");
	delay_us(100000);
	fail("acpi reset: still running 100 ms after the reset write");
}
