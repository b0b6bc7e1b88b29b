#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../devices/ged.h"
#include "../firmware/acpi.h"
#include "../firmware/e820.h"
#include "../firmware/mptable.h"
#include "boot.h"
#include "bzimage.h"
#include "log.h"
#include "vm.h"

#define PTE_PRESENT 0x1ULL
#define PTE_WRITE 0x2ULL
#define PTE_HUGE 0x80ULL /* 2 MiB page in a page directory */

static int open_file(const char *what, const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die(EXIT_RUNTIME, "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, st) < 0)
		die(EXIT_RUNTIME, "%s %s: %s", what, path, strerror(errno));
	if (!S_ISREG(st->st_mode))
		die(EXIT_RUNTIME, "%s %s: not a regular file", what, path);
	return fd;
}

/* Read all @len bytes, or die naming the file. */
static void read_all(int fd, void *buf, size_t len, const char *what, const char *path)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die(EXIT_RUNTIME, "%s %s: %s", what, path,
			    n < 0 ? strerror(errno) : "file shrank while being read");
		done += n;
	}
}

static void *guest_ptr_or_die(struct vm *vm, uint64_t gpa, uint64_t len, const char *what)
{
	void *p = gpa_ptr(&vm->mem, gpa, len);

	if (!p)
		die(EXIT_USAGE, "--mem %lluM: too small for the %s", 
		    (unsigned long long)(vm->mem.ram_size >> 20), what);
	return p;
}

static uint8_t *load_kernel(struct vm *vm, struct bzimage *bz)
{
	const char *path = vm->cfg->kernel;
	struct stat st;
	int fd = open_file("kernel", path, &st);
	uint8_t *file = malloc(st.st_size ? st.st_size : 1);
	char why[128];

	if (!file)
		die(EXIT_RUNTIME, "kernel %s: out of memory", path);
	read_all(fd, file, st.st_size, "kernel", path);
	close(fd);
	if (bzimage_parse(file, st.st_size, bz, why, sizeof(why)) < 0)
		die(EXIT_RUNTIME, "kernel %s: %s", path, why);
	memcpy(guest_ptr_or_die(vm, KERNEL_LOAD_ADDR, bz->init_size, "kernel"), bz->kernel,
	       bz->kernel_size);
	return file;
}

uint64_t initrd_place(uint64_t size, uint64_t kernel_end, uint64_t ram_top, uint64_t addr_max)
{
	/* addr_max is the highest byte the initrd may occupy. */
	uint64_t limit = addr_max >= ram_top ? ram_top : addr_max + 1;

	if (size > limit)
		return 0;
	uint64_t addr = (limit - size) & ~4095ULL;

	return addr >= kernel_end ? addr : 0;
}

static void load_initrd(struct vm *vm, uint8_t *zero_page, const struct bzimage *bz)
{
	const char *path = vm->cfg->initrd;
	struct stat st;

	if (!path)
		return;
	int fd = open_file("initrd", path, &st);
	const struct mem_region *low = &vm->mem.regions[0];
	uint64_t max = bz->initrd_addr_max ? bz->initrd_addr_max : 0x37ffffff;
	uint64_t addr = initrd_place(st.st_size, KERNEL_LOAD_ADDR + bz->init_size,
				     low->gpa + low->size, max);

	if (!addr)
		die(EXIT_RUNTIME, "initrd %s: %lld bytes do not fit in guest RAM below %#llx "
				  "(try a larger --mem)",
		    path, (long long)st.st_size, (unsigned long long)max);
	read_all(fd, gpa_ptr(&vm->mem, addr, st.st_size), st.st_size, "initrd", path);
	close(fd);
	memcpy(zero_page + BP_RAMDISK_IMAGE, &(uint32_t){ addr }, 4);
	memcpy(zero_page + BP_RAMDISK_SIZE, &(uint32_t){ st.st_size }, 4);
}

/*
 * Without ACPI, virtio-mmio devices are announced on the command line, in the
 * form CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES kernels read. Returns the length.
 */
static size_t append_mmio_devices(const struct vm *vm, char *cmdline, size_t len, size_t cap)
{
	if (!vm->cfg->no_acpi)
		return len; /* the DSDT describes them */
	for (int i = 0; i < vm->nmmio_devices; i++) {
		const struct acpi_mmio_device *d = &vm->mmio_devices[i];
		int n = snprintf(cmdline + len, cap - len, " virtio_mmio.device=%u@%#llx:%u",
				 d->size, (unsigned long long)d->base, d->gsi);

		if (n < 0 || (size_t)n >= cap - len)
			return cap; /* does not fit: the caller reports the length */
		len += n;
	}
	return len;
}

static void write_cmdline(struct vm *vm, uint8_t *zero_page, const struct bzimage *bz)
{
	char *cmdline = gpa_ptr(&vm->mem, BOOT_CMDLINE_ADDR, BOOT_CMDLINE_MAX);
	size_t len = strlen(vm->cfg->cmdline);
	size_t max = bz->cmdline_size < BOOT_CMDLINE_MAX - 1 ? bz->cmdline_size : BOOT_CMDLINE_MAX - 1;

	if (len <= max) {
		memcpy(cmdline, vm->cfg->cmdline, len + 1);
		len = append_mmio_devices(vm, cmdline, len, max + 1);
	}
	if (len > max)
		die(EXIT_USAGE, "--cmdline: %zu bytes, longer than the kernel's limit of %zu", len,
		    max);
	memcpy(zero_page + BP_CMD_LINE_PTR, &(uint32_t){ BOOT_CMDLINE_ADDR }, 4);
}

static void write_acpi(struct vm *vm, uint8_t *zero_page)
{
	static const struct acpi_ged ged = { GED_PORT, GED_GSI };
	struct acpi_config cfg = { vm->ncpus, vm->mmio_devices, vm->nmmio_devices,
				   vm->ged ? &ged : NULL };
	uint64_t rsdp;

	if (vm->cfg->no_acpi)
		return;
	if (acpi_build(gpa_ptr(&vm->mem, ACPI_TABLES_START, ACPI_TABLES_SIZE), ACPI_TABLES_SIZE,
		       ACPI_TABLES_START, &cfg, &rsdp) < 0)
		die(EXIT_USAGE, "--cpus %d: too many for the ACPI tables", vm->ncpus);
	memcpy(zero_page + BP_ACPI_RSDP_ADDR, &rsdp, 8);
}

static void write_e820(struct vm *vm, uint8_t *zero_page)
{
	struct e820_entry table[E820_MAX_ENTRIES];
	int n = e820_build(&vm->mem, table);

	zero_page[BP_E820_ENTRIES] = n;
	memcpy(zero_page + BP_E820_TABLE, table, n * sizeof(table[0]));
}

static void write_zero_page(struct vm *vm, const uint8_t *file, const struct bzimage *bz)
{
	uint8_t *zp = gpa_ptr(&vm->mem, BOOT_PARAMS_ADDR, BP_SIZE);

	memset(zp, 0, BP_SIZE);
	/* The setup header is copied as is, then the fields a loader owns are filled. */
	memcpy(zp + BP_HDR_START, file + BP_HDR_START, bz->hdr_end - BP_HDR_START);
	zp[BP_TYPE_OF_LOADER] = 0xff; /* an undefined boot loader */
	memcpy(zp + BP_VID_MODE, &(uint16_t){ 0xffff }, 2); /* "normal" text mode */
	write_cmdline(vm, zp, bz);
	load_initrd(vm, zp, bz);
	write_e820(vm, zp);
	write_acpi(vm, zp);
}

/* Identity map of the first 4 GiB in 2 MiB pages; the kernel builds its own soon. */
static void write_page_tables(struct vm *vm)
{
	uint64_t *pml4 = gpa_ptr(&vm->mem, BOOT_PML4_ADDR, 4096);
	uint64_t *pdpt = gpa_ptr(&vm->mem, BOOT_PDPT_ADDR, 4096);
	uint64_t *pd = gpa_ptr(&vm->mem, BOOT_PD_ADDR, 4 * 4096);

	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = BOOT_PDPT_ADDR | PTE_PRESENT | PTE_WRITE;
	for (int i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PD_ADDR + i * 4096) | PTE_PRESENT | PTE_WRITE;
	for (uint64_t i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | PTE_PRESENT | PTE_WRITE | PTE_HUGE;
}

static void write_gdt(struct vm *vm)
{
	uint64_t gdt[] = {
		0,
		0,
		0x00af9b000000ffffULL, /* BOOT_CS: 64-bit code */
		0x00cf93000000ffffULL, /* BOOT_DS: flat data */
		0x00008b0000000067ULL, /* BOOT_TSS: busy 64-bit TSS at 0 (KVM wants one) */
	};

	memcpy(gpa_ptr(&vm->mem, BOOT_GDT_ADDR, sizeof(gdt)), gdt, sizeof(gdt));
	memset(gpa_ptr(&vm->mem, BOOT_IDT_ADDR, 8), 0, 8);
}

static void write_mptable(struct vm *vm)
{
	size_t size = mptable_size(vm->ncpus);

	if (MPTABLE_START + size > HIMEM_START)
		die(EXIT_USAGE, "--cpus %d: too many for the MP table", vm->ncpus);
	mptable_build(gpa_ptr(&vm->mem, MPTABLE_START, size), MPTABLE_START, vm->ncpus);
}

void boot_load(struct vm *vm, struct boot_info *info)
{
	struct bzimage bz;
	uint8_t *file = load_kernel(vm, &bz);

	write_zero_page(vm, file, &bz);
	free(file);
	write_page_tables(vm);
	write_gdt(vm);
	write_mptable(vm);
	info->entry = KERNEL_LOAD_ADDR + KERNEL_ENTRY64_OFFSET;
	info->boot_params = BOOT_PARAMS_ADDR;
}
