/* shard_list.c - the shard list (rclip-shard(5)): a text file naming the
 * shards of a dataset, one "PATH<TAB>RECORDS<TAB>XXH3" per line, and the
 * whole-file xxh3-64 that it records for each shard.
 */
#include "data/shard.h"

#include "base/error.h"
#include "base/hash.h"
#include "base/io.h"
#include "base/log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int rc_shard_file_hash(const char *path, uint64_t *xxh3)
{
	FILE *f;
	struct rc_hash_state st = { 0 };
	size_t cap = 1u << 20;
	uint8_t *b = NULL;
	int rc = rc_io_open_read(path, &f);
	if (rc < 0)
		return rc;
	if ((rc = rc_hash_init(&st, 0)) < 0)
		goto out;
	if (!(b = rc_malloc(cap))) {
		rc = RC_E_NOMEM;
		goto out;
	}
	size_t got;
	while ((got = fread(b, 1, cap, f)) > 0)
		rc_hash_update(&st, b, got);
	*xxh3 = rc_hash_digest64(&st);
out:
	free(b);
	rc_hash_free(&st);
	int crc = rc_io_close(f, path); /* reports a read error */
	return rc < 0 ? rc : crc;
}

void rc_shard_list_init(struct rc_shard_list *l)
{
	memset(l, 0, sizeof *l);
}

void rc_shard_list_free(struct rc_shard_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->e[i].path);
		free(l->e[i].full);
	}
	free(l->e);
	free(l->name);
	rc_shard_list_init(l);
}

/* Append an entry with path and full (both taken over). */
static int push(struct rc_shard_list *l, char *path, char *full, uint64_t records,
		uint64_t xxh3, uint64_t lineno)
{
	int rc = rc_grow((void **)&l->e, &l->cap, l->n + 1, sizeof *l->e);
	if (rc < 0) {
		free(path);
		free(full);
		return rc;
	}
	struct rc_shard_list_entry *e = &l->e[l->n++];
	e->path = path;
	e->full = full;
	e->records = records;
	e->xxh3 = xxh3;
	e->lineno = lineno;
	l->records += records;
	return 0;
}

int rc_shard_list_add(struct rc_shard_list *l, const char *path, uint64_t records,
		      uint64_t xxh3)
{
	if (!*path || path[0] == '#' || strpbrk(path, "\t\r\n"))
		return rc_log_error(RC_E_ARG, "%s: cannot be named in a shard list "
				    "(empty, a tab or line break, or a leading '#')",
				    path);
	char *p = rc_strdup(path), *full = p ? rc_strdup(path) : NULL;
	if (!full) {
		free(p);
		return RC_E_NOMEM;
	}
	return push(l, p, full, records, xxh3, 0);
}

/* Parse a decimal u64 of exactly n bytes; 0 or -1. */
static int parse_u64(const char *s, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned)(s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return -1;
		x = x * 10 + d;
	}
	*v = x;
	return 0;
}

/* One list line into l; dir (dlen bytes, with its '/') prefixes relative
 * paths. */
static int parse_line(struct rc_shard_list *l, const struct rc_io_lines *lr,
		      const char *dir, size_t dlen)
{
	char *s = lr->line;
	const char *why = NULL;
	uint64_t records = 0, xxh3 = 0;
	char *t1 = strchr(s, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
	if (strlen(s) != lr->len)
		why = "a NUL byte";
	else if (!t2 || strchr(t2 + 1, '\t'))
		why = "not three tab-separated fields";
	else if (t1 == s)
		why = "an empty path";
	else if (parse_u64(t1 + 1, (size_t)(t2 - t1 - 1), &records) < 0)
		why = "bad record count";
	else if (rc_hash64_parse(t2 + 1, &xxh3) < 0)
		why = "bad xxh3 (16 hex digits)";
	if (why)
		return rc_log_error(RC_E_FORMAT, "%s:%" PRIu64 ": %s", lr->path,
				    lr->lineno, why);
	size_t plen = (size_t)(t1 - s);
	int abs = s[0] == '/';
	char *path = rc_malloc(plen + 1), *full = rc_malloc((abs ? 0 : dlen) + plen + 1);
	if (!path || !full) {
		free(path);
		free(full);
		return RC_E_NOMEM;
	}
	memcpy(path, s, plen);
	path[plen] = '\0';
	snprintf(full, (abs ? 0 : dlen) + plen + 1, "%.*s%s", abs ? 0 : (int)dlen,
		 dir, path);
	return push(l, path, full, records, xxh3, lr->lineno);
}

int rc_shard_list_read(struct rc_shard_list *l, const char *list_path)
{
	FILE *f;
	struct rc_io_lines lr;
	int rc;
	free(l->name);
	if (!(l->name = rc_strdup(list_path)))
		return RC_E_NOMEM;
	if ((rc = rc_io_open_read(list_path, &f)) < 0)
		return rc;
	/* Relative paths are relative to the list's directory. */
	const char *slash = strcmp(list_path, "-") ? strrchr(list_path, '/') : NULL;
	size_t dlen = slash ? (size_t)(slash - list_path) + 1 : 0;
	rc_io_lines_init(&lr, f, list_path);
	while ((rc = rc_io_lines_next(&lr)) > 0) {
		if (lr.len == 0 || lr.line[0] == '#')
			continue;
		if ((rc = parse_line(l, &lr, list_path, dlen)) < 0)
			break;
	}
	rc_io_lines_free(&lr);
	int crc = rc_io_close(f, list_path);
	return rc < 0 ? rc : crc;
}

int rc_shard_list_write(const struct rc_shard_list *l, const char *list_path)
{
	struct rc_atomic_file af;
	char hex[RC_HASH64_HEX_SIZE];
	int rc = rc_atomic_open(&af, list_path);
	if (rc < 0)
		return rc;
	fputs("# rclip shard list, rclip-shard(5): PATH<TAB>RECORDS<TAB>XXH3\n", af.f);
	for (size_t i = 0; i < l->n; i++)
		fprintf(af.f, "%s\t%" PRIu64 "\t%s\n", l->e[i].path, l->e[i].records,
			rc_hash64_hex(l->e[i].xxh3, hex));
	return rc_atomic_commit(&af); /* reports a write error */
}

int rc_shard_list_check(const struct rc_shard_list *l, size_t i)
{
	const struct rc_shard_list_entry *e = &l->e[i];
	const char *ln = l->name ? l->name : "shard list";
	uint64_t h;
	struct rc_shard *r;
	int rc = rc_shard_file_hash(e->full, &h);
	if (rc < 0)
		return rc;
	if (h != e->xxh3)
		return rc_log_error(RC_E_CHECKSUM, "%s:%" PRIu64 ": %s: xxh3 %016"
				    PRIx64 ", the list says %016" PRIx64, ln,
				    e->lineno, e->full, h, e->xxh3);
	if ((rc = rc_shard_open(&r, e->full)) < 0)
		return rc;
	uint64_t n = rc_shard_count(r);
	rc_shard_close(r);
	if (n != e->records)
		return rc_log_error(RC_E_FORMAT, "%s:%" PRIu64 ": %s: %" PRIu64
				    " records, the list says %" PRIu64, ln,
				    e->lineno, e->full, n, e->records);
	return 0;
}
