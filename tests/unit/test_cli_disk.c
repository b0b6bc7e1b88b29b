/*
 * --disk PATH[,ro][,serial=ID]: parse_disk on its own, then through cli_parse
 * with --no-acpi. cli_parse reports errors on stderr; that output is expected.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "../../vmm/cli.h"

static void disk_ok(const char *arg, const char *path, bool ro, const char *serial)
{
	char buf[128];
	struct disk_config d;
	const char *why = NULL;

	snprintf(buf, sizeof(buf), "%s", arg);
	memset(&d, 0xa5, sizeof(d));
	if (parse_disk(buf, &d, &why) != 0)
		fail_msg("parse_disk(\"%s\") refused: %s", arg, why ? why : "(no reason)");
	assert_non_null(d.path);
	assert_string_equal(d.path, path);
	if (d.read_only != ro)
		fail_msg("parse_disk(\"%s\"): read_only %d", arg, d.read_only);
	assert_string_equal(d.serial, serial);
}

static void disk_bad(const char *arg)
{
	char buf[128];
	struct disk_config d;
	const char *why = NULL;

	snprintf(buf, sizeof(buf), "%s", arg);
	if (parse_disk(buf, &d, &why) == 0)
		fail_msg("parse_disk(\"%s\") accepted", arg);
	assert_non_null(why);
	assert_true(strlen(why) > 0);
}

static void test_parse_disk_good(void **state)
{
	(void)state;
	disk_ok("a.img", "a.img", false, "");
	disk_ok("a.img,ro", "a.img", true, "");
	disk_ok("a.img,serial=abc", "a.img", false, "abc");
	disk_ok("a.img,ro,serial=xyz", "a.img", true, "xyz");
	disk_ok("a.img,serial=xyz,ro", "a.img", true, "xyz");
	disk_ok("a.img,serial=", "a.img", false, "");
	disk_ok("a.img,serial=01234567890123456789", "a.img", false, "01234567890123456789");
	disk_ok("/dev/disk/by-id/some-disk,ro", "/dev/disk/by-id/some-disk", true, "");
	disk_ok("dir/x y.img", "dir/x y.img", false, "");
}

static void test_parse_disk_bad(void **state)
{
	(void)state;
	disk_bad("a.img,serial=012345678901234567890"); /* 21 bytes */
	disk_bad("a.img,bogus");
	disk_bad("a.img,RO");
	disk_bad("a.img,ro=1");
	disk_bad("a.img,serial");
	disk_bad("a.img,ro,bogus");
	disk_bad(",ro");
	disk_bad(",");
	disk_bad("");
}

static void test_parse_disk_serial_limit_message(void **state)
{
	char buf[] = "a.img,serial=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	struct disk_config d;
	const char *why = NULL;

	(void)state;
	assert_int_equal(parse_disk(buf, &d, &why), -1);
	assert_non_null(strstr(why, "20"));
}

/*
 * cli_parse keeps each --disk argument in a strdup'd copy for the life of the
 * process (the path is its start); give them back so LeakSanitizer stays quiet.
 */
static void free_disks(struct config *cfg)
{
	for (int i = 0; i < cfg->ndisks; i++)
		free((char *)cfg->disks[i].path);
	cfg->ndisks = 0;
}

static void test_cli_two_disks_no_acpi(void **state)
{
	char *argv[] = {
		"minivmm", "--kernel", "bz", "--disk", "root.img,serial=root", "--no-acpi",
		"--disk", "data.img,ro", NULL,
	};
	struct config cfg;

	(void)state;
	assert_int_equal(cli_parse(ARRAY_SIZE(argv) - 1, argv, &cfg), 0);
	assert_int_equal(cfg.ndisks, 2);
	assert_string_equal(cfg.disks[0].path, "root.img");
	assert_false(cfg.disks[0].read_only);
	assert_string_equal(cfg.disks[0].serial, "root");
	assert_string_equal(cfg.disks[1].path, "data.img");
	assert_true(cfg.disks[1].read_only);
	assert_string_equal(cfg.disks[1].serial, "");
	assert_true(cfg.no_acpi);
	/* The argument strings are not cut up: the config points at copies. */
	assert_string_equal(argv[4], "root.img,serial=root");
	assert_string_equal(argv[7], "data.img,ro");
	free_disks(&cfg);
}

static void test_cli_defaults(void **state)
{
	char *argv[] = { "minivmm", "--kernel", "bz", NULL };
	struct config cfg;

	(void)state;
	assert_int_equal(cli_parse(ARRAY_SIZE(argv) - 1, argv, &cfg), 0);
	assert_int_equal(cfg.ndisks, 0);
	assert_false(cfg.no_acpi);
}

static void test_cli_disk_equals_form(void **state)
{
	char *argv[] = { "minivmm", "--disk=a.img,ro", "--kernel=bz", NULL };
	struct config cfg;

	(void)state;
	assert_int_equal(cli_parse(ARRAY_SIZE(argv) - 1, argv, &cfg), 0);
	assert_int_equal(cfg.ndisks, 1);
	assert_string_equal(cfg.disks[0].path, "a.img");
	assert_true(cfg.disks[0].read_only);
	free_disks(&cfg);
}

/* --help documents "-d, --disk": the short form must work too. */
static void test_cli_short_d(void **state)
{
	char *argv[] = { "minivmm", "-k", "bz", "-d", "a.img,ro", NULL };
	struct config cfg;

	(void)state;
	assert_int_equal(cli_parse(ARRAY_SIZE(argv) - 1, argv, &cfg), 0);
	assert_int_equal(cfg.ndisks, 1);
	assert_string_equal(cfg.disks[0].path, "a.img");
	assert_true(cfg.disks[0].read_only);
	free_disks(&cfg);
}

static void test_cli_disk_errors(void **state)
{
	char *bad_opt[] = { "minivmm", "--kernel", "bz", "--disk", "a.img,bogus", NULL };
	char *empty[] = { "minivmm", "--kernel", "bz", "--disk", "", NULL };
	char *missing[] = { "minivmm", "--kernel", "bz", "--disk", NULL };
	char *acpi_arg[] = { "minivmm", "--kernel", "bz", "--no-acpi=1", NULL };
	struct config cfg;

	(void)state;
	assert_int_equal(cli_parse(ARRAY_SIZE(bad_opt) - 1, bad_opt, &cfg), -1);
	assert_int_equal(cli_parse(ARRAY_SIZE(empty) - 1, empty, &cfg), -1);
	assert_int_equal(cli_parse(ARRAY_SIZE(missing) - 1, missing, &cfg), -1);
	assert_int_equal(cli_parse(ARRAY_SIZE(acpi_arg) - 1, acpi_arg, &cfg), -1);
}

static void test_cli_max_disks(void **state)
{
	char names[MAX_DISKS + 1][16];
	char *argv[2 + 2 * (MAX_DISKS + 1) + 2];
	struct config cfg;
	int argc = 0;

	(void)state;
	argv[argc++] = "minivmm";
	argv[argc++] = "--kernel";
	argv[argc++] = "bz";
	for (int i = 0; i < MAX_DISKS; i++) {
		snprintf(names[i], sizeof(names[i]), "d%d.img", i);
		argv[argc++] = "--disk";
		argv[argc++] = names[i];
	}
	argv[argc] = NULL;
	assert_int_equal(cli_parse(argc, argv, &cfg), 0);
	assert_int_equal(cfg.ndisks, MAX_DISKS);
	for (int i = 0; i < MAX_DISKS; i++)
		assert_string_equal(cfg.disks[i].path, names[i]);
	free_disks(&cfg);

	/* One more is refused. */
	snprintf(names[MAX_DISKS], sizeof(names[MAX_DISKS]), "d%d.img", MAX_DISKS);
	argv[argc++] = "--disk";
	argv[argc++] = names[MAX_DISKS];
	argv[argc] = NULL;
	assert_int_equal(cli_parse(argc, argv, &cfg), -1);
	assert_int_equal(cfg.ndisks, MAX_DISKS);
	free_disks(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_disk_good),
		cmocka_unit_test(test_parse_disk_bad),
		cmocka_unit_test(test_parse_disk_serial_limit_message),
		cmocka_unit_test(test_cli_two_disks_no_acpi),
		cmocka_unit_test(test_cli_defaults),
		cmocka_unit_test(test_cli_disk_equals_form),
		cmocka_unit_test(test_cli_short_d),
		cmocka_unit_test(test_cli_disk_errors),
		cmocka_unit_test(test_cli_max_disks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
