/*
 * minitest: boot flow shared by every mode, then the selected test.
 * Every line on COM1 starts with "minitest: " so hosts can grep.
 */
#include "minitest.h"
#include "hw.h"

struct sysinfo sys;
static uint8_t boot_params[4096] __attribute__((aligned(8)));
extern const uint8_t _kernel_start[], _end[];

static void copy_cmdline(void)
{
	uint64_t p = *(uint32_t *)(boot_params + BP_HDR_CMD_LINE_PTR) |
		     (uint64_t)*(uint32_t *)(boot_params + BP_EXT_CMD_LINE_PTR)
		     << 32;
	const char *src = (const char *)p;
	size_t i = 0;

	if (p && p < paging_mapped_end())
		for (; i + 1 < CMDLINE_MAX && src[i]; i++)
			sys.cmdline[i] = src[i];
	sys.cmdline[i] = '\0';
}

static void read_e820(void)
{
	unsigned n = boot_params[BP_E820_ENTRIES];

	if (n > MAX_E820)
		n = MAX_E820;
	/* drop empty entries (qboot ends its int 0x15 list with one) */
	sys.e820_n = 0;
	for (unsigned i = 0; i < n; i++) {
		memcpy(&sys.e820[sys.e820_n], boot_params + BP_E820_TABLE +
		       i * sizeof(sys.e820[0]), sizeof(sys.e820[0]));
		if (sys.e820[sys.e820_n].size)
			sys.e820_n++;
	}
	n = sys.e820_n;
	e820_summarize(sys.e820, n, &sys.ram);
}

static void print_e820(void)
{
	for (unsigned i = 0; i < sys.e820_n; i++) {
		const struct e820_entry *e = &sys.e820[i];

		say("e820 %016lx %016lx %u", e->addr, e->addr + e->size,
		    e->type);
	}
	say("ram %lu top 0x%lx", sys.ram.total, sys.ram.top);
}

/* Write a pattern over one 4 KiB page, verify, and restore it. */
static bool check_page(uint64_t addr)
{
	volatile uint64_t *p = (volatile uint64_t *)addr;
	uint64_t save[512];
	bool ok = true;

	for (int i = 0; i < 512; i++) {
		save[i] = p[i];
		p[i] = (addr + i * 8) ^ 0x5a5aa5a5c3c33c3cULL;
	}
	for (int i = 0; i < 512; i++)
		if (p[i] != ((addr + i * 8) ^ 0x5a5aa5a5c3c33c3cULL))
			ok = false;
	for (int i = 0; i < 512; i++)
		p[i] = save[i];
	return ok;
}

static bool in_kernel(uint64_t page)
{
	return page + 4096 > (uint64_t)_kernel_start && page < (uint64_t)_end;
}

/* First and last page of each usable region at or above 1 MiB. */
static void memcheck(void)
{
	for (unsigned i = 0; i < sys.e820_n; i++) {
		const struct e820_entry *e = &sys.e820[i];
		uint64_t first = (e->addr + 4095) & ~4095ULL;
		uint64_t end = (e->addr + e->size) & ~4095ULL;
		uint64_t pages[2] = { first, end - 4096 };

		if (e->type != E820_RAM || e->addr < 0x100000 ||
		    end < first + 4096)
			continue;
		for (int k = 0; k < 2; k++) {
			uint64_t pg = pages[k];

			if (in_kernel(pg) || pg + 4096 > paging_mapped_end())
				continue;
			if (!check_page(pg)) {
				say("memcheck FAIL 0x%lx", pg);
				return;
			}
		}
	}
	say("memcheck ok");
}

static void trampoline_check(void)
{
	for (unsigned i = 0; i < sys.e820_n; i++) {
		const struct e820_entry *e = &sys.e820[i];

		if (e->type == E820_RAM && e->addr <= TRAMPOLINE_BASE &&
		    e->addr + e->size >= TRAMPOLINE_BASE + 4096)
			return;
	}
	say("warning trampoline page 0x1000 is not usable RAM in e820");
}

static void mptable_report(void)
{
	const struct mp_info *mp = &sys.mp;

	mp_scan(&sys.mp, &sys.mp_found);
	if (!sys.mp_found) {
		say("mptable none");
		return;
	}
	say("mptable cpus %u ioapic 0x%lx", mp->ncpus, mp->ioapic_addr);
	for (unsigned i = 0; i < mp->ncpus; i++)
		say("cpu %u%s", mp->apic_id[i], mp->bsp[i] ? " bsp" : "");
}

/* Like Linux without MPPARSE: the MADT's processors when ACPI is there. */
static bool smp_from_madt(void)
{
	static struct mp_info cpus;
	const struct madt_info *m = &sys.acpi.m;

	if (!sys.acpi.madt || !m->ncpus)
		return false;
	cpus.ncpus = m->ncpus;
	memcpy(cpus.apic_id, m->apic_id, sizeof(cpus.apic_id));
	trampoline_check();
	sys.cpus_online = smp_boot(&cpus);
	return true;
}

static void smp_report(void)
{
	lapic_init();
	sys.cpus_online = 1;
	if (!smp_from_madt() && sys.mp_found) {
		trampoline_check();
		sys.cpus_online = smp_boot(&sys.mp);
	}
	say("cpus online %u", sys.cpus_online);
}

static uint64_t ioapic_base(void)
{
	return sys.mp.ioapic_addr ? sys.mp.ioapic_addr : 0xfec00000ULL;
}

/* Mask the 8259s so COM1 only reaches us through the IOAPIC. */
void irq_setup(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	ioapic_route(ioapic_base(), sys.mp_found ? sys.mp.isa_irq4_pin : 4,
		     VEC_UART, cpu_apic_id());
}

static void mode_echo(void)
{
	char line[256];
	size_t n = 0;
	int c, prev = 0;

	irq_setup();
	say("uart thre-irq %s", uart_test_thre_irq() ? "ok" : "FAIL");
	uart_irq_enable_rx();
	sti();
	say("echo ready");
	for (;;) {
		c = uart_getc_wait();
		if (c == '\n' && prev == '\r') {
			prev = c;
			continue;	/* second half of CR LF */
		}
		prev = c;
		if (c != '\r' && c != '\n') {
			if (n + 1 < sizeof(line))
				line[n++] = (char)c;
			continue;
		}
		line[n] = '\0';
		n = 0;
		if (!line[0])
			continue;
		say("echo %s", line);
		if (!strcmp(line, "quit"))
			break;
	}
	say("result ok");
	machine_reset();
}

uint64_t cmdline_u64(const char *key, uint64_t def)
{
	char val[32];
	uint64_t v = def;

	if (cmdline_get(sys.cmdline, key, val, sizeof(val)) &&
	    !parse_u64(val, &v))
		fail("bad %s=%s", key, val);
	return v;
}

static void mode_exits(void)
{
	uint64_t count = cmdline_u64("count", 100000);

	say("exits start");
	for (uint64_t i = 0; i < count; i++)
		outb(0x80, 0);
	say("exits done %lu", count);
	machine_reset();
}

void power_off_or_reset(void)
{
	if (sys.acpi.fadt)
		acpi_poweroff();
	machine_reset();
}

static void run_mode(const char *mode)
{
	if (!strcmp(mode, "info")) {
		say("result ok");
		machine_reset();
	} else if (!strcmp(mode, "echo")) {
		mode_echo();
	} else if (!strcmp(mode, "triple")) {
		say("triple fault now");
		triple_fault();
	} else if (!strcmp(mode, "exits")) {
		mode_exits();
	} else if (!strcmp(mode, "demo")) {
		demo_run();
	} else if (!strcmp(mode, "poweroff")) {
		acpi_poweroff();
	} else if (!strcmp(mode, "acpireset")) {
		acpi_reset();
	} else if (!strcmp(mode, "blk")) {
		mode_blk();
	} else if (!strcmp(mode, "blkbench")) {
		mode_blkbench();
	} else if (!strcmp(mode, "net") || !strcmp(mode, "netbench")) {
		mode_net();
	} else if (!strcmp(mode, "nethostile")) {
		mode_nethostile();
	} else if (!strcmp(mode, "vconsole")) {
		mode_vconsole();
	} else if (!strcmp(mode, "counter")) {
		mode_counter();
	}
	fail("unknown test mode '%s'", mode);
}

void kmain(const uint8_t *bp)
{
	char mode[32] = "info";
	uint64_t bp_rsdp;

	memcpy(boot_params, bp, sizeof(boot_params));
	memcpy(&bp_rsdp, boot_params + BP_ACPI_RSDP_ADDR, 8);
	uart_init();
	say("boot");
	idt_init();
	read_e820();
	if (!sys.e820_n)
		fail("no e820 map in boot_params");
	paging_init(sys.ram.top);
	copy_cmdline();
	cmdline_get(sys.cmdline, "test", mode, sizeof(mode));
	uart_set_crlf(!strcmp(mode, "demo"));
	say("cmdline %s", sys.cmdline);
	print_e820();
	if (sys.ram.top > paging_mapped_end())
		say("warning RAM above 0x%lx is not mapped",
		    paging_mapped_end());
	memcheck();
	kvm_probe();
	mptable_report();
	acpi_scan(bp_rsdp);
	acpi_report();
	smp_report();
	virtio_discover();
	run_mode(mode);
}
