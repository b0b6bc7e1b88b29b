/* The monitor's word splitting: quoting, limits, hostile bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "../../vmm/monitor_parse.h"

static int split(const char *text, char **words, char *buf, const char **why)
{
	strcpy(buf, text);
	return monitor_split(buf, words, why);
}

static void test_plain_words(void **state)
{
	char buf[256], *w[MONITOR_MAX_WORDS];
	const char *why;

	(void)state;
	assert_int_equal(split("info status", w, buf, &why), 2);
	assert_string_equal(w[0], "info");
	assert_string_equal(w[1], "status");
	assert_int_equal(split("  \tsavevm   s1 \r", w, buf, &why), 2);
	assert_string_equal(w[0], "savevm");
	assert_string_equal(w[1], "s1");
	assert_int_equal(split("", w, buf, &why), 0);
	assert_int_equal(split("   ", w, buf, &why), 0);
}

static void test_quotes(void **state)
{
	char buf[256], *w[MONITOR_MAX_WORDS];
	const char *why;

	(void)state;
	assert_int_equal(split("savevm \"a b\"", w, buf, &why), 2);
	assert_string_equal(w[1], "a b");
	assert_int_equal(split("x \"say \\\"hi\\\" \\\\ there\" y", w, buf, &why), 3);
	assert_string_equal(w[1], "say \"hi\" \\ there");
	assert_string_equal(w[2], "y");
	assert_int_equal(split("x \"\"", w, buf, &why), 2);
	assert_string_equal(w[1], "");
}

static void test_errors(void **state)
{
	char buf[256], *w[MONITOR_MAX_WORDS];
	const char *why = NULL;

	(void)state;
	assert_int_equal(split("savevm \"open", w, buf, &why), -1);
	assert_string_equal(why, "unterminated quote");
	assert_int_equal(split("a \"b\"c", w, buf, &why), -1);
	assert_int_equal(split("a b c d e f g h i", w, buf, &why), -1);
	assert_string_equal(why, "too many words");
	assert_int_equal(split("a b c d e f g h", w, buf, &why), 8);
	assert_int_equal(split("info\x01status", w, buf, &why), -1);
	assert_int_equal(split("\x1b[A", w, buf, &why), -1);
}

/* Every byte value at every place: never crashes, never reads past the line. */
static void test_all_bytes(void **state)
{
	char buf[8], *w[MONITOR_MAX_WORDS];
	const char *why;

	(void)state;
	for (int c = 1; c < 256; c++) {
		for (int pos = 0; pos < 6; pos++) {
			memset(buf, 'a', 6);
			buf[pos] = (char)c;
			buf[6] = '\0';
			int n = monitor_split(buf, w, &why);

			assert_true(n >= -1 && n <= MONITOR_MAX_WORDS);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_words),
		cmocka_unit_test(test_quotes),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_all_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
