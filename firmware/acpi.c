/*
 * ACPI tables, laid out in one buffer: RSDP, XSDT, FADT, MADT, DSDT, each
 * 16-byte aligned. References: ACPI 6.5, sections 5.2 (tables) and 5.2.12
 * (MADT); the DSDT's AML comes from aml.c.
 *
 * The machine is hardware-reduced (no PM1 blocks, GPEs or FACS): power off
 * and reset go through the sleep and reset registers of devices/acpi_pm.c,
 * and the power button is a control-method one (PNP0C0C) that a Generic
 * Event Device (devices/ged.c) notifies.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../devices/acpi_pm.h"
#include "../devices/ged.h"
#include "../devices/serial.h"
#include "acpi.h"
#include "checksum.h"
#include "aml.h"
#include "mptable.h"

#define OEM_ID "MINVMM"
#define OEM_TABLE_ID_PREFIX "MINVMM" /* then two characters of the signature */
#define CREATOR_ID "MVMM"
#define OEM_REVISION 1
#define CREATOR_REVISION 1
#define TABLE_ALIGN 16

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));

struct rsdp {
	char signature[8];
	uint8_t checksum; /* of the first 20 bytes: the ACPI 1.0 structure */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* of all 36 bytes */
	uint8_t reserved[3];
} __attribute__((packed));

#define RSDP_V1_LEN 20
#define RSDP_REVISION 2 /* ACPI 2.0 and later: has an XSDT */

/* Generic Address Structure */
struct gas {
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));

#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1

struct fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct gas sleep_control_reg;
	struct gas sleep_status_reg;
	char hypervisor_vendor_id[8];
} __attribute__((packed));

_Static_assert(sizeof(struct fadt) == 276, "FADT is 276 bytes since ACPI 6.0");

#define FADT_REVISION 6
#define FADT_MINOR_REVISION 5 /* ACPI 6.5 */
#define FADT_SCI_INT 9 /* unused when hardware-reduced; matches the MADT's IRQ 9 override */
/* IAPC_BOOT_ARCH: the i8042 is there (for reboot=k), VGA and a CMOS RTC are not. */
#define BOOT_ARCH_8042 (1U << 1)
#define BOOT_ARCH_NO_VGA (1U << 2)
#define BOOT_ARCH_NO_CMOS_RTC (1U << 5)
/* Flags: no fixed-feature buttons; resets through RESET_REG; hardware-reduced. */
#define FADT_PWR_BUTTON (1U << 4)
#define FADT_SLP_BUTTON (1U << 5)
#define FADT_RESET_REG_SUP (1U << 10)
#define FADT_HW_REDUCED_ACPI (1U << 20)

struct madt {
	struct acpi_header h;
	uint32_t lapic_address;
	uint32_t flags;
} __attribute__((packed));

#define MADT_REVISION 5 /* ACPI 6.2 and later */
#define MADT_PCAT_COMPAT 1U

struct madt_lapic {
	uint8_t type; /* 0 */
	uint8_t length;
	uint8_t processor_uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type; /* 1 */
	uint8_t length;
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t address;
	uint32_t gsi_base;
} __attribute__((packed));

struct madt_irq_override {
	uint8_t type; /* 2 */
	uint8_t length;
	uint8_t bus; /* 0: ISA */
	uint8_t source;
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type; /* 4 */
	uint8_t length;
	uint8_t processor_uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

enum { MADT_LAPIC = 0, MADT_IOAPIC = 1, MADT_IRQ_OVERRIDE = 2, MADT_LAPIC_NMI = 4 };
#define MADT_LAPIC_ENABLED 1U
#define MADT_ALL_PROCESSORS 0xff
/* MPS INTI flags: polarity in bits 1:0, trigger mode in bits 3:2. */
#define MPS_INTI_CONFORMS 0
#define MPS_INTI_ACTIVE_HIGH 0x1
#define MPS_INTI_LEVEL (0x3 << 2)
#define SCI_IRQ 9
#define PIT_GSI 0
#define IOAPIC_PINS 24 /* KVM's in-kernel IOAPIC */

#define XSDT_ENTRIES 2 /* FADT, MADT; the DSDT hangs off the FADT */
#define DSDT_REVISION 2 /* 64-bit AML integers */

/* Where each table starts, as offsets into the buffer. */
struct layout {
	size_t rsdp, xsdt, fadt, madt, dsdt, end;
};

static size_t align_up(size_t v)
{
	return (v + TABLE_ALIGN - 1) & ~(size_t)(TABLE_ALIGN - 1);
}

static void put(uint8_t *buf, size_t off, const void *src, size_t len)
{
	memcpy(buf + off, src, len);
}

static struct acpi_header header(const char *sig, size_t len, uint8_t revision)
{
	struct acpi_header h = { .length = (uint32_t)len, .revision = revision,
				 .oem_revision = OEM_REVISION,
				 .creator_revision = CREATOR_REVISION };

	memcpy(h.signature, sig, 4);
	memcpy(h.oem_id, OEM_ID, 6);
	memcpy(h.oem_table_id, OEM_TABLE_ID_PREFIX, 6);
	memcpy(h.oem_table_id + 6, sig, 2);
	memcpy(h.creator_id, CREATOR_ID, 4);
	return h;
}

/* Fill in the checksum of the table at @table, once every byte of it is written. */
static void seal(uint8_t *table)
{
	struct acpi_header h;

	memcpy(&h, table, sizeof(h));
	table[offsetof(struct acpi_header, checksum)] = table_checksum(table, h.length);
}

static void write_rsdp(uint8_t *buf, uint64_t xsdt_gpa)
{
	struct rsdp r = { .revision = RSDP_REVISION, .length = sizeof(r),
			  .xsdt_address = xsdt_gpa };

	memcpy(r.signature, "RSD PTR ", 8);
	memcpy(r.oem_id, OEM_ID, 6);
	r.checksum = table_checksum((const uint8_t *)&r, RSDP_V1_LEN);
	r.extended_checksum = table_checksum((const uint8_t *)&r, sizeof(r));
	put(buf, 0, &r, sizeof(r));
}

static size_t xsdt_size(void)
{
	return sizeof(struct acpi_header) + XSDT_ENTRIES * sizeof(uint64_t);
}

static void write_xsdt(uint8_t *buf, uint64_t fadt_gpa, uint64_t madt_gpa)
{
	struct acpi_header h = header("XSDT", xsdt_size(), 1);
	uint64_t entries[XSDT_ENTRIES] = { fadt_gpa, madt_gpa };

	put(buf, 0, &h, sizeof(h));
	put(buf, sizeof(h), entries, sizeof(entries));
	seal(buf);
}

static struct gas io_register(uint16_t port)
{
	return (struct gas){ .space_id = GAS_SYSTEM_IO, .bit_width = 8,
			     .access_size = GAS_ACCESS_BYTE, .address = port };
}

static void write_fadt(uint8_t *buf, uint64_t dsdt_gpa)
{
	struct fadt f = {
		.h = header("FACP", sizeof(f), FADT_REVISION),
		.sci_int = FADT_SCI_INT,
		.iapc_boot_arch = BOOT_ARCH_8042 | BOOT_ARCH_NO_VGA | BOOT_ARCH_NO_CMOS_RTC,
		.flags = FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_RESET_REG_SUP |
			 FADT_HW_REDUCED_ACPI,
		.reset_reg = io_register(ACPI_PM_RESET_PORT),
		.reset_value = ACPI_PM_RESET_VALUE,
		.minor_version = FADT_MINOR_REVISION,
		/* Only the 64-bit pointer: OSPMs ignore DSDT when X_DSDT is set. */
		.x_dsdt = dsdt_gpa,
		.sleep_control_reg = io_register(ACPI_PM_SLEEP_CONTROL_PORT),
		.sleep_status_reg = io_register(ACPI_PM_SLEEP_STATUS_PORT),
	};

	memcpy(f.hypervisor_vendor_id, "minivmm", 8);
	put(buf, 0, &f, sizeof(f));
	seal(buf);
}

static size_t madt_size(int ncpus)
{
	return sizeof(struct madt) + ncpus * sizeof(struct madt_lapic) +
	       sizeof(struct madt_ioapic) + 2 * sizeof(struct madt_irq_override) +
	       sizeof(struct madt_lapic_nmi);
}

static size_t put_lapics(uint8_t *buf, size_t off, int ncpus)
{
	for (int i = 0; i < ncpus; i++) {
		struct madt_lapic e = { .type = MADT_LAPIC, .length = sizeof(e),
					.processor_uid = i, .apic_id = i,
					.flags = MADT_LAPIC_ENABLED };

		put(buf, off, &e, sizeof(e));
		off += sizeof(e);
	}
	return off;
}

static size_t put_irq_override(uint8_t *buf, size_t off, uint8_t irq, uint32_t gsi,
			       uint16_t flags)
{
	struct madt_irq_override e = { .type = MADT_IRQ_OVERRIDE, .length = sizeof(e),
				       .source = irq, .gsi = gsi, .flags = flags };

	put(buf, off, &e, sizeof(e));
	return off + sizeof(e);
}

static void write_madt(uint8_t *buf, int ncpus)
{
	struct madt m = { .h = header("APIC", madt_size(ncpus), MADT_REVISION),
			  .lapic_address = LAPIC_ADDR, .flags = MADT_PCAT_COMPAT };
	/* The IOAPIC takes the first APIC ID after the CPUs', as in the MP table. */
	struct madt_ioapic io = { .type = MADT_IOAPIC, .length = sizeof(io),
				  .ioapic_id = ncpus, .address = IOAPIC_ADDR };
	struct madt_lapic_nmi nmi = { .type = MADT_LAPIC_NMI, .length = sizeof(nmi),
				      .processor_uid = MADT_ALL_PROCESSORS, .lint = 1 };
	size_t off = sizeof(m);

	put(buf, 0, &m, sizeof(m));
	off = put_lapics(buf, off, ncpus);
	put(buf, off, &io, sizeof(io));
	off += sizeof(io);
	/*
	 * KVM routes the in-kernel PIT to IOAPIC pin 0, not 2 as on a PC, so
	 * say so: without this entry a guest assumes ISA IRQ 0 is GSI 2.
	 */
	off = put_irq_override(buf, off, 0, 0, MPS_INTI_CONFORMS);
	off = put_irq_override(buf, off, SCI_IRQ, SCI_IRQ, MPS_INTI_LEVEL | MPS_INTI_ACTIVE_HIGH);
	put(buf, off, &nmi, sizeof(nmi));
	seal(buf);
}

/* Name(\_S5, Package(4) { S5, 0, 0, 0 }): SLP_TYPa for soft-off, then reserved values. */
static void put_s5(struct aml *dsdt)
{
	struct aml pkg, value;

	aml_init(&pkg);
	aml_init(&value);
	aml_integer(&pkg, ACPI_PM_SLP_TYP_S5);
	aml_integer(&pkg, 0);
	aml_integer(&pkg, 0);
	aml_integer(&pkg, 0);
	aml_package(&value, 4, &pkg);
	aml_name(dsdt, "\\_S5", &value);
	aml_free(&value);
	aml_free(&pkg);
}

/* Name(_CRS, ResourceTemplate() { @res }) */
static void put_crs(struct aml *dev, struct aml *res)
{
	struct aml buffer;

	aml_res_end(res);
	aml_init(&buffer);
	aml_buffer(&buffer, res);
	aml_name(dev, "_CRS", &buffer);
	aml_free(&buffer);
}

/* The 8250 UART, so the guest's 8250_pnp driver finds its port and IRQ. */
static void put_com1(struct aml *sb)
{
	struct aml dev, res;

	aml_init(&dev);
	aml_init(&res);
	aml_name_eisaid(&dev, "_HID", "PNP0501");
	aml_name_integer(&dev, "_UID", 0);
	aml_method_return_integer(&dev, "_STA", 0x0f); /* present, enabled, shown, working */
	aml_res_io(&res, COM1_BASE, 8);
	aml_res_irq_noflags(&res, COM1_IRQ);
	put_crs(&dev, &res);
	aml_device(sb, "COM1", &dev);
	aml_free(&res);
	aml_free(&dev);
}

/* A virtio-mmio transport, as Linux's virtio_mmio driver matches it by ACPI ID. */
static void put_virtio_mmio(struct aml *sb, int index, const struct acpi_mmio_device *d)
{
	struct aml dev, res;
	char name[8];

	snprintf(name, sizeof(name), "VR%02X", (unsigned)(uint8_t)index); /* index < 256 */
	aml_init(&dev);
	aml_init(&res);
	aml_name_string_value(&dev, "_HID", "LNRO0005");
	aml_name_integer(&dev, "_UID", index);
	aml_name_integer(&dev, "_CCA", 1); /* DMA is cache-coherent */
	aml_res_memory32_fixed(&res, (uint32_t)d->base, d->size);
	aml_res_interrupt(&res, AML_IRQ_EDGE | AML_IRQ_ACTIVE_HIGH | AML_IRQ_EXCLUSIVE, d->gsi);
	put_crs(&dev, &res);
	aml_device(sb, name, &dev);
	aml_free(&res);
	aml_free(&dev);
}

/* The control-method power button the GED notifies (Linux: the ACPI button driver). */
static void put_pwrb(struct aml *sb)
{
	struct aml dev;

	aml_init(&dev);
	aml_name_eisaid(&dev, "_HID", "PNP0C0C");
	aml_name_integer(&dev, "_UID", 0);
	aml_device(sb, "PWRB", &dev);
	aml_free(&dev);
}

/*
 * Method(_EVT, 1, Serialized) {
 *	Store(ESEL, Local0)	(the read acknowledges, and lowers the line)
 *	If (LEqual(And(Local0, POWER_BUTTON), POWER_BUTTON)) { Notify(\_SB.PWRB, 0x80) }
 * }
 * Arg0, the GSI, is not checked: the GED has one interrupt.
 */
enum { EVT_ESEL, EVT_LOCAL0, EVT_BIT, EVT_MASKED, EVT_TEST, EVT_PWRB, EVT_0X80, EVT_NOTIFY,
       EVT_BODY, EVT_N };

static void put_ged_evt(struct aml *dev)
{
	struct aml t[EVT_N];

	for (int i = 0; i < EVT_N; i++)
		aml_init(&t[i]);
	aml_name_string(&t[EVT_ESEL], "ESEL");
	aml_local(&t[EVT_LOCAL0], 0);
	aml_integer(&t[EVT_BIT], GED_EVENT_POWER_BUTTON);
	aml_store(&t[EVT_BODY], &t[EVT_ESEL], &t[EVT_LOCAL0]);
	aml_and(&t[EVT_MASKED], &t[EVT_LOCAL0], &t[EVT_BIT]);
	aml_lequal(&t[EVT_TEST], &t[EVT_MASKED], &t[EVT_BIT]);
	aml_name_string(&t[EVT_PWRB], "\\_SB.PWRB");
	aml_integer(&t[EVT_0X80], 0x80); /* device-specific: "button pressed" for PNP0C0C */
	aml_notify(&t[EVT_NOTIFY], &t[EVT_PWRB], &t[EVT_0X80]);
	aml_if(&t[EVT_BODY], &t[EVT_TEST], &t[EVT_NOTIFY]);
	aml_method(dev, "_EVT", 1, true, &t[EVT_BODY]);
	for (int i = 0; i < EVT_N; i++)
		aml_free(&t[i]);
}

/*
 * The Generic Event Device. _HID comes first and the OperationRegion before
 * _EVT: guest/minitest finds them by scanning in that order.
 */
static void put_ged(struct aml *sb, const struct acpi_ged *ged)
{
	struct aml dev, res;

	aml_init(&dev);
	aml_init(&res);
	aml_name_string_value(&dev, "_HID", "ACPI0013");
	aml_name_integer(&dev, "_UID", 0);
	aml_res_interrupt(&res, AML_IRQ_LEVEL | AML_IRQ_ACTIVE_HIGH | AML_IRQ_EXCLUSIVE,
			  ged->gsi);
	put_crs(&dev, &res);
	aml_operation_region(&dev, "EREG", AML_SYSTEM_IO, ged->port, GED_NPORTS);
	aml_field(&dev, "EREG", AML_FIELD_DWORD_ACC | AML_FIELD_NO_LOCK | AML_FIELD_PRESERVE,
		  "ESEL", 32);
	put_ged_evt(&dev);
	aml_device(sb, "GED", &dev);
	aml_free(&res);
	aml_free(&dev);
}

/* The DSDT's body; returns 0 or the builder's error. */
static int build_dsdt_aml(struct aml *dsdt, const struct acpi_config *cfg)
{
	struct aml sb;

	aml_init(&sb);
	put_com1(&sb);
	for (int i = 0; i < cfg->ndevices; i++)
		put_virtio_mmio(&sb, i, &cfg->devices[i]);
	if (cfg->ged) {
		put_pwrb(&sb);
		put_ged(&sb, cfg->ged);
	}
	put_s5(dsdt);
	aml_scope(dsdt, "\\_SB", &sb);
	aml_free(&sb);
	return dsdt->err;
}

static void write_dsdt(uint8_t *buf, const struct aml *body)
{
	struct acpi_header h = header("DSDT", sizeof(h) + body->len, DSDT_REVISION);

	put(buf, 0, &h, sizeof(h));
	put(buf, sizeof(h), body->data, body->len);
	seal(buf);
}

/*
 * The GED's pin is level-triggered: no edge-triggered device may share it,
 * nor the PIT, COM1 or the SCI, whose ISA IRQs map to their own pins.
 */
static int check_ged(const struct acpi_config *cfg)
{
	uint32_t gsi = cfg->ged->gsi;

	if (gsi >= IOAPIC_PINS || gsi == PIT_GSI || gsi == COM1_IRQ || gsi == SCI_IRQ)
		return -EINVAL;
	if ((uint32_t)cfg->ged->port + GED_NPORTS > 0x10000)
		return -EINVAL;
	for (int i = 0; i < cfg->ndevices; i++)
		if (cfg->devices[i].gsi == gsi)
			return -EINVAL;
	return 0;
}

static int check_config(const struct acpi_config *cfg)
{
	if (cfg->ncpus < 1 || cfg->ncpus > ACPI_MAX_CPUS)
		return -EINVAL;
	if (cfg->ndevices < 0 || cfg->ndevices > ACPI_MAX_MMIO_DEVICES ||
	    (cfg->ndevices && !cfg->devices))
		return -EINVAL;
	for (int i = 0; i < cfg->ndevices; i++) {
		const struct acpi_mmio_device *d = &cfg->devices[i];

		if (d->size == 0 || d->base > UINT32_MAX || d->size > UINT32_MAX - d->base + 1)
			return -EINVAL; /* Memory32Fixed cannot describe it */
	}
	return cfg->ged ? check_ged(cfg) : 0;
}

static struct layout plan(int ncpus, size_t dsdt_body_len)
{
	struct layout l = { .rsdp = 0 };

	l.xsdt = align_up(l.rsdp + sizeof(struct rsdp));
	l.fadt = align_up(l.xsdt + xsdt_size());
	l.madt = align_up(l.fadt + sizeof(struct fadt));
	l.dsdt = align_up(l.madt + madt_size(ncpus));
	l.end = l.dsdt + sizeof(struct acpi_header) + dsdt_body_len;
	return l;
}

long acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, const struct acpi_config *cfg,
		uint64_t *rsdp_gpa)
{
	struct aml dsdt;
	struct layout l;
	int err = check_config(cfg);

	if (err)
		return err;
	aml_init(&dsdt);
	err = build_dsdt_aml(&dsdt, cfg);
	l = plan(cfg->ncpus, dsdt.len);
	if (!err && l.end > cap)
		err = -ENOSPC;
	if (!err && gpa > UINT64_MAX - l.end)
		err = -EINVAL;
	if (err) {
		aml_free(&dsdt);
		return err;
	}
	memset(buf, 0, l.end); /* the gaps between tables too */
	write_rsdp(buf + l.rsdp, gpa + l.xsdt);
	write_xsdt(buf + l.xsdt, gpa + l.fadt, gpa + l.madt);
	write_fadt(buf + l.fadt, gpa + l.dsdt);
	write_madt(buf + l.madt, cfg->ncpus);
	write_dsdt(buf + l.dsdt, &dsdt);
	aml_free(&dsdt);
	*rsdp_gpa = gpa + l.rsdp;
	return (long)l.end;
}
