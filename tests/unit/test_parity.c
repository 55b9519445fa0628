/* test_parity.c - rclip's tokenizer against open_clip on the committed
 * corpus (tests/fixtures/tokenizer/corpus.jsonl.gz, from gen_tokenizer.py):
 * for every caption the untruncated ids ("full", open_clip's encode) and
 * the 77-token row ("ids", open_clip.tokenize without its padding) must be
 * equal, id for id. Mismatches are listed by category and the test fails. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpe.h"
#include "io.h"

#define MAX_CATS 64

struct cat {
	char name[48];
	unsigned total, bad;
};

static int same(const int32_t *a, size_t n, json_t *arr)
{
	if (!json_is_array(arr) || json_array_size(arr) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (json_integer_value(json_array_get(arr, i)) != a[i])
			return 0;
	return 1;
}

static void show(const char *what, const json_t *rec, const int32_t *ids, size_t n)
{
	fprintf(stderr, "  %s mismatch, caption %lld [%s]: %s\n    rclip:", what,
		(long long)json_integer_value(json_object_get(rec, "i")),
		json_string_value(json_object_get(rec, "cat")),
		json_dumps(json_object_get(rec, "text"), JSON_ENCODE_ANY | JSON_ENSURE_ASCII));
	for (size_t i = 0; i < n && i < 40; i++)
		fprintf(stderr, " %d", ids[i]);
	fprintf(stderr, "\n");
}

START_TEST(test_corpus_matches_open_clip)
{
	const char *top = getenv("top_srcdir");
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/fixtures/tokenizer/corpus.jsonl.gz", top ? top : ".");
	char *data;
	size_t len;
	ck_assert_int_eq(rc_io_read_file(path, &data, &len), 0);

	struct rc_bpe *bpe;
	ck_assert_int_eq(rc_bpe_load(&bpe, NULL, NULL), 0);
	struct rc_bpe_state *st = rc_bpe_state_new(bpe);
	struct cat cats[MAX_CATS];
	int ncats = 0;
	unsigned total = 0, bad = 0, shown = 0;
	int32_t row[RC_BPE_CONTEXT];

	for (char *line = data, *end = data + len; line < end;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t ll = nl ? (size_t)(nl - line) : (size_t)(end - line);
		json_error_t err;
		json_t *rec = json_loadb(line, ll, JSON_ALLOW_NUL, &err);
		line = nl ? nl + 1 : end;
		if (!ll)
			continue;
		ck_assert_msg(rec != NULL, "%s:%d: %s", path, err.line, err.text);
		json_t *text = json_object_get(rec, "text");
		const char *cat = json_string_value(json_object_get(rec, "cat"));
		ck_assert(json_is_string(text) && cat);
		int c;
		for (c = 0; c < ncats && strcmp(cats[c].name, cat); c++)
			;
		if (c == ncats) {
			ck_assert_int_lt(ncats, MAX_CATS);
			snprintf(cats[c].name, sizeof cats[c].name, "%s", cat);
			cats[c].total = cats[c].bad = 0;
			ncats++;
		}
		const int32_t *ids;
		size_t n;
		ck_assert_int_eq(rc_bpe_encode(st, json_string_value(text), json_string_length(text),
			&ids, &n), 0);
		int ok = 1;
		if (!same(ids, n, json_object_get(rec, "full"))) {
			ok = 0;
			if (shown++ < 20)
				show("encode", rec, ids, n);
		}
		size_t k = rc_bpe_pack(bpe, ids, n, row, RC_BPE_CONTEXT, 0, NULL);
		if (!same(row, k, json_object_get(rec, "ids"))) {
			ok = 0;
			if (shown++ < 20)
				show("tokenize", rec, row, k);
		}
		cats[c].total++;
		total++;
		if (!ok) {
			cats[c].bad++;
			bad++;
		}
		json_decref(rec);
	}
	fprintf(stderr, "%-24s %8s %10s\n", "category", "captions", "mismatches");
	for (int c = 0; c < ncats; c++)
		fprintf(stderr, "%-24s %8u %10u\n", cats[c].name, cats[c].total, cats[c].bad);
	fprintf(stderr, "%-24s %8u %10u\n", "all", total, bad);
	rc_bpe_state_free(st);
	rc_bpe_free(bpe);
	free(data);
	ck_assert_int_ge(total, 20000);
	ck_assert_msg(bad == 0, "%u of %u captions differ from open_clip", bad, total);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("parity");
	TCase *tc = tcase_create("open_clip");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_corpus_matches_open_clip);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
