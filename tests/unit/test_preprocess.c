/* test_preprocess.c - SigLIP's preprocessing and the shard's record of it
 * (common/data/preprocess.c, the "preprocess" key of shard_write.c and
 * shard_check.c). rc_image_siglip against Pillow on the committed
 * fixtures (tests/fixtures/images-siglip/, from gen_siglip_images.py):
 * every case - each image of tests/fixtures/images/ at 64 and 37, some at
 * 224 and 384, up- and downscaling, aspect ratios to 100:1 - equal to
 * Pillow's convert("RGB").resize((S, S), BICUBIC) in every byte. Then the
 * shard: a SigLIP shard reads back as one, a CLIP shard carries no key
 * (the writer's output is v1's), the golden v1 shard reads as CLIP, a key
 * a caller passes or a value this build does not know is refused. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/error.h"
#include "base/hash.h"
#include "base/io.h"
#include "base/log.h"
#include "data/image.h"
#include "data/image_siglip.h"
#include "data/preprocess.h"
#include "data/record.h"
#include "data/shard.h"

#include "testutil.h"

static unsigned long crc(const void *p, size_t n)
{
	return crc32(crc32(0, NULL, 0), p, (uInt)n);
}

/* A .sub.gz reference, read with zlib's gz reader, the Sub filter undone. */
static uint8_t *load_ref(const char *name, int S)
{
	const char *path = rc_test_fixture("images-siglip", name);
	gzFile g = gzopen(path, "rb");
	ck_assert_msg(g != NULL, "cannot open %s", path);
	size_t n = (size_t)S * S * 3;
	uint8_t *p = malloc(n + 1);
	ck_assert_ptr_nonnull(p);
	int got = gzread(g, p, (unsigned)(n + 1));
	gzclose(g);
	ck_assert_msg(got == (int)n, "%s: %d bytes, expected %zu", name, got, n);
	for (int y = 0; y < S; y++) {
		uint8_t *row = p + (size_t)y * S * 3;
		for (int x = 3; x < S * 3; x++)
			row[x] = (uint8_t)(row[x] + row[x - 3]);
	}
	return p;
}

START_TEST(test_siglip_matches_pillow)
{
	json_error_t err;
	json_t *m = json_load_file(rc_test_fixture("images-siglip", "manifest.json"), 0, &err);
	ck_assert_msg(m != NULL, "manifest.json:%d: %s", err.line, err.text);
	json_t *cases = json_object_get(m, "cases"), *c;
	ck_assert_uint_ge(json_array_size(cases), 80);
	size_t i, bad = 0, values = 0, up = 0, down = 0;
	json_array_foreach(cases, i, c) {
		const char *file = json_string_value(json_object_get(c, "file"));
		int S = (int)json_integer_value(json_object_get(c, "S"));
		size_t len;
		char *data = rc_test_slurp(rc_test_fixture("images", file), &len);
		struct rc_image im;
		char why[128];
		ck_assert_msg(rc_image_decode(data, len, NULL, &im, why, sizeof why) == 0, "%s: %s",
			file, why);
		free(data);
		size_t n = (size_t)S * S * 3;
		uint8_t *px = malloc(n);
		ck_assert_ptr_nonnull(px);
		ck_assert_int_eq(rc_image_preprocess(&im, RC_PREPROCESS_SIGLIP, S, px), 0);
		uint8_t *ref = load_ref(json_string_value(json_object_get(c, "ref")), S);
		ck_assert_uint_eq(crc(ref, n), (unsigned long)json_integer_value(json_object_get(c, "crc32")));
		size_t diff = 0;
		for (size_t k = 0; k < n; k++)
			diff += px[k] != ref[k];
		if (diff) {
			fprintf(stderr, "  %s at %d: %zu of %zu values differ from Pillow\n", file, S,
				diff, n);
			bad++;
		}
		values += n;
		up += S > im.w || S > im.h;
		down += S < im.w || S < im.h;
		rc_image_free(&im);
		free(px);
		free(ref);
	}
	fprintf(stderr, "  siglip: %zu cases (%zu upscale an axis, %zu downscale one), "
		"%zu values, %zu cases differ from Pillow\n", json_array_size(cases), up, down,
		values, bad);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_gt(up, 10);
	ck_assert_uint_gt(down, 10);
	json_decref(m);
}
END_TEST

START_TEST(test_siglip_is_not_the_crop)
{
	/* a 6×2 image: the crop keeps its centre, the resize squeezes it all */
	uint8_t rgb[6 * 2 * 3];
	for (int k = 0; k < (int)sizeof rgb; k++)
		rgb[k] = (uint8_t)(k * 7);
	struct rc_image im = { .rgb = rgb, .w = 6, .h = 2 };
	uint8_t a[2 * 2 * 3], b[2 * 2 * 3], c[2 * 2 * 3];
	ck_assert_int_eq(rc_image_preprocess(&im, RC_PREPROCESS_SIGLIP, 2, a), 0);
	ck_assert_int_eq(rc_image_resize(rgb, 6, 2, b, 2, 2), 0);
	ck_assert_mem_eq(a, b, sizeof a);
	ck_assert_int_eq(rc_image_preprocess(&im, RC_PREPROCESS_CLIP, 2, c), 0);
	ck_assert_int_ne(memcmp(a, c, sizeof a), 0);
	ck_assert_int_eq(rc_image_preprocess(&im, 7, 2, c), RC_E_ARG);
	ck_assert_int_eq(rc_image_siglip(&im, 0, c), RC_E_ARG);
	ck_assert_int_eq(rc_preprocess_parse("siglip"), RC_PREPROCESS_SIGLIP);
	ck_assert_int_eq(rc_preprocess_parse("clip"), RC_PREPROCESS_CLIP);
	ck_assert_int_eq(rc_preprocess_parse("SigLIP"), -1);
	ck_assert_ptr_null(rc_preprocess_name(2));
}
END_TEST

/* ---------------------------------------------------------------- shards */

static char tmpdir[] = "/tmp/test_preprocess.XXXXXX";

static const char *tpath(const char *name)
{
	static char p[256];
	snprintf(p, sizeof p, "%s/%s", tmpdir, name);
	return p;
}

/* A one-record raw shard at path with the given preprocessing. */
static int write_shard(const char *path, int kind, const char *const *meta, size_t nmeta)
{
	uint8_t px[4 * 4 * 3] = { 0 };
	struct rc_text t = { .s = "a cat", .len = 5, .role = RC_ROLE_CAPTION };
	struct rc_record rec = { .schema = RC_SCHEMA_DESC, .key = "k", .key_len = 1, .image = px,
		.image_len = sizeof px, .texts = &t, .ntexts = 1 };
	struct rc_shard_info info = { .schema = RC_SCHEMA_DESC, .store = RC_STORE_RAW,
		.image_size = 4, .text_ctx = 77, .preprocess = (uint32_t)kind };
	struct rc_shard_writer *w;
	int rc = rc_shard_writer_open(&w, path, &info, meta, nmeta);
	if (rc < 0)
		return rc;
	if ((rc = rc_shard_writer_add(w, &rec)) < 0) {
		rc_shard_writer_abort(w);
		return rc;
	}
	return rc_shard_writer_close(w, NULL);
}

START_TEST(test_shard_records_it)
{
	struct rc_shard *r;
	ck_assert_int_eq(write_shard(tpath("s.rcs"), RC_PREPROCESS_SIGLIP, NULL, 0), 0);
	ck_assert_int_eq(rc_shard_open(&r, tpath("s.rcs")), 0);
	ck_assert_uint_eq(rc_shard_info(r)->preprocess, RC_PREPROCESS_SIGLIP);
	ck_assert_str_eq(rc_shard_meta(r, RC_SHARD_META_PREPROCESS), "siglip");
	ck_assert_int_eq(rc_preprocess_check("s.rcs", rc_shard_info(r), RC_PREPROCESS_SIGLIP, 4), 0);
	ck_assert_int_eq(rc_preprocess_check("s.rcs", rc_shard_info(r), RC_PREPROCESS_CLIP, 4),
		RC_E_FORMAT);
	ck_assert_int_eq(rc_preprocess_check("s.rcs", rc_shard_info(r), RC_PREPROCESS_SIGLIP, 8),
		RC_E_FORMAT);
	rc_shard_close(r);

	/* CLIP: no key, so the bytes are what v1 writers wrote */
	ck_assert_int_eq(write_shard(tpath("c.rcs"), RC_PREPROCESS_CLIP, NULL, 0), 0);
	ck_assert_int_eq(rc_shard_open(&r, tpath("c.rcs")), 0);
	ck_assert_uint_eq(rc_shard_info(r)->preprocess, RC_PREPROCESS_CLIP);
	ck_assert_ptr_null(rc_shard_meta(r, RC_SHARD_META_PREPROCESS));
	ck_assert_int_eq(rc_preprocess_check("c.rcs", rc_shard_info(r), RC_PREPROCESS_CLIP, 4), 0);
	ck_assert_int_eq(rc_preprocess_check("c.rcs", rc_shard_info(r), RC_PREPROCESS_SIGLIP, 4),
		RC_E_FORMAT);
	rc_shard_close(r);

	/* the writer's key: a caller may not pass it; an unknown kind */
	const char *meta[] = { RC_SHARD_META_PREPROCESS, "siglip" };
	ck_assert_int_eq(write_shard(tpath("x.rcs"), RC_PREPROCESS_CLIP, meta, 1), RC_E_ARG);
	ck_assert_int_eq(write_shard(tpath("x.rcs"), 5, NULL, 0), RC_E_ARG);
	ck_assert_int_ne(access(tpath("x.rcs"), F_OK), 0);
}
END_TEST

START_TEST(test_old_shard_reads_as_clip)
{
	struct rc_shard *r;
	ck_assert_int_eq(rc_shard_open(&r, rc_test_fixture("shards", "golden-v1.rcs")), 0);
	ck_assert_uint_eq(rc_shard_info(r)->preprocess, RC_PREPROCESS_CLIP);
	ck_assert_ptr_null(rc_shard_meta(r, RC_SHARD_META_PREPROCESS));
	ck_assert_int_eq(rc_preprocess_check("golden-v1.rcs", rc_shard_info(r),
		RC_PREPROCESS_CLIP, 224), 0);
	ck_assert_int_eq(rc_preprocess_check("golden-v1.rcs", rc_shard_info(r),
		RC_PREPROCESS_SIGLIP, 224), RC_E_FORMAT);
	rc_shard_close(r);
}
END_TEST

START_TEST(test_unknown_kind_refused)
{
	/* a SigLIP shard whose value is changed to one no build knows, the
	 * metadata checksum made right again: refused as a format error */
	char dir[] = "/tmp/test_preprocess_u.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof path, "%s/s.rcs", dir);
	ck_assert_int_eq(write_shard(path, RC_PREPROCESS_SIGLIP, NULL, 0), 0);
	char *d;
	size_t n;
	ck_assert_int_eq(rc_io_read_file(path, &d, &n), 0);
	uint8_t *p = (uint8_t *)d;
	uint64_t msize = 0;
	for (int k = 0; k < 8; k++)
		msize |= (uint64_t)p[56 + k] << (8 * k);
	char *at = memmem(p + 128, msize, "\"siglip\"", 8);
	ck_assert_ptr_nonnull(at);
	memcpy(at + 1, "future", 6);
	uint64_t h = rc_hash64(p + 128, msize - 8);
	for (int k = 0; k < 8; k++)
		p[128 + msize - 8 + k] = (uint8_t)(h >> (8 * k));
	void *al = NULL;
	ck_assert_int_eq(posix_memalign(&al, 8, n), 0);
	memcpy(al, d, n);
	struct rc_shard *r;
	ck_assert_int_eq(rc_shard_open_mem(&r, al, n, "future.rcs"), RC_E_FORMAT);
	ck_assert_ptr_null(r);
	/* the same bytes with "siglip" back open */
	memcpy((uint8_t *)al + (at - d) + 1, "siglip", 6);
	h = rc_hash64((uint8_t *)al + 128, msize - 8);
	for (int k = 0; k < 8; k++)
		((uint8_t *)al)[128 + msize - 8 + k] = (uint8_t)(h >> (8 * k));
	ck_assert_int_eq(rc_shard_open_mem(&r, al, n, "back.rcs"), 0);
	ck_assert_uint_eq(rc_shard_info(r)->preprocess, RC_PREPROCESS_SIGLIP);
	rc_shard_close(r);
	free(al);
	free(d);
	unlink(path);
	rmdir(dir);
}
END_TEST

int main(void)
{
	rc_log_init("test_preprocess");
	if (!mkdtemp(tmpdir))
		return 99;
	Suite *s = suite_create("preprocess");
	TCase *tc = tcase_create("siglip");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_siglip_matches_pillow);
	tcase_add_test(tc, test_siglip_is_not_the_crop);
	suite_add_tcase(s, tc);
	tc = tcase_create("shard");
	tcase_add_test(tc, test_shard_records_it);
	tcase_add_test(tc, test_old_shard_reads_as_clip);
	tcase_add_test(tc, test_unknown_kind_refused);
	suite_add_tcase(s, tc);
	int rc = rc_test_run(s);
	unlink(tpath("s.rcs"));
	unlink(tpath("c.rcs"));
	rmdir(tmpdir);
	return rc;
}
