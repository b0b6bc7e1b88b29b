#include <string.h>

#include "checksum.h"
#include "mptable.h"

#define APIC_VERSION 0x14
#define ISA_IRQS 16
#define IOAPIC_ID_OF(ncpus) (ncpus) /* the first APIC ID after the CPUs' */

struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;
	uint8_t length; /* in 16-byte units */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;
	uint32_t lapic;
	uint32_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type; /* 0 */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t cpuflag;
	uint32_t cpufeature;
	uint32_t featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type; /* 1 */
	uint8_t busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type; /* 2 */
	uint8_t apicid;
	uint8_t apicver;
	uint8_t flags;
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc {
	uint8_t type; /* 3: I/O interrupt, 4: local interrupt */
	uint8_t irqtype;
	uint16_t irqflag;
	uint8_t srcbus;
	uint8_t srcbusirq;
	uint8_t dstapic;
	uint8_t dstirq;
} __attribute__((packed));

enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };
enum { CPU_ENABLED = 1, CPU_BOOTPROCESSOR = 2 };

size_t mptable_size(int ncpus)
{
	return sizeof(struct mpf_intel) + sizeof(struct mpc_table) +
	       ncpus * sizeof(struct mpc_cpu) + sizeof(struct mpc_bus) +
	       sizeof(struct mpc_ioapic) + (ISA_IRQS + 2) * sizeof(struct mpc_intsrc);
}

static uint8_t *put(uint8_t *p, const void *entry, size_t len)
{
	memcpy(p, entry, len);
	return p + len;
}

static uint8_t *put_cpus(uint8_t *p, int ncpus)
{
	for (int i = 0; i < ncpus; i++) {
		struct mpc_cpu cpu = {
			.type = 0,
			.apicid = i,
			.apicver = APIC_VERSION,
			.cpuflag = CPU_ENABLED | (i == 0 ? CPU_BOOTPROCESSOR : 0),
			.cpufeature = 0x600, /* family 6: a model no guest quirks for */
			.featureflag = 0x201, /* FPU and APIC */
		};
		p = put(p, &cpu, sizeof(cpu));
	}
	return p;
}

/* ISA IRQ n goes to IOAPIC pin n, as KVM's default routing (and its PIT on GSI 0) has it. */
static uint8_t *put_interrupts(uint8_t *p, int ncpus)
{
	for (int irq = 0; irq < ISA_IRQS; irq++) {
		struct mpc_intsrc src = {
			.type = 3, .irqtype = MP_INT, .srcbus = 0, .srcbusirq = irq,
			.dstapic = IOAPIC_ID_OF(ncpus), .dstirq = irq,
		};
		p = put(p, &src, sizeof(src));
	}
	/* LINT0 takes the 8259's ExtINT, LINT1 NMIs, on every LAPIC (0xff). */
	struct mpc_intsrc lint0 = { .type = 4, .irqtype = MP_EXTINT, .dstapic = 0xff, .dstirq = 0 };
	struct mpc_intsrc lint1 = { .type = 4, .irqtype = MP_NMI, .dstapic = 0xff, .dstirq = 1 };

	p = put(p, &lint0, sizeof(lint0));
	return put(p, &lint1, sizeof(lint1));
}

void mptable_build(uint8_t *buf, uint32_t gpa, int ncpus)
{
	struct mpf_intel *mpf = (struct mpf_intel *)buf;
	struct mpc_table *mpc = (struct mpc_table *)(mpf + 1);
	uint8_t *p = (uint8_t *)(mpc + 1);
	struct mpc_bus bus = { .type = 1, .busid = 0, .bustype = { 'I', 'S', 'A', ' ', ' ', ' ' } };
	struct mpc_ioapic ioapic = { .type = 2, .apicid = IOAPIC_ID_OF(ncpus),
				     .apicver = 0x11, .flags = 1, .apicaddr = IOAPIC_ADDR };

	memset(buf, 0, mptable_size(ncpus));
	p = put_cpus(p, ncpus);
	p = put(p, &bus, sizeof(bus));
	p = put(p, &ioapic, sizeof(ioapic));
	p = put_interrupts(p, ncpus);

	*mpc = (struct mpc_table){ .signature = { 'P', 'C', 'M', 'P' },
				   .length = (uint16_t)(p - (uint8_t *)mpc), .spec = 4,
				   .oem = { 'M', 'I', 'N', 'I', 'V', 'M', 'M', ' ' },
				   .productid = { 'M', 'I', 'N', 'I', 'V', 'M', 'M', ' ', ' ', ' ', ' ', ' ' },
				   .oemcount = ncpus + 1 + 1 + ISA_IRQS + 2, .lapic = LAPIC_ADDR };
	mpc->checksum = table_checksum(mpc, mpc->length);

	*mpf = (struct mpf_intel){ .signature = { '_', 'M', 'P', '_' },
				   .physptr = gpa + sizeof(*mpf), .length = 1, .specification = 4 };
	mpf->checksum = table_checksum(mpf, sizeof(*mpf));
}
