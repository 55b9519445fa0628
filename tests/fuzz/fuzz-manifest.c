/* fuzz-manifest.c - libFuzzer target for manifest.h: the first byte picks
 * a mode, the rest is the input. Modes: one JSONL line with the schema
 * detected (0), forced (1..4) or as a webdataset .json member without
 * image_path (5); one TSV line (6); a whole manifest through the reader
 * (7; a first line that is not text stops it); a webdataset tar from
 * memory (8). Every record must fit its schema
 * (roles, groups, counts, labels, non-empty NUL-terminated texts); every
 * reason must be one printable, terminated line. Build: `make fuzz`; run:
 * tests/fuzz/fuzz-manifest CORPUS_DIR. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/error.h"
#include "base/log.h"
#include "data/manifest.h"
#include "data/record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(c) do { if (!(c)) { fprintf(stderr, "check failed: %s (line %d)\n", \
	#c, __LINE__); abort(); } } while (0)

static void check_why(int rc, const char *why, size_t n)
{
	check(rc == RC_E_FORMAT || rc == RC_E_TRUNCATED);
	size_t len = strnlen(why, n);
	check(len > 0 && len < n);
	for (size_t i = 0; i < len; i++)
		check((unsigned char)why[i] >= 0x20 && why[i] != 0x7f);
}

static void check_record(const struct rc_record *r, int forced)
{
	check(r->schema >= RC_SCHEMA_DESC && r->schema <= RC_SCHEMA_SETS);
	check(forced == RC_SCHEMA_NONE || r->schema == forced);
	check(r->ntexts >= 1 && r->ntexts <= RC_RECORD_MAX_TEXTS && r->texts);
	for (uint32_t i = 0; i < r->ntexts; i++) {
		const struct rc_text *t = &r->texts[i];
		check(t->s && t->len > 0 && t->s[t->len] == '\0');
		check(!t->tokens && t->ntokens == 0);
		int role = t->role, group = t->group;
		switch (r->schema) {
		case RC_SCHEMA_DESC:
			check(role == RC_ROLE_CAPTION && group == 0);
			break;
		case RC_SCHEMA_LITE: /* tb (>= 1), then trl (any) */
			check(group == 0 && (role == RC_ROLE_TB || role == RC_ROLE_TRL));
			check(i == 0 ? role == RC_ROLE_TB :
			      role == RC_ROLE_TRL || r->texts[i - 1].role == RC_ROLE_TB);
			break;
		case RC_SCHEMA_PRO:
			check(r->ntexts == 1 && role == RC_ROLE_TRP && group == 0);
			break;
		case RC_SCHEMA_SETS:
			check(r->ntexts % 6 == 0 && group == i / 6);
			check(role == (i % 6 == 0 ? RC_ROLE_TAG : i % 6 == 1 ?
				       RC_ROLE_GT : RC_ROLE_NEG));
			break;
		}
	}
	if (r->schema == RC_SCHEMA_PRO) {
		check(r->nlabels == 4 && r->labels);
		for (int i = 0; i < 4; i++)
			check(r->labels[i] < RC_CATEGORIES);
	} else {
		check(r->nlabels == 0 && !r->labels);
	}
	if (r->key)
		check(r->key_len > 0 || r->schema == RC_SCHEMA_SETS);
}

static void one_line(int mode, const char *s, size_t n, struct rc_arena *a)
{
	struct rc_record r;
	const char *path = NULL;
	char why[160];
	int rc, forced = mode >= 1 && mode <= 4 ? mode : RC_SCHEMA_NONE;
	if (mode == 6)
		rc = rc_manifest_parse_tsv(s, n, a, &r, &path, why, sizeof why);
	else
		rc = rc_manifest_parse_json(s, n, forced, a, &r,
					    mode == 5 ? NULL : &path, why, sizeof why);
	if (rc < 0) {
		check_why(rc, why, sizeof why);
		return;
	}
	check(rc == 0);
	check_record(&r, forced);
	if (mode != 5) {
		check(path && *path && r.key);
		check(r.key == path || r.schema == RC_SCHEMA_SETS);
	}
	if (mode == 6)
		check(r.schema == RC_SCHEMA_DESC && r.ntexts == 1);
}

static void whole_manifest(const uint8_t *data, size_t size, struct rc_arena *a)
{
	FILE *f = fmemopen((void *)data, size, "r");
	if (!f)
		return;
	struct rc_manifest *m;
	if (rc_manifest_open_stream(&m, f, "-", RC_SCHEMA_NONE, RC_MANIFEST_AUTO) < 0)
		abort();
	struct rc_record r;
	const char *path;
	uint64_t line, last = 0;
	char why[160];
	int rc;
	while ((rc = rc_manifest_next(m, a, &r, &path, &line, why, sizeof why)) != 0) {
		check(line > last);
		last = line;
		/* binary data as the first line (a tar, a Parquet file, ...): the
		 * whole input is refused, with a reason */
		if (rc == RC_E_UNSUPPORTED) {
			check(strnlen(why, sizeof why) > 0);
			break;
		}
		if (rc < 0) {
			check_why(rc, why, sizeof why);
			continue;
		}
		check_record(&r, rc_manifest_schema(m));
		check(path && *path);
	}
	rc_manifest_close(m);
	fclose(f);
}

static void tar(const uint8_t *data, size_t size, struct rc_arena *a)
{
	struct rc_wds *w;
	if (rc_wds_open_memory(&w, data, size, "fuzz.tar", RC_SCHEMA_NONE) < 0)
		return;
	struct rc_record r;
	const uint8_t *img;
	size_t len;
	char why[160];
	int rc, steps = 0;
	while ((rc = rc_wds_next(w, a, &r, &img, &len, why, sizeof why)) != 0) {
		check(++steps < 100000);
		if (rc < 0) {
			check_why(rc, why, sizeof why);
			continue;
		}
		check_record(&r, rc_wds_schema(w));
		check(r.key && img == r.image && len == r.image_len);
	}
	rc_wds_close(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rc_arena a;
	static int init;
	if (!init) {
		rc_log_init("fuzz-manifest");
		rc_log_set_level(RC_LOG_ERROR);
		rc_arena_init(&a, 0);
		init = 1;
	}
	if (size == 0)
		return 0;
	int mode = data[0] % 9;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	if (mode <= 6)
		one_line(mode, s, n, &a);
	else if (mode == 7)
		whole_manifest(data + 1, n, &a);
	else
		tar(data + 1, n, &a);
	rc_arena_reset(&a);
	return 0;
}
