/* libFuzzer target: bzimage_parse on arbitrary files. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../vmm/bzimage.h"

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: %s does not hold\n", __FILE__,   \
				__LINE__, #cond);                                \
			abort();                                                 \
		}                                                                \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bzimage bz;
	char why[128];

	memset(why, 0x55, sizeof(why));
	if (bzimage_parse(data, size, &bz, why, sizeof(why)) != 0) {
		CHECK(memchr(why, '\0', sizeof(why)) != NULL);
		CHECK(why[0] != '\0');
		return 0;
	}
	CHECK(bz.version >= MIN_BOOT_PROTOCOL);
	CHECK(bz.setup_size >= 2 * 512);
	CHECK(bz.setup_size % 512 == 0);
	CHECK(bz.kernel == data + bz.setup_size);
	CHECK(bz.kernel_size > 0);
	CHECK(bz.kernel >= data && bz.kernel + bz.kernel_size == data + size);
	CHECK(bz.hdr_end <= BP_SIZE);
	CHECK(bz.hdr_end <= bz.setup_size);
	CHECK(bz.hdr_end >= BP_JUMP + 2);
	CHECK(bz.init_size >= bz.kernel_size);
	/* Touch the whole kernel and header so ASan sees any out-of-bounds extent. */
	volatile uint8_t sink = 0;

	for (size_t i = 0; i < bz.kernel_size; i += 64)
		sink ^= bz.kernel[i];
	sink ^= bz.kernel[bz.kernel_size - 1];
	sink ^= data[bz.hdr_end - 1];
	(void)sink;
	return 0;
}
