/* Shared declarations for the minitest guest kernel. */
#ifndef MINITEST_H
#define MINITEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KERNEL_BASE	0x100000ULL
#define TRAMPOLINE_BASE	0x1000ULL
#define MAX_CPUS	64
#define MAX_E820	128
#define CMDLINE_MAX	2048

/* boot_params (zero page) offsets we use; see Linux boot.rst/zero-page. */
#define BP_ACPI_RSDP_ADDR	0x070
#define BP_EXT_CMD_LINE_PTR	0x0c8
#define BP_E820_ENTRIES		0x1e8
#define BP_HDR_CMD_LINE_PTR	0x228
#define BP_E820_TABLE		0x2d0

#define E820_RAM	1

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* ---- lib.c: freestanding string and formatting helpers (pure) ---- */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int ksnprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- parse.c: command line, e820 and MP table parsing (pure) ---- */
bool cmdline_get(const char *cmdline, const char *key, char *out,
		 size_t outsz);
bool parse_u64(const char *s, uint64_t *out);

struct ram_summary {
	uint64_t total;		/* bytes of usable RAM */
	uint64_t top;		/* end (exclusive) of the highest usable RAM */
};
void e820_summarize(const struct e820_entry *e, unsigned n,
		    struct ram_summary *out);

struct mp_info {
	unsigned ncpus;
	uint8_t apic_id[MAX_CPUS];
	bool bsp[MAX_CPUS];
	uint64_t lapic_addr;
	uint64_t ioapic_addr;	/* 0 if none listed */
	uint8_t ioapic_id;
	int isa_irq4_pin;	/* IOAPIC input for ISA IRQ 4 */
};
uint8_t checksum8(const void *p, size_t len);
long mp_find_fp(const uint8_t *base, size_t len);
bool mp_parse_config(const uint8_t *cfg, size_t avail, struct mp_info *mp);

/* ---- tables.c: ACPI tables, AML scans, virtio cmdline (pure) ---- */
#define MAX_IOAPICS	8
#define MAX_VIRTIO	16

struct madt_info {
	unsigned ncpus;			/* enabled Processor Local APIC entries */
	uint8_t apic_id[MAX_CPUS];
	uint64_t lapic_addr;
	unsigned nioapic;
	uint64_t ioapic_addr[MAX_IOAPICS];
	uint32_t ioapic_gsi_base[MAX_IOAPICS];
};

struct vmmio {
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
};

bool rsdp_valid(const uint8_t *p);
void madt_parse(const uint8_t *madt, uint32_t len, struct madt_info *m);
unsigned dsdt_find_virtio(const uint8_t *aml, size_t len, struct vmmio *out,
			  unsigned max);
struct ged_info {
	uint32_t addr;		/* event register */
	uint8_t space;		/* 0 SystemMemory, 1 SystemIO */
	uint32_t gsi;
	uint32_t mask;		/* power button bit(s) in the event register */
};
bool dsdt_find_ged(const uint8_t *aml, size_t len, struct ged_info *g);
bool dsdt_find_s5(const uint8_t *aml, size_t len, uint32_t *slp_typ);
unsigned cmdline_virtio_mmio(const char *cl, struct vmmio *out, unsigned max);

/* ---- console.c: 8250 UART on COM1 and locked output ---- */
void uart_init(void);
void uart_set_crlf(bool on);
void uart_putc_raw(char c);
void kputs(const char *s);
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void uart_irq_enable_rx(void);
bool uart_test_thre_irq(void);
void uart_irq(void);
int uart_getc_nonblock(void);
int uart_getc_wait(void);
void spin_lock(volatile int *lock);
void spin_unlock(volatile int *lock);

/* ---- cpu.c: IDT, paging, time, kvm-clock, reset ---- */
struct irq_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};
#define VEC_UART	48
#define VEC_TIMER	49
#define VEC_GED		50
#define VEC_VIRTIO	64	/* 64 .. 64 + MAX_VIRTIO - 1 */
#define VEC_SPURIOUS	255

void idt_init(void);
void idt_load(void);
uint64_t paging_init(uint64_t top);
uint64_t paging_mapped_end(void);
uint64_t paging_root(void);
void map_uncached(uint64_t phys);
void kvm_probe(void);
uint64_t now_ns(void);
bool kvmclock_active(void);
uint64_t ns_to_tsc(uint64_t ns);
void delay_us(uint64_t us);
void cpu_halt_forever(void) __attribute__((noreturn));
void machine_reset(void) __attribute__((noreturn));
void triple_fault(void) __attribute__((noreturn));
void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* The number KEY= on the kernel command line, or @def; fail()s on a bad one. */
uint64_t cmdline_u64(const char *key, uint64_t def);
unsigned mtrr_vcnt(void);
void mtrr_set_test_values(unsigned vcnt);
void mtrr_describe(unsigned vcnt, char *buf, size_t size);

/* ---- apic.c: LAPIC, IOAPIC and SMP bring-up ---- */
void lapic_init(void);
void lapic_eoi(void);
uint8_t cpu_apic_id(void);
void ioapic_route(uint64_t base, int pin, uint8_t vector, uint8_t dest);
void ioapic_route_mode(uint64_t base, int pin, uint8_t vector, uint8_t dest,
		       bool level);
unsigned smp_boot(const struct mp_info *mp);
void lapic_timer_periodic(uint8_t vector);
void lapic_timer_oneshot(uint8_t vector, uint64_t ns);
bool lapic_has_tsc_deadline(void);
void lapic_timer_deadline(uint8_t vector, uint64_t ns);
void lapic_timer_stop(void);
void mp_scan(struct mp_info *mp, bool *found);

/* ---- acpi.c: ACPI discovery and power ---- */
struct acpi_info {
	bool found;
	uint64_t rsdp;
	char oem[7];
	const uint8_t *fadt, *madt, *dsdt;	/* checksummed, or NULL */
	uint32_t fadt_len, dsdt_len;
	struct madt_info m;
};
void acpi_scan(uint64_t bp_rsdp);
void acpi_report(void);
void acpi_poweroff(void);
void acpi_reset(void);
void gsi_route(uint32_t gsi, uint8_t vector);
void gsi_route_level(uint32_t gsi, uint8_t vector);
bool ged_setup(void);
void ged_irq(void);
extern volatile bool ged_power_pressed;

/* ---- virtio.c / blk.c: virtio-mmio transport and virtio-blk ---- */
struct vdev {
	struct vmmio r;
	uint32_t id;		/* 0 when the magic or version is wrong */
	volatile uint32_t isr;	/* InterruptStatus bits seen by the handler */
};
void virtio_discover(void);
void virtio_irq(unsigned idx);
void mode_blk(void) __attribute__((noreturn));
bool blk0_open(uint64_t *capacity);
int blk0_io(bool write, uint64_t sector, void *data, uint32_t len);
int blk0_flush(void);
const char *blk_status_name(int r);
void mode_counter(void) __attribute__((noreturn));
void mode_blkbench(void) __attribute__((noreturn));
void mode_net(void) __attribute__((noreturn));
void mode_nethostile(void) __attribute__((noreturn));
void mode_vconsole(void) __attribute__((noreturn));

/* ---- main.c / demo.c ---- */
struct sysinfo {
	char cmdline[CMDLINE_MAX];
	struct e820_entry e820[MAX_E820];
	unsigned e820_n;
	struct ram_summary ram;
	struct mp_info mp;
	bool mp_found;
	unsigned cpus_online;
	char kvm_sig[13];
	struct acpi_info acpi;
	struct vdev vdev[MAX_VIRTIO];
	unsigned nvdev;
};
extern struct sysinfo sys;
void irq_setup(void);
void demo_run(void) __attribute__((noreturn));
void demo_summary(void);
void power_off_or_reset(void) __attribute__((noreturn));

#endif
