/* test_shard.c - Check suite for shard.h: round trips of the four schemas
 * (raw and JPEG storage), random access, streaming, metadata, atomic
 * writes (also under SIGKILL), corruption (every byte flipped), truncation,
 * versions, the shard list, and the committed golden v1 file.
 *
 *   test_shard                        run the suite
 *   test_shard --write-golden FILE    write tests/fixtures/shards/golden-v1.rcs
 *   test_shard --write-seeds DIR      write the fuzz seeds (tests/fuzz/seeds-shard)
 */
#include "base/arena.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/io.h"
#include "base/log.h"
#include "data/shard.h"

#include <check.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* ---------------------------------------------------------------- records */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The kinds of record built by make_record. */
enum { K_DESC1, K_DESC5, K_LITE, K_PRO, K_SETS, K_BARE, K_KINDS };

#define MAX_T 16
#define RAW_MAX (224 * 224 * 3)

/* A record and the memory it points at. */
struct rb {
	struct rc_record rec;
	struct rc_text t[MAX_T];
	char key[64];
	char str[MAX_T][192];
	uint16_t tok[MAX_T][77];
	uint8_t labels[4];
	uint8_t image[RAW_MAX];
};

static void add_text(struct rb *b, uint8_t role, uint8_t group, uint64_t *rng,
		     int tokenized, uint32_t ctx)
{
	uint32_t i = b->rec.ntexts++;
	rc_assert(i < MAX_T); /* no ck_assert: also runs outside the suite */
	struct rc_text *t = &b->t[i];
	int n = snprintf(b->str[i], sizeof b->str[i], "text %u role %u group %u: "
			 "caf\xc3\xa9 \xe2\x98\x83 ", i, role, group);
	for (int k = (int)(rng_next(rng) % 60); k > 0; k--)
		b->str[i][n++] = (char)('a' + rng_next(rng) % 26);
	t->role = role;
	t->group = group;
	t->s = b->str[i];
	t->len = (uint32_t)n;
	t->ntokens = 0;
	t->tokens = NULL;
	if (tokenized) {
		uint16_t nt = (uint16_t)(2 + rng_next(rng) % (ctx - 1));
		b->tok[i][0] = 49406;
		for (uint16_t k = 1; k + 1 < nt; k++)
			b->tok[i][k] = (uint16_t)(rng_next(rng) % 49406);
		b->tok[i][nt - 1] = 49407;
		t->ntokens = nt;
		t->tokens = b->tok[i];
	}
}

/* Record kind with contents from seed, for storage store at size S. */
static void make_record(struct rb *b, int kind, uint64_t seed, uint32_t store,
			uint32_t S)
{
	uint64_t rng = seed * 1000003u + (uint64_t)kind;
	memset(&b->rec, 0, sizeof b->rec);
	b->rec.texts = b->t;
	int kl = snprintf(b->key, sizeof b->key, "img/%06" PRIu64 "-%d.jpg", seed, kind);
	b->rec.key = b->key;
	b->rec.key_len = kind == K_BARE ? 0 : (uint32_t)kl;
	uint32_t ilen = store == RC_STORE_RAW ? S * S * 3 : (uint32_t)(2 + rng_next(&rng) % 300);
	for (uint32_t i = 0; i < ilen; i++)
		b->image[i] = (uint8_t)rng_next(&rng);
	if (store == RC_STORE_JPEG)
		b->image[0] = 0xff, b->image[1] = 0xd8;
	b->rec.image = b->image;
	b->rec.image_len = ilen;
	switch (kind) {
	case K_DESC1:
	case K_DESC5:
		b->rec.schema = RC_SCHEMA_DESC;
		for (int i = 0; i < (kind == K_DESC1 ? 1 : 5); i++)
			add_text(b, RC_ROLE_CAPTION, 0, &rng, 1, 77);
		break;
	case K_LITE:
		b->rec.schema = RC_SCHEMA_LITE;
		for (int i = 0; i < 6; i++)
			add_text(b, i < 3 ? RC_ROLE_TB : RC_ROLE_TRL, 0, &rng, 1, 77);
		break;
	case K_PRO:
		b->rec.schema = RC_SCHEMA_PRO;
		add_text(b, RC_ROLE_TRP, 0, &rng, 1, 77);
		for (int i = 0; i < 4; i++)
			b->labels[i] = (uint8_t)(rng_next(&rng) % RC_CATEGORIES);
		b->rec.labels = b->labels;
		b->rec.nlabels = 4;
		break;
	case K_SETS:
		b->rec.schema = RC_SCHEMA_SETS;
		for (uint8_t g = 0; g < 2; g++) {
			add_text(b, RC_ROLE_TAG, g, &rng, 0, 77); /* not tokenized */
			add_text(b, RC_ROLE_GT, g, &rng, 1, 77);
			for (int i = 0; i < 4; i++)
				add_text(b, RC_ROLE_NEG, g, &rng, 1, 77);
		}
		break;
	case K_BARE:
		b->rec.schema = RC_SCHEMA_DESC;
		break;
	}
	if (b->rec.ntexts == 0)
		b->rec.texts = NULL;
}

static struct rb *rb_new(void)
{
	struct rb *b = calloc(1, sizeof *b);
	ck_assert_ptr_nonnull(b);
	return b;
}

/* got must be want, field by field. */
static void check_same(const struct rc_record *got, const struct rc_record *want)
{
	ck_assert_uint_eq(got->schema, want->schema);
	ck_assert_uint_eq(got->key_len, want->key_len);
	if (want->key_len)
		ck_assert_mem_eq(got->key, want->key, want->key_len);
	ck_assert_uint_eq(got->image_len, want->image_len);
	if (want->image_len)
		ck_assert_mem_eq(got->image, want->image, want->image_len);
	ck_assert_uint_eq(got->ntexts, want->ntexts);
	for (uint32_t i = 0; i < want->ntexts; i++) {
		const struct rc_text *a = &got->texts[i], *b = &want->texts[i];
		ck_assert_uint_eq(a->role, b->role);
		ck_assert_uint_eq(a->group, b->group);
		ck_assert_uint_eq(a->len, b->len);
		ck_assert_mem_eq(a->s, b->s, b->len);
		ck_assert_uint_eq(a->ntokens, b->ntokens);
		if (b->ntokens)
			ck_assert_mem_eq(a->tokens, b->tokens, 2 * (size_t)b->ntokens);
		else
			ck_assert_ptr_null(a->tokens);
	}
	ck_assert_uint_eq(got->nlabels, want->nlabels);
	if (want->nlabels)
		ck_assert_mem_eq(got->labels, want->labels, want->nlabels);
}

/* ---------------------------------------------------------------- files */

static char tmpdir[4096];

static void setup(void)
{
	rc_test_tmpdir(tmpdir, sizeof tmpdir, "shard");
	rc_log_init("test_shard");
}

static void teardown(void)
{
	rc_test_rmdir(tmpdir);
}

static const char *tpath(const char *name)
{
	return rc_test_join(tmpdir, name);
}

/* Entries of tmpdir; the name of the last one to *last (may be NULL). */
static int dir_entries(char *last, size_t n)
{
	DIR *d = opendir(tmpdir);
	ck_assert_ptr_nonnull(d);
	struct dirent *e;
	int count = 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			count++;
			if (last)
				snprintf(last, n, "%s", e->d_name);
		}
	closedir(d);
	return count;
}

/* A whole file in an 8-aligned buffer (malloc), as rc_shard_open_mem wants. */
static uint8_t *slurp(const char *path, size_t *len)
{
	char *d;
	ck_assert_int_eq(rc_io_read_file(path, &d, len), 0);
	return (uint8_t *)d;
}

static const char *const test_meta[] = {
	RC_SHARD_META_SOURCE, "tests/unit/test_shard.c",
	RC_SHARD_META_TOOL, "rclip test",
	RC_SHARD_META_COMMAND, "test_shard",
};

/* Write n records (kinds cycling through kinds[0..nk-1], seeds from seed0)
 * to path; returns the writer's whole-file hash. */
static uint64_t write_shard(const char *path, uint32_t schema, uint32_t store,
			    uint32_t S, const int *kinds, int nk, int n, uint64_t seed0)
{
	struct rc_shard_info info = { .schema = schema, .store = store,
				      .image_size = S, .text_ctx = 77 };
	struct rc_shard_writer *w;
	struct rb *b = rb_new();
	ck_assert_int_eq(rc_shard_writer_open(&w, path, &info, test_meta, 3), 0);
	for (int i = 0; i < n; i++) {
		make_record(b, kinds[i % nk], seed0 + (uint64_t)i, store, S);
		ck_assert_int_eq(rc_shard_writer_add(w, &b->rec), 0);
		ck_assert_uint_eq(rc_shard_writer_count(w), (uint64_t)i + 1);
	}
	uint64_t bytes = rc_shard_writer_bytes(w), h = 0;
	ck_assert_int_eq(rc_shard_writer_close(w, &h), 0);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, bytes);
	free(b);
	return h;
}

/* Every record of r, read as ordered by perm (NULL: in order), must be the
 * one written (kinds and seeds as in write_shard). */
static void check_records(struct rc_shard *r, uint32_t store, uint32_t S,
			  const int *kinds, int nk, int n, uint64_t seed0,
			  const uint64_t *perm, struct rc_arena *arena)
{
	struct rb *b = rb_new();
	struct rc_record rec;
	ck_assert_uint_eq(rc_shard_count(r), (uint64_t)n);
	for (int k = 0; k < n; k++) {
		uint64_t i = perm ? perm[k] : (uint64_t)k;
		ck_assert_int_eq(rc_shard_read(r, i, &rec, arena), 0);
		make_record(b, kinds[i % (uint64_t)nk], seed0 + i, store, S);
		check_same(&rec, &b->rec);
	}
	free(b);
}

static const int all_kinds[] = { K_DESC1, K_DESC5, K_LITE, K_PRO, K_SETS, K_BARE };

/* ---------------------------------------------------------------- round trips */

START_TEST(test_roundtrip_mixed)
{
	const uint32_t stores[] = { RC_STORE_RAW, RC_STORE_JPEG };
	for (int s = 0; s < 2; s++) {
		uint32_t S = stores[s] == RC_STORE_RAW ? 224 : 336;
		const char *p = tpath(s ? "mixed-jpeg.rcs" : "mixed-raw.rcs");
		uint64_t h = write_shard(p, RC_SCHEMA_NONE, stores[s], S, all_kinds,
					 K_KINDS, 30, 100);
		struct rc_shard *r;
		ck_assert_int_eq(rc_shard_open(&r, p), 0);
		const struct rc_shard_info *in = rc_shard_info(r);
		ck_assert_uint_eq(in->version, 1);
		ck_assert_uint_eq(in->schema, RC_SCHEMA_NONE);
		ck_assert_uint_eq(in->store, stores[s]);
		ck_assert_uint_eq(in->image_size, S);
		ck_assert_uint_eq(in->text_ctx, 77);
		ck_assert_uint_eq(in->records, 30);
		ck_assert_str_eq(rc_shard_name(r), p);
		check_records(r, stores[s], S, all_kinds, K_KINDS, 30, 100, NULL, NULL);
		uint64_t bad = 0, hr = 0, hf = 0;
		ck_assert_int_eq(rc_shard_verify(r, &bad), 0);
		ck_assert_uint_eq(bad, UINT64_MAX);
		ck_assert_int_eq(rc_shard_hash(r, &hr), 0);
		ck_assert_int_eq(rc_shard_file_hash(p, &hf), 0);
		ck_assert_uint_eq(hr, h);
		ck_assert_uint_eq(hf, h);
		rc_shard_close(r);
	}
}
END_TEST

/* One shard per schema, the shard's schema set: every record must have it. */
START_TEST(test_roundtrip_per_schema)
{
	const struct { uint32_t schema; int kinds[2]; int nk; } cases[] = {
		{ RC_SCHEMA_DESC, { K_DESC1, K_DESC5 }, 2 },
		{ RC_SCHEMA_LITE, { K_LITE }, 1 },
		{ RC_SCHEMA_PRO, { K_PRO }, 1 },
		{ RC_SCHEMA_SETS, { K_SETS }, 1 },
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		const char *p = tpath("schema.rcs");
		write_shard(p, cases[c].schema, RC_STORE_JPEG, 224, cases[c].kinds,
			    cases[c].nk, 7, 5);
		struct rc_shard *r;
		ck_assert_int_eq(rc_shard_open(&r, p), 0);
		ck_assert_uint_eq(rc_shard_info(r)->schema, cases[c].schema);
		ck_assert_str_eq(rc_shard_meta(r, "schema"),
				 rc_shard_schema_name((int)cases[c].schema));
		check_records(r, RC_STORE_JPEG, 224, cases[c].kinds, cases[c].nk, 7, 5,
			      NULL, NULL);
		rc_shard_close(r);
	}
}
END_TEST

START_TEST(test_random_access)
{
	enum { N = 300 };
	const char *p = tpath("random.rcs");
	write_shard(p, RC_SCHEMA_NONE, RC_STORE_JPEG, 224, all_kinds, K_KINDS, N, 7);
	uint64_t perm[N], rng = 42;
	for (int i = 0; i < N; i++)
		perm[i] = (uint64_t)i;
	for (int i = N - 1; i > 0; i--) {
		int j = (int)(rng_next(&rng) % (uint64_t)(i + 1));
		uint64_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	struct rc_shard *r;
	ck_assert_int_eq(rc_shard_open(&r, p), 0);
	struct rc_arena a;
	rc_arena_init(&a, 0);
	check_records(r, RC_STORE_JPEG, 224, all_kinds, K_KINDS, N, 7, perm, &a);
	/* Texts from the arena stay valid across reads until it is reset. */
	struct rc_record r1, r2;
	ck_assert_int_eq(rc_shard_read(r, 1, &r1, &a), 0);
	ck_assert_int_eq(rc_shard_read(r, 2, &r2, &a), 0);
	ck_assert_ptr_ne(r1.texts, r2.texts);
	ck_assert_uint_eq(r1.texts[0].role, RC_ROLE_CAPTION);
	rc_arena_free(&a);
	capture_begin();
	ck_assert_int_eq(rc_shard_read(r, N, &r1, NULL), RC_E_RANGE);
	ck_assert_int_eq(rc_shard_seek(r, N + 1), RC_E_RANGE);
	const char *err = capture_end();
	ck_assert_ptr_nonnull(strstr(err, "record 300: out of range"));
	ck_assert_ptr_null(r1.key);
	rc_shard_close(r);
}
END_TEST

START_TEST(test_truncated_while_mapped)
{
	/* A shard cut short after it was opened (mapped): reading a record
	 * past the new end is an error naming the shard, not a SIGBUS. */
	enum { N = 40 };
	const char *p = tpath("cut.rcs");
	write_shard(p, RC_SCHEMA_NONE, RC_STORE_RAW, 224, all_kinds, K_KINDS, N, 3);
	struct rc_shard *r;
	ck_assert_int_eq(rc_shard_open(&r, p), 0);
	ck_assert_int_eq(truncate(p, 4096), 0);
	struct rc_arena a;
	rc_arena_init(&a, 0);
	struct rc_record rec;
	capture_begin();
	int rc = rc_shard_read(r, N - 1, &rec, &a);
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_TRUNCATED);
	ck_assert_ptr_nonnull(strstr(err, "cut.rcs: truncated while reading (record 39)"));
	/* and again: the guard is armed anew each time */
	capture_begin();
	ck_assert_int_eq(rc_shard_read(r, N - 2, &rec, &a), RC_E_TRUNCATED);
	capture_end();
	rc_arena_free(&a);
	rc_shard_close(r);
}
END_TEST

START_TEST(test_streaming_order)
{
	enum { N = 40 };
	const char *p = tpath("stream.rcs");
	write_shard(p, RC_SCHEMA_NONE, RC_STORE_RAW, 8, all_kinds, K_KINDS, N, 3);
	struct rb *b = rb_new();
	struct rc_record rec;
	/* Through the mapping: next, then again after a seek. */
	struct rc_shard *r;
	ck_assert_int_eq(rc_shard_open(&r, p), 0);
	for (int pass = 0; pass < 2; pass++) {
		int i = pass ? 10 : 0, rc;
		ck_assert_int_eq(rc_shard_seek(r, (uint64_t)i), 0);
		while ((rc = rc_shard_next(r, &rec, NULL)) > 0) {
			make_record(b, all_kinds[i % K_KINDS], 3 + (uint64_t)i, RC_STORE_RAW, 8);
			check_same(&rec, &b->rec);
			i++;
		}
		ck_assert_int_eq(rc, 0);
		ck_assert_int_eq(i, N);
		ck_assert_int_eq(rc_shard_next(r, &rec, NULL), 0);
	}
	rc_shard_close(r);

	/* As a stream (stdio, no mapping), metadata included. */
	FILE *f = fopen(p, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(rc_shard_open_stream(&r, f, p), 0);
	ck_assert_uint_eq(rc_shard_count(r), N);
	ck_assert_str_eq(rc_shard_meta(r, RC_SHARD_META_SOURCE), "tests/unit/test_shard.c");
	int i = 0, rc;
	while ((rc = rc_shard_next(r, &rec, NULL)) > 0) {
		make_record(b, all_kinds[i % K_KINDS], 3 + (uint64_t)i, RC_STORE_RAW, 8);
		check_same(&rec, &b->rec);
		i++;
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(i, N);
	ck_assert_int_eq(rc_shard_next(r, &rec, NULL), 0);
	uint64_t h;
	capture_begin();
	ck_assert_int_eq(rc_shard_hash(r, &h), RC_E_UNSUPPORTED);
	capture_end();
	rc_shard_close(r);
	fclose(f);

	/* Through a pipe. */
	char cmd[8400];
	snprintf(cmd, sizeof cmd, "cat '%s'", p);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(rc_shard_open_stream(&r, f, "pipe"), 0);
	for (i = 0; (rc = rc_shard_next(r, &rec, NULL)) > 0; i++) {
		make_record(b, all_kinds[i % K_KINDS], 3 + (uint64_t)i, RC_STORE_RAW, 8);
		check_same(&rec, &b->rec);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(i, N);
	rc_shard_close(r);
	ck_assert_int_eq(pclose(f), 0);

	/* A stream is read in order only; verify reads the rest. */
	f = fopen(p, "rb");
	ck_assert_int_eq(rc_shard_open_stream(&r, f, p), 0);
	ck_assert_int_eq(rc_shard_read(r, 0, &rec, NULL), 0);
	capture_begin();
	ck_assert_int_eq(rc_shard_read(r, 5, &rec, NULL), RC_E_UNSUPPORTED);
	ck_assert_int_eq(rc_shard_seek(r, 0), RC_E_UNSUPPORTED);
	capture_end();
	uint64_t bad = 0;
	ck_assert_int_eq(rc_shard_verify(r, &bad), 0);
	ck_assert_uint_eq(bad, UINT64_MAX);
	rc_shard_close(r);
	fclose(f);
	free(b);
}
END_TEST

START_TEST(test_empty_shard)
{
	const char *p = tpath("empty.rcs");
	write_shard(p, RC_SCHEMA_LITE, RC_STORE_RAW, 224, all_kinds, 1, 0, 0);
	struct rc_shard *r;
	struct rc_record rec;
	ck_assert_int_eq(rc_shard_open(&r, p), 0);
	ck_assert_uint_eq(rc_shard_count(r), 0);
	ck_assert_int_eq(rc_shard_next(r, &rec, NULL), 0);
	ck_assert_int_eq(rc_shard_verify(r, NULL), 0);
	rc_shard_close(r);
	FILE *f = fopen(p, "rb");
	ck_assert_int_eq(rc_shard_open_stream(&r, f, p), 0);
	ck_assert_int_eq(rc_shard_next(r, &rec, NULL), 0);
	rc_shard_close(r);
	fclose(f);
}
END_TEST

START_TEST(test_large_text)
{
	const char *p = tpath("large.rcs");
	struct rb *b = rb_new();
	make_record(b, K_DESC1, 1, RC_STORE_JPEG, 224);
	size_t n = 64 * 1024;
	char *big = malloc(n);
	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	b->t[0].s = big;
	b->t[0].len = (uint32_t)n;
	uint16_t tok[77];
	for (int i = 0; i < 77; i++)
		tok[i] = (uint16_t)(i == 0 ? 49406 : i == 76 ? 49407 : 320 + i);
	b->t[0].tokens = tok;
	b->t[0].ntokens = 77;
	struct rc_shard_info info = { .schema = RC_SCHEMA_DESC, .store = RC_STORE_JPEG,
				      .image_size = 224, .text_ctx = 77 };
	struct rc_shard_writer *w;
	ck_assert_int_eq(rc_shard_writer_open(&w, p, &info, NULL, 0), 0);
	ck_assert_int_eq(rc_shard_writer_add(w, &b->rec), 0);
	ck_assert_int_eq(rc_shard_writer_close(w, NULL), 0);
	struct rc_shard *r;
	struct rc_record rec;
	ck_assert_int_eq(rc_shard_open(&r, p), 0);
	ck_assert_int_eq(rc_shard_read(r, 0, &rec, NULL), 0);
	check_same(&rec, &b->rec);
	ck_assert_ptr_null(rc_shard_meta(r, RC_SHARD_META_SOURCE));
	rc_shard_close(r);
	free(big);
	free(b);
}
END_TEST

/* ---------------------------------------------------------------- metadata */

START_TEST(test_metadata)
{
	const char *p = tpath("meta.rcs");
	const char *kv[] = {
		RC_SHARD_META_SOURCE, "/data/coco/train.jsonl",
		RC_SHARD_META_TOOL, "rclip-shard 0.1.0",
		RC_SHARD_META_COMMAND, "rclip-shard --out 'a b' \"q\"\ttab\nnewline \\ end",
		"z\xc3\xbcrich", "\xe2\x98\x83 snow",
		"empty", "",
	};
	struct rc_shard_info info = { .schema = RC_SCHEMA_PRO, .store = RC_STORE_RAW,
				      .image_size = 16, .text_ctx = 64 };
	struct rc_shard_writer *w;
	ck_assert_int_eq(rc_shard_writer_open(&w, p, &info, kv, 5), 0);
	ck_assert_int_eq(rc_shard_writer_close(w, NULL), 0);
	struct rc_shard *r;
	ck_assert_int_eq(rc_shard_open(&r, p), 0);
	const char *want[][2] = {
		{ "format", "rclip-shard" }, { "format_version", "1" },
		{ "schema", "reasonpro" }, { "image_size", "16" },
		{ "storage", "raw" }, { "text_ctx", "64" },
	};
	ck_assert_uint_eq(rc_shard_meta_count(r), 6 + 5);
	for (size_t i = 0; i < 11; i++) {
		const char *k, *v;
		rc_shard_meta_at(r, i, &k, &v);
		ck_assert_str_eq(k, i < 6 ? want[i][0] : kv[2 * (i - 6)]);
		ck_assert_str_eq(v, i < 6 ? want[i][1] : kv[2 * (i - 6) + 1]);
		ck_assert_str_eq(rc_shard_meta(r, k), v);
	}
	ck_assert_ptr_null(rc_shard_meta(r, "nope"));
	ck_assert_uint_eq(rc_shard_info(r)->text_ctx, 64);
	rc_shard_close(r);
}
END_TEST

START_TEST(test_metadata_refused)
{
	struct rc_shard_info info = { .schema = RC_SCHEMA_DESC, .store = RC_STORE_JPEG,
				      .image_size = 224, .text_ctx = 77 };
	const char *reserved[] = { "schema", "descriptive" };
	const char *twice[] = { "a", "1", "a", "2" };
	const char *empty[] = { "", "x" };
	const char *nullv[] = { "k", NULL };
	const char *badutf[] = { "k", "\xff\xfe" };
	const char *const *cases[] = { reserved, twice, empty, nullv, badutf };
	const size_t ns[] = { 1, 2, 1, 1, 1 };
	struct rc_shard_writer *w;
	capture_begin();
	for (size_t c = 0; c < 5; c++) {
		ck_assert_int_eq(rc_shard_writer_open(&w, tpath("m.rcs"), &info,
						      cases[c], ns[c]), RC_E_ARG);
		ck_assert_ptr_null(w);
	}
	/* Metadata over the limit. */
	char *huge = malloc(RC_SHARD_META_MAX);
	memset(huge, 'x', RC_SHARD_META_MAX - 1);
	huge[RC_SHARD_META_MAX - 1] = '\0';
	const char *big[] = { "big", huge };
	ck_assert_int_eq(rc_shard_writer_open(&w, tpath("m.rcs"), &info, big, 1), RC_E_ARG);
	free(huge);
	const char *err = capture_end();
	ck_assert_ptr_nonnull(strstr(err, "the key is set by the writer"));
	ck_assert_ptr_nonnull(strstr(err, "the key is given twice"));
	ck_assert_ptr_nonnull(strstr(err, "invalid UTF-8"));
	ck_assert_int_eq(dir_entries(NULL, 0), 0); /* nothing left behind */
}
END_TEST

/* ---------------------------------------------------------------- writer */

START_TEST(test_writer_refuses)
{
	struct rc_shard_info info = { .schema = RC_SCHEMA_DESC, .store = RC_STORE_RAW,
				      .image_size = 4, .text_ctx = 10 };
	struct rc_shard_writer *w;
	struct rb *b = rb_new();
	capture_begin();
	ck_assert_int_eq(rc_shard_writer_open(&w, "-", &info, NULL, 0), RC_E_ARG);
	struct rc_shard_info bad = info;
	bad.image_size = 0;
	ck_assert_int_eq(rc_shard_writer_open(&w, tpath("x.rcs"), &bad, NULL, 0), RC_E_ARG);
	bad = info;
	bad.store = 3;
	ck_assert_int_eq(rc_shard_writer_open(&w, tpath("x.rcs"), &bad, NULL, 0), RC_E_ARG);
	bad = info;
	bad.schema = 5;
	ck_assert_int_eq(rc_shard_writer_open(&w, tpath("x.rcs"), &bad, NULL, 0), RC_E_ARG);
	ck_assert_int_eq(rc_shard_writer_open(&w, tpath("x.rcs"), &info, NULL, 0), 0);

	make_record(b, K_LITE, 1, RC_STORE_RAW, 4); /* wrong schema */
	ck_assert_int_eq(rc_shard_writer_add(w, &b->rec), RC_E_ARG);
	make_record(b, K_BARE, 1, RC_STORE_RAW, 4);
	b->rec.image_len = 47; /* not S*S*3 */
	ck_assert_int_eq(rc_shard_writer_add(w, &b->rec), RC_E_ARG);
	make_record(b, K_BARE, 1, RC_STORE_RAW, 4);
	b->rec.schema = 0;
	ck_assert_int_eq(rc_shard_writer_add(w, &b->rec), RC_E_ARG);
	/* Too many token ids for text_ctx 10, a bad role, NULL tokens. */
	make_record(b, K_BARE, 1, RC_STORE_RAW, 4);
	uint64_t rng = 1;
	b->rec.texts = b->t;
	add_text(b, RC_ROLE_CAPTION, 0, &rng, 0, 10);
	b->t[0].ntokens = 11;
	b->t[0].tokens = b->tok[0];
	ck_assert_int_eq(rc_shard_writer_add(w, &b->rec), RC_E_ARG);
	b->t[0].ntokens = 10;
	b->t[0].role = 8;
	ck_assert_int_eq(rc_shard_writer_add(w, &b->rec), RC_E_ARG);
	b->t[0].role = RC_ROLE_CAPTION;
	b->t[0].tokens = NULL;
	ck_assert_int_eq(rc_shard_writer_add(w, &b->rec), RC_E_ARG);
	b->rec.ntexts = 256;
	ck_assert_int_eq(rc_shard_writer_add(w, &b->rec), RC_E_ARG);
	const char *err = capture_end();
	ck_assert_ptr_nonnull(strstr(err, "x.rcs: record 0: its schema is not the shard's"));
	/* Still usable. */
	b->rec.ntexts = 1;
	b->t[0].tokens = b->tok[0];
	ck_assert_int_eq(rc_shard_writer_add(w, &b->rec), 0);
	ck_assert_uint_eq(rc_shard_writer_count(w), 1);
	ck_assert_int_eq(rc_shard_writer_close(w, NULL), 0);
	struct rc_shard *r;
	struct rc_record rec;
	ck_assert_int_eq(rc_shard_open(&r, tpath("x.rcs")), 0);
	ck_assert_int_eq(rc_shard_read(r, 0, &rec, NULL), 0);
	check_same(&rec, &b->rec);
	rc_shard_close(r);
	free(b);
}
END_TEST

START_TEST(test_atomic)
{
	const char *p = tpath("a.rcs");
	struct rc_shard_info info = { .schema = RC_SCHEMA_DESC, .store = RC_STORE_JPEG,
				      .image_size = 224, .text_ctx = 77 };
	struct rc_shard_writer *w;
	struct rb *b = rb_new();
	char name[256];
	ck_assert_int_eq(rc_shard_writer_open(&w, p, &info, NULL, 0), 0);
	make_record(b, K_DESC5, 1, RC_STORE_JPEG, 224);
	ck_assert_int_eq(rc_shard_writer_add(w, &b->rec), 0);
	ck_assert_int_eq(access(p, F_OK), -1);
	ck_assert_int_eq(dir_entries(name, sizeof name), 1);
	ck_assert_int_eq(strncmp(name, ".a.rcs.tmp.", 11), 0);
	rc_shard_writer_abort(w);
	ck_assert_int_eq(dir_entries(NULL, 0), 0);

	/* Killed while writing: only the temporary is left. */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (rc_shard_writer_open(&w, p, &info, NULL, 0) < 0)
			_exit(1);
		for (int i = 0; i < 50; i++)
			if (rc_shard_writer_add(w, &b->rec) < 0)
				_exit(1);
		raise(SIGKILL);
		_exit(2);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert_int_eq(access(p, F_OK), -1);
	ck_assert_int_eq(dir_entries(name, sizeof name), 1);
	ck_assert_int_eq(strncmp(name, ".a.rcs.tmp.", 11), 0);
	/* The temporary is not a shard (its header is still zero). */
	struct rc_shard *r;
	capture_begin();
	ck_assert_int_eq(rc_shard_open(&r, tpath(name)), RC_E_FORMAT);
	capture_end();
	free(b);
}
END_TEST

/* ---------------------------------------------------------------- corruption */

/* Re-seal the header after an edit (as a crafted file would). */
static void reseal_header(uint8_t *d)
{
	uint64_t h = rc_hash64(d, 120);
	for (int i = 0; i < 8; i++)
		d[120 + i] = (uint8_t)(h >> 8 * i);
}

/* Open the n bytes at d (a copy in an 8-aligned buffer) in memory; the
 * open's code. */
static int open_copy(const uint8_t *d, size_t n, struct rc_shard **r, uint8_t **copy)
{
	*copy = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(*copy);
	memcpy(*copy, d, n);
	return rc_shard_open_mem(r, *copy, n, "bad.rcs");
}

START_TEST(test_header_errors)
{
	const char *p = tpath("h.rcs");
	write_shard(p, RC_SCHEMA_NONE, RC_STORE_JPEG, 224, all_kinds, K_KINDS, 6, 1);
	size_t n;
	uint8_t *d = slurp(p, &n), *c;
	struct rc_shard *r;
	capture_begin();
	ck_assert_int_eq(open_copy(d, n, &r, &c), 0);
	rc_shard_close(r);
	free(c);
	/* Version 3 and 0, sealed: a version error, not a checksum one. */
	for (uint32_t v = 0; v <= 3; v += 3) {
		ck_assert_int_eq(open_copy(d, n, &r, &c), 0);
		rc_shard_close(r);
		c[8] = (uint8_t)v;
		reseal_header(c);
		ck_assert_int_eq(rc_shard_open_mem(&r, c, n, "v.rcs"), RC_E_VERSION);
		free(c);
	}
	/* Non-zero reserve, sealed. */
	ck_assert_int_eq(open_copy(d, n, &r, &c), 0);
	rc_shard_close(r);
	c[100] = 1;
	reseal_header(c);
	ck_assert_int_eq(rc_shard_open_mem(&r, c, n, "res.rcs"), RC_E_FORMAT);
	/* An unknown storage, sealed. */
	c[100] = 0;
	c[36] = 9;
	reseal_header(c);
	ck_assert_int_eq(rc_shard_open_mem(&r, c, n, "store.rcs"), RC_E_FORMAT);
	free(c);
	/* Bad magic; not sealed. */
	ck_assert_int_eq(open_copy(d, n, &r, &c), 0);
	rc_shard_close(r);
	c[1] = 'X';
	ck_assert_int_eq(rc_shard_open_mem(&r, c, n, "magic.rcs"), RC_E_FORMAT);
	c[1] = 'R';
	c[30] ^= 1; /* record count, not sealed */
	ck_assert_int_eq(rc_shard_open_mem(&r, c, n, "sum.rcs"), RC_E_CHECKSUM);
	free(c);
	/* Unaligned buffer. */
	c = malloc(n + 8);
	memcpy(c + 1, d, n);
	ck_assert_int_eq(rc_shard_open_mem(&r, c + 1, n, "unaligned.rcs"), RC_E_ARG);
	free(c);
	/* A file with bytes after its end. */
	c = malloc(n + 1);
	memcpy(c, d, n);
	c[n] = 0;
	ck_assert_int_eq(rc_shard_open_mem(&r, c, n + 1, "long.rcs"), RC_E_FORMAT);
	free(c);
	const char *err = capture_end();
	ck_assert_ptr_nonnull(strstr(err, "v.rcs: shard format version 3, this build reads versions 1 to 2"));
	ck_assert_ptr_nonnull(strstr(err, "sum.rcs: header checksum mismatch"));
	ck_assert_ptr_nonnull(strstr(err, "long.rcs: 1 bytes after the end of the shard"));
	/* A directory, a missing file, standard input. */
	capture_begin();
	ck_assert_int_eq(rc_shard_open(&r, "-"), RC_E_ARG);
	ck_assert_int_eq(rc_shard_open(&r, tmpdir), RC_E_IO);
	ck_assert_int_eq(rc_shard_open(&r, tpath("missing.rcs")), RC_E_IO);
	capture_end();
	free(d);
}
END_TEST

START_TEST(test_truncated)
{
	const char *p = tpath("t.rcs");
	write_shard(p, RC_SCHEMA_NONE, RC_STORE_RAW, 4, all_kinds, K_KINDS, 6, 9);
	size_t n;
	uint8_t *d = slurp(p, &n);
	const size_t cuts[] = { 0, 5, 8, 64, 127, 128, 200, 1000, n - 9, n - 8, n - 1 };
	for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
		const char *q = tpath("cut.rcs");
		rc_test_write_file(q, d, cuts[i]);
		struct rc_shard *r;
		capture_begin();
		ck_assert_int_eq(rc_shard_open(&r, q), RC_E_TRUNCATED);
		const char *err = capture_end();
		ck_assert_ptr_nonnull(strstr(err, "cut.rcs: "));
		/* A stream finds out where it ends. */
		FILE *f = fopen(q, "rb");
		capture_begin();
		int rc = rc_shard_open_stream(&r, f, q);
		if (rc == 0) {
			rc = rc_shard_verify(r, NULL);
			rc_shard_close(r);
		}
		capture_end();
		ck_assert_int_eq(rc, RC_E_TRUNCATED);
		fclose(f);
	}
	free(d);
}
END_TEST

/* Flip every byte of a small shard (two masks): each copy must fail to
 * open, or fail to read some record, or fail to verify - in memory and as
 * a stream - and a record that reads must be the one written. */
static void flip_all(uint32_t store, uint32_t S)
{
	const char *p = tpath("f.rcs");
	const int kinds[] = { K_DESC1, K_SETS, K_PRO, K_LITE, K_BARE };
	write_shard(p, RC_SCHEMA_NONE, store, S, kinds, 5, 5, 11);
	size_t n;
	uint8_t *d = slurp(p, &n), *c = malloc(n);
	struct rb *b = rb_new();
	ck_assert_ptr_nonnull(c);
	const uint8_t masks[] = { 0x01, 0x80 };
	for (size_t pos = 0; pos < n; pos++)
		for (int m = 0; m < 2; m++) {
			memcpy(c, d, n);
			c[pos] ^= masks[m];
			struct rc_shard *r;
			struct rc_record rec;
			int errors = 0;
			capture_begin();
			if (rc_shard_open_mem(&r, c, n, "flip.rcs") < 0) {
				errors++;
			} else {
				for (uint64_t i = 0; i < rc_shard_count(r); i++) {
					if (rc_shard_read(r, i, &rec, NULL) < 0) {
						errors++;
						continue;
					}
					make_record(b, kinds[i % 5], 11 + i, store, S);
					check_same(&rec, &b->rec);
				}
				uint64_t bad;
				int rc = rc_shard_verify(r, &bad);
				ck_assert_int_eq(rc < 0, errors > 0);
				rc_shard_close(r);
			}
			FILE *f = fmemopen(c, n, "rb");
			ck_assert_ptr_nonnull(f);
			int srt = rc_shard_open_stream(&r, f, "flip.rcs");
			if (srt == 0) {
				int rc;
				uint64_t i = 0;
				while ((rc = rc_shard_next(r, &rec, NULL)) > 0) {
					make_record(b, kinds[i % 5], 11 + i, store, S);
					check_same(&rec, &b->rec);
					i++;
				}
				srt = rc;
				rc_shard_close(r);
			}
			fclose(f);
			const char *err = capture_end();
			if (!errors || srt == 0)
				ck_abort_msg("flip at byte %zu (mask %02x) not found", pos,
					     masks[m]);
			ck_assert_ptr_nonnull(strstr(err, "test_shard: flip.rcs: "));
		}
	free(b);
	free(c);
	free(d);
}

START_TEST(test_flip_every_byte_raw)
{
	flip_all(RC_STORE_RAW, 2);
}
END_TEST

START_TEST(test_flip_every_byte_jpeg)
{
	flip_all(RC_STORE_JPEG, 224);
}
END_TEST

/* Two bad records: verify names both and returns the first. */
START_TEST(test_verify_reports_each)
{
	const char *p = tpath("v.rcs");
	write_shard(p, RC_SCHEMA_NONE, RC_STORE_JPEG, 224, all_kinds, K_KINDS, 12, 2);
	size_t n;
	uint8_t *d = slurp(p, &n);
	struct rc_shard *r;
	ck_assert_int_eq(rc_shard_open_mem(&r, d, n, "v.rcs"), 0);
	struct rc_record rec;
	ck_assert_int_eq(rc_shard_read(r, 3, &rec, NULL), 0);
	size_t o3 = (size_t)((const uint8_t *)rec.image - d);
	ck_assert_int_eq(rc_shard_read(r, 9, &rec, NULL), 0);
	size_t o9 = (size_t)((const uint8_t *)rec.key - d);
	rc_shard_close(r);
	d[o3] ^= 0x10;
	d[o9] ^= 0x10;
	ck_assert_int_eq(rc_shard_open_mem(&r, d, n, "v.rcs"), 0);
	uint64_t bad = 0;
	capture_begin();
	ck_assert_int_eq(rc_shard_verify(r, &bad), RC_E_CHECKSUM);
	const char *err = capture_end();
	ck_assert_uint_eq(bad, 3);
	ck_assert_ptr_nonnull(strstr(err, "test_shard: v.rcs: record 3: checksum mismatch"));
	ck_assert_ptr_nonnull(strstr(err, "test_shard: v.rcs: record 9: checksum mismatch"));
	/* The good ones still read. */
	ck_assert_int_eq(rc_shard_read(r, 4, &rec, NULL), 0);
	rc_shard_close(r);
	free(d);
}
END_TEST

/* ---------------------------------------------------------------- shard list */

START_TEST(test_shard_list)
{
	struct rc_shard_list l, m;
	rc_shard_list_init(&l);
	const char *names[] = { "d-000000.rcs", "d-000001.rcs", "d-000002.rcs" };
	for (int i = 0; i < 3; i++) {
		uint64_t h = write_shard(tpath(names[i]), RC_SCHEMA_NONE, RC_STORE_JPEG,
					 224, all_kinds, K_KINDS, 3 + i, (uint64_t)i * 100);
		ck_assert_int_eq(rc_shard_list_add(&l, names[i], 3 + (uint64_t)i, h), 0);
	}
	ck_assert_uint_eq(l.records, 12);
	capture_begin();
	ck_assert_int_eq(rc_shard_list_add(&l, "#x.rcs", 1, 0), RC_E_ARG);
	ck_assert_int_eq(rc_shard_list_add(&l, "a\tb.rcs", 1, 0), RC_E_ARG);
	ck_assert_int_eq(rc_shard_list_add(&l, "", 1, 0), RC_E_ARG);
	capture_end();
	ck_assert_uint_eq(l.n, 3);
	ck_assert_int_eq(rc_shard_list_write(&l, tpath("d.list")), 0);

	rc_shard_list_init(&m);
	ck_assert_int_eq(rc_shard_list_read(&m, tpath("d.list")), 0);
	ck_assert_uint_eq(m.n, 3);
	ck_assert_uint_eq(m.records, 12);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_str_eq(m.e[i].path, names[i]);
		ck_assert_str_eq(m.e[i].full, tpath(names[i]));
		ck_assert_uint_eq(m.e[i].records, l.e[i].records);
		ck_assert_uint_eq(m.e[i].xxh3, l.e[i].xxh3);
		ck_assert_uint_eq(m.e[i].lineno, i + 2); /* after the comment */
		ck_assert_int_eq(rc_shard_list_check(&m, i), 0);
	}
	/* A changed shard is caught by its hash. */
	size_t n;
	uint8_t *d = slurp(tpath(names[1]), &n);
	d[n / 2] ^= 1;
	rc_test_write_file(tpath(names[1]), d, n);
	free(d);
	capture_begin();
	ck_assert_int_eq(rc_shard_list_check(&m, 1), RC_E_CHECKSUM);
	const char *err = capture_end();
	ck_assert_ptr_nonnull(strstr(err, "d.list:3: "));
	rc_shard_list_free(&m);
	rc_shard_list_free(&l);

	/* Comments, blank lines, an absolute path; then malformed lines. */
	const char *good = "# a comment\n\nsub/x.rcs\t5\t00000000000000ff\n"
			   "/abs/y.rcs\t18446744073709551615\tFFFFFFFFFFFFFFFF\n";
	rc_test_write_file(tpath("g.list"), good, strlen(good));
	ck_assert_int_eq(rc_shard_list_read(&m, tpath("g.list")), 0);
	ck_assert_uint_eq(m.n, 2);
	ck_assert_str_eq(m.e[0].full, tpath("sub/x.rcs"));
	ck_assert_uint_eq(m.e[0].xxh3, 0xff);
	ck_assert_uint_eq(m.e[0].lineno, 3);
	ck_assert_str_eq(m.e[1].full, "/abs/y.rcs");
	ck_assert_uint_eq(m.e[1].records, UINT64_MAX);
	rc_shard_list_free(&m);
	const char *bad[] = {
		"x.rcs\t5\n", "x.rcs\t5\t00000000000000ff\textra\n",
		"\t5\t00000000000000ff\n", "x.rcs\t-5\t00000000000000ff\n",
		"x.rcs\t18446744073709551616\t00000000000000ff\n",
		"x.rcs\t5\t00000000000000f\n", "x.rcs\t5\t00000000000000ff\r\n",
		"x.rcs\t\t00000000000000ff\n", "x.rcs 5 00000000000000ff\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char buf[256];
		snprintf(buf, sizeof buf, "# c\n%s", bad[i]);
		rc_test_write_file(tpath("b.list"), buf, strlen(buf));
		rc_shard_list_init(&m);
		capture_begin();
		ck_assert_int_eq(rc_shard_list_read(&m, tpath("b.list")), RC_E_FORMAT);
		err = capture_end();
		ck_assert_ptr_nonnull(strstr(err, "b.list:2: "));
		rc_shard_list_free(&m);
	}
}
END_TEST

/* ---------------------------------------------------------------- golden v1 */

/* The golden file's contents: 6 records, one of each kind, JPEG storage at
 * 224, mixed schemas. Changing this changes the golden file: don't. */
static const char *const golden_meta[] = {
	RC_SHARD_META_SOURCE, "tests/unit/test_shard.c (golden generator)",
	RC_SHARD_META_TOOL, "rclip 0.1.0",
	RC_SHARD_META_COMMAND, "test_shard --write-golden tests/fixtures/shards/golden-v1.rcs",
};
#define GOLDEN_RECORDS 6
#define GOLDEN_SEED 20260601
/* The committed file, byte for byte. */
#define GOLDEN_SIZE 5512
#define GOLDEN_XXH3 0xe791a21479323b9cull

static int write_golden(const char *path, uint64_t *h)
{
	struct rc_shard_info info = { .schema = RC_SCHEMA_NONE, .store = RC_STORE_JPEG,
				      .image_size = 224, .text_ctx = 77 };
	struct rc_shard_writer *w;
	struct rb *b = calloc(1, sizeof *b);
	int rc = b ? rc_shard_writer_open(&w, path, &info, golden_meta, 3) : RC_E_NOMEM;
	for (int i = 0; rc == 0 && i < GOLDEN_RECORDS; i++) {
		make_record(b, all_kinds[i], GOLDEN_SEED + (uint64_t)i, RC_STORE_JPEG, 224);
		if ((rc = rc_shard_writer_add(w, &b->rec)) < 0)
			rc_shard_writer_abort(w);
	}
	if (rc == 0)
		rc = rc_shard_writer_close(w, h);
	free(b);
	return rc;
}

static const char *golden_path(void)
{
	static char p[4096];
	const char *d = getenv("top_srcdir");
	snprintf(p, sizeof p, "%s/tests/fixtures/shards/golden-v1.rcs", d ? d : ".");
	return p;
}

START_TEST(test_golden_v1)
{
	struct rc_shard *r;
	ck_assert_int_eq(rc_shard_open(&r, golden_path()), 0);
	const struct rc_shard_info *in = rc_shard_info(r);
	ck_assert_uint_eq(in->version, 1);
	ck_assert_uint_eq(in->schema, RC_SCHEMA_NONE);
	ck_assert_uint_eq(in->store, RC_STORE_JPEG);
	ck_assert_uint_eq(in->image_size, 224);
	ck_assert_uint_eq(in->text_ctx, 77);
	ck_assert_uint_eq(in->records, GOLDEN_RECORDS);
	ck_assert_uint_eq(in->file_size, GOLDEN_SIZE);
	uint64_t h;
	ck_assert_int_eq(rc_shard_hash(r, &h), 0);
	ck_assert_uint_eq(h, GOLDEN_XXH3);
	ck_assert_str_eq(rc_shard_meta(r, "schema"), "mixed");
	ck_assert_str_eq(rc_shard_meta(r, "storage"), "jpeg");
	ck_assert_str_eq(rc_shard_meta(r, RC_SHARD_META_COMMAND), golden_meta[5]);
	ck_assert_int_eq(rc_shard_verify(r, NULL), 0);
	check_records(r, RC_STORE_JPEG, 224, all_kinds, K_KINDS, GOLDEN_RECORDS,
		      GOLDEN_SEED, NULL, NULL);
	struct rc_record rec;
	ck_assert_int_eq(rc_shard_read(r, 4, &rec, NULL), 0);
	ck_assert_uint_eq(rec.schema, RC_SCHEMA_SETS);
	ck_assert_uint_eq(rec.ntexts, 12);
	ck_assert_uint_eq(rec.texts[6].role, RC_ROLE_TAG);
	ck_assert_uint_eq(rec.texts[6].group, 1);
	ck_assert_ptr_null(rec.texts[6].tokens);
	ck_assert_int_eq(rec.key_len, 18);
	ck_assert_mem_eq(rec.key, "img/20260605-4.jpg", 18);
	rc_shard_close(r);
	/* A shard of 16-bit ids is still v1: the writer writes these very bytes. */
	uint64_t h2 = 0;
	ck_assert_int_eq(write_golden(tpath("golden.rcs"), &h2), 0);
	ck_assert_uint_eq(h2, GOLDEN_XXH3);
}
END_TEST

/* ---------------------------------------------------------------- 32-bit ids */

/* Format v2: a shard of 4-byte ids holds ids over 65535 (Gemma's 256k
 * vocabulary), read back in place, through the stream reader too; a
 * uint16_t record is widened; a v1 shard (2-byte ids) refuses an id that
 * does not fit and takes a uint32_t record whose ids do, as v1 bytes. */
START_TEST(test_wide_ids)
{
	static const uint32_t wide[5] = { 2, 70000, 65535, 65536, 262143 };
	static const uint32_t fits[3] = { 2, 300, 65535 };
	static const uint16_t narrow[3] = { 2, 300, 65535 };
	struct rc_text tx[2] = {
		{ .role = RC_ROLE_CAPTION, .s = "a cat", .len = 5, .tokens = wide, .ntokens = 5,
		  .token_bytes = 4 },
		{ .role = RC_ROLE_CAPTION, .s = "a dog", .len = 5, .tokens = narrow, .ntokens = 3 },
	};
	uint8_t px[4 * 4 * 3] = { 0 };
	struct rc_record rec = { .schema = RC_SCHEMA_DESC, .key = "k", .key_len = 1, .image = px,
				 .image_len = sizeof px, .texts = tx, .ntexts = 2 };
	struct rc_shard_info info = { .schema = RC_SCHEMA_DESC, .store = RC_STORE_RAW,
				      .image_size = 4, .text_ctx = 64, .token_bytes = 4 };
	const char *p = tpath("wide.rcs");
	struct rc_shard_writer *w;
	ck_assert_int_eq(rc_shard_writer_open(&w, p, &info, test_meta, 1), 0);
	ck_assert_int_eq(rc_shard_writer_add(w, &rec), 0);
	ck_assert_int_eq(rc_shard_writer_close(w, NULL), 0);
	for (int mode = 0; mode < 2; mode++) {
		struct rc_shard *r;
		FILE *f = NULL;
		if (mode == 0)
			ck_assert_int_eq(rc_shard_open(&r, p), 0);
		else {
			ck_assert_ptr_nonnull(f = fopen(p, "rb"));
			ck_assert_int_eq(rc_shard_open_stream(&r, f, "wide.rcs"), 0);
		}
		ck_assert_uint_eq(rc_shard_info(r)->version, 2);
		ck_assert_uint_eq(rc_shard_info(r)->token_bytes, 4);
		ck_assert_str_eq(rc_shard_meta(r, "format_version"), "2");
		struct rc_record got;
		ck_assert_int_eq(rc_shard_next(r, &got, NULL), 1);
		ck_assert_uint_eq(got.ntexts, 2);
		ck_assert_uint_eq(got.texts[0].ntokens, 5);
		ck_assert_uint_eq(got.texts[0].token_bytes, 4);
		for (int k = 0; k < 5; k++)
			ck_assert_uint_eq(rc_text_token(&got.texts[0], (size_t)k), wide[k]);
		ck_assert_uint_eq(got.texts[1].ntokens, 3);
		for (int k = 0; k < 3; k++)
			ck_assert_uint_eq(rc_text_token(&got.texts[1], (size_t)k), narrow[k]);
		ck_assert_mem_eq(got.texts[1].s, "a dog", 5);
		ck_assert_int_eq(rc_shard_next(r, &got, NULL), 0);
		rc_shard_close(r);
		if (f)
			fclose(f);
	}
	/* v1: an id over 65535 refused (the writer stays usable), ids that fit
	 * written as 16 bits, the same bytes as a uint16_t record's */
	info.token_bytes = 2;
	const char *p1 = tpath("narrow.rcs"), *p2 = tpath("narrow2.rcs");
	ck_assert_int_eq(rc_shard_writer_open(&w, p1, &info, test_meta, 1), 0);
	rec.ntexts = 1;
	capture_begin();
	ck_assert_int_eq(rc_shard_writer_add(w, &rec), RC_E_ARG);
	const char *err = capture_end();
	ck_assert_ptr_nonnull(strstr(err, "narrow.rcs: record 0: a token id is over 65535"));
	tx[0].tokens = fits;
	tx[0].ntokens = 3;
	ck_assert_int_eq(rc_shard_writer_add(w, &rec), 0);
	ck_assert_int_eq(rc_shard_writer_close(w, NULL), 0);
	tx[0].tokens = narrow;
	tx[0].token_bytes = 0;
	ck_assert_int_eq(rc_shard_writer_open(&w, p2, &info, test_meta, 1), 0);
	ck_assert_int_eq(rc_shard_writer_add(w, &rec), 0);
	ck_assert_int_eq(rc_shard_writer_close(w, NULL), 0);
	size_t n1, n2;
	uint8_t *d1 = slurp(p1, &n1), *d2 = slurp(p2, &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_mem_eq(d1, d2, n1);
	ck_assert_uint_eq(d1[8], 1); /* version 1 */
	free(d1);
	free(d2);
}
END_TEST

/* ---------------------------------------------------------------- fuzz seeds */

static int write_seeds(const char *dir)
{
	char p[4096];
	const int desc[] = { K_DESC1, K_DESC5 }, lite[] = { K_LITE }, sets[] = { K_SETS };
	const struct { const char *name; uint32_t schema, store, S; const int *k; int nk, n; } s[] = {
		{ "empty.rcs", RC_SCHEMA_DESC, RC_STORE_RAW, 2, desc, 2, 0 },
		{ "desc-raw.rcs", RC_SCHEMA_DESC, RC_STORE_RAW, 2, desc, 2, 3 },
		{ "lite-jpeg.rcs", RC_SCHEMA_LITE, RC_STORE_JPEG, 224, lite, 1, 1 },
		{ "sets-jpeg.rcs", RC_SCHEMA_SETS, RC_STORE_JPEG, 224, sets, 1, 1 },
		{ "mixed-raw.rcs", RC_SCHEMA_NONE, RC_STORE_RAW, 1, all_kinds, K_KINDS, K_KINDS },
	};
	struct rb *b = calloc(1, sizeof *b);
	if (!b)
		return 1;
	for (size_t i = 0; i < sizeof s / sizeof *s; i++) {
		struct rc_shard_info info = { .schema = s[i].schema, .store = s[i].store,
					      .image_size = s[i].S, .text_ctx = 77 };
		struct rc_shard_writer *w;
		snprintf(p, sizeof p, "%s/%s", dir, s[i].name);
		if (rc_shard_writer_open(&w, p, &info, test_meta, 1) < 0)
			return 1;
		for (int j = 0; j < s[i].n; j++) {
			make_record(b, s[i].k[j % s[i].nk], (uint64_t)j, s[i].store, s[i].S);
			/* Short texts keep the seeds small. */
			for (uint32_t t = 0; t < b->rec.ntexts; t++) {
				b->t[t].len = b->t[t].len < 24 ? b->t[t].len : 24;
				b->t[t].ntokens = b->t[t].ntokens < 4 ? b->t[t].ntokens : 4;
			}
			if (rc_shard_writer_add(w, &b->rec) < 0)
				return 1;
		}
		if (rc_shard_writer_close(w, NULL) < 0)
			return 1;
	}
	free(b);
	return 0;
}

/* ---------------------------------------------------------------- main */

static Suite *shard_suite(void)
{
	Suite *s = suite_create("shard");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_roundtrip_mixed);
	tcase_add_test(tc, test_roundtrip_per_schema);
	tcase_add_test(tc, test_random_access);
	tcase_add_test(tc, test_truncated_while_mapped);
	tcase_add_test(tc, test_streaming_order);
	tcase_add_test(tc, test_empty_shard);
	tcase_add_test(tc, test_large_text);
	tcase_add_test(tc, test_metadata);
	tcase_add_test(tc, test_metadata_refused);
	tcase_add_test(tc, test_writer_refuses);
	tcase_add_test(tc, test_atomic);
	tcase_add_test(tc, test_header_errors);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_flip_every_byte_raw);
	tcase_add_test(tc, test_flip_every_byte_jpeg);
	tcase_add_test(tc, test_verify_reports_each);
	tcase_add_test(tc, test_shard_list);
	tcase_add_test(tc, test_golden_v1);
	tcase_add_test(tc, test_wide_ids);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	rc_log_init("test_shard");
	if (argc == 3 && strcmp(argv[1], "--write-golden") == 0) {
		uint64_t h = 0;
		if (write_golden(argv[2], &h) < 0)
			return 1;
		char hex[RC_HASH64_HEX_SIZE];
		printf("%s\t%s\n", argv[2], rc_hash64_hex(h, hex));
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	if (argc != 1) {
		fprintf(stderr, "usage: test_shard [--write-golden FILE | --write-seeds DIR]\n");
		return 2;
	}
	return rc_test_run(shard_suite());
}
