/* test_error.c - Check suite for error.h and log.h: code names, the
 * "prog: message" form, levels, hints, and rc_log_error's return value.
 * stderr is captured by pointing fd 2 at a temporary file.
 */
#include "base/error.h"
#include "base/log.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* ---------------------------------------------------------------- tests */

/* Every code from RC_OK down to the last one. */
static const int all_codes[] = {
	RC_OK, RC_E_NOMEM, RC_E_IO, RC_E_FORMAT, RC_E_CHECKSUM, RC_E_VERSION,
	RC_E_RANGE, RC_E_ARG, RC_E_NOTFOUND, RC_E_UNSUPPORTED,
	RC_E_INTERRUPTED, RC_E_TRUNCATED,
};
#define NCODES (sizeof all_codes / sizeof all_codes[0])

START_TEST(test_names_distinct)
{
	for (size_t i = 0; i < NCODES; i++) {
		const char *a = rc_strerror(all_codes[i]);
		ck_assert_ptr_nonnull(a);
		ck_assert_msg(a[0] != '\0', "code %d has an empty name",
			      all_codes[i]);
		ck_assert_msg(strcmp(a, "unknown error") != 0,
			      "code %d has no name", all_codes[i]);
		for (size_t j = 0; j < i; j++)
			ck_assert_msg(strcmp(a, rc_strerror(all_codes[j])) != 0,
				      "codes %d and %d share the name \"%s\"",
				      all_codes[i], all_codes[j], a);
	}
}
END_TEST

START_TEST(test_names_fixed)
{
	/* Tools and tests match these strings: they must not drift. */
	ck_assert_str_eq(rc_strerror(RC_OK), "success");
	ck_assert_str_eq(rc_strerror(RC_E_IO), "input/output error");
	ck_assert_str_eq(rc_strerror(RC_E_TRUNCATED), "truncated input");
}
END_TEST

START_TEST(test_unknown_code)
{
	ck_assert_str_eq(rc_strerror(-12), "unknown error");
	ck_assert_str_eq(rc_strerror(-1000), "unknown error");
	ck_assert_str_eq(rc_strerror(1), "unknown error");
}
END_TEST

START_TEST(test_log_error_returns_code)
{
	rc_log_init("prog");
	capture_begin();
	int rc = rc_log_error(RC_E_FORMAT, "%s:%d: bad magic", "a.rcs", 3);
	const char *out = capture_end();
	ck_assert_int_eq(rc, RC_E_FORMAT);
	ck_assert_str_eq(out, "prog: a.rcs:3: bad magic\n");
}
END_TEST

START_TEST(test_log_progname_basename)
{
	rc_log_init("/usr/local/bin/rclip-shard");
	ck_assert_str_eq(rc_log_progname(), "rclip-shard");
	capture_begin();
	rc_log_error(RC_E_IO, "x");
	ck_assert_str_eq(capture_end(), "rclip-shard: x\n");
}
END_TEST

START_TEST(test_log_levels)
{
	rc_log_init("prog");
	rc_log_set_level(RC_LOG_ERROR);
	capture_begin();
	rc_log_warn("w%d", 1);
	rc_log_info("i");
	rc_log_debug("d");
	rc_log_hint("try -o FILE");
	rc_log_error(RC_E_ARG, "e");
	ck_assert_str_eq(capture_end(), "prog: hint: try -o FILE\nprog: e\n");

	rc_log_set_level(RC_LOG_DEBUG);
	ck_assert_int_eq(rc_log_level(), RC_LOG_DEBUG);
	capture_begin();
	rc_log_warn("w%d", 1);
	rc_log_info("i");
	rc_log_debug("d");
	ck_assert_str_eq(capture_end(),
			 "prog: warning: w1\nprog: i\nprog: debug: d\n");
	rc_log_set_level(RC_LOG_WARN);
}
END_TEST

START_TEST(test_log_long_message)
{
	/* A message longer than the line buffer is cut but keeps its
	 * newline, so the next message starts on its own line. */
	char big[10000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	rc_log_init("prog");
	capture_begin();
	rc_log_error(RC_E_IO, "%s", big);
	rc_log_error(RC_E_IO, "next");
	const char *out = capture_end();
	ck_assert_int_eq(strncmp(out, "prog: xxx", 9), 0);
	const char *nl = strchr(out, '\n');
	ck_assert_ptr_nonnull(nl);
	ck_assert_str_eq(nl + 1, "prog: next\n");
}
END_TEST

static Suite *error_suite(void)
{
	Suite *s = suite_create("error");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_names_distinct);
	tcase_add_test(tc, test_names_fixed);
	tcase_add_test(tc, test_unknown_code);
	tcase_add_test(tc, test_log_error_returns_code);
	tcase_add_test(tc, test_log_progname_basename);
	tcase_add_test(tc, test_log_levels);
	tcase_add_test(tc, test_log_long_message);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rc_test_run(error_suite());
}
