/* test_shard_set.c - Check suite for shard_set.h and rc_shard_inspect
 * (shard.h): the names of shards and lists, the default shard size,
 * which shards a part owns, a rerun keeping complete shards and writing
 * again the missing, damaged, foreign and invalid ones, parts whose union
 * is the whole run, an all-skipped shard, and what --inspect shows
 * (header, record lines, PPM files, a bad record among good ones).
 */
#include "base/error.h"
#include "base/hash.h"
#include "base/io.h"
#include "base/log.h"
#include "data/shard.h"
#include "data/shard_set.h"

#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define S 4       /* images are S×S, stored raw */
#define R 3       /* items per shard */
#define ITEMS 11  /* shards 0..3, the last one with 2 items */

static char tmpdir[4096];

static void setup(void)
{
	rc_test_tmpdir(tmpdir, sizeof tmpdir, "shard-set");
}

static void teardown(void)
{
	rc_test_rmdir(rc_test_join(tmpdir, "px"));
	rc_test_rmdir(tmpdir);
}

/* ---------------------------------------------------------------- a run */

/* Item i: a descriptive record keyed "img/i", pixels from i. */
struct item {
	struct rc_record rec;
	struct rc_text text;
	char key[32], caption[32];
	uint8_t image[S * S * 3];
};

static void make_item(struct item *it, uint64_t i)
{
	memset(it, 0, sizeof *it);
	snprintf(it->key, sizeof it->key, "img/%llu", (unsigned long long)i);
	snprintf(it->caption, sizeof it->caption, "caption %llu", (unsigned long long)i);
	for (size_t b = 0; b < sizeof it->image; b++)
		it->image[b] = (uint8_t)(i * 31 + b);
	it->text = (struct rc_text){.role = RC_ROLE_CAPTION, .s = it->caption,
		.len = (uint32_t)strlen(it->caption)};
	it->rec = (struct rc_record){.schema = RC_SCHEMA_DESC, .key = it->key,
		.key_len = (uint32_t)strlen(it->key), .image = it->image,
		.image_len = sizeof it->image, .texts = &it->text, .ntexts = 1};
}

static struct rc_shard_set_opts opts(const char *prefix, long part_i, long part_n,
	const char *options)
{
	return (struct rc_shard_set_opts){.prefix = prefix, .per_shard = R,
		.part_i = part_i, .part_n = part_n, .options = options,
		.sources = "items.jsonl", .tool = "test_shard_set", .command = "test",
		.tokenizer = "clip-bpe",
		.info = {.store = RC_STORE_RAW, .image_size = S, .text_ctx = 77}};
}

struct outcome {
	uint64_t written, kept;
	int items_added; /* items this run wrote */
};

/* ITEMS items through a set as rclip-shard drives it; skip (may be NULL)
 * says which items are dropped as bad. The list is written. */
static struct outcome run(const struct rc_shard_set_opts *o, const int *skip)
{
	struct rc_shard_set s;
	struct outcome out = {0};
	struct item it;
	ck_assert_int_eq(rc_shard_set_init(&s, o), 0);
	for (uint64_t i = 0; i < ITEMS; i++) {
		int64_t k = rc_shard_set_index(&s, i);
		if (k != s.shard && s.shard >= 0)
			ck_assert_int_eq(rc_shard_set_end(&s, RC_SCHEMA_NONE), 0);
		if (k != s.shard)
			ck_assert_int_eq(rc_shard_set_begin(&s, k), 0);
		if (!s.active || (skip && skip[i]))
			continue;
		make_item(&it, i);
		ck_assert_int_eq(rc_shard_set_add(&s, &it.rec), 0);
		out.items_added++;
	}
	ck_assert_int_eq(rc_shard_set_end(&s, RC_SCHEMA_NONE), 0);
	ck_assert_int_eq(rc_shard_list_write(&s.list, s.list_path), 0);
	out.written = s.written;
	out.kept = s.kept;
	rc_shard_set_free(&s);
	return out;
}

static const char *prefix(const char *name)
{
	return rc_test_join(tmpdir, name);
}

/* Flip a padding byte after record 0's key: its checksum fails, the
 * header, the index and the other records stay good. */
static void damage_record(const char *path)
{
	size_t len;
	char *d = rc_test_slurp(path, &len);
	uint64_t rec_off = 0;
	for (int b = 0; b < 8; b++)
		rec_off |= (uint64_t)(uint8_t)d[64 + b] << 8 * b; /* H_REC_OFF */
	d[rec_off + 20] ^= 0x40;
	rc_test_write_file(path, d, len);
	free(d);
}

/* ---------------------------------------------------------------- names */

START_TEST(test_names)
{
	char *p = rc_shard_set_name("out/d", 0);
	ck_assert_str_eq(p, "out/d-000000.rcs");
	free(p);
	p = rc_shard_set_name("d", 1234567);
	ck_assert_str_eq(p, "d-1234567.rcs");
	free(p);
	p = rc_shard_set_list_path("out/d", 0, 1);
	ck_assert_str_eq(p, "out/d.list");
	free(p);
	p = rc_shard_set_list_path("out/d", 2, 5);
	ck_assert_str_eq(p, "out/d.part-2-of-5.list");
	free(p);
}
END_TEST

START_TEST(test_per_shard)
{
	/* About 1 GiB: a JPEG counts a fifth of its pixels, plus 1 KiB. */
	ck_assert_int_eq(rc_shard_set_per_shard(224, RC_STORE_RAW), (1LL << 30) / (150528 + 1024));
	ck_assert_int_eq(rc_shard_set_per_shard(224, RC_STORE_JPEG), (1LL << 30) / (30105 + 1024));
	ck_assert_int_eq(rc_shard_set_per_shard(16384, RC_STORE_RAW), 1);
}
END_TEST

START_TEST(test_init_refuses)
{
	struct rc_shard_set s;
	struct rc_shard_set_opts o = opts(prefix("d"), 2, 2, "x");
	capture_begin();
	ck_assert_int_eq(rc_shard_set_init(&s, &o), RC_E_ARG);
	rc_shard_set_free(&s);
	o = opts(prefix("d"), -1, 2, "x");
	ck_assert_int_eq(rc_shard_set_init(&s, &o), RC_E_ARG);
	rc_shard_set_free(&s);
	o = opts(prefix("d"), 0, 1, "x");
	o.per_shard = 0;
	ck_assert_int_eq(rc_shard_set_init(&s, &o), RC_E_ARG);
	rc_shard_set_free(&s);
	ck_assert_ptr_nonnull(strstr(capture_end(), "bad shard set"));
}
END_TEST

/* Part i of n owns the shards k % n == i, whatever else is on disk. */
START_TEST(test_parts_own)
{
	struct rc_shard_set s;
	struct rc_shard_set_opts o = opts(prefix("d"), 1, 3, "x");
	ck_assert_int_eq(rc_shard_set_init(&s, &o), 0);
	ck_assert_str_eq(s.list_path, prefix("d.part-1-of-3.list"));
	ck_assert_int_eq(rc_shard_set_index(&s, 0), 0);
	ck_assert_int_eq(rc_shard_set_index(&s, R - 1), 0);
	ck_assert_int_eq(rc_shard_set_index(&s, R), 1);
	for (int64_t k = 0; k < 7; k++) {
		ck_assert_int_eq(rc_shard_set_begin(&s, k), 0);
		ck_assert_int_eq(s.shard, k);
		ck_assert_int_eq(s.active, k % 3 == 1);
		ck_assert_int_eq(rc_shard_set_end(&s, RC_SCHEMA_DESC), 0);
		ck_assert_int_eq(s.shard, -1);
	}
	ck_assert_uint_eq(s.written, 2); /* 1 and 4, empty */
	ck_assert_uint_eq(s.list.n, 2);
	ck_assert_str_eq(s.list.e[1].path, "d-000004.rcs");
	rc_shard_set_free(&s);
}
END_TEST

/* ---------------------------------------------------------------- resume */

START_TEST(test_resume)
{
	struct rc_shard_set_opts o = opts(prefix("d"), 0, 1, "q=95");
	struct outcome a = run(&o, NULL);
	ck_assert_uint_eq(a.written, 4);
	ck_assert_uint_eq(a.kept, 0);
	ck_assert_int_eq(a.items_added, ITEMS);
	size_t n1, n2;
	char *list1 = rc_test_slurp(prefix("d.list"), &n1);

	/* The same run again keeps everything and lists the same. */
	struct outcome b = run(&o, NULL);
	ck_assert_uint_eq(b.written, 0);
	ck_assert_uint_eq(b.kept, 4);
	ck_assert_int_eq(b.items_added, 0);
	char *list2 = rc_test_slurp(prefix("d.list"), &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_int_eq(memcmp(list1, list2, n1), 0);
	free(list2);

	/* A missing shard is written again, alone and silently. */
	ck_assert_int_eq(unlink(prefix("d-000002.rcs")), 0);
	capture_begin();
	b = run(&o, NULL);
	ck_assert_str_eq(capture_end(), "");
	ck_assert_uint_eq(b.written, 1);
	ck_assert_uint_eq(b.kept, 3);
	ck_assert_int_eq(b.items_added, R);
	list2 = rc_test_slurp(prefix("d.list"), &n2);
	ck_assert_uint_eq(n1, n2);
	ck_assert_int_eq(memcmp(list1, list2, n1), 0);
	free(list2);
	free(list1);
}
END_TEST

START_TEST(test_resume_writes_again)
{
	struct rc_shard_set_opts o = opts(prefix("d"), 0, 1, "q=95");
	run(&o, NULL);

	damage_record(prefix("d-000001.rcs"));
	rc_test_write_file(prefix("d-000003.rcs"), "garbage\n", 8);
	capture_begin();
	struct outcome b = run(&o, NULL);
	const char *err = capture_end();
	ck_assert_uint_eq(b.written, 2);
	ck_assert_uint_eq(b.kept, 2);
	ck_assert_ptr_nonnull(strstr(err, "d-000001.rcs: a record is damaged: writing it again"));
	ck_assert_ptr_nonnull(strstr(err, "d-000003.rcs: not a valid shard: writing it again"));

	/* Other options, or other inputs: every shard is written again. */
	o.options = "q=80";
	capture_begin();
	b = run(&o, NULL);
	err = capture_end();
	ck_assert_uint_eq(b.written, 4);
	ck_assert_uint_eq(b.kept, 0);
	ck_assert_ptr_nonnull(strstr(err, "d-000000.rcs: made from other inputs or with "
		"other options: writing it again"));
	o.sources = "other.jsonl";
	capture_begin();
	b = run(&o, NULL);
	capture_end();
	ck_assert_uint_eq(b.written, 4);

	/* Another shard size cuts other items into shard k. */
	o.per_shard = R + 1;
	capture_begin();
	b = run(&o, NULL);
	capture_end();
	ck_assert_uint_eq(b.kept, 0);
}
END_TEST

START_TEST(test_complete)
{
	struct rc_shard_set_opts o = opts(prefix("d"), 0, 1, "q=95");
	run(&o, NULL);
	struct rc_shard_set s;
	uint64_t records = 0, h = 0, want;
	ck_assert_int_eq(rc_shard_set_init(&s, &o), 0);
	ck_assert_int_eq(rc_shard_set_complete(&s, prefix("d-000003.rcs"), 3, &records, &h), 1);
	ck_assert_uint_eq(records, ITEMS - 3 * R);
	ck_assert_int_eq(rc_shard_file_hash(prefix("d-000003.rcs"), &want), 0);
	ck_assert_uint_eq(h, want);
	/* shard 3 is not what shard 2 would hold */
	capture_begin();
	ck_assert_int_eq(rc_shard_set_complete(&s, prefix("d-000003.rcs"), 2, &records, &h), 0);
	ck_assert_ptr_nonnull(strstr(capture_end(), "other options"));
	capture_begin();
	ck_assert_int_eq(rc_shard_set_complete(&s, prefix("nothing.rcs"), 0, &records, &h), 0);
	ck_assert_str_eq(capture_end(), "");
	rc_shard_set_free(&s);
}
END_TEST

/* ---------------------------------------------------------------- parts */

static char *entries(const char *list)
{
	struct rc_shard_list l;
	rc_shard_list_init(&l);
	ck_assert_int_eq(rc_shard_list_read(&l, list), 0);
	char *s = rc_calloc(1, 4096);
	for (size_t i = 0; i < l.n; i++)
		snprintf(s + strlen(s), 4096 - strlen(s), "%s:%llu ", l.e[i].path,
			(unsigned long long)l.e[i].records);
	rc_shard_list_free(&l);
	return s;
}

START_TEST(test_parts_cover_the_run)
{
	struct rc_shard_set_opts o = opts(prefix("all"), 0, 1, "x");
	run(&o, NULL);
	o = opts(prefix("p"), 0, 2, "x");
	struct outcome a = run(&o, NULL);
	o = opts(prefix("p"), 1, 2, "x");
	struct outcome b = run(&o, NULL);
	ck_assert_uint_eq(a.written, 2);
	ck_assert_uint_eq(b.written, 2);
	ck_assert_int_eq(a.items_added + b.items_added, ITEMS);
	char *all = entries(prefix("all.list"));
	char *p0 = entries(prefix("p.part-0-of-2.list"));
	char *p1 = entries(prefix("p.part-1-of-2.list"));
	ck_assert_str_eq(all, "all-000000.rcs:3 all-000001.rcs:3 all-000002.rcs:3 all-000003.rcs:2 ");
	ck_assert_str_eq(p0, "p-000000.rcs:3 p-000002.rcs:3 ");
	ck_assert_str_eq(p1, "p-000001.rcs:3 p-000003.rcs:2 ");
	free(all);
	free(p0);
	free(p1);

	/* A shard records the part that wrote it. */
	struct rc_shard *r;
	ck_assert_int_eq(rc_shard_open(&r, prefix("p-000003.rcs")), 0);
	ck_assert_str_eq(rc_shard_meta(r, RC_SHARD_META_PART), "1/2");
	ck_assert_str_eq(rc_shard_meta(r, RC_SHARD_META_INPUT_FIRST), "9");
	ck_assert_str_eq(rc_shard_meta(r, RC_SHARD_META_PER_SHARD), "3");
	/* and the tokenizer and context length that made its ids */
	ck_assert_ptr_nonnull(rc_shard_meta(r, RC_SHARD_META_TOKENIZER));
	ck_assert_str_eq(rc_shard_meta(r, RC_SHARD_META_TOKENIZER), "clip-bpe");
	ck_assert_str_eq(rc_shard_meta(r, RC_SHARD_META_TEXT_CTX), "77");
	rc_shard_close(r);
}
END_TEST

/* A shard whose every item is skipped is still written, empty, so that a
 * rerun keeps it. */
START_TEST(test_all_skipped)
{
	const int skip[ITEMS] = {0, 0, 0, 1, 1, 1};
	struct rc_shard_set_opts o = opts(prefix("d"), 0, 1, "x");
	struct outcome a = run(&o, skip);
	ck_assert_uint_eq(a.written, 4);
	struct rc_shard *r;
	ck_assert_int_eq(rc_shard_open(&r, prefix("d-000001.rcs")), 0);
	ck_assert_uint_eq(rc_shard_count(r), 0);
	ck_assert_str_eq(rc_shard_meta(r, RC_SHARD_META_SCHEMA), "mixed");
	ck_assert_str_eq(rc_shard_meta(r, RC_SHARD_META_INPUT_FIRST), "3");
	rc_shard_close(r);
	ck_assert_int_eq(rc_shard_open(&r, prefix("d-000000.rcs")), 0);
	ck_assert_str_eq(rc_shard_meta(r, RC_SHARD_META_SCHEMA), "descriptive");
	rc_shard_close(r);
	struct outcome b = run(&o, skip);
	ck_assert_uint_eq(b.kept, 4);
}
END_TEST

/* ---------------------------------------------------------------- inspect */

/* What rc_shard_inspect writes for path, as a string (static). */
static const char *inspect(const char *path, const struct rc_shard_inspect_opts *io, int *rc)
{
	static char buf[16384];
	FILE *f = tmpfile();
	ck_assert_ptr_nonnull(f);
	*rc = rc_shard_inspect(f, path, io);
	rewind(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(test_inspect)
{
	struct rc_shard_set_opts o = opts(prefix("d"), 0, 1, "x");
	run(&o, NULL);
	const char *path = prefix("d-000000.rcs");
	char head[512];
	uint64_t h;
	char hex[RC_HASH64_HEX_SIZE];
	struct stat st;
	int rc;
	ck_assert_int_eq(rc_shard_file_hash(path, &h), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	snprintf(head, sizeof head, "%s: rclip shard v1, 3 records, descriptive, raw 4x4, "
		"text context 77, %lld bytes, xxh3 %s\n  format: rclip-shard\n", path,
		(long long)st.st_size, rc_hash64_hex(h, hex));

	struct rc_shard_inspect_opts io = {0};
	const char *out = inspect(path, &io, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_eq(strncmp(out, head, strlen(head)), 0);
	ck_assert_ptr_nonnull(strstr(out, "\n  options: x\n"));

	io.json = 1;
	out = inspect(path, &io, &rc);
	json_error_t je;
	json_t *j = json_loads(out, 0, &je);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "records")), 3);
	ck_assert_str_eq(json_string_value(json_object_get(j, "xxh3")), hex);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "metadata"),
		"part")), "0/1");
	json_decref(j);

	io = (struct rc_shard_inspect_opts){.records = 1};
	out = inspect(path, &io, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_nonnull(strstr(out, "{\"shard\":\""));
	ck_assert_ptr_nonnull(strstr(out, "\"index\":2,\"key\":\"img/2\",\"schema\":"
		"\"descriptive\",\"texts\":[{\"role\":\"caption\",\"group\":0,\"text\":"
		"\"caption 2\",\"tokens\":[]}],\"labels\":[],\"image_bytes\":48}\n"));
	ck_assert_ptr_null(strstr(out, "rclip shard v1")); /* no header */
}
END_TEST

START_TEST(test_inspect_pixels)
{
	struct rc_shard_set_opts o = opts(prefix("d"), 0, 1, "x");
	run(&o, NULL);
	char px[4200];
	snprintf(px, sizeof px, "%s/px", tmpdir);
	ck_assert_int_eq(mkdir(px, 0777), 0);
	struct rc_shard_inspect_opts io = {.pixels_dir = px};
	int rc;
	inspect(prefix("d-000001.rcs"), &io, &rc);
	ck_assert_int_eq(rc, 0);
	size_t n;
	char *ppm = rc_test_slurp(rc_test_join(px, "img_4.ppm"), &n);
	struct item it;
	make_item(&it, 4);
	ck_assert_uint_eq(n, 11 + sizeof it.image);
	ck_assert_int_eq(memcmp(ppm, "P6\n4 4\n255\n", 11), 0);
	ck_assert_int_eq(memcmp(ppm + 11, it.image, sizeof it.image), 0);
	free(ppm);
}
END_TEST

/* A bad record is named and skipped; the good ones are still shown. */
START_TEST(test_inspect_bad_record)
{
	struct rc_shard_set_opts o = opts(prefix("d"), 0, 1, "x");
	run(&o, NULL);
	damage_record(prefix("d-000000.rcs"));
	struct rc_shard_inspect_opts io = {.records = 1};
	int rc;
	capture_begin();
	const char *out = inspect(prefix("d-000000.rcs"), &io, &rc);
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_CHECKSUM);
	ck_assert_ptr_nonnull(strstr(err, "d-000000.rcs: record 0: checksum mismatch"));
	ck_assert_ptr_null(strstr(out, "\"index\":0"));
	ck_assert_ptr_nonnull(strstr(out, "\"index\":1"));
	ck_assert_ptr_nonnull(strstr(out, "\"index\":2"));
	io.records = 0;
	capture_begin();
	inspect(prefix("d-000000.rcs"), &io, &rc);
	capture_end();
	ck_assert_int_eq(rc, RC_E_CHECKSUM);
	capture_begin();
	inspect(prefix("none.rcs"), &io, &rc);
	capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
}
END_TEST

/* ---------------------------------------------------------------- main */

static Suite *shard_set_suite(void)
{
	Suite *s = suite_create("shard_set");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_per_shard);
	tcase_add_test(tc, test_init_refuses);
	tcase_add_test(tc, test_parts_own);
	tcase_add_test(tc, test_resume);
	tcase_add_test(tc, test_resume_writes_again);
	tcase_add_test(tc, test_complete);
	tcase_add_test(tc, test_parts_cover_the_run);
	tcase_add_test(tc, test_all_skipped);
	tcase_add_test(tc, test_inspect);
	tcase_add_test(tc, test_inspect_pixels);
	tcase_add_test(tc, test_inspect_bad_record);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	rc_log_init("test_shard_set");
	return rc_test_run(shard_set_suite());
}
