/* test_spm.c - Check suite for spm.h against transformers: every line of
 * tests/fixtures/spm/lines.txt.gz, encoded and packed to 64 ids by each
 * model directory there (SigLIP unigram, Gemma BPE, SigLIP2), must give
 * the row gen_spm.py wrote from transformers' tokenizer: 0 mismatches.
 * Also: the frame without truncation, and bad directories. */
#include "text/spm.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"

#include "testutil.h"

static const char *srcdir(void)
{
	const char *d = getenv("top_srcdir");
	return d ? d : ".";
}

/* Split a buffer on \n only (lines hold NUL, U+2028, ...). */
static size_t split_lines(char *p, size_t len, char ***out, size_t **lens)
{
	size_t n = 0, cap = 0;
	char **v = NULL;
	size_t *l = NULL;
	for (size_t i = 0; i < len;) {
		char *e = memchr(p + i, '\n', len - i);
		size_t end = e ? (size_t)(e - p) : len;
		if (n == cap) {
			cap = cap ? 2 * cap : 1024;
			v = realloc(v, cap * sizeof *v);
			l = realloc(l, cap * sizeof *l);
			ck_assert_ptr_nonnull(v);
			ck_assert_ptr_nonnull(l);
		}
		v[n] = p + i;
		l[n++] = end - i;
		i = end + 1;
	}
	*out = v;
	*lens = l;
	return n;
}

/* Compare every row of one model directory with its reference file. */
static void check_dir(const char *name, int lower)
{
	char dir[4096], path[4096];
	snprintf(dir, sizeof dir, "%s/tests/fixtures/spm/%s", srcdir(), name);
	struct rc_spm *tok;
	ck_assert_int_eq(rc_spm_load_dir(&tok, dir), 0);
	rc_spm_set_lower(tok, lower);
	struct rc_spm_state *st = rc_spm_state_new(tok);
	ck_assert_ptr_nonnull(st);

	char *text, *ref;
	size_t tlen, rlen;
	snprintf(path, sizeof path, "%s/tests/fixtures/spm/lines.txt.gz", srcdir());
	ck_assert_int_eq(rc_io_read_file(path, &text, &tlen), 0);
	snprintf(path, sizeof path, "%s/tests/fixtures/spm/%s.ids.gz", srcdir(), name);
	ck_assert_int_eq(rc_io_read_file(path, &ref, &rlen), 0);
	char **lines, **rows;
	size_t *ll, *rl;
	size_t n = split_lines(text, tlen, &lines, &ll);
	size_t nr = split_lines(ref, rlen, &rows, &rl);
	ck_assert_uint_eq(n, nr);
	ck_assert_uint_gt(n, 20000);

	size_t bad = 0, truncated = 0;
	for (size_t i = 0; i < n; i++) {
		const int32_t *ids;
		size_t k;
		int32_t row[RC_SPM_CONTEXT];
		int trunc;
		ck_assert_int_eq(rc_spm_encode(st, lines[i], ll[i], &ids, &k), 0);
		rc_spm_pack(tok, ids, k, row, RC_SPM_CONTEXT, &trunc);
		truncated += (size_t)trunc;
		char got[RC_SPM_CONTEXT * 12], *p = got;
		for (int j = 0; j < RC_SPM_CONTEXT; j++)
			p += sprintf(p, j ? " %d" : "%d", row[j]);
		if (strlen(got) != rl[i] || memcmp(got, rows[i], rl[i])) {
			if (bad < 5)
				fprintf(stderr, "%s: line %zu: %.*s\n  want %.*s\n  got  %s\n", name, i + 1,
					(int)(ll[i] < 120 ? ll[i] : 120), lines[i], (int)rl[i], rows[i], got);
			bad++;
		}
	}
	fprintf(stderr, "%s (%s): %zu lines, %zu mismatches, %zu truncated\n", name,
		rc_spm_name(tok), n, bad, truncated);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_gt(truncated, 0);
	free(lines);
	free(ll);
	free(rows);
	free(rl);
	free(text);
	free(ref);
	rc_spm_state_free(st);
	rc_spm_free(tok);
}

START_TEST(siglip_unigram) { check_dir("siglip", 0); }
END_TEST

START_TEST(gemma_bpe) { check_dir("gemma", 0); }
END_TEST

START_TEST(siglip2_bpe) { check_dir("siglip2", 1); }
END_TEST

/* Copy a fixture into dir. */
static void copy_fixture(const char *name, const char *dir, const char *to)
{
	size_t len;
	char *data = rc_test_slurp(rc_test_fixture("spm", name), &len);
	rc_test_write_file(rc_test_join(dir, to), data, len);
	free(data);
}

/* A SigLIP directory with another tokenizer_config.json: NAME.json, and
 * NAME.tsv the rows transformers gives with it (JSON text, tab, row). */
static void check_variant(const char *name)
{
	char dir[4096], f[256];
	rc_test_tmpdir(dir, sizeof dir, "spm");
	copy_fixture("siglip/spiece.model", dir, "spiece.model");
	snprintf(f, sizeof f, "%s.json", name);
	copy_fixture(f, dir, "tokenizer_config.json");
	struct rc_spm *tok;
	ck_assert_int_eq(rc_spm_load_dir(&tok, dir), 0);
	struct rc_spm_state *st = rc_spm_state_new(tok);
	size_t len;
	snprintf(f, sizeof f, "%s.tsv", name);
	char *data = rc_test_slurp(rc_test_fixture("spm", f), &len);
	char **lines;
	size_t *ll, bad = 0;
	size_t n = split_lines(data, len, &lines, &ll);
	ck_assert_uint_gt(n, 20);
	for (size_t i = 0; i < n; i++) {
		char *tab = memchr(lines[i], '\t', ll[i]);
		ck_assert_ptr_nonnull(tab);
		json_t *j = json_loadb(lines[i], (size_t)(tab - lines[i]), JSON_DECODE_ANY, NULL);
		ck_assert(json_is_string(j));
		const int32_t *ids;
		size_t k;
		int32_t row[RC_SPM_CONTEXT];
		ck_assert_int_eq(rc_spm_encode(st, json_string_value(j), json_string_length(j), &ids, &k), 0);
		rc_spm_pack(tok, ids, k, row, RC_SPM_CONTEXT, NULL);
		char got[RC_SPM_CONTEXT * 12], *p = got;
		for (int q = 0; q < RC_SPM_CONTEXT; q++)
			p += sprintf(p, q ? " %d" : "%d", row[q]);
		size_t wl = ll[i] - (size_t)(tab + 1 - lines[i]);
		if (strlen(got) != wl || memcmp(got, tab + 1, wl)) {
			if (bad++ < 5)
				fprintf(stderr, "%s: %s\n  want %.*s\n  got  %s\n", name,
					json_string_value(j), (int)wl, tab + 1, got);
		}
		json_decref(j);
	}
	fprintf(stderr, "%s: %zu lines, %zu mismatches\n", name, n, bad);
	ck_assert_uint_eq(bad, 0);
	free(lines);
	free(ll);
	free(data);
	rc_spm_state_free(st);
	rc_spm_free(tok);
	rc_test_rmdir(dir);
}

/* The config names only the class: </s> and <unk> are then
 * SiglipTokenizer's own AddedTokens. */
START_TEST(siglip_class_only) { check_variant("siglip-min"); }
END_TEST

/* do_lower_case false: the text keeps its case. */
START_TEST(siglip_no_lower) { check_variant("siglip-nolower"); }
END_TEST

/* The frame without truncation keeps every id; with ctx it leaves room
 * for the special tokens. */
START_TEST(frame)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/tests/fixtures/spm/siglip2", srcdir());
	struct rc_spm *tok;
	ck_assert_int_eq(rc_spm_load_dir(&tok, dir), 0);
	int32_t ids[100], row[102];
	for (int i = 0; i < 100; i++)
		ids[i] = 300 + i;
	int trunc;
	ck_assert_uint_eq(rc_spm_frame(tok, ids, 100, row, 0, &trunc), 101);
	ck_assert_int_eq(trunc, 0);
	ck_assert_int_eq(row[100], 1); /* <eos> */
	ck_assert_uint_eq(rc_spm_frame(tok, ids, 100, row, 64, &trunc), 64);
	ck_assert_int_eq(trunc, 1);
	ck_assert_int_eq(row[62], 362);
	ck_assert_int_eq(row[63], 1);
	rc_spm_free(tok);
}
END_TEST

START_TEST(bad_dirs)
{
	char dir[4096], path[4200];
	struct rc_spm *tok;
	rc_test_tmpdir(dir, sizeof dir, "spm");
	rc_log_set_level(RC_LOG_ERROR);
	ck_assert_int_eq(rc_spm_load_dir(&tok, dir), RC_E_NOTFOUND);
	snprintf(path, sizeof path, "%s/spiece.model", dir);
	FILE *f = fopen(path, "wb");
	fputs("not a protobuf at all\n", f);
	fclose(f);
	ck_assert_int_eq(rc_spm_load_dir(&tok, dir), RC_E_FORMAT);
	ck_assert_ptr_null(tok);
	remove(path);
	snprintf(path, sizeof path, "%s/tokenizer.json", dir);
	f = fopen(path, "w");
	fputs("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", f);
	fclose(f);
	ck_assert_int_eq(rc_spm_load_dir(&tok, dir), RC_E_UNSUPPORTED);
	remove(path);
	rc_test_rmdir(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("spm");
	TCase *tc = tcase_create("spm");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, siglip_unigram);
	tcase_add_test(tc, gemma_bpe);
	tcase_add_test(tc, siglip2_bpe);
	tcase_add_test(tc, siglip_class_only);
	tcase_add_test(tc, siglip_no_lower);
	tcase_add_test(tc, frame);
	tcase_add_test(tc, bad_dirs);
	suite_add_tcase(s, tc);
	return rc_test_run(s);
}
