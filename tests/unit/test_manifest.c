/* test_manifest.c - Check suite for manifest.h: each JSONL schema parsed
 * into texts, roles, groups, labels and key; schema detection; every bad
 * line with its reason; TSV lines; the reader going on after bad lines
 * with the right line numbers; webdataset tars written here with
 * libarchive (samples, ignored members, missing parts, truncation).
 */
#include "base/arena.h"
#include "base/error.h"
#include "base/log.h"
#include "data/manifest.h"
#include "data/record.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* ---------------------------------------------------------------- helpers */

static char tmpdir[4096];
static struct rc_arena arena;

static void setup(void)
{
	rc_test_tmpdir(tmpdir, sizeof tmpdir, "manifest");
	rc_log_init("test_manifest");
	rc_arena_init(&arena, 0);
}

static void teardown(void)
{
	rc_arena_free(&arena);
	rc_test_rmdir(tmpdir);
}

static const char *tpath(const char *name)
{
	return rc_test_join(tmpdir, name);
}

static void check_text(const struct rc_record *r, uint32_t i, int role,
	int group, const char *s)
{
	ck_assert_uint_lt(i, r->ntexts);
	const struct rc_text *t = &r->texts[i];
	ck_assert_msg(t->role == role, "text %u: role %d, expected %d", i, t->role, role);
	ck_assert_msg(t->group == group, "text %u: group %d, expected %d", i,
		      t->group, group);
	ck_assert_uint_eq(t->len, strlen(s));
	ck_assert_mem_eq(t->s, s, t->len);
	ck_assert_int_eq(t->s[t->len], '\0');
	ck_assert_ptr_null(t->tokens);
	ck_assert_uint_eq(t->ntokens, 0);
}

static void check_key(const struct rc_record *r, const char *key)
{
	ck_assert_ptr_nonnull(r->key);
	ck_assert_uint_eq(r->key_len, strlen(key));
	ck_assert_mem_eq(r->key, key, r->key_len);
}

/* Parse a JSON line that must be good. */
static void good(const char *line, int schema, struct rc_record *r,
	const char **path)
{
	char why[256] = "";
	int rc = rc_manifest_parse_json(line, strlen(line), schema, &arena, r,
					path, why, sizeof why);
	ck_assert_msg(rc == 0, "%s: rc %d: %s", line, rc, why);
}

/* Parse a line that must fail with a reason containing want, allocating
 * nothing (a fresh arena keeps no block). */
static void bad_line(int tsv, const char *line, size_t len, int schema,
	const char *want)
{
	struct rc_arena fresh;
	rc_arena_init(&fresh, 0);
	struct rc_record r;
	const char *path = NULL;
	char why[256];
	memset(why, 'X', sizeof why);
	int rc = tsv ? rc_manifest_parse_tsv(line, len, &fresh, &r, &path, why, sizeof why)
		     : rc_manifest_parse_json(line, len, schema, &fresh, &r, &path,
					      why, sizeof why);
	ck_assert_msg(rc == RC_E_FORMAT, "%s: rc %d, expected RC_E_FORMAT", line, rc);
	ck_assert_msg(memchr(why, '\0', sizeof why) != NULL, "%s: why not terminated", line);
	ck_assert_msg(strstr(why, want) != NULL, "%s: reason '%s' lacks '%s'",
		      line, why, want);
	for (const char *c = why; *c; c++)
		ck_assert_msg((unsigned char)*c >= 0x20 && *c != 0x7f,
			      "%s: control byte in reason '%s'", line, why);
	ck_assert_uint_eq(rc_arena_reserved(&fresh), 0);
	rc_arena_free(&fresh);
}

static void bad(const char *line, int schema, const char *want)
{
	bad_line(0, line, strlen(line), schema, want);
}

/* ---------------------------------------------------------------- schemas */

START_TEST(test_desc_caption)
{
	struct rc_record r;
	const char *path;
	good("{\"image_path\": \"img/a.jpg\", \"caption\": \"a cat on a mat\", "
	     "\"url\": \"http://x\", \"extra\": [1, {\"y\": null}]}",
	     RC_SCHEMA_NONE, &r, &path);
	ck_assert_int_eq(r.schema, RC_SCHEMA_DESC);
	ck_assert_str_eq(path, "img/a.jpg");
	check_key(&r, "img/a.jpg");
	ck_assert_uint_eq(r.ntexts, 1);
	check_text(&r, 0, RC_ROLE_CAPTION, 0, "a cat on a mat");
	ck_assert_ptr_null(r.labels);
	ck_assert_uint_eq(r.nlabels, 0);
	ck_assert_ptr_null(r.image);
	ck_assert_uint_eq(r.image_len, 0);
}
END_TEST

START_TEST(test_desc_captions)
{
	struct rc_record r;
	const char *path;
	good("  {\"captions\": [\"one\", \"deux \\u00e9\", \"  three  \"], "
	     "\"image_path\": \"b.png\"}\r", RC_SCHEMA_DESC, &r, &path);
	ck_assert_int_eq(r.schema, RC_SCHEMA_DESC);
	ck_assert_str_eq(path, "b.png");
	check_key(&r, "b.png");
	ck_assert_uint_eq(r.ntexts, 3);
	check_text(&r, 0, RC_ROLE_CAPTION, 0, "one");
	check_text(&r, 1, RC_ROLE_CAPTION, 0, "deux \xc3\xa9");
	check_text(&r, 2, RC_ROLE_CAPTION, 0, "  three  "); /* kept as given */
	ck_assert_uint_eq(r.nlabels, 0);
}
END_TEST

START_TEST(test_lite)
{
	struct rc_record r;
	const char *path;
	good("{\"image_path\": \"c.jpg\", \"trl\": [\"r0\", \"r1\", \"r2\"], "
	     "\"tb\": [\"d0\", \"d1\", \"d2\"]}", RC_SCHEMA_NONE, &r, &path);
	ck_assert_int_eq(r.schema, RC_SCHEMA_LITE);
	ck_assert_str_eq(path, "c.jpg");
	check_key(&r, "c.jpg");
	ck_assert_uint_eq(r.ntexts, 6);
	check_text(&r, 0, RC_ROLE_TB, 0, "d0");
	check_text(&r, 1, RC_ROLE_TB, 0, "d1");
	check_text(&r, 2, RC_ROLE_TB, 0, "d2");
	check_text(&r, 3, RC_ROLE_TRL, 0, "r0");
	check_text(&r, 4, RC_ROLE_TRL, 0, "r1");
	check_text(&r, 5, RC_ROLE_TRL, 0, "r2");
	ck_assert_uint_eq(r.nlabels, 0);
}
END_TEST

START_TEST(test_pro)
{
	struct rc_record r;
	const char *path;
	good("{\"image_path\": \"d.webp\", \"trp\": \"the glass will tip\", "
	     "\"trp_cls\": \"P\", \"trp_cls_ls\": [\"S\", \"H\", \"T\"]}",
	     RC_SCHEMA_NONE, &r, &path);
	ck_assert_int_eq(r.schema, RC_SCHEMA_PRO);
	check_key(&r, "d.webp");
	ck_assert_uint_eq(r.ntexts, 1);
	check_text(&r, 0, RC_ROLE_TRP, 0, "the glass will tip");
	ck_assert_uint_eq(r.nlabels, 4);
	ck_assert_uint_eq(r.labels[0], 4); /* P */
	ck_assert_uint_eq(r.labels[1], 0); /* S */
	ck_assert_uint_eq(r.labels[2], 2); /* H */
	ck_assert_uint_eq(r.labels[3], 3); /* T */
	good("{\"image_path\": \"e\", \"trp\": \"x\", \"trp_cls\": \"A\", "
	     "\"trp_cls_ls\": [\"A\", \"A\", \"P\"]}", RC_SCHEMA_PRO, &r, &path);
	ck_assert_uint_eq(r.labels[0], 1);
	ck_assert_uint_eq(r.labels[1], 1);
	ck_assert_uint_eq(r.labels[2], 1);
	ck_assert_uint_eq(r.labels[3], 4);
}
END_TEST

START_TEST(test_sets)
{
	struct rc_record r;
	const char *path;
	good("{\"id\": \"v1-0007\", \"image_path\": \"f.jpg\", \"sets\": ["
	     "{\"tag\": \"spatial\", \"gt\": \"cup left of plate\", \"neg\": "
	     "[\"n0\", \"n1\", \"n2\", \"n3\"]},"
	     "{\"tag\": \"count\", \"gt\": \"two dogs\", \"neg\": "
	     "[\"m0\", \"m1\", \"m2\", \"m3\"], \"note\": 1}]}",
	     RC_SCHEMA_NONE, &r, &path);
	ck_assert_int_eq(r.schema, RC_SCHEMA_SETS);
	ck_assert_str_eq(path, "f.jpg");
	check_key(&r, "v1-0007");
	ck_assert_uint_eq(r.ntexts, 12);
	check_text(&r, 0, RC_ROLE_TAG, 0, "spatial");
	check_text(&r, 1, RC_ROLE_GT, 0, "cup left of plate");
	check_text(&r, 2, RC_ROLE_NEG, 0, "n0");
	check_text(&r, 3, RC_ROLE_NEG, 0, "n1");
	check_text(&r, 4, RC_ROLE_NEG, 0, "n2");
	check_text(&r, 5, RC_ROLE_NEG, 0, "n3");
	check_text(&r, 6, RC_ROLE_TAG, 1, "count");
	check_text(&r, 7, RC_ROLE_GT, 1, "two dogs");
	check_text(&r, 8, RC_ROLE_NEG, 1, "m0");
	check_text(&r, 11, RC_ROLE_NEG, 1, "m3");
	ck_assert_uint_eq(r.nlabels, 0);
	/* An integer id is a key too. */
	good("{\"id\": 42, \"image_path\": \"g.jpg\", \"sets\": [{\"tag\": \"t\", "
	     "\"gt\": \"g\", \"neg\": [\"a\", \"b\", \"c\", \"d\"]}]}",
	     RC_SCHEMA_SETS, &r, &path);
	check_key(&r, "42");
	ck_assert_str_eq(path, "g.jpg");
	ck_assert_uint_eq(r.ntexts, 6);
}
END_TEST

/* A full ReasonCLIP record carries the fields of several schemas: the
 * richest is detected, and a forced schema takes only its own fields. */
START_TEST(test_detect_and_force)
{
	const char *full = "{\"image_path\": \"h.jpg\", \"caption\": \"c\", "
		"\"tb\": [\"1\", \"2\", \"3\"], \"trl\": [\"4\", \"5\", \"6\"], "
		"\"trp\": \"p\", \"trp_cls\": \"S\", \"trp_cls_ls\": [\"S\", \"A\", \"H\"]}";
	struct rc_record r;
	const char *path;
	good(full, RC_SCHEMA_NONE, &r, &path);
	ck_assert_int_eq(r.schema, RC_SCHEMA_PRO);
	good(full, RC_SCHEMA_LITE, &r, &path);
	ck_assert_int_eq(r.schema, RC_SCHEMA_LITE);
	ck_assert_uint_eq(r.ntexts, 6);
	good(full, RC_SCHEMA_DESC, &r, &path);
	ck_assert_int_eq(r.schema, RC_SCHEMA_DESC);
	check_text(&r, 0, RC_ROLE_CAPTION, 0, "c");
	/* No image path wanted: a webdataset .json member. */
	ck_assert_int_eq(rc_manifest_parse_json("{\"caption\": \"x\"}", 16,
		RC_SCHEMA_NONE, &arena, &r, NULL, NULL, 0), 0);
	ck_assert_ptr_null(r.key);
	check_text(&r, 0, RC_ROLE_CAPTION, 0, "x");
}
END_TEST

/* ---------------------------------------------------------------- errors */

#define P "{\"image_path\": \"a.jpg\", "
#define SET1(neg) P "\"id\": \"q\", \"sets\": [{\"tag\": \"t\", \"gt\": \"g\", " \
	"\"neg\": " neg "}]}"
#define PRO(cls, ls) P "\"trp\": \"r\", \"trp_cls\": " cls ", \"trp_cls_ls\": " ls "}"

START_TEST(test_json_errors)
{
	const int N = RC_SCHEMA_NONE;
	bad(P "\"caption\": \"x\"", N, "malformed json at column 38: '}' expected near end of file");
	bad("{\"image_path\": \"a\", \"caption\": }", N, "malformed json at column 32: unexpected token");
	bad("{\"image_path\": \"a\"} trailing", N, "end of file expected");
	bad("{\"image_path\": \"a\", \"caption\": \"x\", \"caption\": \"y\"}", N,
	    "duplicate object key");
	bad(P "\"caption\": \"a\\u0000b\"}", N, "\\u0000 in a string");
	bad(P "\"caption\": \"\xff\"}", N, "unable to decode byte 0xff");
	bad("{\"x\": \x01}", N, "malformed json");
	bad("[{\"image_path\": \"a\", \"caption\": \"x\"}]", N,
	    "expected a json object, found an array (one record per line");
	bad("\"just a string\"", N, "expected a json object, found a string");
	bad("42", N, "found a number");
	bad("{}", N, "no schema fits");
	bad(P "\"captio\": \"x\"}", N, "no schema fits");
	/* image_path */
	bad("{\"caption\": \"x\"}", N, "missing field image_path");
	bad("{\"image_path\": 7, \"caption\": \"x\"}", N,
	    "image_path is a number, expected a string");
	bad("{\"image_path\": null, \"caption\": \"x\"}", N, "image_path is null");
	bad("{\"image_path\": \"\", \"caption\": \"x\"}", N, "empty image_path");
	bad("{\"image_path\": \" \\t \", \"caption\": \"x\"}", N, "empty image_path");
	/* descriptive */
	bad(P "\"caption\": 5}", N, "caption is a number, expected a string");
	bad(P "\"caption\": \"\"}", N, "empty caption");
	bad(P "\"caption\": \" \\t\\n\\u00a0\\u3000\\u2009 \"}", N, "empty caption");
	bad(P "\"captions\": []}", N, "captions is empty");
	bad(P "\"captions\": \"x\"}", N, "captions is a string, expected an array of strings");
	bad(P "\"captions\": [\"x\", \"  \"]}", N, "empty caption in captions[1]");
	bad(P "\"captions\": [\"x\", true]}", N, "captions[1] is a boolean, expected a string");
	bad(P "\"caption\": \"x\", \"captions\": [\"y\"]}", N, "both caption and captions");
	/* ReasonLite */
	/* any number of tb and trl (>= 1); trl may be absent (CC12M-Refined) */
	bad(P "\"tb\": [], \"trl\": [\"a\", \"b\", \"c\"]}", N, "tb is empty");
	bad(P "\"tb\": [\"a\", \"b\", \"c\"], \"trl\": []}", N, "trl is empty");
	bad(P "\"trl\": [\"a\"]}", N, "missing field tb");
	bad(P "\"trl\": [\"a\", \"b\", \"c\"]}", N, "missing field tb");
	bad(P "\"tb\": [\"a\", 2, \"c\"], \"trl\": [\"a\", \"b\", \"c\"]}", N,
	    "tb[1] is a number, expected a string");
	bad(P "\"tb\": {\"a\": 1}, \"trl\": [\"a\", \"b\", \"c\"]}", N,
	    "tb is an object, expected an array of strings");
	bad(P "\"tb\": [\"a\", \"b\", \"c\"], \"trl\": [\"a\", \"\", \"c\"]}", N,
	    "empty caption in trl[1]");
	/* ReasonPro */
	bad(PRO("\"X\"", "[\"S\", \"A\", \"H\"]"), N,
	    "unknown category code 'X' in trp_cls (expected one of S A H T P)");
	bad(PRO("\"s\"", "[\"S\", \"A\", \"H\"]"), N, "unknown category code 's' in trp_cls");
	bad(PRO("\"SA\"", "[\"S\", \"A\", \"H\"]"), N, "unknown category code 'SA' in trp_cls");
	bad(PRO("\"\"", "[\"S\", \"A\", \"H\"]"), N, "unknown category code '' in trp_cls");
	bad(PRO("\"\\u0007\"", "[\"S\", \"A\", \"H\"]"), N, "unknown category code '?' in trp_cls");
	bad(PRO("2", "[\"S\", \"A\", \"H\"]"), N, "trp_cls is a number, expected a string");
	bad(PRO("\"S\"", "[\"S\", \"A\"]"), N, "trp_cls_ls has 2 codes, expected 3");
	bad(PRO("\"S\"", "[\"S\", \"A\", \"H\", \"T\"]"), N, "trp_cls_ls has 4 codes, expected 3");
	bad(PRO("\"S\"", "[\"S\", \"A\", \"Q\"]"), N, "unknown category code 'Q' in trp_cls_ls[2]");
	bad(PRO("\"S\"", "\"SAH\""), N, "trp_cls_ls is a string, expected an array of codes");
	bad(P "\"trp\": \"r\", \"trp_cls\": \"S\"}", N, "missing field trp_cls_ls");
	bad(P "\"trp\": \"r\", \"trp_cls_ls\": [\"S\", \"A\", \"H\"]}", N, "missing field trp_cls");
	bad(P "\"trp_cls\": \"S\", \"trp_cls_ls\": [\"S\", \"A\", \"H\"]}", N, "missing field trp");
	bad(P "\"trp\": \" \", \"trp_cls\": \"S\", \"trp_cls_ls\": [\"S\", \"A\", \"H\"]}", N,
	    "empty caption in trp");
	/* choice sets */
	bad(SET1("[\"a\", \"b\", \"c\"]"), N, "sets[0].neg has 3 strings, expected 4");
	bad(SET1("[\"a\", \"b\", \"c\", \"d\", \"e\"]"), N, "sets[0].neg has 5 strings, expected 4");
	bad(SET1("[\"a\", \"b\", \"c\", 4]"), N, "sets[0].neg[3] is a number, expected a string");
	bad(SET1("[\"a\", \"b\", \"\", \"d\"]"), N, "empty caption in sets[0].neg[2]");
	bad(SET1("\"a\""), N, "sets[0].neg is a string, expected an array");
	bad(P "\"id\": \"q\", \"sets\": [{\"tag\": \"t\", \"neg\": [\"a\", \"b\", \"c\", \"d\"]}]}",
	    N, "missing field sets[0].gt");
	bad(P "\"id\": \"q\", \"sets\": [{\"gt\": \"g\", \"neg\": [\"a\", \"b\", \"c\", \"d\"]}]}",
	    N, "missing field sets[0].tag");
	bad(P "\"id\": \"q\", \"sets\": [{\"tag\": \"\", \"gt\": \"g\", \"neg\": [\"a\", \"b\", \"c\", \"d\"]}]}",
	    N, "empty tag in sets[0].tag");
	bad(P "\"id\": \"q\", \"sets\": [{\"tag\": \"t\", \"gt\": \"\\u3000\", \"neg\": [\"a\", \"b\", \"c\", \"d\"]}]}",
	    N, "empty caption in sets[0].gt");
	bad(P "\"id\": \"q\", \"sets\": [{\"tag\": \"t\", \"gt\": \"g\", \"neg\": [\"a\", \"b\", \"c\", \"d\"]}, 3]}",
	    N, "sets[1] is a number, expected an object");
	bad(P "\"id\": \"q\", \"sets\": []}", N, "sets is empty");
	bad(P "\"id\": \"q\", \"sets\": {}}", N, "sets is an object, expected an array of objects");
	bad(P "\"sets\": [{\"tag\": \"t\", \"gt\": \"g\", \"neg\": [\"a\", \"b\", \"c\", \"d\"]}]}",
	    N, "missing field id");
	bad(P "\"id\": \" \", \"sets\": [{\"tag\": \"t\", \"gt\": \"g\", \"neg\": [\"a\", \"b\", \"c\", \"d\"]}]}",
	    N, "empty id");
	bad(P "\"id\": [1], \"sets\": [{\"tag\": \"t\", \"gt\": \"g\", \"neg\": [\"a\", \"b\", \"c\", \"d\"]}]}",
	    N, "id is an array, expected a string or an integer");
	/* another schema than the file's */
	bad(P "\"tb\": [\"a\", \"b\", \"c\"], \"trl\": [\"a\", \"b\", \"c\"]}", RC_SCHEMA_DESC,
	    "reasonlite record, expected descriptive");
	bad(P "\"caption\": \"x\"}", RC_SCHEMA_LITE, "descriptive record, expected reasonlite");
	bad(P "\"caption\": \"x\"}", RC_SCHEMA_SETS, "descriptive record, expected sets");
	bad(P "\"url\": \"x\"}", RC_SCHEMA_PRO, "missing field trp");
	bad(P "\"url\": \"x\"}", RC_SCHEMA_DESC, "missing field caption or captions");
}
END_TEST

START_TEST(test_limits)
{
	/* 255 captions fit a record, 256 do not; 42 choice sets, not 43. */
	size_t cap = 64 * 1024;
	char *s = malloc(cap);
	for (int k = 255; k <= 256; k++) {
		size_t o = (size_t)snprintf(s, cap, P "\"captions\": [");
		for (int i = 0; i < k; i++)
			o += (size_t)snprintf(s + o, cap - o, "%s\"c%d\"", i ? ", " : "", i);
		snprintf(s + o, cap - o, "]}");
		if (k == 255) {
			struct rc_record r;
			const char *path;
			good(s, RC_SCHEMA_NONE, &r, &path);
			ck_assert_uint_eq(r.ntexts, 255);
			check_text(&r, 254, RC_ROLE_CAPTION, 0, "c254");
		} else {
			bad(s, RC_SCHEMA_NONE, "captions has 256 strings, at most 255");
		}
	}
	for (int k = 42; k <= 43; k++) {
		size_t o = (size_t)snprintf(s, cap, P "\"id\": 1, \"sets\": [");
		for (int i = 0; i < k; i++)
			o += (size_t)snprintf(s + o, cap - o, "%s{\"tag\": \"t%d\", \"gt\": "
				"\"g\", \"neg\": [\"a\", \"b\", \"c\", \"d\"]}", i ? ", " : "", i);
		snprintf(s + o, cap - o, "]}");
		if (k == 42) {
			struct rc_record r;
			const char *path;
			good(s, RC_SCHEMA_NONE, &r, &path);
			ck_assert_uint_eq(r.ntexts, 252);
			check_text(&r, 246, RC_ROLE_TAG, 41, "t41");
			check_text(&r, 251, RC_ROLE_NEG, 41, "d");
		} else {
			bad(s, RC_SCHEMA_NONE, "sets has 43 entries, at most 42");
		}
	}
	free(s);
}
END_TEST

START_TEST(test_why_buffer)
{
	struct rc_record r;
	const char *path;
	char why[8];
	const char *line = "{\"image_path\": \"a\"}";
	ck_assert_int_eq(rc_manifest_parse_json(line, strlen(line), 0, &arena, &r,
		&path, why, sizeof why), RC_E_FORMAT);
	ck_assert_str_eq(why, "no sche");
	ck_assert_int_eq(rc_manifest_parse_json(line, strlen(line), 0, &arena, &r,
		&path, NULL, 0), RC_E_FORMAT);
	/* A reason is cut before a multi-byte character, never inside it. */
	const char *u = PRO("\"\xc3\xa9\xc3\xa9\"", "[\"S\", \"A\", \"H\"]");
	char w2[27];
	ck_assert_int_eq(rc_manifest_parse_json(u, strlen(u), 0, &arena, &r,
		&path, w2, sizeof w2), RC_E_FORMAT);
	ck_assert_str_eq(w2, "unknown category code '\xc3\xa9");
	ck_assert_int_eq(rc_manifest_parse_json(line, strlen(line), 9, &arena, &r,
		&path, why, sizeof why), RC_E_ARG);
}
END_TEST

/* ---------------------------------------------------------------- TSV */

static void bad_tsv(const char *line, const char *want)
{
	bad_line(1, line, strlen(line), 0, want);
}

START_TEST(test_tsv)
{
	struct rc_record r;
	const char *path;
	char why[256];
	const char *l = "dir/x y.jpg\ta dog, running \xe2\x80\x94 fast\r";
	ck_assert_int_eq(rc_manifest_parse_tsv(l, strlen(l), &arena, &r, &path,
		why, sizeof why), 0);
	ck_assert_int_eq(r.schema, RC_SCHEMA_DESC);
	ck_assert_str_eq(path, "dir/x y.jpg");
	check_key(&r, "dir/x y.jpg");
	ck_assert_uint_eq(r.ntexts, 1);
	check_text(&r, 0, RC_ROLE_CAPTION, 0, "a dog, running \xe2\x80\x94 fast");
	ck_assert_uint_eq(r.nlabels, 0);
	/* Only the final '\r' goes. */
	l = "a.jpg\tx\r\r";
	ck_assert_int_eq(rc_manifest_parse_tsv(l, strlen(l), &arena, &r, &path,
		why, sizeof why), 0);
	check_text(&r, 0, RC_ROLE_CAPTION, 0, "x\r");

	bad_tsv("a.jpg a caption", "no tab: expected image_path<TAB>caption");
	bad_tsv("a.jpg\tcap\textra", "3 tab-separated fields, expected 2");
	bad_tsv("\tcaption", "empty image_path");
	bad_tsv("  \tcaption", "empty image_path");
	bad_tsv("a.jpg\t", "empty caption");
	bad_tsv("a.jpg\t\r", "empty caption");
	bad_tsv("a.jpg\t  \xc2\xa0 ", "empty caption");
	bad_tsv("a.jpg\tbad \xff byte", "caption is not valid utf-8 (byte 5)");
	bad_tsv("a.jpg\tsurrogate \xed\xa0\x80", "caption is not valid utf-8");
	bad_line(1, "a.jpg\tx\0y", 9, 0, "nul byte in caption (byte 2)");
	bad_line(1, "a\0.jpg\txy", 9, 0, "nul byte in image_path");
}
END_TEST

/* ---------------------------------------------------------------- reader */

struct expect {
	int rc;            /* 1, or an error code */
	uint64_t line;
	const char *what;  /* the first text, or a part of the reason */
};

static void read_all(struct rc_manifest *m, const struct expect *want, size_t n)
{
	struct rc_record r;
	const char *path;
	uint64_t line;
	char why[256];
	for (size_t i = 0; i < n; i++) {
		int rc = rc_manifest_next(m, &arena, &r, &path, &line, why, sizeof why);
		ck_assert_msg(rc == want[i].rc, "record %zu: rc %d, expected %d (%s)",
			      i, rc, want[i].rc, rc < 0 ? why : "");
		ck_assert_msg(line == want[i].line, "record %zu: line %llu, expected %llu",
			      i, (unsigned long long)line, (unsigned long long)want[i].line);
		if (rc == 1) {
			ck_assert_uint_ge(r.ntexts, 1);
			ck_assert_msg(r.texts[0].len == strlen(want[i].what) &&
				      !memcmp(r.texts[0].s, want[i].what, r.texts[0].len),
				      "record %zu: text '%s', expected '%s'", i,
				      r.texts[0].s, want[i].what);
		} else {
			ck_assert_msg(strstr(why, want[i].what) != NULL,
				      "record %zu: reason '%s' lacks '%s'", i, why,
				      want[i].what);
		}
	}
	ck_assert_int_eq(rc_manifest_next(m, &arena, &r, &path, &line, why, sizeof why), 0);
	ck_assert_int_eq(rc_manifest_next(m, &arena, &r, &path, &line, why, sizeof why), 0);
}

START_TEST(test_reader_jsonl)
{
	const char *text =
		"\n"                                                     /* 1 */
		"{\"image_path\": \"a\", \"caption\": \"bad\"\n"          /* 2 */
		"{\"image_path\": \"a\", \"tb\": [\"x\"], \"trl\": []}\n" /* 3 */
		"{\"image_path\": \"a\", \"caption\": \"first\"}\n"       /* 4 */
		"   \t\r\n"                                              /* 5 */
		"{\"image_path\": \"b\", \"tb\": [\"1\", \"2\", \"3\"], "
		"\"trl\": [\"4\", \"5\", \"6\"]}\n"                      /* 6 */
		"{\"image_path\": \"c\", \"captions\": [\"second\"]}\r\n" /* 7 */
		"[]\n"                                                   /* 8 */
		"{\"image_path\": \"d\", \"caption\": \"last\"}";         /* 9, no \n */
	const char *p = tpath("m.jsonl");
	rc_test_write_file(p, text, strlen(text));
	struct rc_manifest *m;
	ck_assert_int_eq(rc_manifest_open(&m, p, RC_SCHEMA_NONE, RC_MANIFEST_AUTO), 0);
	ck_assert_int_eq(rc_manifest_format(m), RC_MANIFEST_JSONL);
	ck_assert_int_eq(rc_manifest_schema(m), RC_SCHEMA_NONE);
	const struct expect want[] = {
		{ RC_E_FORMAT, 2, "malformed json at column" },
		{ RC_E_FORMAT, 3, "trl is empty" },
		{ 1, 4, "first" },
		{ RC_E_FORMAT, 6, "reasonlite record, expected descriptive (schema of line 4)" },
		{ 1, 7, "second" },
		{ RC_E_FORMAT, 8, "expected a json object, found an array" },
		{ 1, 9, "last" },
	};
	read_all(m, want, sizeof want / sizeof want[0]);
	ck_assert_int_eq(rc_manifest_schema(m), RC_SCHEMA_DESC);
	rc_manifest_close(m);

	/* Forced: every line must be ReasonLite. */
	ck_assert_int_eq(rc_manifest_open(&m, p, RC_SCHEMA_LITE, RC_MANIFEST_AUTO), 0);
	ck_assert_int_eq(rc_manifest_schema(m), RC_SCHEMA_LITE);
	const struct expect forced[] = {
		{ RC_E_FORMAT, 2, "malformed json" },
		{ RC_E_FORMAT, 3, "trl is empty" },
		{ RC_E_FORMAT, 4, "descriptive record, expected reasonlite (schema given)" },
		{ 1, 6, "1" },
		{ RC_E_FORMAT, 7, "descriptive record, expected reasonlite" },
		{ RC_E_FORMAT, 8, "found an array" },
		{ RC_E_FORMAT, 9, "descriptive record" },
	};
	read_all(m, forced, sizeof forced / sizeof forced[0]);
	rc_manifest_close(m);
}
END_TEST

START_TEST(test_reader_tsv)
{
	const char *text =
		"\xEF\xBB\xBFimage_path\tcaption\r\n"  /* 1: BOM + header */
		"a.jpg\tone\r\n"                      /* 2 */
		"\n"                                  /* 3 */
		"b.jpg no tab\n"                      /* 4 */
		"c.jpg\t \n"                          /* 5 */
		"image_path\tcaption\n"               /* 6: not a header here */
		"d.jpg\ttwo";                         /* 7 */
	const char *p = tpath("m.tsv");
	rc_test_write_file(p, text, strlen(text));
	struct rc_manifest *m;
	ck_assert_int_eq(rc_manifest_open(&m, p, RC_SCHEMA_NONE, RC_MANIFEST_AUTO), 0);
	ck_assert_int_eq(rc_manifest_format(m), RC_MANIFEST_TSV);
	const struct expect want[] = {
		{ 1, 2, "one" },
		{ RC_E_FORMAT, 4, "no tab" },
		{ RC_E_FORMAT, 5, "empty caption" },
		{ 1, 6, "caption" },
		{ 1, 7, "two" },
	};
	read_all(m, want, sizeof want / sizeof want[0]);
	ck_assert_int_eq(rc_manifest_schema(m), RC_SCHEMA_DESC);
	rc_manifest_close(m);

	/* A TSV cannot hold another schema. */
	capture_begin();
	int rc = rc_manifest_open(&m, p, RC_SCHEMA_PRO, RC_MANIFEST_AUTO);
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(err, "a tsv manifest holds descriptive captions, not reasonpro"));
}
END_TEST

/* Unknown names and streams: the format comes from the first line. */
START_TEST(test_reader_sniff)
{
	const char *j = "\n  {\"image_path\": \"a\", \"caption\": \"x\"}\n";
	FILE *f = fmemopen((void *)j, strlen(j), "r");
	struct rc_manifest *m;
	ck_assert_int_eq(rc_manifest_open_stream(&m, f, "-", RC_SCHEMA_NONE,
						 RC_MANIFEST_AUTO), 0);
	ck_assert_int_eq(rc_manifest_format(m), RC_MANIFEST_AUTO);
	const struct expect want[] = { { 1, 2, "x" } };
	read_all(m, want, 1);
	ck_assert_int_eq(rc_manifest_format(m), RC_MANIFEST_JSONL);
	rc_manifest_close(m);
	fclose(f);

	const char *t = "filepath\ttitle\na.jpg\tcap\n";
	f = fmemopen((void *)t, strlen(t), "r");
	ck_assert_int_eq(rc_manifest_open_stream(&m, f, "data.csv", RC_SCHEMA_NONE,
						 RC_MANIFEST_AUTO), 0);
	const struct expect want2[] = { { 1, 2, "cap" } };
	read_all(m, want2, 1);
	ck_assert_int_eq(rc_manifest_format(m), RC_MANIFEST_TSV);
	rc_manifest_close(m);
	fclose(f);

	/* A .json name forces JSONL even when the line looks like TSV. */
	const char *p = tpath("x.json");
	rc_test_write_file(p, "a.jpg\tcap\n", 10);
	ck_assert_int_eq(rc_manifest_open(&m, p, 0, RC_MANIFEST_AUTO), 0);
	const struct expect want3[] = { { RC_E_FORMAT, 1, "malformed json" } };
	read_all(m, want3, 1);
	rc_manifest_close(m);
	/* And JSONL forced on a .txt name. */
	p = tpath("x.txt");
	const char *one = "{\"image_path\": \"a\", \"caption\": \"c\"}\n";
	rc_test_write_file(p, one, strlen(one));
	ck_assert_int_eq(rc_manifest_open(&m, p, 0, RC_MANIFEST_JSONL), 0);
	const struct expect want4[] = { { 1, 1, "c" } };
	read_all(m, want4, 1);
	rc_manifest_close(m);
}
END_TEST

START_TEST(test_reader_long_lines)
{
	/* Captions of several megabytes, around lines that are fine. */
	size_t big = 3 * 1024 * 1024 + 11;
	char *cap = malloc(big + 1);
	for (size_t i = 0; i < big; i++)
		cap[i] = (char)('a' + i % 26);
	cap[big] = '\0';
	const char *p = tpath("long.jsonl");
	FILE *f = fopen(p, "wb");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "{\"image_path\": \"s\", \"caption\": \"short\"}\n");
	fprintf(f, "{\"image_path\": \"l\", \"captions\": [\"%s\", \"%s\"]}\n", cap, cap);
	fprintf(f, "{\"image_path\": \"l\", \"caption\": \"%s\"\n", cap); /* unclosed */
	fprintf(f, "{\"image_path\": \"e\", \"caption\": \"end\"}\n");
	ck_assert_int_eq(fclose(f), 0);
	struct rc_manifest *m;
	ck_assert_int_eq(rc_manifest_open(&m, p, 0, RC_MANIFEST_AUTO), 0);
	struct rc_record r;
	const char *path;
	uint64_t line;
	char why[256];
	ck_assert_int_eq(rc_manifest_next(m, &arena, &r, &path, &line, why, sizeof why), 1);
	ck_assert_int_eq(rc_manifest_next(m, &arena, &r, &path, &line, why, sizeof why), 1);
	ck_assert_uint_eq(line, 2);
	ck_assert_uint_eq(r.ntexts, 2);
	ck_assert_uint_eq(r.texts[1].len, big);
	ck_assert_mem_eq(r.texts[1].s, cap, big);
	ck_assert_int_eq(rc_manifest_next(m, &arena, &r, &path, &line, why, sizeof why),
			 RC_E_FORMAT);
	ck_assert_uint_eq(line, 3);
	ck_assert_ptr_nonnull(strstr(why, "malformed json at column"));
	ck_assert_int_eq(rc_manifest_next(m, &arena, &r, &path, &line, why, sizeof why), 1);
	ck_assert_uint_eq(line, 4);
	check_text(&r, 0, RC_ROLE_CAPTION, 0, "end");
	ck_assert_int_eq(rc_manifest_next(m, &arena, &r, &path, &line, why, sizeof why), 0);
	rc_manifest_close(m);
	free(cap);
}
END_TEST

START_TEST(test_reader_open_errors)
{
	struct rc_manifest *m = (void *)1;
	capture_begin();
	int rc = rc_manifest_open(&m, tpath("missing.jsonl"), 0, RC_MANIFEST_AUTO);
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(err, "missing.jsonl: "));
	capture_begin();
	rc = rc_manifest_open(&m, tpath("data.tar"), 0, RC_MANIFEST_AUTO);
	err = capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	ck_assert_ptr_nonnull(strstr(err, "a tar is not a manifest"));
	rc_manifest_close(NULL);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(rc_manifest_schema_name(RC_SCHEMA_DESC), "descriptive");
	ck_assert_str_eq(rc_manifest_schema_name(RC_SCHEMA_LITE), "reasonlite");
	ck_assert_str_eq(rc_manifest_schema_name(RC_SCHEMA_PRO), "reasonpro");
	ck_assert_str_eq(rc_manifest_schema_name(RC_SCHEMA_SETS), "sets");
	ck_assert_str_eq(rc_manifest_schema_name(0), "none");
	ck_assert_str_eq(rc_manifest_schema_name(77), "none");
	for (int s = 1; s <= RC_SCHEMA_SETS; s++)
		ck_assert_int_eq(rc_manifest_schema_parse(rc_manifest_schema_name(s)), s);
	ck_assert_int_eq(rc_manifest_schema_parse("Lite"), RC_SCHEMA_LITE);
	ck_assert_int_eq(rc_manifest_schema_parse("choice"), RC_SCHEMA_SETS);
	ck_assert_int_eq(rc_manifest_schema_parse("pro"), RC_SCHEMA_PRO);
	ck_assert_int_eq(rc_manifest_schema_parse("desc"), RC_SCHEMA_DESC);
	ck_assert_int_eq(rc_manifest_schema_parse("bogus"), RC_E_ARG);
	ck_assert_int_eq(rc_manifest_schema_parse(NULL), RC_E_ARG);
	ck_assert_int_eq(rc_manifest_format_of("a/b.jsonl"), RC_MANIFEST_JSONL);
	ck_assert_int_eq(rc_manifest_format_of("b.JSON"), RC_MANIFEST_JSONL);
	ck_assert_int_eq(rc_manifest_format_of("b.tsv"), RC_MANIFEST_TSV);
	ck_assert_int_eq(rc_manifest_format_of("b.txt"), RC_MANIFEST_TSV);
	ck_assert_int_eq(rc_manifest_format_of("d-000001.tar"), RC_MANIFEST_TAR);
	ck_assert_int_eq(rc_manifest_format_of("d.tar.gz"), RC_MANIFEST_TAR);
	ck_assert_int_eq(rc_manifest_format_of("d.tgz"), RC_MANIFEST_TAR);
	ck_assert_int_eq(rc_manifest_format_of("-"), RC_MANIFEST_AUTO);
	ck_assert_int_eq(rc_manifest_format_of("data.csv"), RC_MANIFEST_AUTO);
	ck_assert_int_eq(rc_manifest_format_of(".json"), RC_MANIFEST_AUTO);
}
END_TEST

/* ---------------------------------------------------------------- webdataset */

struct tmem {
	const char *name; /* NULL data: a directory */
	const void *data;
	size_t len;
};

#define T(name, s) { name, s, sizeof s - 1 }

/* Write a tar (pax, the webdataset writer's format), gzip'd if asked. */
static void write_tar(const char *path, const struct tmem *m, size_t n, int gzip)
{
	struct archive *a = archive_write_new();
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	if (gzip)
		ck_assert_int_eq(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, m[i].name);
		archive_entry_set_filetype(e, m[i].data ? AE_IFREG : AE_IFDIR);
		archive_entry_set_perm(e, m[i].data ? 0644 : 0755);
		archive_entry_set_size(e, m[i].data ? (la_int64_t)m[i].len : 0);
		ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
		if (m[i].data && m[i].len)
			ck_assert_int_eq(archive_write_data(a, m[i].data, m[i].len),
					 (la_ssize_t)m[i].len);
		archive_entry_free(e);
	}
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* The next sample must be good, with this key, image and first text. */
static void next_good(struct rc_wds *w, const char *key, const void *img,
	size_t img_len, struct rc_record *r)
{
	const uint8_t *bytes;
	size_t len;
	char why[256];
	int rc = rc_wds_next(w, &arena, r, &bytes, &len, why, sizeof why);
	ck_assert_msg(rc == 1, "%s: rc %d: %s", key, rc, why);
	check_key(r, key);
	ck_assert_uint_eq(len, img_len);
	ck_assert_mem_eq(bytes, img, len);
	ck_assert_ptr_eq(r->image, bytes);
	ck_assert_uint_eq(r->image_len, len);
}

static void next_bad(struct rc_wds *w, int code, const char *want)
{
	struct rc_record r;
	const uint8_t *bytes;
	size_t len;
	char why[256];
	int rc = rc_wds_next(w, &arena, &r, &bytes, &len, why, sizeof why);
	ck_assert_msg(rc == code, "rc %d, expected %d (%s)", rc, code, why);
	ck_assert_msg(strstr(why, want) != NULL, "reason '%s' lacks '%s'", why, want);
}

static void next_end(struct rc_wds *w)
{
	struct rc_record r;
	char why[256];
	ck_assert_int_eq(rc_wds_next(w, &arena, &r, NULL, NULL, why, sizeof why), 0);
	ck_assert_int_eq(rc_wds_next(w, &arena, &r, NULL, NULL, why, sizeof why), 0);
}

static const char jpg1[] = "\xff\xd8\xff\xe0 fake jpeg one";
static const char jpg2[] = "\xff\xd8\xff\xe0 fake jpeg two";
static const char png1[] = "\x89PNG\r\n\x1a\n fake png";

START_TEST(test_wds_desc)
{
	const struct tmem m[] = {
		{ "shard0", NULL, 0 },
		T("shard0/000001.jpg", jpg1),
		T("shard0/000001.txt", "a cat on a mat\n"),
		T("shard0/000002.cls", "3\n"),             /* ignored */
		T("shard0/000002.txt", "two\r\n"),
		T("shard0/000002.JPEG", jpg2),
		T("shard0/000002.seg.png", png1),         /* ignored */
		T("shard0/000003.jpg", jpg1),              /* no text */
		T("shard0/000004.txt", "no image"),        /* no image */
		T("shard0/000005.npy", "x"),               /* nothing: no sample */
		T("README", "not a member of a sample"),
		T("shard0/000006.jpg", jpg1),
		T("shard0/000006.png", png1),              /* two images */
		T("shard0/000006.txt", "x"),
		T("shard0/000007.txt", " \n"),             /* empty caption */
		T("shard0/000007.webp", jpg2),
		{ "shard0/000009.jpg", "", 0 },           /* an empty image */
		T("shard0/000009.txt", "x"),
		T("./shard0/000008.jpg", jpg2),
		T("./shard0/000008.txt", "last"),
	};
	const char *p = tpath("d.tar");
	write_tar(p, m, sizeof m / sizeof m[0], 0);
	struct rc_wds *w;
	ck_assert_int_eq(rc_wds_open(&w, p, RC_SCHEMA_NONE), 0);
	ck_assert_int_eq(rc_wds_schema(w), RC_SCHEMA_NONE);
	struct rc_record r;
	next_good(w, "shard0/000001", jpg1, sizeof jpg1 - 1, &r);
	ck_assert_int_eq(r.schema, RC_SCHEMA_DESC);
	ck_assert_uint_eq(r.ntexts, 1);
	check_text(&r, 0, RC_ROLE_CAPTION, 0, "a cat on a mat");
	ck_assert_uint_eq(r.nlabels, 0);
	ck_assert_int_eq(rc_wds_schema(w), RC_SCHEMA_DESC);
	next_good(w, "shard0/000002", jpg2, sizeof jpg2 - 1, &r);
	check_text(&r, 0, RC_ROLE_CAPTION, 0, "two");
	next_bad(w, RC_E_FORMAT, "shard0/000003: no text member (.txt or .json)");
	next_bad(w, RC_E_FORMAT, "shard0/000004: no image member (.jpg .jpeg .png .webp)");
	next_bad(w, RC_E_FORMAT, "shard0/000006: two image members (.jpg and .png)");
	next_bad(w, RC_E_FORMAT, "shard0/000007.txt: empty caption");
	next_bad(w, RC_E_FORMAT, "shard0/000009.jpg: empty image member");
	next_good(w, "shard0/000008", jpg2, sizeof jpg2 - 1, &r);
	check_text(&r, 0, RC_ROLE_CAPTION, 0, "last");
	next_end(w);
	rc_wds_close(w);
}
END_TEST

START_TEST(test_wds_json)
{
	const char lite[] = "{\"tb\": [\"d0\", \"d1\", \"d2\"],\n"
		" \"trl\": [\"r0\", \"r1\", \"r2\"], \"image_path\": 5}";
	const struct tmem m[] = {
		T("000010.png", png1),
		T("000010.json", lite),
		T("000011.json", "{\"tb\": [], \"trl\": [\"a\", \"b\", \"c\"]}"),
		T("000011.jpg", jpg1),
		T("000012.jpg", jpg1),
		T("000012.txt", "descriptive"),            /* another schema */
		T("000013.jpg", jpg1),
		T("000013.json", "{\"tb\": [\"a\",\n 7]}"), /* line 2 */
		T("000014.jpg", jpg2),
		T("000014.json", "{\"tb\": [\"x0\", \"x1\", \"x2\"], \"trl\": [\"y0\", \"y1\", \"y2\"]}"),
	};
	const char *p = tpath("lite.tar.gz");
	write_tar(p, m, sizeof m / sizeof m[0], 1);
	struct rc_wds *w;
	ck_assert_int_eq(rc_wds_open(&w, p, RC_SCHEMA_NONE), 0);
	struct rc_record r;
	next_good(w, "000010", png1, sizeof png1 - 1, &r);
	ck_assert_int_eq(r.schema, RC_SCHEMA_LITE);
	ck_assert_uint_eq(r.ntexts, 6);
	check_text(&r, 0, RC_ROLE_TB, 0, "d0");
	check_text(&r, 1, RC_ROLE_TB, 0, "d1");
	check_text(&r, 2, RC_ROLE_TB, 0, "d2");
	check_text(&r, 3, RC_ROLE_TRL, 0, "r0");
	check_text(&r, 4, RC_ROLE_TRL, 0, "r1");
	check_text(&r, 5, RC_ROLE_TRL, 0, "r2");
	ck_assert_uint_eq(r.nlabels, 0);
	next_bad(w, RC_E_FORMAT, "000011.json: tb is empty");
	next_bad(w, RC_E_FORMAT, "000012.txt: descriptive record, expected reasonlite "
		 "(schema of sample 000010)");
	next_bad(w, RC_E_FORMAT, "000013.json: tb[1] is a number");
	next_good(w, "000014", jpg2, sizeof jpg2 - 1, &r);
	check_text(&r, 5, RC_ROLE_TRL, 0, "y2");
	next_end(w);
	rc_wds_close(w);
}
END_TEST

/* img2dataset writes .jpg, .txt and a .json of metadata: the caption comes
 * from the .txt. Choice sets take their key from "id" when there is one. */
START_TEST(test_wds_metadata_and_sets)
{
	const char sets[] = "{\"sets\": [{\"tag\": \"t\", \"gt\": \"g\", \"neg\": "
		"[\"a\", \"b\", \"c\", \"d\"]}]";
	char with_id[256], no_id[256], short_neg[256];
	snprintf(with_id, sizeof with_id, "%s, \"id\": \"bench-1\"}", sets);
	snprintf(no_id, sizeof no_id, "%s}", sets);
	snprintf(short_neg, sizeof short_neg, "{\"id\": 3, \"sets\": [{\"tag\": \"t\", "
		 "\"gt\": \"g\", \"neg\": [\"a\", \"b\", \"c\"]}]}");
	const struct tmem m1[] = {
		T("00000/000000001.jpg", jpg1),
		T("00000/000000001.txt", "from the txt"),
		T("00000/000000001.json", "{\"url\": \"http://x\", \"key\": \"000000001\", "
		  "\"status\": \"success\", \"width\": 640}"),
		T("00000/000000002.jpg", jpg2),
		T("00000/000000002.json", "{\"url\": \"http://x\"}"), /* and no .txt */
	};
	const char *p = tpath("i2d.tar");
	write_tar(p, m1, sizeof m1 / sizeof m1[0], 0);
	struct rc_wds *w;
	ck_assert_int_eq(rc_wds_open(&w, p, RC_SCHEMA_NONE), 0);
	struct rc_record r;
	next_good(w, "00000/000000001", jpg1, sizeof jpg1 - 1, &r);
	check_text(&r, 0, RC_ROLE_CAPTION, 0, "from the txt");
	next_bad(w, RC_E_FORMAT, "00000/000000002.json: missing field caption or captions");
	next_end(w);
	rc_wds_close(w);

	const struct tmem m2[] = {
		{ "a.jpg", jpg1, sizeof jpg1 - 1 }, { "a.json", with_id, strlen(with_id) },
		{ "b.jpg", jpg2, sizeof jpg2 - 1 }, { "b.json", no_id, strlen(no_id) },
		{ "c.jpg", jpg2, sizeof jpg2 - 1 }, { "c.json", short_neg, strlen(short_neg) },
	};
	p = tpath("sets.tar");
	write_tar(p, m2, sizeof m2 / sizeof m2[0], 0);
	ck_assert_int_eq(rc_wds_open(&w, p, RC_SCHEMA_SETS), 0);
	next_good(w, "bench-1", jpg1, sizeof jpg1 - 1, &r);
	ck_assert_int_eq(r.schema, RC_SCHEMA_SETS);
	ck_assert_uint_eq(r.ntexts, 6);
	check_text(&r, 0, RC_ROLE_TAG, 0, "t");
	check_text(&r, 1, RC_ROLE_GT, 0, "g");
	check_text(&r, 5, RC_ROLE_NEG, 0, "d");
	next_good(w, "b", jpg2, sizeof jpg2 - 1, &r);
	next_bad(w, RC_E_FORMAT, "c.json: sets[0].neg has 3 strings, expected 4");
	next_end(w);
	rc_wds_close(w);
}
END_TEST

/* Cut a tar at every point: never a crash, the samples before the cut come
 * out whole, then a truncation error naming the last good key (or, cut
 * between members, the incomplete sample's own error). */
START_TEST(test_wds_truncated)
{
	enum { K = 4, IMG = 3000 };
	static unsigned char img[K][IMG];
	char names[K][2][32], txt[K][32];
	struct tmem m[2 * K];
	for (int k = 0; k < K; k++) {
		for (int i = 0; i < IMG; i++)
			img[k][i] = (unsigned char)(k * 31 + i * 7);
		snprintf(names[k][0], 32, "s/%06d.jpg", k);
		snprintf(names[k][1], 32, "s/%06d.txt", k);
		snprintf(txt[k], 32, "caption %d", k);
		m[2 * k] = (struct tmem){ names[k][0], img[k], IMG };
		m[2 * k + 1] = (struct tmem){ names[k][1], txt[k], strlen(txt[k]) };
	}
	const char *p = tpath("t.tar");
	write_tar(p, m, 2 * K, 0);
	char *data;
	size_t size;
	FILE *f = fopen(p, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	size = (size_t)ftell(f);
	rewind(f);
	data = malloc(size);
	ck_assert_uint_eq(fread(data, 1, size, f), size);
	fclose(f);

	int saw_trunc = 0;
	for (size_t cut = 0; cut <= size; cut += cut < 2048 ? 1 : 61) {
		struct rc_wds *w;
		ck_assert_int_eq(rc_wds_open_memory(&w, data, cut, "t.tar", 0), 0);
		int good = 0, rc;
		struct rc_record r;
		const uint8_t *bytes;
		size_t len;
		char why[256];
		while ((rc = rc_wds_next(w, &arena, &r, &bytes, &len, why, sizeof why)) == 1) {
			ck_assert_int_lt(good, K);
			ck_assert_uint_eq(len, IMG);
			ck_assert_mem_eq(bytes, img[good], IMG);
			check_text(&r, 0, RC_ROLE_CAPTION, 0, txt[good]);
			good++;
		}
		if (rc == RC_E_TRUNCATED) {
			saw_trunc++;
			ck_assert_ptr_nonnull(strstr(why, "truncated or corrupt tar: "));
			char want[64];
			if (good)
				snprintf(want, sizeof want, "(last good sample s/%06d)", good - 1);
			else
				snprintf(want, sizeof want, "(no good sample before it)");
			ck_assert_msg(strstr(why, want), "cut %zu: '%s' lacks '%s'", cut, why, want);
		} else if (rc == RC_E_FORMAT) {
			ck_assert_msg(strstr(why, "no text member"), "cut %zu: %s", cut, why);
		} else {
			ck_assert_msg(rc == 0, "cut %zu: rc %d", cut, rc);
		}
		ck_assert_int_eq(rc_wds_next(w, &arena, &r, &bytes, &len, why, sizeof why), 0);
		if (cut == size)
			ck_assert_int_eq(good, K);
		rc_wds_close(w);
		rc_arena_reset(&arena);
	}
	ck_assert_int_gt(saw_trunc, 100);

	/* From a file cut in the middle of the third image. */
	const char *q = tpath("cut.tar");
	rc_test_write_file(q, data, 2 * (512 + 3072 + 512 + 512) + 512 + 1000);
	struct rc_wds *w;
	ck_assert_int_eq(rc_wds_open(&w, q, 0), 0);
	struct rc_record r;
	next_good(w, "s/000000", img[0], IMG, &r);
	next_good(w, "s/000001", img[1], IMG, &r);
	next_bad(w, RC_E_TRUNCATED, "truncated or corrupt tar: truncated tar archive "
		 "(last good sample s/000001)");
	next_end(w);
	rc_wds_close(w);
	free(data);
}
END_TEST

START_TEST(test_wds_corrupt)
{
	/* Not a tar at all. */
	char junk[4096];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (char)(i * 2654435761u >> 13);
	struct rc_wds *w;
	ck_assert_int_eq(rc_wds_open_memory(&w, junk, sizeof junk, "junk", 0), 0);
	next_bad(w, RC_E_TRUNCATED, "(no good sample before it)");
	next_end(w);
	rc_wds_close(w);

	/* A damaged header after a good sample. */
	const struct tmem m[] = {
		T("a.jpg", jpg1), T("a.txt", "A"), T("b.jpg", jpg2), T("b.txt", "B"),
	};
	const char *p = tpath("c.tar");
	write_tar(p, m, 4, 0);
	FILE *f = fopen(p, "r+b");
	ck_assert_ptr_nonnull(f);
	fseek(f, 4 * 512 + 100, SEEK_SET); /* the mode field of b.jpg */
	fputs("zzzz", f);
	fclose(f);
	ck_assert_int_eq(rc_wds_open(&w, p, 0), 0);
	struct rc_record r;
	next_good(w, "a", jpg1, sizeof jpg1 - 1, &r);
	next_bad(w, RC_E_TRUNCATED, "truncated or corrupt tar: damaged tar archive "
		 "(last good sample a)");
	next_end(w);
	rc_wds_close(w);

	/* An empty file is an empty tar; a missing one cannot be opened. */
	p = tpath("empty.tar");
	rc_test_write_file(p, "", 0);
	ck_assert_int_eq(rc_wds_open(&w, p, 0), 0);
	next_end(w);
	rc_wds_close(w);
	capture_begin();
	int rc = rc_wds_open(&w, tpath("missing.tar"), 0);
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
	ck_assert_ptr_null(w);
	ck_assert_ptr_nonnull(strstr(err, "missing.tar: No such file"));
	rc_wds_close(NULL);
}
END_TEST

static Suite *manifest_suite(void)
{
	Suite *s = suite_create("manifest");
	TCase *tc = tcase_create("records");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_desc_caption);
	tcase_add_test(tc, test_desc_captions);
	tcase_add_test(tc, test_lite);
	tcase_add_test(tc, test_pro);
	tcase_add_test(tc, test_sets);
	tcase_add_test(tc, test_detect_and_force);
	tcase_add_test(tc, test_json_errors);
	tcase_add_test(tc, test_limits);
	tcase_add_test(tc, test_why_buffer);
	tcase_add_test(tc, test_tsv);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("reader");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_reader_jsonl);
	tcase_add_test(tc, test_reader_tsv);
	tcase_add_test(tc, test_reader_sniff);
	tcase_add_test(tc, test_reader_long_lines);
	tcase_add_test(tc, test_reader_open_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("webdataset");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_wds_desc);
	tcase_add_test(tc, test_wds_json);
	tcase_add_test(tc, test_wds_metadata_and_sets);
	tcase_add_test(tc, test_wds_truncated);
	tcase_add_test(tc, test_wds_corrupt);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return rc_test_run(manifest_suite());
}
