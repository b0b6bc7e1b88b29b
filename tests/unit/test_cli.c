/* parse_size and cli_parse. cli_parse reports errors on stderr; that output is expected. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "../../vmm/cli.h"

static void size_ok(const char *s, uint64_t want)
{
	uint64_t v = 0xdeadbeef;
	const char *why = NULL;

	if (parse_size(s, &v, &why) != 0)
		fail_msg("parse_size(\"%s\") refused: %s", s, why);
	assert_int_equal(v, want);
}

static void size_bad(const char *s, const char *reason)
{
	uint64_t v = 0xdeadbeef;
	const char *why = NULL;

	if (parse_size(s, &v, &why) == 0)
		fail_msg("parse_size(\"%s\") accepted as %llu", s, (unsigned long long)v);
	assert_non_null(why);
	if (reason && !strstr(why, reason))
		fail_msg("parse_size(\"%s\"): \"%s\" does not say \"%s\"", s, why, reason);
	assert_int_equal(v, 0xdeadbeef); /* untouched */
}

static void test_parse_size_good(void **state)
{
	(void)state;
	size_ok("256M", 256ULL << 20);
	size_ok("256m", 256ULL << 20);
	size_ok("1G", 1ULL << 30);
	size_ok("1g", 1ULL << 30);
	size_ok("4096K", 4096ULL << 10);
	size_ok("4K", 4096);
	size_ok("65536", 65536ULL << 20); /* a bare number is MiB */
	size_ok("512MB", 512ULL << 20);
	size_ok("512Mi", 512ULL << 20);
	size_ok("2T", 2ULL << 40);
	size_ok("17179869183G", 17179869183ULL << 30); /* the largest G that fits */
}

static void test_parse_size_bad(void **state)
{
	(void)state;
	size_bad("0", "zero");
	size_bad("0G", "zero");
	size_bad("", NULL);
	size_bad("12Q", NULL);
	size_bad("-1", NULL);
	size_bad("+1G", NULL);
	size_bad(" 1G", NULL);
	size_bad("1G ", NULL);
	size_bad("1.5G", NULL);
	size_bad("G", NULL);
	size_bad("1GG", NULL);
	size_bad("0x100000", NULL);
	size_bad("18446744073709551616", "too large");
	size_bad("99999999999G", "too large");
	size_bad("17179869184G", "too large");
	size_bad("4097K", "4 KiB");
	size_bad("1K", "4 KiB");
}

#define ARGV(...) ((char *[]){ "minivmm", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "minivmm", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(cfg, ...) cli_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (cfg))

static void test_defaults(void **state)
{
	struct config cfg;

	(void)state;
	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(PARSE(&cfg, "--kernel", "bzImage"), 0);
	assert_string_equal(cfg.kernel, "bzImage");
	assert_null(cfg.initrd);
	assert_string_equal(cfg.cmdline, DEFAULT_CMDLINE);
	assert_int_equal(cfg.mem_size, DEFAULT_MEM);
	assert_int_equal(cfg.cpus, 1);
	assert_null(cfg.cpu_features);
	assert_false(cfg.debug);
}

static void test_every_option(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--kernel", "k.img", "--initrd", "i.gz", "--cmdline",
			       "console=ttyS0 quiet", "--mem", "1G", "--cpus", "4",
			       "--cpu-features", "-cx16,+x2apic", "--debug"),
			 0);
	assert_string_equal(cfg.kernel, "k.img");
	assert_string_equal(cfg.initrd, "i.gz");
	assert_string_equal(cfg.cmdline, "console=ttyS0 quiet");
	assert_int_equal(cfg.mem_size, 1ULL << 30);
	assert_int_equal(cfg.cpus, 4);
	assert_string_equal(cfg.cpu_features, "-cx16,+x2apic");
	assert_true(cfg.debug);

	/* Short forms and --opt=value. */
	assert_int_equal(PARSE(&cfg, "-k", "a", "-i", "b", "-a", "c", "-m", "512", "-c", "2"), 0);
	assert_string_equal(cfg.kernel, "a");
	assert_string_equal(cfg.initrd, "b");
	assert_string_equal(cfg.cmdline, "c");
	assert_int_equal(cfg.mem_size, 512ULL << 20);
	assert_int_equal(cfg.cpus, 2);
	assert_int_equal(PARSE(&cfg, "--kernel=x", "--mem=2G", "--cpus=254"), 0);
	assert_string_equal(cfg.kernel, "x");
	assert_int_equal(cfg.mem_size, 2ULL << 30);
	assert_int_equal(cfg.cpus, MAX_CPUS);
	/* A later option wins; defaults are back on the next call. */
	assert_int_equal(PARSE(&cfg, "-k", "a", "-k", "b"), 0);
	assert_string_equal(cfg.kernel, "b");
	assert_int_equal(cfg.cpus, 1);
	assert_false(cfg.debug);
}

static void test_errors(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(cli_parse(1, ARGV(NULL), &cfg), -1); /* no --kernel */
	assert_int_equal(PARSE(&cfg, "--mem", "1G"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--bogus"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "-z"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--mem"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "-m"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--debug=yes"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--mem", "12Q"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--mem", "0"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--cpus", "0"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--cpus", "255"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--cpus", "abc"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--cpus", "2x"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--cpus", ""), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--cpus", "-1"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--cpus", "99999999999999999999"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "stray"), -1);
	assert_int_equal(PARSE(&cfg, "stray", "--kernel", "k"), -1);
	/* After all that, a good command line still parses. */
	assert_int_equal(PARSE(&cfg, "--kernel", "k"), 0);
}

static void test_help_version(void **state)
{
	struct config cfg;

	(void)state;
	assert_int_equal(PARSE(&cfg, "--help"), 1);
	assert_int_equal(PARSE(&cfg, "-h"), 1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--help"), 1);
	assert_int_equal(PARSE(&cfg, "--version"), 1);
	assert_int_equal(PARSE(&cfg, "-V"), 1);
}

/* Forget any state getopt kept from an earlier parse (optind = 0 is glibc's full reset). */
static void reset_getopt(void)
{
	optind = 0;
	opterr = 0;
	getopt(1, (char *[]){ "x", NULL }, "");
}

/* Run cli_parse with stderr captured into @msg. */
static int parse_captured(int argc, char **argv, struct config *cfg, char *msg, size_t cap)
{
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);

	assert_non_null(tmp);
	assert_true(saved >= 0);
	fflush(stderr);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	int rc = cli_parse(argc, argv, cfg);

	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	size_t n = fread(msg, 1, cap - 1, tmp);

	msg[n] = '\0';
	fclose(tmp);
	fputs(msg, stderr); /* still show it */
	return rc;
}

static void test_error_names_option(void **state)
{
	struct config cfg;
	char msg[256];

	(void)state;
	reset_getopt();
	assert_int_equal(parse_captured(ARGC("--bogus", "-k", "k"), ARGV("--bogus", "-k", "k"), &cfg,
					msg, sizeof(msg)),
			 -1);
	assert_non_null(strstr(msg, "--bogus"));
	assert_int_equal(parse_captured(ARGC("-k", "k", "--cpus", "0"),
					ARGV("-k", "k", "--cpus", "0"), &cfg, msg, sizeof(msg)),
			 -1);
	assert_non_null(strstr(msg, "--cpus 0"));
}

/*
 * An unknown option inside a group of short options ("-zV"): the message
 * should name it. vmm/cli.c prints argv[optind - 1], which getopt has not
 * advanced yet inside a group, so it names argv[0] (the program) instead.
 */
static void test_error_names_grouped_option(void **state)
{
	struct config cfg;
	char msg[256];

	(void)state;
	reset_getopt();
	assert_int_equal(parse_captured(ARGC("-k", "k", "-zV"), ARGV("-k", "k", "-zV"), &cfg, msg,
					sizeof(msg)),
			 -1);
	if (!strstr(msg, "-z"))
		fail_msg("message does not name -z: %s", msg);
	reset_getopt();
}

/*
 * cli_parse must parse each argv afresh. It resets getopt with optind = 1,
 * which leaves glibc's position inside a group of short options: after an
 * error in "-zV" the next call carries on at the stale "V" of the old argv.
 */
static void test_parse_again_after_group_error(void **state)
{
	struct config cfg;

	(void)state;
	reset_getopt();
	assert_int_equal(PARSE(&cfg, "-k", "k", "-zV"), -1);
	assert_int_equal(PARSE(&cfg, "--kernel", "k", "--cpus", "2"), 0);
	assert_string_equal(cfg.kernel, "k");
	assert_int_equal(cfg.cpus, 2);
	reset_getopt();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_size_good),
		cmocka_unit_test(test_parse_size_bad),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_option),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_help_version),
		cmocka_unit_test(test_error_names_option),
		cmocka_unit_test(test_error_names_grouped_option),
		cmocka_unit_test(test_parse_again_after_group_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
