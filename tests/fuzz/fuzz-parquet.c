/* fuzz-parquet.c - libFuzzer target for the Parquet reader (parquet.h) and
 * its rows as manifest records (manifest.h): any bytes opened in memory;
 * when they open, every row is read (never more than the footer's count)
 * and turned into a record of a schema, which must fit it; every reason
 * must be one terminated line. Build: `make fuzz`; run:
 * tests/fuzz/fuzz-parquet -close_fd_mask=2 CORPUS_DIR (seeds: files that
 * tests/fixtures/gen_parquet.py writes with pyarrow). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/error.h"
#include "base/log.h"
#include "data/manifest.h"
#include "data/manifest_impl.h"
#include "data/parquet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", \
	#c, __LINE__); abort(); } } while (0)

static void check_why(const char *why, size_t n)
{
	size_t len = strnlen(why, n);
	check(len > 0 && len < n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rc_arena a;
	static int init;
	if (!init) {
		rc_log_init("fuzz-parquet");
		rc_log_set_level(RC_LOG_ERROR);
		rc_arena_init(&a, 0);
		init = 1;
	}
	struct rc_parquet *p;
	char why[200];
	if (rc_parquet_open_memory(&p, data, size, "fuzz.parquet", why, sizeof why) < 0) {
		check_why(why, sizeof why);
		return 0;
	}
	json_t *row;
	uint64_t r, rows = 0;
	int rc;
	while ((rc = rc_parquet_next(p, &row, &r, why, sizeof why)) != 0) {
		check(r == ++rows && rows <= rc_parquet_rows(p));
		if (rc < 0) {
			check_why(why, sizeof why);
			continue;
		}
		struct rc_record rec;
		const char *path;
		int fit;
		rc = rc_manifest_parquet_record(row, RC_SCHEMA_NONE, &a, &rec, &path, why,
			sizeof why, &fit);
		if (rc < 0) {
			check(rc == RC_E_FORMAT);
			check_why(why, sizeof why);
		} else {
			check(rec.schema >= RC_SCHEMA_DESC && rec.schema <= RC_SCHEMA_SETS);
			check(rec.ntexts >= 1 && rec.ntexts <= RC_RECORD_MAX_TEXTS);
			check(path || rec.image);
			check(rc_manifest_lite_three(&a, &rec) == 0);
			for (uint32_t i = 0; i < rec.ntexts; i++)
				check(rec.texts[i].s && rec.texts[i].len > 0);
		}
		json_decref(row);
		rc_arena_reset(&a);
	}
	rc_parquet_close(p);
	return 0;
}
