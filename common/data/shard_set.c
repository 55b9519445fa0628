/* shard_set.c - a dataset cut into shards by item number (shard_set.h):
 * the names of a part's shards and list, which shards on disk a rerun
 * keeps, and each shard written with the metadata that lets the next run
 * decide the same.
 */
#include "data/shard_set.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"

char *rc_shard_set_name(const char *prefix, int64_t k)
{
	size_t n = strlen(prefix) + 32;
	char *p = rc_malloc(n);
	if (p)
		snprintf(p, n, "%s-%06lld.rcs", prefix, (long long)k);
	return p;
}

char *rc_shard_set_list_path(const char *prefix, long part_i, long part_n)
{
	size_t n = strlen(prefix) + 48;
	char *p = rc_malloc(n);
	if (p && part_n > 1)
		snprintf(p, n, "%s.part-%ld-of-%ld.list", prefix, part_i, part_n);
	else if (p)
		snprintf(p, n, "%s.list", prefix);
	return p;
}

long long rc_shard_set_per_shard(long image_size, int store)
{
	long long px = (long long)image_size * image_size * 3;
	long long rec = (store == RC_STORE_RAW ? px : px / 5) + 1024;
	long long r = (1LL << 30) / rec;
	return r < 1 ? 1 : r;
}

int rc_shard_set_init(struct rc_shard_set *s, const struct rc_shard_set_opts *o)
{
	memset(s, 0, sizeof *s);
	s->shard = -1;
	rc_shard_list_init(&s->list);
	if (o->per_shard < 1 || o->part_n < 1 || o->part_i < 0 || o->part_i >= o->part_n)
		return rc_log_error(RC_E_ARG, "%s: bad shard set (%lld records per shard, "
			"part %ld of %ld)", o->prefix, o->per_shard, o->part_i, o->part_n);
	s->o = *o;
	s->o.prefix = rc_strdup(o->prefix);
	s->o.options = rc_strdup(o->options);
	s->o.sources = rc_strdup(o->sources);
	s->o.tool = rc_strdup(o->tool);
	s->o.command = rc_strdup(o->command);
	s->o.tokenizer = o->tokenizer ? rc_strdup(o->tokenizer) : NULL;
	if (!s->o.prefix || !s->o.options || !s->o.sources || !s->o.tool || !s->o.command ||
	    (o->tokenizer && !s->o.tokenizer) ||
	    !(s->list_path = rc_shard_set_list_path(o->prefix, o->part_i, o->part_n)))
		return RC_E_NOMEM;
	return 0;
}

int64_t rc_shard_set_index(const struct rc_shard_set *s, uint64_t item)
{
	return (int64_t)(item / (uint64_t)s->o.per_shard);
}

/* The list names shards relative to its own directory, which is the
 * shards' directory too. */
static const char *list_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* A shard under its final name is whole (written atomically); it is this
 * set's when it was cut from the same items with the same options. */
int rc_shard_set_complete(const struct rc_shard_set *s, const char *path, int64_t k,
	uint64_t *records, uint64_t *xxh3)
{
	if (access(path, F_OK) != 0)
		return 0;
	struct rc_shard *r;
	if (rc_shard_open(&r, path) < 0) {
		rc_log_warn("%s: not a valid shard: writing it again", path);
		return 0;
	}
	char first[32], per[32];
	snprintf(first, sizeof first, "%lld", (long long)k * s->o.per_shard);
	snprintf(per, sizeof per, "%lld", s->o.per_shard);
	const char *m1 = rc_shard_meta(r, RC_SHARD_META_INPUT_FIRST);
	const char *m2 = rc_shard_meta(r, RC_SHARD_META_PER_SHARD);
	const char *m3 = rc_shard_meta(r, RC_SHARD_META_OPTIONS);
	const char *m4 = rc_shard_meta(r, RC_SHARD_META_SOURCE);
	int same = m1 && m2 && m3 && m4 && !strcmp(m1, first) && !strcmp(m2, per) &&
		!strcmp(m3, s->o.options) && !strcmp(m4, s->o.sources);
	int ok = same && rc_shard_verify(r, NULL) == 0 && rc_shard_hash(r, xxh3) == 0;
	*records = rc_shard_count(r);
	rc_shard_close(r);
	if (!same) {
		rc_log_warn("%s: made from other inputs or with other options: writing it again", path);
		return 0;
	}
	if (!ok) {
		rc_log_warn("%s: a record is damaged: writing it again", path);
		return 0;
	}
	return 1;
}

int rc_shard_set_begin(struct rc_shard_set *s, int64_t k)
{
	s->shard = k;
	s->active = 0;
	if (k % s->o.part_n != s->o.part_i)
		return 0;
	free(s->path);
	if (!(s->path = rc_shard_set_name(s->o.prefix, k)))
		return RC_E_NOMEM;
	uint64_t records, xxh3;
	if (!rc_shard_set_complete(s, s->path, k, &records, &xxh3)) {
		s->active = 1;
		return 0;
	}
	int rc = rc_shard_list_add(&s->list, list_name(s->path), records, xxh3);
	if (rc < 0)
		return rc;
	s->kept++;
	rc_log_info("%s: complete, kept", s->path);
	return 0;
}

/* The writer of the current shard, with the metadata that
 * rc_shard_set_complete reads back on the next run. */
static int open_writer(struct rc_shard_set *s, int schema)
{
	struct rc_shard_info info = s->o.info;
	char first[32], per[32], part[48];
	info.schema = (uint32_t)schema;
	snprintf(first, sizeof first, "%lld", (long long)s->shard * s->o.per_shard);
	snprintf(per, sizeof per, "%lld", s->o.per_shard);
	snprintf(part, sizeof part, "%ld/%ld", s->o.part_i, s->o.part_n);
	const char *meta[] = {
		RC_SHARD_META_SOURCE, s->o.sources,
		RC_SHARD_META_TOOL, s->o.tool,
		RC_SHARD_META_COMMAND, s->o.command,
		RC_SHARD_META_INPUT_FIRST, first,
		RC_SHARD_META_PER_SHARD, per,
		RC_SHARD_META_PART, part,
		RC_SHARD_META_OPTIONS, s->o.options,
		RC_SHARD_META_TOKENIZER, s->o.tokenizer,
	};
	s->schema = schema;
	size_t nmeta = sizeof meta / sizeof meta[0] / 2 - (s->o.tokenizer ? 0 : 1);
	return rc_shard_writer_open(&s->w, s->path, &info, meta, nmeta);
}

int rc_shard_set_add(struct rc_shard_set *s, const struct rc_record *rec)
{
	rc_assert(s->active);
	int rc = s->w ? 0 : open_writer(s, rec->schema);
	return rc < 0 ? rc : rc_shard_writer_add(s->w, rec);
}

/* Close the current shard, ours to write, and list it. */
static int finish(struct rc_shard_set *s, int empty_schema)
{
	int rc = s->w ? 0 : open_writer(s, empty_schema);
	if (rc < 0)
		return rc;
	uint64_t h, count = rc_shard_writer_count(s->w);
	uint64_t bytes = rc_shard_writer_bytes(s->w);
	rc = rc_shard_writer_close(s->w, &h);
	s->w = NULL;
	if (rc < 0)
		return rc;
	rc = rc_shard_list_add(&s->list, list_name(s->path), count, h);
	rc_log_info("%s: %llu records", s->path, (unsigned long long)count);
	s->written++;
	s->bytes += bytes;
	return rc;
}

int rc_shard_set_end(struct rc_shard_set *s, int empty_schema)
{
	int rc = s->active ? finish(s, empty_schema) : 0;
	s->shard = -1;
	s->active = 0;
	return rc;
}

void rc_shard_set_free(struct rc_shard_set *s)
{
	rc_shard_writer_abort(s->w);
	rc_shard_list_free(&s->list);
	free((char *)s->o.prefix);
	free((char *)s->o.options);
	free((char *)s->o.sources);
	free((char *)s->o.tool);
	free((char *)s->o.tokenizer);
	free((char *)s->o.command);
	free(s->list_path);
	free(s->path);
	memset(s, 0, sizeof *s);
	s->shard = -1;
}
