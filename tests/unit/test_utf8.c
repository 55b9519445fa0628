/* test_utf8.c - Check suite for utf8.h: round trips, and invalid input
 * replaced as Python's bytes.decode("utf-8", "replace") does (the expected
 * counts below are what CPython 3.11 gives for the same bytes). */
#include "base/utf8.h"

#include <check.h>
#include <string.h>

#include "testutil.h"

static size_t dec(const char *s, size_t len, uint32_t *out, size_t *bad)
{
	return rc_utf8_decode(s, len, out, bad);
}

START_TEST(test_roundtrip)
{
	const char *s = "a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80z"; /* a é 中 😀 z */
	uint32_t cps[32];
	size_t bad = 9;
	size_t n = dec(s, strlen(s), cps, &bad);
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(cps[1], 0xE9);
	ck_assert_uint_eq(cps[2], 0x4E2D);
	ck_assert_uint_eq(cps[3], 0x1F600);
	char back[64];
	size_t k = rc_utf8_encode(cps, n, back);
	ck_assert_uint_eq(k, strlen(s));
	ck_assert(memcmp(back, s, k) == 0);
}
END_TEST

/* Each case: bytes, expected code points (FFFD marks a replacement). */
START_TEST(test_invalid)
{
	static const struct {
		const char *s;
		size_t len;
		size_t n, bad;
		uint32_t first;
	} cases[] = {
		{"\x80", 1, 1, 1, 0xFFFD},              /* lone continuation */
		{"\xc3", 1, 1, 1, 0xFFFD},              /* truncated 2-byte */
		{"\xe4\xb8", 2, 1, 1, 0xFFFD},          /* truncated 3-byte: one U+FFFD */
		{"\xe0\x80\x80", 3, 3, 3, 0xFFFD},      /* overlong: each byte */
		{"\xed\xa0\x80", 3, 3, 3, 0xFFFD},      /* surrogate */
		{"\xf4\x90\x80\x80", 4, 4, 4, 0xFFFD},  /* past U+10FFFF */
		{"\xc0\xaf", 2, 2, 2, 0xFFFD},          /* C0 never valid */
		{"\xf0\x9f\x98", 3, 1, 1, 0xFFFD},      /* truncated 4-byte */
		{"\xef\xbf\xbd", 3, 1, 0, 0xFFFD},      /* a real U+FFFD is no error */
		{"a\xffz", 3, 3, 1, 'a'},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint32_t cps[8];
		size_t bad;
		size_t n = dec(cases[i].s, cases[i].len, cps, &bad);
		ck_assert_msg(n == cases[i].n, "case %zu: %zu code points, expected %zu", i, n, cases[i].n);
		ck_assert_msg(bad == cases[i].bad, "case %zu: %zu replaced, expected %zu", i, bad, cases[i].bad);
		ck_assert_uint_eq(cps[0], cases[i].first);
	}
}
END_TEST

START_TEST(test_encode_lengths)
{
	char b[4];
	ck_assert_uint_eq(rc_utf8_encode1(0x7F, b), 1);
	ck_assert_uint_eq(rc_utf8_encode1(0x80, b), 2);
	ck_assert_uint_eq(rc_utf8_encode1(0x7FF, b), 2);
	ck_assert_uint_eq(rc_utf8_encode1(0x800, b), 3);
	ck_assert_uint_eq(rc_utf8_encode1(0xFFFF, b), 3);
	ck_assert_uint_eq(rc_utf8_encode1(0x10000, b), 4);
	ck_assert_uint_eq(rc_utf8_encode1(0x10FFFF, b), 4);
	ck_assert(memcmp(b, "\xf4\x8f\xbf\xbf", 4) == 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_invalid);
	tcase_add_test(tc, test_encode_lengths);
	suite_add_tcase(s, tc);
	return rc_test_run(s);
}
