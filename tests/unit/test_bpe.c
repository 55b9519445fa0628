/* test_bpe.c - Check suite for bpe.h: the vocabulary, merges against
 * open_clip's bpe() (tests/fixtures/tokenizer/bpe-cases.tsv, written by
 * gen_tokenizer.py), pre-token splitting, special tokens, packing rows with
 * truncation and padding, decoding, the vocab.json path and bad files. */
#include "text/bpe.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"

#include "testutil.h"

static struct rc_bpe *bpe;
static struct rc_bpe_state *st;

static const char *srcdir(void)
{
	const char *d = getenv("top_srcdir");
	return d ? d : ".";
}

static void setup(void)
{
	ck_assert_int_eq(rc_bpe_load(&bpe, NULL, NULL), 0);
	st = rc_bpe_state_new(bpe);
	ck_assert_ptr_nonnull(st);
}

static void teardown(void)
{
	rc_bpe_state_free(st);
	rc_bpe_free(bpe);
}

/* ids of text, copied (the state's buffer is reused) */
static size_t enc(const char *text, int32_t *out, size_t max)
{
	const int32_t *ids;
	size_t n;
	ck_assert_int_eq(rc_bpe_encode(st, text, strlen(text), &ids, &n), 0);
	ck_assert_uint_le(n, max);
	memcpy(out, ids, n * sizeof *ids);
	return n;
}

/* ids of one piece through bpe() alone */
static size_t word(const char *piece, int32_t *out)
{
	const int32_t *ids;
	size_t n;
	ck_assert_int_eq(rc_bpe_word(st, piece, strlen(piece), &ids, &n), 0);
	memcpy(out, ids, n * sizeof *ids);
	return n;
}

START_TEST(test_vocabulary)
{
	ck_assert_uint_eq(rc_bpe_merges(bpe), RC_BPE_CLIP_MERGES);
	ck_assert_uint_eq(rc_bpe_vocab_size(bpe), 49408);
	ck_assert_int_eq(rc_bpe_sot(bpe), 49406);
	ck_assert_int_eq(rc_bpe_eot(bpe), 49407);
	size_t len;
	int eow;
	/* id 0 is '!', the first printable byte; 256 is "!</w>" */
	const char *b = rc_bpe_token_bytes(bpe, 0, &len, &eow);
	ck_assert(len == 1 && b[0] == '!' && !eow);
	b = rc_bpe_token_bytes(bpe, 256, &len, &eow);
	ck_assert(len == 1 && b[0] == '!' && eow);
	/* byte 0x00 comes after the 188 printable bytes */
	b = rc_bpe_token_bytes(bpe, 188, &len, &eow);
	ck_assert(len == 1 && b[0] == 0 && !eow);
	ck_assert_ptr_null(rc_bpe_token_bytes(bpe, 49408, &len, &eow));
	ck_assert_ptr_null(rc_bpe_token_bytes(bpe, -1, &len, &eow));
}
END_TEST

/* ids from open_clip.tokenizer._tokenizer.encode (open_clip 3.x). */
START_TEST(test_known_ids)
{
	int32_t ids[64];
	size_t n = enc("A photo of a CAT.", ids, 64);
	static const int32_t want[] = {320, 1125, 539, 320, 2368, 269};
	ck_assert_uint_eq(n, 6);
	ck_assert(!memcmp(ids, want, sizeof want));
	n = enc("", ids, 64);
	ck_assert_uint_eq(n, 0);
	n = enc(" \t \n ", ids, 64);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* Every line of bpe-cases.tsv: piece TAB byte symbols TAB bpe() output
 * TAB ids. */
START_TEST(test_merges_reference)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/fixtures/tokenizer/bpe-cases.tsv", srcdir());
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	char line[8192];
	int cases = 0;
	while (fgets(line, sizeof line, f)) {
		if (line[0] == '#')
			continue;
		line[strcspn(line, "\n")] = 0;
		char *t1 = strchr(line, '\t');
		char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		char *t3 = t2 ? strchr(t2 + 1, '\t') : NULL;
		ck_assert_msg(t1 && t2 && t3, "bad line in %s: %s", path, line);
		*t1 = *t2 = *t3 = 0;
		t1 = t2; /* the pieces, for messages */
		t2 = t3;
		int32_t got[1024];
		size_t n = word(line, got);
		size_t k = 0;
		for (char *p = t2 + 1; *p; k++) {
			char *e;
			long v = strtol(p, &e, 10);
			ck_assert_msg(k < n && got[k] == v, "piece \"%s\" (%s): id %zu differs", line,
				t1 + 1, k);
			p = e;
		}
		ck_assert_msg(k == n, "piece \"%s\": %zu ids, expected %zu", line, n, k);
		cases++;
	}
	fclose(f);
	ck_assert_int_ge(cases, 100);
}
END_TEST

/* encode(text) is the concatenation of bpe() over the expected pieces. */
START_TEST(test_split)
{
	static const struct {
		const char *text;
		const char *pieces[8];
	} cases[] = {
		{"it's", {"it", "'s"}},
		{"DON'T!!", {"don", "'t", "!!"}},
		{"we're here", {"we", "'re", "here"}},
		{"you'll i'd they've i'm", {"you", "'ll", "i", "'d", "they", "'ve", "i", "'m"}},
		{"''s", {"''", "s"}},
		{"abc123", {"abc", "1", "2", "3"}},
		{"x--y", {"x", "--", "y"}},
		{"caf\xc3\xa9s", {"caf\xc3\xa9s"}},
		{"\xe4\xb8\xad\xe6\x96\x87", {"\xe4\xb8\xad\xe6\x96\x87"}},
		{"\xf0\x9f\x98\x80\xf0\x9f\x98\x80!", {"\xf0\x9f\x98\x80\xf0\x9f\x98\x80!"}},
		{"\xc2\xbd\xc2\xb2", {"\xc2\xbd", "\xc2\xb2"}},
		{"<|endoftext|>", {"<|", "endoftext", "|>"}},
		{"a_b", {"a", "_", "b"}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int32_t got[256], want[256];
		size_t n = enc(cases[i].text, got, 256), m = 0;
		for (size_t p = 0; p < 8 && cases[i].pieces[p]; p++)
			m += word(cases[i].pieces[p], want + m);
		ck_assert_msg(n == m && !memcmp(got, want, n * sizeof *got),
			"\"%s\" is not split as expected", cases[i].text);
	}
}
END_TEST

START_TEST(test_specials)
{
	int32_t ids[64], w[64];
	size_t n = enc("<start_of_text>", ids, 64);
	ck_assert(n == 1 && ids[0] == 49406);
	n = enc("a<END_OF_TEXT>b", ids, 64);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(ids[1], 49407);
	/* inside a punctuation run the pattern never sees it */
	n = enc("!<end_of_text>", ids, 64);
	ck_assert_uint_ne(ids[0], 49407);
	ck_assert(n > 1);
	/* U+017F folds to 's' under the case-insensitive pattern: one piece */
	n = enc("<\xc5\xbftart_of_text>", ids, 64);
	size_t m = word("<\xc5\xbftart_of_text>", w);
	ck_assert(n == m && !memcmp(ids, w, n * sizeof *ids));
	n = enc("'\xc5\xbf", ids, 64);
	m = word("'\xc5\xbf", w);
	ck_assert(n == m && !memcmp(ids, w, n * sizeof *ids));
}
END_TEST

START_TEST(test_pack)
{
	int32_t ids[200], row[77];
	for (int i = 0; i < 200; i++)
		ids[i] = 1000 + i;
	int trunc = -1;
	size_t k = rc_bpe_pack(bpe, ids, 3, row, 77, 0, &trunc);
	ck_assert_uint_eq(k, 5);
	ck_assert_int_eq(trunc, 0);
	ck_assert(row[0] == 49406 && row[1] == 1000 && row[3] == 1002 && row[4] == 49407);
	for (int i = 5; i < 77; i++)
		ck_assert_int_eq(row[i], 0);
	k = rc_bpe_pack(bpe, ids, 75, row, 77, 7, &trunc);
	ck_assert(k == 77 && trunc == 0 && row[75] == 1074 && row[76] == 49407);
	k = rc_bpe_pack(bpe, ids, 76, row, 77, 7, &trunc);
	ck_assert(k == 77 && trunc == 1 && row[75] == 1074 && row[76] == 49407);
	k = rc_bpe_pack(bpe, ids, 0, row, 77, 7, &trunc);
	ck_assert(k == 2 && row[1] == 49407 && row[2] == 7 && row[76] == 7);
}
END_TEST

START_TEST(test_decode)
{
	int32_t ids[64], row[77];
	size_t n = enc("A photo of a CAT.", ids, 64);
	rc_bpe_pack(bpe, ids, n, row, 77, 0, NULL);
	char *txt;
	ck_assert_int_eq(rc_bpe_decode(bpe, row, 77, &txt, NULL), 0);
	ck_assert_str_eq(txt, "a photo of a cat .");
	free(txt);
	n = enc("caf\xc3\xa9 \xe4\xb8\xad", ids, 64);
	ck_assert_int_eq(rc_bpe_decode(bpe, ids, n, &txt, NULL), 0);
	ck_assert_str_eq(txt, "caf\xc3\xa9 \xe4\xb8\xad");
	free(txt);
	/* an end token inside the text is spelled out; the last one frames */
	n = enc("a<end_of_text>b", ids, 64);
	rc_bpe_pack(bpe, ids, n, row, 77, 0, NULL);
	ck_assert_int_eq(rc_bpe_decode(bpe, row, 77, &txt, NULL), 0);
	ck_assert_str_eq(txt, "a <end_of_text>b");
	free(txt);
	int32_t bad[2] = {320, 50000};
	size_t at = 9;
	ck_assert_int_eq(rc_bpe_decode(bpe, bad, 2, &txt, &at), RC_E_RANGE);
	ck_assert_uint_eq(at, 1);
	ck_assert_ptr_null(txt);
}
END_TEST

/* A word of 200,000 letters: one piece, merged in n log n. */
START_TEST(test_long_word)
{
	size_t n = 200000;
	char *s = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		s[i] = (char)('a' + (i * 7 + i / 13) % 26);
	s[n] = 0;
	const int32_t *ids;
	size_t k;
	ck_assert_int_eq(rc_bpe_encode(st, s, n, &ids, &k), 0);
	ck_assert(k > 1000 && k < n);
	char *txt;
	ck_assert_int_eq(rc_bpe_decode(bpe, ids, k, &txt, NULL), 0);
	ck_assert_str_eq(txt, s);
	free(txt);
	free(s);
}
END_TEST

/* The Hugging Face pair (merges.txt + vocab.json, written by the fixture
 * generator) gives the same ids as the shipped merges alone. */
START_TEST(test_hf_vocab)
{
	char m[4096], v[4096];
	snprintf(m, sizeof m, "%s/tests/fixtures/tokenizer/merges.txt.gz", srcdir());
	snprintf(v, sizeof v, "%s/tests/fixtures/tokenizer/vocab.json.gz", srcdir());
	struct rc_bpe *hf;
	ck_assert_int_eq(rc_bpe_load(&hf, m, v), 0);
	ck_assert_int_eq(rc_bpe_sot(hf), 49406);
	ck_assert_int_eq(rc_bpe_eot(hf), 49407);
	struct rc_bpe_state *hst = rc_bpe_state_new(hf);
	static const char *texts[] = {"A photo of a CAT.", "caf\xc3\xa9 \xe4\xb8\xad 123 it's!!", "<end_of_text>"};
	for (size_t i = 0; i < 3; i++) {
		int32_t a[64];
		size_t n = enc(texts[i], a, 64), k;
		const int32_t *b;
		ck_assert_int_eq(rc_bpe_encode(hst, texts[i], strlen(texts[i]), &b, &k), 0);
		ck_assert(n == k && !memcmp(a, b, n * sizeof *a));
	}
	rc_bpe_state_free(hst);
	rc_bpe_free(hf);
}
END_TEST

START_TEST(test_bad_files)
{
	struct rc_bpe *b = (struct rc_bpe *)1;
	rc_log_set_level(-1); /* the errors below are expected */
	ck_assert_int_eq(rc_bpe_load(&b, "/nonexistent/merges.txt", NULL), RC_E_IO);
	ck_assert_ptr_null(b);
	char path[] = "/tmp/rclip-test-merges-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	FILE *f = fdopen(fd, "w");
	fputs("#version: 0.2\ni n\nt h\nzz q\n", f); /* "zz" is no symbol yet */
	fclose(f);
	ck_assert_int_eq(rc_bpe_load(&b, path, NULL), RC_E_FORMAT);
	f = fopen(path, "w");
	fputs("#version: 0.2\n", f);
	fclose(f);
	ck_assert_int_eq(rc_bpe_load(&b, path, NULL), RC_E_FORMAT);
	f = fopen(path, "w");
	fputs("#version: 0.2\nno_space_here\n", f);
	fclose(f);
	ck_assert_int_eq(rc_bpe_load(&b, path, NULL), RC_E_FORMAT);
	unlink(path);
	rc_log_set_level(RC_LOG_WARN);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bpe");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_vocabulary);
	tcase_add_test(tc, test_known_ids);
	tcase_add_test(tc, test_merges_reference);
	tcase_add_test(tc, test_split);
	tcase_add_test(tc, test_specials);
	tcase_add_test(tc, test_pack);
	tcase_add_test(tc, test_decode);
	tcase_add_test(tc, test_long_word);
	tcase_add_test(tc, test_hf_vocab);
	tcase_add_test(tc, test_bad_files);
	suite_add_tcase(s, tc);
	return rc_test_run(s);
}
