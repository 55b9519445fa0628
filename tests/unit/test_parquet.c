/* test_parquet.c - the Parquet reader (parquet.h) against pyarrow: every
 * fixture of tests/fixtures/parquet (written by gen_parquet.py in each
 * page version, codec and encoding) reads back as the rows pyarrow reads
 * (NAME.rows.jsonl, binary values as {"hex": ...}); damaged files (cut at
 * every length, bytes changed through the footer and the pages) give a
 * reason naming the damage and never a wrong row count unnoticed. */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "data/parquet.h"
#include "testutil.h"

static const char *const names[] = { "reasonlite", "reasonpro", "cc12m", "rclip" };
static const char *const variants[] = { "v1-snappy", "v2-zstd", "v1-gzip-plain",
	"v2-none-plain" };

/* Whether actual (from the reader) equals expected (from pyarrow). */
static int same(const json_t *a, const json_t *e, char *path, size_t n)
{
	if (json_is_object(e) && json_object_size(e) == 1 && json_object_get(e, "hex")) {
		const char *hex = json_string_value(json_object_get(e, "hex"));
		if (!json_is_string(a) || json_string_length(a) * 2 != strlen(hex))
			return 0;
		const unsigned char *s = (const unsigned char *)json_string_value(a);
		for (size_t i = 0; i < json_string_length(a); i++) {
			char b[3];
			snprintf(b, sizeof b, "%02x", s[i]);
			if (memcmp(b, hex + 2 * i, 2))
				return 0;
		}
		return 1;
	}
	if (json_is_object(e)) {
		const char *k;
		json_t *v;
		if (!json_is_object(a) || json_object_size(a) != json_object_size(e))
			return 0;
		json_object_foreach((json_t *)e, k, v) {
			size_t l = strlen(path);
			snprintf(path + l, n - l, ".%s", k);
			if (!same(json_object_get(a, k), v, path, n))
				return 0;
			path[l] = 0;
		}
		return 1;
	}
	if (json_is_array(e)) {
		if (!json_is_array(a) || json_array_size(a) != json_array_size(e))
			return 0;
		for (size_t i = 0; i < json_array_size(e); i++) {
			size_t l = strlen(path);
			snprintf(path + l, n - l, "[%zu]", i);
			if (!same(json_array_get(a, i), json_array_get(e, i), path, n))
				return 0;
			path[l] = 0;
		}
		return 1;
	}
	return a && json_equal(a, e);
}

START_TEST(test_fixtures)
{
	int files = 0;
	for (size_t f = 0; f < sizeof names / sizeof names[0]; f++) {
		char rows[256];
		snprintf(rows, sizeof rows, "%s.rows.jsonl", names[f]);
		FILE *ef = fopen(rc_test_fixture("parquet", rows), "r");
		ck_assert_msg(ef != NULL, "no %s (top_srcdir?)", rows);
		json_t *want = json_array();
		char line[65536];
		while (fgets(line, sizeof line, ef)) {
			json_t *j = json_loads(line, 0, NULL);
			ck_assert_ptr_nonnull(j);
			json_array_append_new(want, j);
		}
		fclose(ef);
		for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
			char name[256];
			snprintf(name, sizeof name, "%s-%s.parquet", names[f], variants[v]);
			struct rc_parquet *p;
			ck_assert_int_eq(rc_parquet_open(&p, rc_test_fixture("parquet", name)), 0);
			ck_assert_uint_eq(rc_parquet_rows(p), json_array_size(want));
			json_t *row;
			uint64_t r, k = 0;
			char why[256];
			int rc;
			while ((rc = rc_parquet_next(p, &row, &r, why, sizeof why)) != 0) {
				ck_assert_msg(rc == 1, "%s: %s", name, why);
				ck_assert_uint_eq(r, k + 1);
				char path[512] = "";
				ck_assert_msg(k < json_array_size(want), "%s: too many rows", name);
				ck_assert_msg(same(row, json_array_get(want, k), path, sizeof path),
					"%s: row %llu differs at %s", name, (unsigned long long)r, path);
				json_decref(row);
				k++;
			}
			ck_assert_uint_eq(k, json_array_size(want));
			rc_parquet_close(p);
			files++;
		}
		json_decref(want);
	}
	ck_assert_int_eq(files, 16);
}
END_TEST

START_TEST(test_not_parquet)
{
	struct rc_parquet *p;
	char why[256];
	ck_assert_int_eq(rc_parquet_open_memory(&p, "{\"a\": 1}\n", 9, "x", why, sizeof why),
		RC_E_FORMAT);
	ck_assert_ptr_nonnull(strstr(why, "not a parquet file"));
	ck_assert_int_eq(rc_parquet_open_memory(&p, "PAR1xxxxxxxxxxxx", 16, "x", why, sizeof why),
		RC_E_FORMAT);
	ck_assert_ptr_nonnull(strstr(why, "truncated"));
	ck_assert_int_eq(rc_parquet_open_memory(&p, "PARExxxxxxxxPARE", 16, "x", why, sizeof why),
		RC_E_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(why, "encrypted"));
}
END_TEST

/* Read all of a damaged file: a reason every time something is refused,
 * and never more rows than the footer says. */
static int read_all(const uint8_t *d, size_t n, int *damage)
{
	struct rc_parquet *p;
	char why[256] = "";
	*damage = 0;
	int rc = rc_parquet_open_memory(&p, d, n, "cut", why, sizeof why);
	if (rc < 0) {
		ck_assert_msg(why[0] != 0, "no reason for %d", rc);
		*damage = 1;
		return 0;
	}
	json_t *row;
	int k = 0;
	while ((rc = rc_parquet_next(p, &row, NULL, why, sizeof why)) != 0) {
		if (rc < 0) {
			ck_assert_msg(why[0] != 0, "no reason for %d", rc);
			if (rc != RC_E_FORMAT)
				*damage = 1;
			continue;
		}
		json_decref(row);
		ck_assert_uint_le((uint64_t)++k, rc_parquet_rows(p));
	}
	rc_parquet_close(p);
	return k;
}

START_TEST(test_damage)
{
	size_t n;
	char *d = rc_test_slurp(rc_test_fixture("parquet", "rclip-v2-zstd.parquet"), &n);
	int damage;
	ck_assert_int_eq(read_all((uint8_t *)d, n, &damage), 7);
	ck_assert_int_eq(damage, 0);
	for (size_t cut = 0; cut < n; cut += 7) {
		read_all((uint8_t *)d, cut, &damage);
		ck_assert_msg(damage, "a file cut at %zu of %zu bytes reads as whole", cut, n);
	}
	uint8_t *m = malloc(n);
	for (size_t at = 0; at < n; at += 3) {
		memcpy(m, d, n);
		m[at] ^= 0x5a;
		read_all(m, n, &damage);
	}
	/* A page's bytes changed: the zstd page checksum or the levels say so. */
	struct rc_parquet *p;
	char why[256];
	memcpy(m, d, n);
	for (size_t at = 200; at < 400; at++)
		m[at] ^= 0xff;
	ck_assert_int_eq(rc_parquet_open_memory(&p, m, n, "x", why, sizeof why), 0);
	json_t *row;
	int rc;
	while ((rc = rc_parquet_next(p, &row, NULL, why, sizeof why)) == 1)
		json_decref(row);
	ck_assert_int_eq(rc, RC_E_TRUNCATED);
	ck_assert_msg(strstr(why, "row group 0, column ") && strstr(why, "page "), "%s", why);
	rc_parquet_close(p);
	free(m);
	free(d);
}
END_TEST

int main(void)
{
	rc_log_init("test_parquet");
	rc_log_set_level(RC_LOG_ERROR);
	Suite *s = suite_create("parquet");
	TCase *tc = tcase_create("reader");
	tcase_add_test(tc, test_fixtures);
	tcase_add_test(tc, test_not_parquet);
	tcase_add_test(tc, test_damage);
	suite_add_tcase(s, tc);
	return rc_test_run(s);
}
