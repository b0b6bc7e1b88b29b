/*
 * Local APIC, IOAPIC, MP table discovery and AP start-up
 * (INIT, STARTUP, STARTUP as in the Intel MP spec, appendix B).
 */
#include "minitest.h"
#include "hw.h"

#define MSR_APIC_BASE		0x1b
#define APIC_BASE_ENABLE	(1ULL << 11)
#define MSR_TSC_DEADLINE	0x6e0
#define CPUID1_ECX_TSC_DEADLINE	(1u << 24)

#define LAPIC_ID	0x020
#define LAPIC_TPR	0x080
#define LAPIC_EOI	0x0b0
#define LAPIC_SVR	0x0f0
#define LAPIC_ESR	0x280
#define LAPIC_ICR_LO	0x300
#define LAPIC_ICR_HI	0x310
#define LAPIC_LVT_TIMER	0x320
#define LAPIC_TMR_INIT	0x380
#define LAPIC_TMR_DIV	0x3e0

#define LVT_MASKED	(1u << 16)
#define LVT_PERIODIC	(1u << 17)
#define LVT_TSC_DEADLINE	(2u << 17)	/* timer mode, bits 18:17 = 10b */

#define ICR_INIT	0x00500
#define ICR_STARTUP	0x00600
#define ICR_BUSY	0x01000
#define ICR_ASSERT	0x04000
#define ICR_LEVEL	0x08000

#define AP_STACK_SIZE	8192

extern const uint8_t trampoline_start[], trampoline_end[];
extern const uint8_t trampoline_cr3[];

static uint64_t lapic_base = 0xfee00000ULL;
static uint8_t ap_stacks[MAX_CPUS][AP_STACK_SIZE]
	__attribute__((section(".noinit"), aligned(16)));
uint64_t ap_stack_top;			/* read by ap_entry64 */
static volatile unsigned ap_online;

static uint32_t lapic_read(unsigned reg)
{
	return mmio_read32(lapic_base + reg);
}

static void lapic_write(unsigned reg, uint32_t v)
{
	mmio_write32(lapic_base + reg, v);
}

void lapic_init(void)
{
	uint64_t msr = rdmsr(MSR_APIC_BASE);

	if (!(msr & APIC_BASE_ENABLE))
		wrmsr(MSR_APIC_BASE, msr | APIC_BASE_ENABLE);
	lapic_base = msr & 0xffffff000ULL;
	map_uncached(lapic_base);
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);	/* software enable */
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

/*
 * A periodic tick that bounds every "sti; hlt" wait.  KVM's APIC timer
 * counts 1 GHz bus cycles: divide by 16 x 2^20 gives about 17 ms.
 */
void lapic_timer_periodic(uint8_t vector)
{
	lapic_write(LAPIC_TMR_DIV, 0x3);	/* divide by 16 */
	lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | vector);
	lapic_write(LAPIC_TMR_INIT, 0x100000);
}

/*
 * One interrupt about @ns from now (same 62.5 MHz count as above; a
 * different bus clock only makes the wake-up early or late, callers
 * check the time).  At most ~1 s, at least one count.
 */
void lapic_timer_oneshot(uint8_t vector, uint64_t ns)
{
	uint64_t count = ns / 16;

	if (count > 62500000)
		count = 62500000;
	lapic_write(LAPIC_TMR_DIV, 0x3);
	lapic_write(LAPIC_LVT_TIMER, vector);
	lapic_write(LAPIC_TMR_INIT, count ? (uint32_t)count : 1);
}

bool lapic_has_tsc_deadline(void)
{
	uint32_t a, b, c, d;

	cpuid(1, &a, &b, &c, &d);
	return c & CPUID1_ECX_TSC_DEADLINE;
}

/*
 * One interrupt about @ns from now, as Linux's lapic-deadline clockevent
 * arms it: the LVT timer in TSC-deadline mode, then the TSC value at which
 * to fire written to IA32_TSC_DEADLINE (at most ~1 s ahead).  A change of
 * timer mode clears the deadline, so the LVT write comes first; the fence
 * keeps the WRMSR from passing that MMIO write (SDM 10.5.4.1).  Needs
 * lapic_has_tsc_deadline().
 */
void lapic_timer_deadline(uint8_t vector, uint64_t ns)
{
	lapic_write(LAPIC_LVT_TIMER, LVT_TSC_DEADLINE | vector);
	mb();
	wrmsr(MSR_TSC_DEADLINE, rdtsc() + ns_to_tsc(ns));
}

/* Leaving TSC-deadline mode (bits 18:17 = 00 here) disarms a deadline too. */
void lapic_timer_stop(void)
{
	lapic_write(LAPIC_TMR_INIT, 0);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
}

uint8_t cpu_apic_id(void)
{
	uint32_t a, b, c, d;

	cpuid(1, &a, &b, &c, &d);
	return b >> 24;
}

/* Fixed, physical destination, active high, unmasked; edge or level. */
void ioapic_route_mode(uint64_t base, int pin, uint8_t vector, uint8_t dest,
		       bool level)
{
	map_uncached(base);
	mmio_write32(base, 0x10 + 2 * pin + 1);
	mmio_write32(base + 0x10, (uint32_t)dest << 24);
	mmio_write32(base, 0x10 + 2 * pin);
	mmio_write32(base + 0x10, vector | (level ? 1u << 15 : 0));
}

void ioapic_route(uint64_t base, int pin, uint8_t vector, uint8_t dest)
{
	ioapic_route_mode(base, pin, vector, dest, false);
}

/* Search one physical range for the floating pointer, then its table. */
static bool mp_try(uint64_t base, size_t len, struct mp_info *mp)
{
	long off = mp_find_fp((const uint8_t *)base, len);
	const uint8_t *fp;
	uint32_t cfg;

	if (off < 0)
		return false;
	fp = (const uint8_t *)(base + off);
	memcpy(&cfg, fp + 4, 4);
	if (!cfg || cfg + 44ULL > paging_mapped_end())
		return false;	/* default configurations are not supported */
	return mp_parse_config((const uint8_t *)(uint64_t)cfg, 0x10000, mp);
}

/* Where Linux looks: EBDA's first KiB, last KiB of base memory, BIOS. */
void mp_scan(struct mp_info *mp, bool *found)
{
	uint16_t ebda_seg = *(volatile uint16_t *)phys_ptr(0x40e);
	uint16_t base_kib = *(volatile uint16_t *)phys_ptr(0x413);
	uint64_t base_end = 0xa0000;

	if (base_kib >= 512 && base_kib <= 640)
		base_end = (uint64_t)base_kib * 1024;
	*found = (ebda_seg && mp_try((uint64_t)ebda_seg << 4, 1024, mp)) ||
		 mp_try(base_end - 1024, 1024, mp) ||
		 (base_end != 0xa0000 && mp_try(0x9fc00, 1024, mp)) ||
		 mp_try(0xf0000, 0x10000, mp);
}

static void icr_wait(void)
{
	for (int i = 0; i < 100000 && (lapic_read(LAPIC_ICR_LO) & ICR_BUSY);
	     i++)
		cpu_relax();
}

static void send_ipi(uint8_t apic_id, uint32_t lo)
{
	lapic_write(LAPIC_ESR, 0);
	lapic_write(LAPIC_ICR_HI, (uint32_t)apic_id << 24);
	lapic_write(LAPIC_ICR_LO, lo);
	icr_wait();
}

static void trampoline_install(void)
{
	size_t len = trampoline_end - trampoline_start;
	uint32_t cr3 = (uint32_t)paging_root();
	uint8_t *dst = phys_ptr(TRAMPOLINE_BASE);

	memcpy(dst, trampoline_start, len);
	memcpy(dst + (trampoline_cr3 - trampoline_start), &cr3, 4);
}

/* Start one AP and wait (bounded) for it to report in. */
static bool start_ap(unsigned idx, uint8_t apic_id)
{
	unsigned before = ap_online;
	uint64_t deadline;
	uint32_t sipi = ICR_STARTUP | (TRAMPOLINE_BASE >> 12);

	ap_stack_top = (uint64_t)&ap_stacks[idx][AP_STACK_SIZE];
	barrier();
	send_ipi(apic_id, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	delay_us(10000);
	send_ipi(apic_id, ICR_INIT | ICR_LEVEL);	/* de-assert */
	send_ipi(apic_id, sipi);
	delay_us(200);
	send_ipi(apic_id, sipi);
	delay_us(200);
	deadline = now_ns() + 5000000000ULL;
	while (ap_online == before && now_ns() < deadline)
		cpu_relax();
	return ap_online != before;
}

/* Returns the number of CPUs online, counting the BSP. */
unsigned smp_boot(const struct mp_info *mp)
{
	uint8_t self = cpu_apic_id();
	unsigned online = 1;

	trampoline_install();
	for (unsigned i = 0; i < mp->ncpus; i++) {
		if (mp->apic_id[i] == self)
			continue;
		if (start_ap(i, mp->apic_id[i]))
			online++;
		else
			say("ap %u TIMEOUT", mp->apic_id[i]);
	}
	return online;
}

/* C entry for application processors (from ap_entry64). */
void ap_main(void)
{
	idt_load();
	say("ap %u online", cpu_apic_id());
	__atomic_fetch_add(&ap_online, 1, __ATOMIC_RELEASE);
	cpu_halt_forever();
}
