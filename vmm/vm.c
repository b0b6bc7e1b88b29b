#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include "log.h"
#include "vm.h"

/* Addresses KVM needs for its real-mode helpers on Intel: just below the BIOS. */
#define TSS_ADDR 0xfffbd000ULL
#define IDENTITY_MAP_ADDR 0xfffbc000ULL

static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
};

static void open_kvm(struct vm *vm)
{
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		if (errno == ENOENT)
			die(EXIT_RUNTIME, "/dev/kvm: missing (is the kvm module loaded, and "
					  "virtualization enabled?)");
		die(EXIT_RUNTIME, "/dev/kvm: %s", strerror(errno));
	}
	int version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);

	if (version != KVM_API_VERSION)
		die(EXIT_RUNTIME, "/dev/kvm: KVM API version %d, minivmm needs %d", version,
		    KVM_API_VERSION);
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++)
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0)
			die(EXIT_RUNTIME, "/dev/kvm: missing required capability %s",
			    required_caps[i].name);

	struct stat st;

	vm->software_kvm = stat("/sys/module/kvm_pvm", &st) == 0;
}

static void check_cpus(struct vm *vm)
{
	int max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);

	if (max <= 0)
		max = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (max <= 0)
		max = 4; /* what the KVM API promises when it says nothing */
	if (vm->cfg->cpus > max)
		die(EXIT_USAGE, "--cpus %d: over this host's KVM limit of %d", vm->cfg->cpus, max);
}

static void check_mem(const struct config *cfg)
{
	struct sysinfo si;

	if (sysinfo(&si) == 0) {
		uint64_t host = (uint64_t)si.totalram * si.mem_unit;

		if (cfg->mem_size > host)
			die(EXIT_USAGE, "--mem %lluM: more than this host's %lluM of RAM",
			    (unsigned long long)(cfg->mem_size >> 20),
			    (unsigned long long)(host >> 20));
	}
	if (cfg->mem_size < 16 * MiB)
		die(EXIT_USAGE, "--mem %lluK: too small, a guest needs at least 16M",
		    (unsigned long long)(cfg->mem_size >> 10));
}

static void add_memory_slots(struct vm *vm)
{
	int err = guest_mem_map(&vm->mem);

	if (err)
		die(EXIT_RUNTIME, "guest RAM: cannot map %llu MiB: %s",
		    (unsigned long long)(vm->mem.ram_size >> 20), strerror(-err));
	for (int i = 0; i < vm->mem.nregions; i++) {
		struct mem_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->host,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
			die(EXIT_RUNTIME, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	}
}

static void create_irqchip(struct vm *vm)
{
	uint64_t identity = IDENTITY_MAP_ADDR;
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)TSS_ADDR) < 0)
		die(EXIT_RUNTIME, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0)
		die(EXIT_RUNTIME, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		die(EXIT_RUNTIME, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		die(EXIT_RUNTIME, "KVM_CREATE_PIT2: %s", strerror(errno));
}

/*
 * Leave the 8259s as a BIOS would: vectors 0x08/0x70 and every line masked.
 * KVM routes ISA GSIs to the PIC as well as the IOAPIC and starts it with
 * vector base 0 and nothing masked; a guest that never touches the PIC (Linux
 * on hardware-reduced ACPI) would take a device's IRQ 5 as exception 5 through
 * LINT0. A guest that wants the PIC programs it, as Linux does with an MP table.
 */
static void mask_pics(struct vm *vm)
{
	static const uint8_t vector_base[] = { 0x08, 0x70 };

	for (uint32_t chip = KVM_IRQCHIP_PIC_MASTER; chip <= KVM_IRQCHIP_PIC_SLAVE; chip++) {
		struct kvm_irqchip pic = { .chip_id = chip };

		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &pic) < 0)
			die(EXIT_RUNTIME, "KVM_GET_IRQCHIP: %s", strerror(errno));
		pic.chip.pic.imr = 0xff;
		pic.chip.pic.irq_base = vector_base[chip];
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &pic) < 0)
			die(EXIT_RUNTIME, "KVM_SET_IRQCHIP: %s", strerror(errno));
	}
}

void vm_create(struct vm *vm, const struct config *cfg)
{
	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->ncpus = cfg->cpus;
	vm->kvm_fd = vm->vm_fd = vm->exit_eventfd = vm->signal_fd = -1;
	atomic_init(&vm->exit_status, EXIT_STATUS_RUNNING);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_condattr_t attr;

	/* vm_pause's timed waits count monotonic time, as its deadline does. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->pause_cond, &attr);
	pthread_condattr_destroy(&attr);

	check_mem(cfg);
	open_kvm(vm);
	check_cpus(vm);
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		die(EXIT_RUNTIME, "KVM_CREATE_VM: %s", strerror(errno));
	create_irqchip(vm);
	mask_pics(vm);
	guest_mem_layout(&vm->mem, cfg->mem_size);
	add_memory_slots(vm);

	vm->exit_eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->exit_eventfd < 0 || event_loop_init(&vm->loop) < 0)
		die(EXIT_RUNTIME, "event loop: %s", strerror(errno));
}

void vm_request_exit(struct vm *vm, int status)
{
	int running = EXIT_STATUS_RUNNING;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&vm->exit_status, &running, status))
		return;
	if (write(vm->exit_eventfd, &one, sizeof(one)) < 0)
		log_debug("exit eventfd: %s", strerror(errno));
	/* Parked vCPUs must see the exit too. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
}

bool vm_exiting(struct vm *vm)
{
	return atomic_load(&vm->exit_status) != EXIT_STATUS_RUNNING;
}

void vm_irq_line(struct vm *vm, unsigned irq, int level)
{
	struct kvm_irq_level line = { .irq = irq, .level = level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &line) < 0)
		log_debug("KVM_IRQ_LINE %u: %s", irq, strerror(errno));
}

int vm_add_device(struct vm *vm, const struct device_ops *ops, void *dev)
{
	if (vm->ndevices == MAX_DEVICES)
		return -ENOSPC;
	vm->devices[vm->ndevices++] = (struct device){ ops, dev };
	return 0;
}

/*
 * IOAPIC pins no device of ours uses: 4 is COM1, 8 the RTC a guest may
 * probe, 9 the ACPI SCI (level-triggered in the MADT).
 */
static uint32_t nth_free_gsi(int n)
{
	static const uint8_t gsis[] = { 5, 6, 7, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22 };

	return gsis[n];
}

int vm_alloc_mmio(struct vm *vm, uint32_t size, uint64_t *base, uint32_t *gsi)
{
	int n = vm->nmmio_devices;

	if (n == MAX_MMIO_DEVICES || size > MMIO_DEVICE_STRIDE)
		return -ENOSPC;
	*base = MMIO_DEVICES_BASE + n * MMIO_DEVICE_STRIDE;
	*gsi = nth_free_gsi(n);
	vm->mmio_devices[n] = (struct acpi_mmio_device){ *base, size, *gsi };
	vm->nmmio_devices++;
	return 0;
}

void vm_register_pio(struct vm *vm, uint16_t base, uint16_t len, bus_read_fn read,
		     bus_write_fn write, void *opaque)
{
	int err = bus_register(&vm->pio, base, len, read, write, opaque);

	if (err)
		die(EXIT_RUNTIME, "I/O ports %#x-%#x: cannot register: %s", base,
		    base + len - 1, strerror(-err));
}

void vm_destroy(struct vm *vm)
{
	for (int i = vm->ndevices - 1; i >= 0; i--)
		if (vm->devices[i].ops->destroy)
			vm->devices[i].ops->destroy(vm->devices[i].dev);
	vm->ndevices = 0;
	event_loop_destroy(&vm->loop);
	bus_destroy(&vm->pio);
	bus_destroy(&vm->mmio);
	free(vm->cpuid);
	vm->cpuid = NULL;
	free(vm->power_on_vm);
	free(vm->power_on_vcpus);
	if (vm->exit_eventfd >= 0)
		close(vm->exit_eventfd);
	if (vm->signal_fd >= 0)
		close(vm->signal_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	guest_mem_unmap(&vm->mem);
}
