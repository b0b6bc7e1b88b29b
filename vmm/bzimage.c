#include <stdio.h>
#include <string.h>

#include "bzimage.h"

static uint16_t le16(const uint8_t *p)
{
	return p[0] | p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | (uint32_t)le16(p + 2) << 16;
}

#define REFUSE(...)                                   \
	do {                                          \
		snprintf(why, whylen, __VA_ARGS__);   \
		return -1;                            \
	} while (0)

int bzimage_parse(const uint8_t *data, size_t size, struct bzimage *out, char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	if (size < BP_INIT_SIZE + 4)
		REFUSE("too short for a bzImage (%zu bytes)", size);
	if (memcmp(data + BP_HEADER_MAGIC, "HdrS", 4) != 0)
		REFUSE("not a bzImage (no HdrS magic)");
	if (le16(data + BP_BOOT_FLAG) != 0xaa55)
		REFUSE("not a bzImage (no 0xAA55 boot flag)");

	out->version = le16(data + BP_VERSION);
	if (out->version < MIN_BOOT_PROTOCOL)
		REFUSE("boot protocol %u.%02u is older than 2.06", out->version >> 8,
		       out->version & 0xff);
	if (!(data[BP_LOADFLAGS] & LOADFLAG_LOADED_HIGH))
		REFUSE("not a bzImage (a zImage loaded low)");
	/* Since 2.12 a kernel says whether it has a 64-bit entry point. */
	if (out->version >= 0x020c && !(le16(data + BP_XLOADFLAGS) & XLF_KERNEL_64))
		REFUSE("kernel has no 64-bit entry point (a 32-bit kernel?)");

	unsigned setup_sects = data[BP_SETUP_SECTS] ? data[BP_SETUP_SECTS] : 4;

	out->setup_size = (setup_sects + 1) * 512;
	out->hdr_end = BP_JUMP + 2 + data[BP_JUMP + 1];
	if (out->hdr_end > out->setup_size)
		out->hdr_end = out->setup_size;
	if (out->hdr_end > BP_SIZE)
		out->hdr_end = BP_SIZE;
	if (out->setup_size >= size)
		REFUSE("truncated: setup of %zu bytes but file of %zu", out->setup_size, size);

	out->kernel = data + out->setup_size;
	out->kernel_size = size - out->setup_size;
	out->initrd_addr_max = le32(data + BP_INITRD_ADDR_MAX);
	out->cmdline_size = le32(data + BP_CMDLINE_SIZE);
	out->init_size = out->version >= 0x020a ? le32(data + BP_INIT_SIZE) : 0;
	if (out->init_size < out->kernel_size)
		out->init_size = out->kernel_size;

	uint32_t syssize = le32(data + 0x1f4);

	if ((uint64_t)syssize * 16 > out->kernel_size + 15)
		REFUSE("truncated: header says %llu kernel bytes, file has %zu",
		       (unsigned long long)syssize * 16, out->kernel_size);
	return 0;
}
