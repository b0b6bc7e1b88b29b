/* bzimage_parse on images built in memory, and on the test guest's bzImage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "unit.h"
#include "../../vmm/bzimage.h"

#define SETUP_SECTS 4
#define SETUP_SIZE ((SETUP_SECTS + 1) * 512)
#define KERNEL_SIZE 4096

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v;
	p[1] = v >> 8;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v);
	put16(p + 2, v >> 16);
}

/*
 * A minimal valid image: @sects setup sectors (0 is written as is), then
 * @kernel_size bytes of kernel. Caller frees.
 */
static uint8_t *make_image(unsigned sects, size_t kernel_size, size_t *size)
{
	size_t setup = ((sects ? sects : 4) + 1) * 512;
	uint8_t *img = calloc(1, setup + kernel_size);

	assert_non_null(img);
	img[BP_SETUP_SECTS] = sects;
	put32(img + 0x1f4, (kernel_size + 15) / 16); /* syssize */
	put16(img + BP_BOOT_FLAG, 0xaa55);
	img[BP_JUMP] = 0xeb;
	img[BP_JUMP + 1] = 0x6a; /* header ends at 0x26c */
	memcpy(img + BP_HEADER_MAGIC, "HdrS", 4);
	put16(img + BP_VERSION, 0x020f);
	img[BP_LOADFLAGS] = LOADFLAG_LOADED_HIGH;
	put32(img + BP_INITRD_ADDR_MAX, 0x7fffffff);
	put16(img + BP_XLOADFLAGS, XLF_KERNEL_64);
	put32(img + BP_CMDLINE_SIZE, 2047);
	put32(img + BP_INIT_SIZE, 0x200000);
	for (size_t i = 0; i < kernel_size; i++)
		img[setup + i] = (uint8_t)(i * 7 + 1);
	*size = setup + kernel_size;
	return img;
}

static int parse(const uint8_t *img, size_t size, struct bzimage *bz, char *why)
{
	why[0] = '\0';
	return bzimage_parse(img, size, bz, why, 128);
}

static void test_valid(void **state)
{
	size_t size;
	uint8_t *img = make_image(SETUP_SECTS, KERNEL_SIZE, &size);
	struct bzimage bz;
	char why[128];

	(void)state;
	assert_int_equal(parse(img, size, &bz, why), 0);
	assert_int_equal(bz.version, 0x020f);
	assert_int_equal(bz.setup_size, SETUP_SIZE);
	assert_ptr_equal(bz.kernel, img + SETUP_SIZE);
	assert_int_equal(bz.kernel_size, KERNEL_SIZE);
	assert_int_equal(bz.init_size, 0x200000);
	assert_int_equal(bz.cmdline_size, 2047);
	assert_int_equal(bz.initrd_addr_max, 0x7fffffff);
	assert_int_equal(bz.hdr_end, 0x26c);
	free(img);
}

static void test_init_size_at_least_kernel(void **state)
{
	size_t size;
	uint8_t *img = make_image(SETUP_SECTS, KERNEL_SIZE, &size);
	struct bzimage bz;
	char why[128];

	(void)state;
	put32(img + BP_INIT_SIZE, 16);
	assert_int_equal(parse(img, size, &bz, why), 0);
	assert_int_equal(bz.init_size, KERNEL_SIZE);
	/* Before 2.10 there is no init_size: the kernel size stands in. */
	put16(img + BP_VERSION, 0x0209);
	put32(img + BP_INIT_SIZE, 0x200000);
	assert_int_equal(parse(img, size, &bz, why), 0);
	assert_int_equal(bz.init_size, KERNEL_SIZE);
	free(img);
}

static void test_hdr_end_capped(void **state)
{
	size_t size;
	uint8_t *img = make_image(SETUP_SECTS, KERNEL_SIZE, &size);
	struct bzimage bz;
	char why[128];

	(void)state;
	img[BP_JUMP + 1] = 0xff;
	assert_int_equal(parse(img, size, &bz, why), 0);
	assert_int_equal(bz.hdr_end, 0x202 + 0xff);
	assert_true(bz.hdr_end <= BP_SIZE);
	assert_true(bz.hdr_end <= bz.setup_size);
	free(img);
}

static void test_truncated_header(void **state)
{
	size_t size;
	uint8_t *img = make_image(SETUP_SECTS, KERNEL_SIZE, &size);
	struct bzimage bz;
	char why[128];

	(void)state;
	assert_int_equal(parse(img, BP_INIT_SIZE + 3, &bz, why), -1);
	assert_non_null(strstr(why, "too short"));
	assert_int_equal(parse(img, 0, &bz, why), -1);
	assert_int_equal(parse(img, 0x200, &bz, why), -1);
	free(img);
}

static void test_truncated_setup(void **state)
{
	size_t size;
	uint8_t *img = make_image(SETUP_SECTS, KERNEL_SIZE, &size);
	struct bzimage bz;
	char why[128];

	(void)state;
	/* The setup runs exactly to the end of the file: no kernel at all. */
	assert_int_equal(parse(img, SETUP_SIZE, &bz, why), -1);
	assert_non_null(strstr(why, "truncated"));
	/* setup_sects pointing far past the end. */
	img[BP_SETUP_SECTS] = 200;
	assert_int_equal(parse(img, size, &bz, why), -1);
	assert_non_null(strstr(why, "truncated"));
	free(img);
}

static void test_truncated_kernel(void **state)
{
	size_t size;
	uint8_t *img = make_image(SETUP_SECTS, KERNEL_SIZE, &size);
	struct bzimage bz;
	char why[128];

	(void)state;
	put32(img + 0x1f4, KERNEL_SIZE / 16 + 1);
	assert_int_equal(parse(img, size, &bz, why), -1);
	assert_non_null(strstr(why, "truncated"));
	/* Cut the file instead: the header's syssize no longer fits. */
	put32(img + 0x1f4, KERNEL_SIZE / 16);
	assert_int_equal(parse(img, size - 16, &bz, why), -1);
	assert_non_null(strstr(why, "truncated"));
	/* A huge syssize must not wrap around. */
	put32(img + 0x1f4, 0xffffffff);
	assert_int_equal(parse(img, size, &bz, why), -1);
	free(img);
}

static void test_bad_magic(void **state)
{
	size_t size;
	uint8_t *img = make_image(SETUP_SECTS, KERNEL_SIZE, &size);
	struct bzimage bz;
	char why[128];

	(void)state;
	img[BP_HEADER_MAGIC + 3] = 's';
	assert_int_equal(parse(img, size, &bz, why), -1);
	assert_non_null(strstr(why, "HdrS"));
	free(img);
}

static void test_no_boot_flag(void **state)
{
	size_t size;
	uint8_t *img = make_image(SETUP_SECTS, KERNEL_SIZE, &size);
	struct bzimage bz;
	char why[128];

	(void)state;
	put16(img + BP_BOOT_FLAG, 0x55aa);
	assert_int_equal(parse(img, size, &bz, why), -1);
	assert_non_null(strstr(why, "0xAA55"));
	free(img);
}

static void test_old_protocol(void **state)
{
	size_t size;
	uint8_t *img = make_image(SETUP_SECTS, KERNEL_SIZE, &size);
	struct bzimage bz;
	char why[128];

	(void)state;
	put16(img + BP_VERSION, 0x0204);
	assert_int_equal(parse(img, size, &bz, why), -1);
	assert_non_null(strstr(why, "2.04"));
	assert_non_null(strstr(why, "2.06"));
	/* 2.06 itself is fine. */
	put16(img + BP_VERSION, 0x0206);
	assert_int_equal(parse(img, size, &bz, why), 0);
	free(img);
}

static void test_loaded_low(void **state)
{
	size_t size;
	uint8_t *img = make_image(SETUP_SECTS, KERNEL_SIZE, &size);
	struct bzimage bz;
	char why[128];

	(void)state;
	img[BP_LOADFLAGS] = 0;
	assert_int_equal(parse(img, size, &bz, why), -1);
	assert_non_null(strstr(why, "zImage"));
	free(img);
}

static void test_no_64bit_entry(void **state)
{
	size_t size;
	uint8_t *img = make_image(SETUP_SECTS, KERNEL_SIZE, &size);
	struct bzimage bz;
	char why[128];

	(void)state;
	put16(img + BP_XLOADFLAGS, 0);
	assert_int_equal(parse(img, size, &bz, why), -1);
	assert_non_null(strstr(why, "64-bit"));
	put16(img + BP_VERSION, 0x020c);
	assert_int_equal(parse(img, size, &bz, why), -1);
	/* Before 2.12 the flag does not exist and is not checked. */
	put16(img + BP_VERSION, 0x020b);
	assert_int_equal(parse(img, size, &bz, why), 0);
	free(img);
}

static void test_setup_sects_zero(void **state)
{
	size_t size;
	uint8_t *img = make_image(0, KERNEL_SIZE, &size);
	struct bzimage bz;
	char why[128];

	(void)state;
	assert_int_equal(size, SETUP_SIZE + KERNEL_SIZE);
	assert_int_equal(parse(img, size, &bz, why), 0);
	assert_int_equal(bz.setup_size, 5 * 512);
	assert_ptr_equal(bz.kernel, img + 5 * 512);
	assert_int_equal(bz.kernel_size, KERNEL_SIZE);
	free(img);
}

static void test_why_truncated_to_whylen(void **state)
{
	size_t size;
	uint8_t *img = make_image(SETUP_SECTS, KERNEL_SIZE, &size);
	struct bzimage bz;
	char why[8];

	(void)state;
	memset(why, 'z', sizeof(why));
	put16(img + BP_VERSION, 0x0204);
	assert_int_equal(bzimage_parse(img, size, &bz, why, 4), -1);
	assert_int_equal(strlen(why), 3);
	assert_int_equal(why[4], 'z');
	free(img);
}

#define MINITEST_PATH "build/guest/minitest.bzImage"

static void test_minitest_image(void **state)
{
	const char *path = getenv("MINITEST_BZIMAGE") ? getenv("MINITEST_BZIMAGE") : MINITEST_PATH;
	FILE *f = fopen(path, "rb");
	struct bzimage bz;
	char why[128];
	struct stat st;

	(void)state;
	if (!f) {
		print_message("%s is absent (build it with make guests): skipped\n", path);
		skip();
	}
	assert_int_equal(fstat(fileno(f), &st), 0);
	uint8_t *img = malloc(st.st_size);

	assert_non_null(img);
	assert_int_equal(fread(img, 1, st.st_size, f), (size_t)st.st_size);
	fclose(f);
	if (parse(img, st.st_size, &bz, why) != 0)
		fail_msg("%s: %s", path, why);
	assert_true(bz.version >= MIN_BOOT_PROTOCOL);
	assert_int_equal(bz.setup_size, ((img[BP_SETUP_SECTS] ? img[BP_SETUP_SECTS] : 4) + 1) * 512);
	assert_ptr_equal(bz.kernel, img + bz.setup_size);
	assert_int_equal(bz.kernel_size, st.st_size - bz.setup_size);
	assert_true(bz.init_size >= bz.kernel_size);
	assert_true(bz.cmdline_size > 0);
	assert_true(bz.hdr_end > BP_INIT_SIZE && bz.hdr_end <= BP_SIZE);
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_init_size_at_least_kernel),
		cmocka_unit_test(test_hdr_end_capped),
		cmocka_unit_test(test_truncated_header),
		cmocka_unit_test(test_truncated_setup),
		cmocka_unit_test(test_truncated_kernel),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_no_boot_flag),
		cmocka_unit_test(test_old_protocol),
		cmocka_unit_test(test_loaded_low),
		cmocka_unit_test(test_no_64bit_entry),
		cmocka_unit_test(test_setup_sects_zero),
		cmocka_unit_test(test_why_truncated_to_whylen),
		cmocka_unit_test(test_minitest_image),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
