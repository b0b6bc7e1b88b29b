/* Parsing the setup header of a Linux bzImage (Documentation/arch/x86/boot.rst). */
#ifndef MINIVMM_BZIMAGE_H
#define MINIVMM_BZIMAGE_H

#include <stddef.h>
#include <stdint.h>

/* Offsets in the file and in struct boot_params (the zero page). */
#define BP_SETUP_SECTS 0x1f1
#define BP_HDR_START 0x1f1
#define BP_BOOT_FLAG 0x1fe
#define BP_JUMP 0x200
#define BP_HEADER_MAGIC 0x202
#define BP_VERSION 0x206
#define BP_TYPE_OF_LOADER 0x210
#define BP_LOADFLAGS 0x211
#define BP_CODE32_START 0x214
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_HEAP_END_PTR 0x224
#define BP_CMD_LINE_PTR 0x228
#define BP_INITRD_ADDR_MAX 0x22c
#define BP_XLOADFLAGS 0x236
#define BP_CMDLINE_SIZE 0x238
#define BP_INIT_SIZE 0x260
#define BP_VID_MODE 0x1fa
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMD_LINE_PTR 0x0c8
#define BP_ACPI_RSDP_ADDR 0x070
#define BP_E820_ENTRIES 0x1e8
#define BP_E820_TABLE 0x2d0
#define BP_E820_MAX 128
#define BP_SIZE 4096

#define LOADFLAG_LOADED_HIGH 0x01
#define XLF_KERNEL_64 0x01
#define MIN_BOOT_PROTOCOL 0x0206

struct bzimage {
	uint16_t version;
	size_t setup_size;	/* bytes of real-mode setup, boot sector included */
	size_t hdr_end;		/* end of the setup header within the file */
	const uint8_t *kernel;	/* the protected-mode kernel inside the file */
	size_t kernel_size;
	uint32_t init_size;	/* memory the kernel needs from its load address */
	uint32_t initrd_addr_max;
	uint32_t cmdline_size;	/* longest command line, without the NUL */
};

/*
 * Check and decode @data (a whole bzImage file). Returns 0, or -1 with a
 * short reason in @why ("no HdrS magic", "boot protocol 2.04 is older than 2.06", ...).
 */
int bzimage_parse(const uint8_t *data, size_t size, struct bzimage *out, char *why, size_t whylen);

#endif
