/* test_hash.c - Check suite for hash.h: XXH3-64 and XXH128 against known
 * values, seeds, the streaming state, and the hex form that the xxhsum
 * tools print.
 *
 * Where the expected values come from:
 *  - "xxhsum": xxhsum 0.8.1 (Debian package xxhash) on files holding the
 *    input, `xxhsum -H3 FILE` (XXH3-64) and `xxhsum -H2 FILE` (XXH128);
 *    the hex strings are copied as printed.
 *  - "sanity": the self-test table of xxHash's own xxhsum
 *    (cli/xsum_sanity_check.c, XSUM_XXH3_testdata / XSUM_XXH128_testdata),
 *    whose input is the buffer that sanity_buffer() below rebuilds.
 */
#include "base/error.h"
#include "base/hash.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define PRIME32 2654435761u
#define PRIME64 11400714785074694797ull

/* The xxhsum self-test input: the top byte of PRIME32 * PRIME64^i. */
static void sanity_buffer(unsigned char *buf, size_t n)
{
	uint64_t gen = PRIME32;
	for (size_t i = 0; i < n; i++) {
		buf[i] = (unsigned char)(gen >> 56);
		gen *= PRIME64;
	}
}

/* The file pat.bin given to xxhsum: 100000 bytes, byte i is
 * (i * 131 + (i >> 8)) & 0xff; made with
 * python3 -c "import sys; sys.stdout.buffer.write(bytes(((i*131) + (i>>8))
 *   & 0xff for i in range(100000)))" > pat.bin */
#define PATTERN_LEN 100000
static unsigned char *pattern(void)
{
	unsigned char *p = malloc(PATTERN_LEN);
	for (size_t i = 0; i < PATTERN_LEN; i++)
		p[i] = (unsigned char)((i * 131 + (i >> 8)) & 0xff);
	return p;
}

static const char *hex64(uint64_t h)
{
	static char buf[RC_HASH64_HEX_SIZE];
	return rc_hash64_hex(h, buf);
}

static const char *hex128(struct rc_hash128 h)
{
	static char buf[RC_HASH128_HEX_SIZE];
	return rc_hash128_hex(h, buf);
}

static const char fox[] = "The quick brown fox jumps over the lazy dog";

START_TEST(test_xxhsum_vectors)
{
	/* xxhsum: the empty file, "abc", the fox sentence (no newline). */
	ck_assert_str_eq(hex64(rc_hash64(NULL, 0)), "2d06800538d394c2");
	ck_assert_str_eq(hex64(rc_hash64("abc", 3)), "78af5f94892f3950");
	ck_assert_str_eq(hex64(rc_hash64(fox, strlen(fox))), "ce7d19a5418fb365");
	ck_assert_str_eq(hex128(rc_hash128("", 0)),
			 "99aa06d3014798d86001c324468d497f");
	ck_assert_str_eq(hex128(rc_hash128("abc", 3)),
			 "06b05ab6733a618578af5f94892f3950");
	ck_assert_str_eq(hex128(rc_hash128(fox, strlen(fox))),
			 "ddd650205ca3e7fa24a1cc2e3a8a7651");

	unsigned char *p = pattern();
	ck_assert_str_eq(hex64(rc_hash64(p, PATTERN_LEN)), "45169176f633139f");
	ck_assert_str_eq(hex128(rc_hash128(p, PATTERN_LEN)),
			 "222a45d78d28b13645169176f633139f");
	free(p);
}
END_TEST

START_TEST(test_values_not_just_hex)
{
	/* The same vectors as numbers: the hex is the value, MSB first. */
	ck_assert_uint_eq(rc_hash64("abc", 3), 0x78af5f94892f3950ull);
	struct rc_hash128 h = rc_hash128("abc", 3);
	ck_assert_uint_eq(h.hi, 0x06b05ab6733a6185ull);
	ck_assert_uint_eq(h.lo, 0x78af5f94892f3950ull);
}
END_TEST

/* sanity: XXH3_64bits_withSeed over the first len bytes. */
static const struct { size_t len; uint64_t seed, hash; } v64[] = {
	{ 0, 0, 0x2D06800538D394C2ull },
	{ 0, PRIME64, 0xA8A6B918B2F0364Aull },
	{ 1, 0, 0xC44BDFF4074EECDBull },
	{ 6, PRIME64, 0x84589C116AB59AB9ull },
	{ 12, 0, 0xA713DAF0DFBB77E7ull },
	{ 24, PRIME64, 0x850E80FC35BDD690ull },
	{ 48, 0, 0x397DA259ECBA1F11ull },
	{ 80, PRIME64, 0xC6DD0CB699532E73ull },
	{ 195, 0, 0xCD94217EE362EC3Aull },
	{ 403, PRIME64, 0x6259F6ECFD6443FDull },
	{ 512, 0, 0x617E49599013CB6Bull },
	{ 2048, PRIME64, 0x66F81670669ABABCull },
	{ 2240, 0, 0x6E73A90539CF2948ull },
	{ 2367, PRIME64, 0xD2DB3415B942B42Aull },
};

/* sanity: XXH3_128bits_withSeed, { lo, hi } as in the table. */
static const struct { size_t len; uint64_t seed, lo, hi; } v128[] = {
	{ 0, PRIME32, 0x5444F7869C671AB0ull, 0x92220AE55E14AB50ull },
	{ 1, 0, 0xC44BDFF4074EECDBull, 0xA6CD5E9392000F6Aull },
	{ 12, PRIME32, 0x9BE9F9A67F3C7DFBull, 0xD7E09D518A3405D3ull },
	{ 81, 0, 0x5E8BAFB9F95FB803ull, 0x4952F58181AB0042ull },
	{ 222, PRIME32, 0xAE995BB8AF917A8Dull, 0x91820016621E97F1ull },
	{ 403, PRIME64, 0x6259F6ECFD6443FDull, 0xBED311971E0BE8F2ull },
	{ 2048, PRIME32, 0x230D43F30206260Bull, 0x7FB03F7E7186C3EAull },
	{ 2367, 0, 0xCB37AEB9E5D361EDull, 0xE89C0F6FF369B427ull },
};

START_TEST(test_sanity_seeded)
{
	unsigned char buf[2367];
	sanity_buffer(buf, sizeof buf);
	for (size_t i = 0; i < sizeof v64 / sizeof v64[0]; i++) {
		uint64_t h = rc_hash64_seed(buf, v64[i].len, v64[i].seed);
		ck_assert_msg(h == v64[i].hash, "XXH3-64 len %zu seed %llx: "
			      "got %016llx", v64[i].len,
			      (unsigned long long)v64[i].seed,
			      (unsigned long long)h);
		if (v64[i].seed == 0)
			ck_assert_uint_eq(rc_hash64(buf, v64[i].len), h);
	}
	for (size_t i = 0; i < sizeof v128 / sizeof v128[0]; i++) {
		struct rc_hash128 h = rc_hash128_seed(buf, v128[i].len,
						      v128[i].seed);
		ck_assert_msg(h.lo == v128[i].lo && h.hi == v128[i].hi,
			      "XXH128 len %zu: got %s", v128[i].len, hex128(h));
		if (v128[i].seed == 0) {
			struct rc_hash128 u = rc_hash128(buf, v128[i].len);
			ck_assert(u.lo == h.lo && u.hi == h.hi);
		}
	}
}
END_TEST

START_TEST(test_streaming)
{
	/* Any split of the input gives the one-shot hash, for both digests
	 * of the one state, with and without a seed. */
	unsigned char *p = pattern();
	static const uint64_t seeds[] = { 0, 1, PRIME64 };
	static const size_t steps[] = { 1, 7, 64, 240, 1000, 4096, PATTERN_LEN };
	for (size_t s = 0; s < 3; s++)
		for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
			struct rc_hash_state st;
			ck_assert_int_eq(rc_hash_init(&st, seeds[s]), 0);
			for (size_t off = 0; off < PATTERN_LEN; off += steps[k]) {
				size_t n = PATTERN_LEN - off < steps[k] ?
					   PATTERN_LEN - off : steps[k];
				ck_assert_int_eq(rc_hash_update(&st, p + off, n), 0);
			}
			ck_assert_uint_eq(rc_hash_digest64(&st),
					  rc_hash64_seed(p, PATTERN_LEN, seeds[s]));
			struct rc_hash128 a = rc_hash_digest128(&st);
			struct rc_hash128 b = rc_hash128_seed(p, PATTERN_LEN, seeds[s]);
			ck_assert(a.lo == b.lo && a.hi == b.hi);
			rc_hash_free(&st);
			rc_hash_free(&st); /* twice is harmless */
		}
	/* And the stream agrees with xxhsum. */
	struct rc_hash_state st;
	ck_assert_int_eq(rc_hash_init(&st, 0), 0);
	rc_hash_update(&st, p, 12345);
	/* A digest in the middle does not end the stream. */
	ck_assert_uint_eq(rc_hash_digest64(&st), rc_hash64(p, 12345));
	rc_hash_update(&st, p + 12345, PATTERN_LEN - 12345);
	ck_assert_str_eq(hex64(rc_hash_digest64(&st)), "45169176f633139f");
	ck_assert_str_eq(hex128(rc_hash_digest128(&st)),
			 "222a45d78d28b13645169176f633139f");
	rc_hash_free(&st);
	free(p);

	struct rc_hash_state none = { 0 };
	ck_assert_int_eq(rc_hash_update(&none, "x", 1), RC_E_ARG);
}
END_TEST

START_TEST(test_seeds_differ)
{
	ck_assert_uint_ne(rc_hash64_seed("abc", 3, 1), rc_hash64("abc", 3));
	ck_assert_uint_ne(rc_hash64_seed("abc", 3, 1),
			  rc_hash64_seed("abc", 3, 2));
}
END_TEST

START_TEST(test_hex)
{
	char b64[RC_HASH64_HEX_SIZE], b128[RC_HASH128_HEX_SIZE];
	ck_assert_str_eq(rc_hash64_hex(0, b64), "0000000000000000");
	ck_assert_str_eq(rc_hash64_hex(0x0123456789abcdefull, b64),
			 "0123456789abcdef");
	ck_assert_str_eq(rc_hash64_hex(UINT64_MAX, b64), "ffffffffffffffff");
	struct rc_hash128 h = { .lo = 0x1, .hi = 0xfedcba9876543210ull };
	ck_assert_str_eq(rc_hash128_hex(h, b128),
			 "fedcba98765432100000000000000001");
	ck_assert_uint_eq(strlen(b128), 32);
}
END_TEST

START_TEST(test_parse)
{
	uint64_t h = 0;
	ck_assert_int_eq(rc_hash64_parse("78af5f94892f3950", &h), 0);
	ck_assert_uint_eq(h, 0x78af5f94892f3950ull);
	ck_assert_int_eq(rc_hash64_parse("78AF5F94892F3950", &h), 0);
	ck_assert_uint_eq(h, 0x78af5f94892f3950ull);
	h = 42;
	ck_assert_int_eq(rc_hash64_parse("78af5f94892f395", &h), RC_E_FORMAT);
	ck_assert_int_eq(rc_hash64_parse("78af5f94892f39500", &h), RC_E_FORMAT);
	ck_assert_int_eq(rc_hash64_parse("78af5f94892f395g", &h), RC_E_FORMAT);
	ck_assert_int_eq(rc_hash64_parse(" 8af5f94892f3950", &h), RC_E_FORMAT);
	ck_assert_int_eq(rc_hash64_parse("", &h), RC_E_FORMAT);
	ck_assert_uint_eq(h, 42); /* untouched on error */
	/* Round trip. */
	char b[RC_HASH64_HEX_SIZE];
	ck_assert_int_eq(rc_hash64_parse(rc_hash64_hex(PRIME64, b), &h), 0);
	ck_assert_uint_eq(h, PRIME64);
}
END_TEST

static Suite *hash_suite(void)
{
	Suite *s = suite_create("hash");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_xxhsum_vectors);
	tcase_add_test(tc, test_values_not_just_hex);
	tcase_add_test(tc, test_sanity_seeded);
	tcase_add_test(tc, test_streaming);
	tcase_add_test(tc, test_seeds_differ);
	tcase_add_test(tc, test_hex);
	tcase_add_test(tc, test_parse);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rc_test_run(hash_suite());
}
