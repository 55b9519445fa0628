/* captions.h - captions kept apart from their images: a JSONL or Parquet
 * file of records in one of the four schemas (manifest.h), read once into
 * a table keyed by sample name, then joined with the image-only samples
 * of webdataset tars (rclip-shard --captions).
 *
 *     struct rc_captions *c;
 *     struct rc_captions_opts co = { .schema = RC_SCHEMA_NONE };
 *     if (rc_captions_load(&c, "captions.parquet", &co) < 0)
 *             return 1;                            // logged
 *     rc_wds_open(&w, "data-000000.tar", RC_SCHEMA_NONE);
 *     rc_wds_image_only(w);
 *     while ((rc = rc_wds_next(w, &arena, &rec, ...)) > 0)
 *             if (rc_captions_join(c, &rec))       // texts from the table
 *                     use(&rec);
 *     rc_captions_free(c);
 *
 * The key of a caption record is its first field of __key__, key, id and
 * image_name that the file's first record has (or the field given); the
 * same field is then needed in every record. A string is taken as it is,
 * an integer in decimal; a file name (image_name, image_path) loses its
 * extension as webdataset splits a member name ("img/000123.jpg" ->
 * "img/000123"). A sample matches the entry of its whole key, else the
 * entry of its key's last path component ("shard0/000123" -> "000123").
 *
 * Memory: the table holds every record's texts, labels and key for its
 * whole life (one arena), plus an entry of rc_captions_entry_bytes() and
 * a hash slot per record; rc_captions_bytes() says what it holds.
 */
#ifndef RCLIP_CAPTIONS_H
#define RCLIP_CAPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "data/record.h"

struct rc_captions;

struct rc_captions_opts {
	int schema;            /* RC_SCHEMA_NONE: the first good record's */
	int format;            /* RC_MANIFEST_AUTO (from the name, then the
	                        * first bytes), _JSONL or _PARQUET */
	const char *key_field; /* NULL: the default order above */
	int strict;            /* the first bad record fails the load */
};

/* rc_captions_load - read the caption file at path ("-" = stdin) into a
 * table. Each bad record (malformed JSON, no key field, an empty key, a
 * record of another schema, a key seen before: the first is kept) is
 * logged as a warning "path:line: reason" (line: the Parquet row) and
 * skipped, or with o->strict fails the load. Returns 0 with *out (free
 * with rc_captions_free); RC_E_IO (cannot read), RC_E_FORMAT (not JSONL
 * or Parquet, no key field in the first record, a bad record with
 * strict, no record at all), RC_E_UNSUPPORTED (a damaged Parquet page),
 * RC_E_ARG (a bad option) or RC_E_NOMEM, all logged; nothing is kept on
 * failure. */
int rc_captions_load(struct rc_captions **out, const char *path,
	const struct rc_captions_opts *o);

/* rc_captions_join - the entry for rec->key (exact, then its last path
 * component). Returns 1 and sets rec->schema, texts, ntexts, labels and
 * nlabels to the entry's (memory owned by the table; rec->key and the
 * image are left alone) and marks the entry matched; 0 when there is no
 * entry (rec untouched). */
int rc_captions_join(struct rc_captions *c, struct rc_record *rec);

/* rc_captions_unused - the number of entries never matched; their first
 * nfirst keys (NUL-terminated, owned by the table) go to first[], in file
 * order, when first is not NULL. */
uint64_t rc_captions_unused(const struct rc_captions *c, const char **first,
	size_t nfirst);

/* rc_captions_count - entries in the table; rc_captions_bad - records
 * skipped by the load (duplicates included). */
uint64_t rc_captions_count(const struct rc_captions *c);
uint64_t rc_captions_bad(const struct rc_captions *c);

/* rc_captions_schema - the table's schema (RC_SCHEMA_*). */
int rc_captions_schema(const struct rc_captions *c);

/* rc_captions_key_field - the field the keys come from. Static while the
 * table lives. */
const char *rc_captions_key_field(const struct rc_captions *c);

/* rc_captions_bytes - the bytes the table holds (arena, entries, slots). */
size_t rc_captions_bytes(const struct rc_captions *c);

/* rc_captions_entry_bytes - the fixed cost of one entry and its slots,
 * beside its texts and key. */
size_t rc_captions_entry_bytes(void);

/* rc_captions_free - free the table. NULL-safe. */
void rc_captions_free(struct rc_captions *c);

#endif
