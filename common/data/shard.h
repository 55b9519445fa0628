/* shard.h - the .rcs shard file (formats v1 and v2, rclip-shard(5)):
 * records of record.h packed with their image payloads, texts, token ids
 * (16 bits wide in v1, 16 or 32 in v2) and labels,
 * each with an xxh3-64; an index of record offsets; a key-value metadata
 * block; a checksummed header. Written atomically, read with random access
 * (mmap) or as a stream (a pipe). Also the shard list, the text file that
 * names the shards of a dataset, and rc_shard_inspect, a look inside one
 * for people. (A set of shards that a rerun resumes: shard_set.h.)
 *
 * Writing: records are appended one at a time; close writes the index and
 * the final header and renames the temporary into place.
 *
 *     struct rc_shard_info info = { .schema = RC_SCHEMA_DESC,
 *             .store = RC_STORE_JPEG, .image_size = 224, .text_ctx = 77 };
 *     const char *meta[] = { "source", "train.jsonl",
 *                            "tool_version", "rclip-shard 0.1.0",
 *                            "command_line", "rclip-shard --out d train.jsonl" };
 *     struct rc_shard_writer *w;
 *     if ((rc = rc_shard_writer_open(&w, "d-000000.rcs", &info, meta, 3)) < 0)
 *             return rc;
 *     while (more)
 *             if ((rc = rc_shard_writer_add(w, &rec)) < 0) {
 *                     rc_shard_writer_abort(w);   // the final name untouched
 *                     return rc;
 *             }
 *     uint64_t xxh3;                              // for the shard list
 *     rc = rc_shard_writer_close(w, &xxh3);
 *
 * Reading: open checks the header, metadata and index; each record's
 * checksum is checked when it is read. A record points into the file's
 * mapping; its texts array comes from the arena passed in, or from the
 * reader's own scratch when that is NULL.
 *
 *     struct rc_shard *r;
 *     if ((rc = rc_shard_open(&r, "d-000000.rcs")) < 0)
 *             return rc;                          // logged: file and reason
 *     struct rc_record rec;
 *     for (uint64_t i = 0; i < rc_shard_count(r); i++)
 *             if ((rc = rc_shard_read(r, perm[i], &rec, NULL)) < 0)
 *                     break;                      // logged: file and record
 *     while ((rc = rc_shard_next(r, &rec, NULL)) > 0)   // in file order
 *             use(&rec);
 *     rc_shard_close(r);
 *
 * Errors (each logged once as "FILE: record N: what" or "FILE: what"):
 * RC_E_FORMAT (bad magic, inconsistent sizes, a malformed record),
 * RC_E_VERSION (a format version this build does not read),
 * RC_E_CHECKSUM (a stored xxh3 differs from the data), RC_E_TRUNCATED (the
 * file is shorter than its header says), RC_E_IO, RC_E_NOMEM.
 *
 * Token ids are read in place (uint16_t, or uint32_t in a v2 shard of
 * 4-byte ids): this module needs a little-endian host (checked when it is
 * compiled).
 */
#ifndef RCLIP_SHARD_H
#define RCLIP_SHARD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "data/record.h"

struct rc_arena;

#define RC_SHARD_MAGIC "\x89RCS\r\n\x1a\n" /* 8 bytes */
#define RC_SHARD_VERSION 2      /* the newest format this build reads */
#define RC_SHARD_VERSION_MIN 1  /* the oldest; a shard of 16-bit ids is
                                   still written as v1 (the same bytes) */
#define RC_SHARD_HEADER_SIZE 128
#define RC_SHARD_META_MAX (1u << 20)  /* metadata block, bytes */
#define RC_SHARD_IMAGE_SIZE_MAX 16384 /* S */

/* Metadata keys the writer fills in from struct rc_shard_info; a caller
 * may not pass them. */
#define RC_SHARD_META_FORMAT "format"         /* "rclip-shard" */
#define RC_SHARD_META_VERSION "format_version" /* "1" or "2", the header's */
#define RC_SHARD_META_SCHEMA "schema"         /* rc_shard_schema_name() */
#define RC_SHARD_META_IMAGE_SIZE "image_size" /* S in decimal */
#define RC_SHARD_META_STORAGE "storage"       /* "raw" or "jpeg" */
#define RC_SHARD_META_TEXT_CTX "text_ctx"     /* decimal */
#define RC_SHARD_META_PREPROCESS "preprocess" /* "siglip"; absent: "clip"
                                                 (data/preprocess.h) */
/* Keys rclip's tools always pass (see rclip-shard(5)). */
#define RC_SHARD_META_SOURCE "source"
#define RC_SHARD_META_TOOL "tool_version"
#define RC_SHARD_META_COMMAND "command_line"

/* What a shard holds, besides its records. */
struct rc_shard_info {
	uint32_t version;    /* format version (set by the reader) */
	uint32_t schema;     /* enum rc_schema of every record; RC_SCHEMA_NONE: mixed */
	uint32_t store;      /* enum rc_image_store */
	uint32_t image_size; /* S: images are S×S (1..RC_SHARD_IMAGE_SIZE_MAX) */
	uint32_t text_ctx;   /* most token ids per text (77); 0: no limit */
	uint32_t preprocess; /* enum rc_preprocess (data/preprocess.h) of the
	                        images; 0, CLIP's crop, for shards without the
	                        "preprocess" key */
	uint32_t token_bytes; /* bytes per token id: 2 (format v1; 0 is read
	                        as 2 by the writer) or 4 (format v2, a
	                        vocabulary over 65536); the reader sets it */
	uint64_t records;    /* record count (set by the reader) */
	uint64_t file_size;  /* bytes (set by the reader) */
};

/* rc_shard_schema_name - "descriptive", "reasonlite", "reasonpro", "sets",
 * "mixed" (RC_SCHEMA_NONE), or NULL. rc_shard_store_name - "raw", "jpeg"
 * or NULL. Static strings. */
const char *rc_shard_schema_name(int schema);
const char *rc_shard_store_name(int store);

/* ---------------------------------------------------------------- writer */

struct rc_shard_writer;

/* rc_shard_writer_open - start a shard at path, written under a temporary
 * ".NAME.tmp.XXXXXX" in the same directory until rc_shard_writer_close
 * renames it (a killed writer leaves only the temporary). path may not be
 * "-" or a FIFO: the header is written last. info gives schema, store,
 * image_size, text_ctx and preprocess (version, records and file_size
 * are ignored; "preprocess" is written only when it is not CLIP's, so a
 * CLIP shard is byte for byte what writers before it wrote) and
 * token_bytes: 2 (or 0) writes format v1, 4 format v2.
 * meta_kv holds nmeta key/value pairs of UTF-8 strings (key0, value0,
 * key1, ...), stored in that order after the writer's own keys
 * (RC_SHARD_META_FORMAT ... RC_SHARD_META_TEXT_CTX); the strings are
 * copied. Returns 0 with *out, or RC_E_ARG (a bad info field, a reserved or
 * repeated or empty key, invalid UTF-8, metadata over RC_SHARD_META_MAX),
 * RC_E_IO or RC_E_NOMEM, logged; *out is NULL on error. */
int rc_shard_writer_open(struct rc_shard_writer **out, const char *path,
	const struct rc_shard_info *info, const char *const *meta_kv, size_t nmeta);

/* rc_shard_writer_add - append one record (its bytes are copied). The
 * record must fit the shard: its schema is the shard's (unless the shard
 * is mixed) and in 1..4; every role is an enum rc_role; with raw storage
 * image_len is S*S*3; each text has at most text_ctx tokens (tokens may be
 * NULL only with ntokens 0: not tokenized), of either width (record.h),
 * and in a shard of 2-byte ids every id is below 65536; at most 255 texts
 * and 255 labels. Texts are stored as given (the writer does not validate UTF-8).
 * Returns 0, or RC_E_ARG / RC_E_RANGE (the encoded record is over 4 GiB),
 * logged as "path: record N: reason", after which the writer stays
 * usable; or RC_E_IO or
 * RC_E_NOMEM (logged; the writer is then failed: every later call returns
 * the code, and close aborts). */
int rc_shard_writer_add(struct rc_shard_writer *w, const struct rc_record *rec);

/* rc_shard_writer_count - records added so far. */
uint64_t rc_shard_writer_count(const struct rc_shard_writer *w);

/* rc_shard_writer_bytes - the size the file would have if it were closed
 * now (header, metadata, records and the index), to roll over to a new
 * shard at a target size. */
uint64_t rc_shard_writer_bytes(const struct rc_shard_writer *w);

/* rc_shard_writer_close - write the index and the final header, sync and
 * rename the file into place, and free w (in every case). When xxh3 is
 * not NULL it receives the xxh3-64 of the whole file (as `xxhsum -H3`
 * gives it), computed by reading the file back before the rename.
 * Returns 0, or RC_E_IO / RC_E_NOMEM (logged; the temporary is removed
 * and the final name is untouched), or the code of an earlier failure. */
int rc_shard_writer_close(struct rc_shard_writer *w, uint64_t *xxh3);

/* rc_shard_writer_abort - drop the shard: remove the temporary, free w.
 * NULL does nothing. */
void rc_shard_writer_abort(struct rc_shard_writer *w);

/* ---------------------------------------------------------------- reader */

struct rc_shard;

/* rc_shard_open - open a shard file for random access: map it read-only
 * and check the magic, the version, the header checksum, every size and
 * offset against the file size, the metadata checksum and contents, the
 * index checksum and the index offsets. Records are checked when read.
 * Returns 0 with *out (close with rc_shard_close), or RC_E_ARG (path is
 * "-"), RC_E_IO (cannot open or map it, not a regular file),
 * RC_E_FORMAT, RC_E_VERSION, RC_E_CHECKSUM, RC_E_TRUNCATED or
 * RC_E_NOMEM, logged with the path; *out is NULL on error. The file must not change while it is open
 * (a file truncated under a mapping raises SIGBUS; shards are never
 * rewritten in place). */
int rc_shard_open(struct rc_shard **out, const char *path);

/* rc_shard_open_mem - the same over size bytes at data (a shard read into
 * memory, a fuzzer's input). data is not copied and must stay valid and
 * unchanged until rc_shard_close. name names it in messages (copied). */
int rc_shard_open_mem(struct rc_shard **out, const void *data, size_t size,
	const char *name);

/* rc_shard_open_stream - read a shard from a stream (a pipe, stdin), in
 * file order and in constant memory: checks the header and metadata now,
 * each record as rc_shard_next reads it, and at the end the index and
 * that the stream ends there. rc_shard_read only works for the next record
 * in order, rc_shard_verify reads the rest of the stream, rc_shard_hash is
 * unsupported. f is not taken over (the caller closes it after
 * rc_shard_close). Returns as rc_shard_open. */
int rc_shard_open_stream(struct rc_shard **out, FILE *f, const char *name);

/* rc_shard_info - the header's fields (a pointer into r, valid until
 * close). rc_shard_count - the number of records. rc_shard_name - the path
 * or name it was opened with. */
const struct rc_shard_info *rc_shard_info(const struct rc_shard *r);
uint64_t rc_shard_count(const struct rc_shard *r);
const char *rc_shard_name(const struct rc_shard *r);

/* rc_shard_meta - the value of a metadata key (NUL-terminated UTF-8,
 * owned by r, valid until close), or NULL when there is no such key. */
const char *rc_shard_meta(const struct rc_shard *r, const char *key);

/* rc_shard_meta_count / rc_shard_meta_at - the metadata pairs in file
 * order: pair i (< count) goes to *key and *value (owned by r). */
size_t rc_shard_meta_count(const struct rc_shard *r);
void rc_shard_meta_at(const struct rc_shard *r, size_t i, const char **key,
	const char **value);

/* rc_shard_read - record index (0-based), checked against its checksum
 * and its structure. rec's key, image, labels and token ids point into the
 * mapping (valid until rc_shard_close; in stream mode until the next
 * read). Its texts array comes from arena when it is not NULL (valid
 * until the arena is reset; with one arena per thread, reads of a file or
 * buffer are thread-safe), else from r's scratch (valid until the next
 * read through r with a NULL arena).
 * A text with no token ids has tokens NULL and ntokens 0. Returns 0, or
 * RC_E_RANGE (index >= count), RC_E_CHECKSUM, RC_E_FORMAT, RC_E_NOMEM
 * (arena) - in stream mode also RC_E_UNSUPPORTED (not the next record),
 * RC_E_TRUNCATED and RC_E_IO - logged as "name: record N: what". rec is
 * zeroed on error. */
int rc_shard_read(struct rc_shard *r, uint64_t index, struct rc_record *rec,
	struct rc_arena *arena);

/* rc_shard_next - the record at r's cursor (0 after open), then advance it:
 * the records in file order, as rc_shard_read gives them. Returns 1 with a
 * record, 0 after the last one (in stream mode: once the index and the end
 * of the stream have been checked), or an error as rc_shard_read; after an
 * error the cursor has moved past the bad record (random access) or stays
 * (stream). */
int rc_shard_next(struct rc_shard *r, struct rc_record *rec, struct rc_arena *arena);

/* rc_shard_seek - set the cursor of rc_shard_next to index (0..count).
 * Returns 0, RC_E_RANGE or RC_E_UNSUPPORTED (stream mode, another index
 * than the cursor's), logged. */
int rc_shard_seek(struct rc_shard *r, uint64_t index);

/* rc_shard_verify - check every record (checksum and structure; from the
 * cursor on in stream mode, including the index). Every bad record is
 * logged; the cursor is left unchanged (random access). Returns 0 when all
 * are good, else the code of the first bad one with *bad_index (may be
 * NULL) set to its index (UINT64_MAX when the error is not a record's). */
int rc_shard_verify(struct rc_shard *r, uint64_t *bad_index);

/* rc_shard_hash - the xxh3-64 of the whole file into *xxh3 (hashes the
 * mapping). Returns 0, or RC_E_UNSUPPORTED in stream mode (logged). */
int rc_shard_hash(const struct rc_shard *r, uint64_t *xxh3);

/* rc_shard_close - unmap and free; NULL does nothing. */
void rc_shard_close(struct rc_shard *r);

/* rc_shard_file_hash - the xxh3-64 of any file (read in 1 MiB pieces;
 * "-" reads stdin), as `xxhsum -H3` prints it. Returns 0 or RC_E_IO /
 * RC_E_NOMEM, logged with the path. */
int rc_shard_file_hash(const char *path, uint64_t *xxh3);

/* ---------------------------------------------------------------- shard list */

/* A dataset: a text file, one shard per line, "PATH<TAB>RECORDS<TAB>XXH3"
 * (XXH3 as 16 lowercase hex digits), PATH relative to the list's directory
 * (or absolute); lines starting with '#' and empty lines are ignored.
 *
 *     struct rc_shard_list l;
 *     rc_shard_list_init(&l);
 *     if ((rc = rc_shard_list_read(&l, "d.list")) < 0)
 *             return rc;
 *     for (size_t i = 0; i < l.n; i++)
 *             rc_shard_open(&r, l.e[i].full);   // "dir/d-000000.rcs"
 *     rc_shard_list_free(&l);
 */
struct rc_shard_list_entry {
	char *path;       /* as in the list */
	char *full;       /* path joined to the list's directory (to open it) */
	uint64_t records;
	uint64_t xxh3;
	uint64_t lineno;  /* its line in the list file; 0 when added */
};

struct rc_shard_list {
	struct rc_shard_list_entry *e;
	size_t n;
	size_t cap;
	uint64_t records; /* the sum over the entries */
	char *name;       /* the list file's path (read) or NULL */
};

/* rc_shard_list_init - an empty list (allocates nothing). */
void rc_shard_list_init(struct rc_shard_list *l);

/* rc_shard_list_add - append an entry; path (copied) is as it will be
 * written, relative to the list's directory; full is set to the same.
 * Returns 0, RC_E_ARG (an empty path, one with a TAB, CR or LF, or starting
 * with '#') or RC_E_NOMEM, logged. */
int rc_shard_list_add(struct rc_shard_list *l, const char *path,
	uint64_t records, uint64_t xxh3);

/* rc_shard_list_read - append the entries of a list file ("-" = stdin:
 * paths relative to the current directory). Returns 0, RC_E_IO,
 * RC_E_NOMEM or RC_E_FORMAT ("list:LINE: what"), logged. */
int rc_shard_list_read(struct rc_shard_list *l, const char *list_path);

/* rc_shard_list_write - write the entries atomically (rc_atomic_open;
 * "-" = stdout), after one comment line naming the format. Returns 0,
 * RC_E_IO or RC_E_NOMEM, logged. */
int rc_shard_list_write(const struct rc_shard_list *l, const char *list_path);

/* rc_shard_list_check - check entry i against its file: the file's
 * xxh3-64 and the record count in its header. Returns 0, or RC_E_CHECKSUM
 * / RC_E_FORMAT ("list:LINE: path: what"), or an error of opening or
 * reading the shard, logged. */
int rc_shard_list_check(const struct rc_shard_list *l, size_t i);

/* rc_shard_list_free - free the entries; the list is empty again. */
void rc_shard_list_free(struct rc_shard_list *l);

/* ---------------------------------------------------------------- inspect */

struct rc_shard_inspect_opts {
	int json;               /* the header as one JSON line, not text */
	int records;            /* every record as a JSON line, and no header */
	const char *pixels_dir; /* each image as DIR/KEY.ppm (an existing
	                         * directory), or NULL */
};

/* rc_shard_inspect - what rclip-shard --inspect shows of the shard at path
 * ("-" reads one from stdin), written to out: unless o->records, the
 * header and the metadata (text: "PATH: rclip shard v1, ..." then "  key:
 * value" lines; o->json: one JSON object); then every record is checked -
 * with o->records or o->pixels_dir each good one is shown (a JSON line
 * {"shard", "index", "key", "schema", "texts", "labels", "image_bytes"};
 * a PPM file KEY.ppm, the key's '/' and control bytes made '_', INDEX.ppm
 * for an empty key, its first 200 bytes and -INDEX for a longer one), and
 * each bad one is logged and skipped (a stream stops at it). Returns 0
 * when the shard and every record are good, else the RC_E_* of one that
 * is not, or of a PPM file that could not be written (each logged); what
 * could be shown was shown. A write error on out is the caller's to
 * check. */
int rc_shard_inspect(FILE *out, const char *path, const struct rc_shard_inspect_opts *o);

#endif
