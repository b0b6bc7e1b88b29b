/*
 * CPU-level services: IDT and exception reporting, our own identity page
 * tables, a nanosecond clock (kvm-clock, else the TSC), reset.
 */
#include "minitest.h"
#include "hw.h"

#define SEL_CODE64	0x08
#define PAGE_2M		0x200000ULL
#define GIB		0x40000000ULL
#define MAX_MAP_GIB	128		/* 128 GiB covers 64 GiB guests + hole */

#define PTE_P		0x001ULL
#define PTE_RW		0x002ULL
#define PTE_PWT		0x008ULL
#define PTE_PCD		0x010ULL
#define PTE_PS		0x080ULL

#define MSR_KVM_SYSTEM_TIME_NEW	0x4b564d01
#define KVM_FEATURE_CLOCKSOURCE2	(1u << 3)

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
} __attribute__((packed));

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

struct pvclock {
	uint32_t version;
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags;
	uint8_t pad[2];
} __attribute__((packed));

extern const uint64_t isr_table[32];
extern const uint64_t isr_uart, isr_timer, isr_ged, isr_spurious;
extern const uint64_t isr_virtio[MAX_VIRTIO];

static struct idt_gate idt[256] __attribute__((aligned(16)));
static uint64_t pt_pool[2 + MAX_MAP_GIB][512]
	__attribute__((section(".noinit"), aligned(4096)));
static uint64_t mapped_end;
static volatile struct pvclock pvclock __attribute__((aligned(64)));
static bool kvmclock_on;
static uint64_t tsc_khz = 2000000;	/* guess until we know better */

static void idt_set(int vec, uint64_t handler)
{
	struct idt_gate *g = &idt[vec];

	g->off_lo = handler & 0xffff;
	g->sel = SEL_CODE64;
	g->ist = 0;
	g->type = 0x8e;		/* present, DPL0, 64-bit interrupt gate */
	g->off_mid = (handler >> 16) & 0xffff;
	g->off_hi = handler >> 32;
	g->zero = 0;
}

void idt_load(void)
{
	struct desc_ptr d = { sizeof(idt) - 1, (uint64_t)idt };

	__asm__ volatile("lidt %0" : : "m"(d));
}

void idt_init(void)
{
	for (int v = 0; v < 32; v++)
		idt_set(v, isr_table[v]);
	idt_set(VEC_UART, isr_uart);
	idt_set(VEC_TIMER, isr_timer);
	idt_set(VEC_GED, isr_ged);
	for (int i = 0; i < MAX_VIRTIO; i++)
		idt_set(VEC_VIRTIO + i, isr_virtio[i]);
	idt_set(VEC_SPURIOUS, isr_spurious);
	idt_load();
}

void isr_dispatch(struct irq_frame *f)
{
	if (f->vector == VEC_UART) {
		uart_irq();
		lapic_eoi();
		return;
	}
	if (f->vector == VEC_TIMER) {	/* only wakes a hlt */
		lapic_eoi();
		return;
	}
	if (f->vector == VEC_GED) {
		ged_irq();
		lapic_eoi();
		return;
	}
	if (f->vector >= VEC_VIRTIO && f->vector < VEC_VIRTIO + MAX_VIRTIO) {
		virtio_irq(f->vector - VEC_VIRTIO);
		lapic_eoi();
		return;
	}
	if (f->vector == VEC_SPURIOUS)
		return;		/* spurious LAPIC vectors take no EOI */
	fail("exception %u error 0x%lx rip 0x%lx", (unsigned)f->vector,
	     f->error, f->rip);
}

static bool uncached_range(uint64_t addr)
{
	/* IOAPIC (0xfec00000) and LAPIC (0xfee00000) 2 MiB pages */
	return addr >= 0xfec00000ULL && addr < 0xff000000ULL;
}

/*
 * Identity-map max(4 GiB, top of RAM) with 2 MiB pages.  Returns the end
 * of the mapping, which is capped at MAX_MAP_GIB.
 */
uint64_t paging_init(uint64_t top)
{
	uint64_t *pml4 = pt_pool[0], *pdpt = pt_pool[1];
	uint64_t gib = (top + GIB - 1) / GIB;

	if (gib < 4)
		gib = 4;
	if (gib > MAX_MAP_GIB)
		gib = MAX_MAP_GIB;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = (uint64_t)pdpt | PTE_P | PTE_RW;
	for (uint64_t g = 0; g < gib; g++) {
		uint64_t *pd = pt_pool[2 + g];

		for (uint64_t i = 0; i < 512; i++) {
			uint64_t a = g * GIB + i * PAGE_2M;

			pd[i] = a | PTE_P | PTE_RW | PTE_PS;
			if (uncached_range(a))
				pd[i] |= PTE_PCD | PTE_PWT;
		}
		pdpt[g] = (uint64_t)pd | PTE_P | PTE_RW;
	}
	write_cr3((uint64_t)pml4);
	mapped_end = gib * GIB;
	return mapped_end;
}

uint64_t paging_mapped_end(void)
{
	return mapped_end;
}

uint64_t paging_root(void)
{
	return (uint64_t)pt_pool[0];
}

/* For an IOAPIC the MP table puts somewhere unusual. */
void map_uncached(uint64_t phys)
{
	uint64_t g = phys / GIB, i = (phys % GIB) / PAGE_2M;

	if (phys >= mapped_end)
		return;
	pt_pool[2 + g][i] |= PTE_PCD | PTE_PWT;
	invlpg(phys & ~(PAGE_2M - 1));
}

/* pvclock time: system_time + scaled TSC delta, read consistently. */
static uint64_t pvclock_read(void)
{
	uint32_t ver;
	uint64_t t, delta;

	do {
		ver = pvclock.version;
		barrier();
		delta = rdtsc() - pvclock.tsc_timestamp;
		if (pvclock.tsc_shift < 0)
			delta >>= -pvclock.tsc_shift;
		else
			delta <<= pvclock.tsc_shift;
		t = pvclock.system_time +
		    (uint64_t)(((unsigned __int128)delta *
				pvclock.tsc_to_system_mul) >> 32);
		barrier();
	} while ((ver & 1) || ver != pvclock.version);
	return t;
}

bool kvmclock_active(void)
{
	return kvmclock_on;
}

uint64_t now_ns(void)
{
	uint64_t t;

	if (kvmclock_on)
		return pvclock_read();
	t = rdtsc();
	/* split so nothing overflows and no 128-bit division is needed */
	return t / tsc_khz * 1000000 + t % tsc_khz * 1000000 / tsc_khz;
}

/*
 * TSC cycles in @ns nanoseconds (at most ~1 s; longer is cut to that):
 * the inverse of pvclock's scaling with kvm-clock, else the TSC kHz
 * tsc_guess() found.  Rounded up, so a deadline is never early by it.
 */
uint64_t ns_to_tsc(uint64_t ns)
{
	uint32_t ver, mul;
	int8_t shift;
	uint64_t t;

	if (ns > 1000000000)
		ns = 1000000000;
	if (!kvmclock_on)
		return (ns * tsc_khz + 999999) / 1000000;
	do {
		ver = pvclock.version;
		barrier();
		mul = pvclock.tsc_to_system_mul;
		shift = pvclock.tsc_shift;
		barrier();
	} while ((ver & 1) || ver != pvclock.version);
	/* ns = ((tsc shifted by tsc_shift) * mul) >> 32; ns < 2^30 fits */
	t = ((ns << 32) + mul - 1) / mul;
	return shift >= 0 ? (t + (1ULL << shift) - 1) >> shift : t << -shift;
}

void delay_us(uint64_t us)
{
	uint64_t end = now_ns() + us * 1000;

	while (now_ns() < end)
		cpu_relax();
}

static void tsc_guess(uint32_t max_leaf, uint32_t kvm_max)
{
	uint32_t a, b, c, d;

	if (kvm_max >= 0x40000010) {
		cpuid(0x40000010, &a, &b, &c, &d);	/* TSC kHz */
		if (a) {
			tsc_khz = a;
			return;
		}
	}
	if (max_leaf >= 0x16) {
		cpuid(0x16, &a, &b, &c, &d);		/* base MHz */
		if (a)
			tsc_khz = (uint64_t)a * 1000;
	}
}

/* Some busy work that the compiler cannot drop. */
static void busy_work(void)
{
	volatile uint64_t x = 1;

	for (int i = 0; i < 20000; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
}

static void kvmclock_check(uint32_t features)
{
	uint64_t t0, t1;

	if (!(features & KVM_FEATURE_CLOCKSOURCE2)) {
		say("kvmclock absent");
		return;
	}
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)&pvclock | 1);
	/* the host fills the structure on the way back in; allow it a moment */
	for (int i = 0; i < 100000 && !pvclock.tsc_to_system_mul; i++)
		cpu_relax();
	if (!pvclock.tsc_to_system_mul) {
		say("kvmclock FAIL structure not written");
		return;
	}
	t0 = pvclock_read();
	busy_work();
	t1 = pvclock_read();
	if (t1 <= t0) {
		say("kvmclock FAIL no progress %lu -> %lu", t0, t1);
		return;
	}
	kvmclock_on = true;
	say("kvmclock ok");
}

/* CPUID 0x40000000 (when the hypervisor bit is set), then kvm-clock. */
void kvm_probe(void)
{
	uint32_t a, b, c, d, max_leaf, kvm_max = 0;
	char sig[13];

	cpuid(0, &max_leaf, &b, &c, &d);
	cpuid(1, &a, &b, &c, &d);
	sig[0] = '\0';
	if (c & (1u << 31)) {
		cpuid(0x40000000, &kvm_max, &b, &c, &d);
		memcpy(sig, &b, 4);
		memcpy(sig + 4, &c, 4);
		memcpy(sig + 8, &d, 4);
		sig[12] = '\0';
	}
	if (memcmp(sig, "KVMKVMKVM\0\0\0", 12)) {
		tsc_guess(max_leaf, 0);
		say("kvm none");
		say("kvmclock absent");
		return;
	}
	memcpy(sys.kvm_sig, sig, sizeof(sig));
	tsc_guess(max_leaf, kvm_max);
	cpuid(0x40000001, &a, &b, &c, &d);
	say("kvm %s features 0x%x", sig, a);
	kvmclock_check(a);
}

void cpu_halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

void triple_fault(void)
{
	struct desc_ptr d = { 0, 0 };

	cli();
	__asm__ volatile("lidt %0; ud2" : : "m"(d));
	cpu_halt_forever();
}

/*
 * i8042 reset pulse (Linux reboot=k).  Machines without an i8042
 * (microvm) ignore it, so fall back to a triple fault.
 */
void machine_reset(void)
{
	cli();
	outb(0x64, 0xfe);
	delay_us(100000);
	triple_fault();
}

void fail(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say("result FAIL %s", buf);
	machine_reset();
}

/*
 * MTRRs, for test=counter's `mtrr` and `mtrrset`: values no boot default
 * has, so a snapshot restore that drops them shows.  minivmm boots a vCPU
 * with MTRRdefType 0x806 (enabled, write-back) and every range MTRR 0.
 */
#define MSR_MTRRCAP		0xfe
#define MSR_MTRR_PHYSBASE0	0x200	/* PHYSMASKn = 0x201 + 2n */
#define MSR_MTRR_FIX64K_00000	0x250
#define MSR_MTRR_FIX4K_F8000	0x26f
#define MSR_MTRR_DEF_TYPE	0x2ff
#define MTRR_DEF_E		0x800ULL	/* MTRRs enabled */
#define MTRR_DEF_FE		0x400ULL	/* fixed ranges enabled */
#define MTRR_TYPE_UC		0
#define MTRR_TYPE_WP		5
#define MTRR_TYPE_WB		6
#define MTRR_MASK_VALID		0x800ULL
#define MAX_VAR_MTRRS		8

/* Variable-range pairs the CPU has (MTRRcap VCNT, at most 8), 0 without MTRRs. */
unsigned mtrr_vcnt(void)
{
	uint32_t a, b, c, d;
	unsigned vcnt;

	cpuid(1, &a, &b, &c, &d);
	if (!(d & (1u << 12)))
		return 0;
	vcnt = rdmsr(MSR_MTRRCAP) & 0xff;
	return vcnt < MAX_VAR_MTRRS ? vcnt : MAX_VAR_MTRRS;
}

/* Mask bits MAXPHYADDR-1 .. log2(size) for a size-aligned range, and valid. */
static uint64_t mtrr_mask(uint64_t size)
{
	uint32_t a, b, c, d;
	unsigned bits = 36;

	cpuid(0x80000000, &a, &b, &c, &d);
	if (a >= 0x80000008) {
		cpuid(0x80000008, &a, &b, &c, &d);
		bits = a & 0xff;
	}
	return (((1ULL << bits) - 1) & ~(size - 1)) | MTRR_MASK_VALID;
}

/*
 * Harmless settings a firmware could leave: fixed ranges on, 0-512 KiB
 * write-back, 0xf8000-0xfffff write-protect (the BIOS ROM), the PCI hole
 * 0xc0000000-0xffffffff uncached through pair 0 and the IOAPIC/LAPIC
 * 4 MiB at 0xfec00000 through the last pair.  As the SDM asks, MTRRs off
 * while the ranges change (caches are not flushed: nothing maps what
 * changes type).
 */
void mtrr_set_test_values(unsigned vcnt)
{
	wrmsr(MSR_MTRR_DEF_TYPE, MTRR_TYPE_WB);
	wrmsr(MSR_MTRR_FIX64K_00000, 0x0101010101010101ULL * MTRR_TYPE_WB);
	wrmsr(MSR_MTRR_FIX4K_F8000, 0x0101010101010101ULL * MTRR_TYPE_WP);
	wrmsr(MSR_MTRR_PHYSBASE0, 0xc0000000ULL | MTRR_TYPE_UC);
	wrmsr(MSR_MTRR_PHYSBASE0 + 1, mtrr_mask(GIB));
	if (vcnt > 1) {
		wrmsr(MSR_MTRR_PHYSBASE0 + 2 * (vcnt - 1), 0xfec00000ULL | MTRR_TYPE_UC);
		wrmsr(MSR_MTRR_PHYSBASE0 + 2 * (vcnt - 1) + 1, mtrr_mask(0x400000));
	}
	wrmsr(MSR_MTRR_DEF_TYPE, MTRR_DEF_E | MTRR_DEF_FE | MTRR_TYPE_WB);
}

/* "deftype 0x.. fix64k-00000 0x.. fix4k-f8000 0x.. var0 BASE/MASK varN BASE/MASK" */
void mtrr_describe(unsigned vcnt, char *buf, size_t size)
{
	unsigned last = vcnt - 1;

	ksnprintf(buf, size,
		  "deftype 0x%lx fix64k-00000 0x%lx fix4k-f8000 0x%lx "
		  "var0 0x%lx/0x%lx var%u 0x%lx/0x%lx",
		  rdmsr(MSR_MTRR_DEF_TYPE), rdmsr(MSR_MTRR_FIX64K_00000),
		  rdmsr(MSR_MTRR_FIX4K_F8000), rdmsr(MSR_MTRR_PHYSBASE0),
		  rdmsr(MSR_MTRR_PHYSBASE0 + 1), last,
		  rdmsr(MSR_MTRR_PHYSBASE0 + 2 * last),
		  rdmsr(MSR_MTRR_PHYSBASE0 + 2 * last + 1));
}
