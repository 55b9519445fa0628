/* test_textclean.c - Check suite for textclean.h: each step of open_clip's
 * caption cleaning on cases whose expected output open_clip itself computed
 * (tests/fixtures/gen_textclean_cases.py), plus invalid UTF-8 and the
 * ASCII fast path agreeing with the general path. */
#include "text/textclean.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "base/utf8.h"

static const struct {
	const char *doc, *in, *want;
} cases[] = {
#include "../fixtures/textclean-cases.inc"
};

static char *clean(struct rc_textclean *tc, const char *s, size_t len)
{
	const uint32_t *cps;
	size_t n;
	ck_assert_int_eq(rc_textclean_run(tc, s, len, &cps, &n), 0);
	char *out = malloc(4 * n + 1);
	size_t k = rc_utf8_encode(cps, n, out);
	out[k] = 0;
	return out;
}

START_TEST(test_reference_cases)
{
	struct rc_textclean *tc = rc_textclean_new();
	ck_assert_ptr_nonnull(tc);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *got = clean(tc, cases[i].in, strlen(cases[i].in));
		ck_assert_msg(!strcmp(got, cases[i].want), "%s: got \"%s\", expected \"%s\"",
			cases[i].doc, got, cases[i].want);
		free(got);
	}
	rc_textclean_free(tc);
}
END_TEST

/* NUL bytes are removed (ftfy's control characters), not an end of text. */
START_TEST(test_embedded_nul)
{
	struct rc_textclean *tc = rc_textclean_new();
	char *got = clean(tc, "A\0B C", 5);
	ck_assert_str_eq(got, "ab c");
	free(got);
	rc_textclean_free(tc);
}
END_TEST

START_TEST(test_invalid_utf8_counted)
{
	struct rc_textclean *tc = rc_textclean_new();
	char *got = clean(tc, "caf\xc3 ok \xff", 9);
	ck_assert_str_eq(got, "caf\xef\xbf\xbd ok \xef\xbf\xbd");
	ck_assert_uint_eq(rc_textclean_invalid(tc), 2);
	free(got);
	got = clean(tc, "fine", 4);
	ck_assert_uint_eq(rc_textclean_invalid(tc), 0);
	free(got);
	rc_textclean_free(tc);
}
END_TEST

/* The ASCII fast path and the general path give the same result: a
 * non-ASCII character far from the text sends the same text down the
 * general path (U+00A0 is whitespace and is collapsed away). */
START_TEST(test_fast_path_agrees)
{
	static const char *texts[] = {
		"A Photo Of  A\tCAT\n", "   ", "", "x\fy", "IT'S 12:30, OK?!", "<end_of_text>",
	};
	struct rc_textclean *tc = rc_textclean_new();
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		char *a = clean(tc, texts[i], strlen(texts[i]));
		char buf[128];
		snprintf(buf, sizeof buf, "%s \xc2\xa0", texts[i]);
		char *b = clean(tc, buf, strlen(buf));
		ck_assert_msg(!strcmp(a, b), "\"%s\": fast \"%s\" general \"%s\"", texts[i], a, b);
		free(a);
		free(b);
	}
	rc_textclean_free(tc);
}
END_TEST

START_TEST(test_long_line)
{
	size_t n = 3u << 20; /* past ftfy's 1,000,000-character segments */
	char *s = malloc(n);
	for (size_t i = 0; i < n; i++)
		s[i] = (i % 7 == 6) ? ' ' : (char)('A' + i % 26);
	s[10] = '\xc3';
	s[11] = '\xa9'; /* é: the general path */
	struct rc_textclean *tc = rc_textclean_new();
	const uint32_t *cps;
	size_t m;
	ck_assert_int_eq(rc_textclean_run(tc, s, n, &cps, &m), 0);
	ck_assert_uint_eq(m, n - 1);
	ck_assert_uint_eq(cps[10], 0xE9);
	ck_assert_uint_eq(cps[0], 'a');
	rc_textclean_free(tc);
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("textclean");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_reference_cases);
	tcase_add_test(tc, test_embedded_nul);
	tcase_add_test(tc, test_invalid_utf8_counted);
	tcase_add_test(tc, test_fast_path_agrees);
	tcase_add_test(tc, test_long_line);
	suite_add_tcase(s, tc);
	return rc_test_run(s);
}
