/* captions.c - a caption file read once into a table keyed by sample name
 * (captions.h), for webdataset tars whose captions live apart. Each line
 * or row is parsed by the manifest module's JSON record parser
 * (manifest_json.c) without an image path; the table is one arena for
 * the records, an array of entries and an open-addressing hash of them.
 */
#include "data/captions.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/error.h"
#include "base/hash.h"
#include "base/io.h"
#include "base/log.h"
#include "data/manifest.h"
#include "data/manifest_impl.h"
#include "data/parquet.h"

struct entry {
	struct rc_record rec;  /* key: the table's key; no image */
	uint64_t line;         /* where it was read, for duplicates */
	uint64_t hash;
	int matched;
};

struct rc_captions {
	char *path;
	struct rc_arena arena;
	struct entry *e;
	size_t n, cap;
	uint32_t *slot;        /* entry index + 1; 0 = empty */
	size_t mask;
	int schema, forced;
	uint64_t schema_line;
	const char *field;     /* the key field: static or the caller's */
	uint64_t bad;
	int strict;
};

/* The default order of key fields (captions.h). */
static const char *const key_fields[] = { "__key__", "key", "id", "image_name" };

static const struct entry *find(const struct rc_captions *c, const char *k, size_t len,
	uint64_t h)
{
	if (!c->slot)
		return NULL;
	for (size_t j = h & c->mask; c->slot[j]; j = (j + 1) & c->mask) {
		const struct entry *e = &c->e[c->slot[j] - 1];
		if (e->hash == h && e->rec.key_len == len && !memcmp(e->rec.key, k, len))
			return e;
	}
	return NULL;
}

/* Put entry i into the hash, growing it to stay at most half full. */
static int insert(struct rc_captions *c, size_t i)
{
	if ((c->n + 1) * 2 > c->mask + 1 || !c->slot) {
		size_t cap = c->slot ? 2 * (c->mask + 1) : 1024;
		uint32_t *s = rc_calloc(cap, sizeof *s);
		if (!s)
			return RC_E_NOMEM;
		for (size_t k = 0; c->slot && k <= c->mask; k++) {
			if (!c->slot[k])
				continue;
			size_t j = c->e[c->slot[k] - 1].hash & (cap - 1);
			while (s[j])
				j = (j + 1) & (cap - 1);
			s[j] = c->slot[k];
		}
		free(c->slot);
		c->slot = s;
		c->mask = cap - 1;
	}
	size_t j = c->e[i].hash & c->mask;
	while (c->slot[j])
		j = (j + 1) & c->mask;
	c->slot[j] = (uint32_t)(i + 1);
	return 0;
}

/* A file name's key as webdataset splits a member name: up to the first
 * dot of its last path component, a leading "./" dropped. */
static void strip_ext(const char **k, size_t *len)
{
	const char *s = *k, *end = s + *len;
	while (end - s >= 2 && s[0] == '.' && s[1] == '/')
		s += 2;
	const char *base = s;
	for (const char *p = s; p < end; p++)
		if (*p == '/')
			base = p + 1;
	const char *dot = memchr(base, '.', (size_t)(end - base));
	if (dot && dot > base)
		end = dot;
	*k = s;
	*len = (size_t)(end - s);
}

/* The record's key from its key field (chosen at the first object). */
static int key_of(struct rc_captions *c, const json_t *o, char *buf, size_t bufn,
	const char **k, size_t *len, char *why, size_t n)
{
	if (!c->field) {
		for (size_t i = 0; !c->field && i < sizeof key_fields / sizeof key_fields[0]; i++)
			if (json_object_get(o, key_fields[i]))
				c->field = key_fields[i];
		if (!c->field)
			return RC_E_NOTFOUND;
	}
	const json_t *v = json_object_get(o, c->field);
	if (!v)
		return rc_manifest_why(why, n, "missing key field %s", c->field);
	if (json_is_integer(v)) {
		*len = (size_t)snprintf(buf, bufn, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		*k = buf;
		return 0;
	}
	if (!json_is_string(v))
		return rc_manifest_why(why, n, "key field %s is not a string or an integer",
				       c->field);
	*k = json_string_value(v);
	*len = json_string_length(v);
	if (!strcmp(c->field, "image_name") || !strcmp(c->field, "image_path"))
		strip_ext(k, len);
	if (memchr(*k, '\0', *len))
		return rc_manifest_why(why, n, "nul byte in key field %s", c->field);
	if (*len == 0 || rc_manifest_is_blank(*k, *len))
		return rc_manifest_why(why, n, "empty key in field %s", c->field);
	if (*len > UINT32_MAX)
		return rc_manifest_why(why, n, "key longer than 4 GiB");
	return 0;
}

/* One parsed line or row into the table. Returns 0 (taken), RC_E_FORMAT
 * (a bad record: why says why), or a fatal code (logged). */
static int add(struct rc_captions *c, const json_t *o, uint64_t line, char *why, size_t n)
{
	if (!json_is_object(o))
		return rc_manifest_why(why, n, "expected a json object");
	char buf[32];
	const char *k = NULL;
	size_t len = 0;
	int rc = key_of(c, o, buf, sizeof buf, &k, &len, why, n);
	if (rc == RC_E_NOTFOUND) {
		rc_log_error(RC_E_FORMAT, "%s:%llu: no key field: expected __key__, key, id "
			     "or image_name", c->path, (unsigned long long)line);
		rc_log_hint("name the field that holds the sample name (rclip-shard "
			    "--captions-key FIELD)");
		return RC_E_NOTFOUND; /* fatal, logged */
	}
	if (rc < 0)
		return rc;
	uint64_t h = rc_hash64(k, len);
	const struct entry *old = find(c, k, len, h);
	if (old)
		return rc_manifest_why(why, n, "key %.*s again (first on line %llu): the "
				       "first kept", len > 80 ? 80 : (int)len, k,
				       (unsigned long long)old->line);
	struct rc_record rec;
	int fit;
	rc = rc_manifest_json_value(o, c->schema, &c->arena, &rec, NULL, why, n, &fit);
	if (rc == RC_E_FORMAT && fit == RC_FIT_OTHER) {
		size_t w = strlen(why);
		if (w + 1 < n) {
			if (c->forced)
				snprintf(why + w, n - w, " (schema given)");
			else
				snprintf(why + w, n - w, " (schema of line %llu)",
					 (unsigned long long)c->schema_line);
		}
	}
	if (rc < 0)
		return rc;
	if (c->n >= UINT32_MAX - 1)
		return rc_log_error(RC_E_RANGE, "%s: more than 4 billion captions", c->path);
	if (rc_grow((void **)&c->e, &c->cap, c->n + 1, sizeof *c->e) < 0)
		return RC_E_NOMEM;
	if (!(rec.key = rc_arena_strndup(&c->arena, k, len)))
		return RC_E_NOMEM;
	rec.key_len = (uint32_t)len;
	c->e[c->n] = (struct entry){ .rec = rec, .line = line, .hash = h };
	if ((rc = insert(c, c->n)) < 0)
		return rc;
	c->n++;
	if (c->schema == RC_SCHEMA_NONE) {
		c->schema = rec.schema;
		c->schema_line = line;
	}
	return 0;
}

/* A bad record: warned and counted, or the end of the load (strict). */
static int bad(struct rc_captions *c, uint64_t line, const char *why)
{
	c->bad++;
	if (c->strict)
		return rc_log_error(RC_E_FORMAT, "%s:%llu: %s", c->path,
				    (unsigned long long)line, why);
	rc_log_warn("%s:%llu: %s", c->path, (unsigned long long)line, why);
	return 0;
}

/* add() for one record, and what its result means for the load. */
static int take(struct rc_captions *c, const json_t *o, uint64_t line)
{
	char why[320];
	int rc = add(c, o, line, why, sizeof why);
	if (rc == RC_E_FORMAT)
		return bad(c, line, why);
	return rc == RC_E_NOTFOUND ? RC_E_FORMAT : rc;
}

static int load_parquet(struct rc_captions *c)
{
	struct rc_parquet *p;
	int rc = rc_parquet_open(&p, c->path);
	if (rc < 0)
		return rc;
	json_t *row;
	uint64_t r = 0;
	char why[320];
	while ((rc = rc_parquet_next(p, &row, &r, why, sizeof why)) != 0) {
		if (rc == RC_E_FORMAT) {
			if ((rc = bad(c, r, why)) < 0)
				break;
			continue;
		}
		if (rc < 0) {
			if (rc != RC_E_NOMEM)
				rc = rc_log_error(rc, "%s: %s", c->path, why);
			break;
		}
		rc = take(c, row, r);
		json_decref(row);
		if (rc < 0)
			break;
	}
	rc_parquet_close(p);
	return rc;
}

/* Spaces, tabs and a '\r' only. */
static int blank_line(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\f\v", s[i]) || s[i] == '\0')
			return 0;
	return 1;
}

static int load_jsonl(struct rc_captions *c, FILE *f)
{
	struct rc_io_lines lr;
	rc_io_lines_init(&lr, f, c->path);
	int rc, started = 0;
	while ((rc = rc_io_lines_next(&lr)) > 0) {
		const char *s = lr.line;
		size_t len = lr.len;
		if (lr.lineno == 1 && len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3))
			s += 3, len -= 3;
		if (blank_line(s, len))
			continue;
		const char *what;
		if (!started++ && (what = rc_manifest_sniff(s, len < 4096 ? len : 4096))) {
			rc = rc_log_error(RC_E_FORMAT, "%s: not a caption file: %s", c->path, what);
			break;
		}
		json_error_t je;
		json_t *o = json_loadb(s, len, JSON_REJECT_DUPLICATES, &je);
		if (!o) {
			char why[320];
			rc_manifest_why(why, sizeof why, "malformed json at column %d: %s",
					je.column, je.text);
			if ((rc = bad(c, lr.lineno, why)) < 0)
				break;
			continue;
		}
		rc = take(c, o, lr.lineno);
		json_decref(o);
		if (rc < 0)
			break;
	}
	rc_io_lines_free(&lr);
	return rc;
}

/* JSONL or Parquet: the name, then the first bytes of a file (a pipe is
 * JSONL unless told). Refuses what is neither. */
static int format_of(const char *path, FILE *f, int *format)
{
	if (*format == RC_MANIFEST_AUTO)
		*format = rc_manifest_format_of(path);
	if (*format == RC_MANIFEST_PARQUET)
		return 0;
	if (*format != RC_MANIFEST_AUTO && *format != RC_MANIFEST_JSONL)
		return rc_log_error(RC_E_FORMAT, "%s: a caption file is JSONL or Parquet",
				    path);
	unsigned char head[4096];
	ssize_t got = f == stdin ? -1 : pread(fileno(f), head, sizeof head, 0);
	if (got < 0 && f != stdin && errno != ESPIPE)
		return rc_log_error(RC_E_IO, "%s: %s", path, strerror(errno));
	if (got < 0)
		return 0;
	if (*format == RC_MANIFEST_AUTO && rc_parquet_is_magic(head, (size_t)got)) {
		*format = RC_MANIFEST_PARQUET;
		return 0;
	}
	const char *what = rc_manifest_sniff(head, (size_t)got);
	if (what)
		return rc_log_error(RC_E_FORMAT, "%s: not a caption file: %s", path, what);
	return 0;
}

int rc_captions_load(struct rc_captions **out, const char *path,
	const struct rc_captions_opts *o)
{
	*out = NULL;
	if (o->schema < RC_SCHEMA_NONE || o->schema > RC_SCHEMA_SETS)
		return rc_log_error(RC_E_ARG, "%s: unknown schema %d", path, o->schema);
	struct rc_captions *c = rc_calloc(1, sizeof *c);
	if (!c || !(c->path = rc_strdup(path))) {
		free(c);
		return RC_E_NOMEM;
	}
	rc_arena_init(&c->arena, 0);
	c->schema = o->schema;
	c->forced = o->schema != RC_SCHEMA_NONE;
	c->field = o->key_field;
	c->strict = o->strict;
	int format = o->format, rc;
	FILE *f = NULL;
	if (format == RC_MANIFEST_PARQUET) {
		rc = load_parquet(c);
	} else if ((rc = rc_io_open_read(path, &f)) == 0 &&
		   (rc = format_of(path, f, &format)) == 0) {
		if (format == RC_MANIFEST_PARQUET) {
			rc_io_close(f, path);
			f = NULL;
			rc = load_parquet(c);
		} else {
			rc = load_jsonl(c, f);
		}
	}
	if (f && f != stdin)
		rc_io_close(f, path);
	if (rc == 0 && c->n == 0)
		rc = rc_log_error(RC_E_FORMAT, "%s: no caption record", path);
	if (rc < 0) {
		rc_captions_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

/* ---------------------------------------------------------------- use */

int rc_captions_join(struct rc_captions *c, struct rc_record *rec)
{
	const char *k = rec->key;
	size_t len = rec->key_len;
	if (!k)
		return 0;
	const struct entry *e = find(c, k, len, rc_hash64(k, len));
	size_t off = len;
	while (off > 0 && k[off - 1] != '/')
		off--;
	if (!e && off > 0)
		e = find(c, k + off, len - off, rc_hash64(k + off, len - off));
	if (!e)
		return 0;
	((struct entry *)e)->matched = 1;
	rec->schema = e->rec.schema;
	rec->texts = e->rec.texts;
	rec->ntexts = e->rec.ntexts;
	rec->labels = e->rec.labels;
	rec->nlabels = e->rec.nlabels;
	return 1;
}

uint64_t rc_captions_unused(const struct rc_captions *c, const char **first,
	size_t nfirst)
{
	uint64_t k = 0;
	for (size_t i = 0; i < c->n; i++)
		if (!c->e[i].matched) {
			if (first && k < nfirst)
				first[k] = c->e[i].rec.key;
			k++;
		}
	return k;
}

uint64_t rc_captions_count(const struct rc_captions *c)
{
	return c->n;
}

uint64_t rc_captions_bad(const struct rc_captions *c)
{
	return c->bad;
}

int rc_captions_schema(const struct rc_captions *c)
{
	return c->schema;
}

const char *rc_captions_key_field(const struct rc_captions *c)
{
	return c->field ? c->field : "none";
}

size_t rc_captions_bytes(const struct rc_captions *c)
{
	return rc_arena_reserved(&c->arena) + c->cap * sizeof *c->e +
	       (c->slot ? (c->mask + 1) * sizeof *c->slot : 0);
}

size_t rc_captions_entry_bytes(void)
{
	/* the entry and two to four hash slots (the hash is 1/4 to 1/2 full) */
	return sizeof(struct entry) + 4 * sizeof(uint32_t);
}

void rc_captions_free(struct rc_captions *c)
{
	if (!c)
		return;
	rc_arena_free(&c->arena);
	free(c->e);
	free(c->slot);
	free(c->path);
	free(c);
}
