/* manifest.h - dataset inputs read as records (record.h): JSONL manifests
 * in the four official schemas (DESIGN.md §3), TSV manifests, and
 * webdataset .tar files, each checked line by line or sample by sample.
 *
 * A manifest is read one record at a time. Its schema is forced by the
 * caller (--schema) or taken from its first valid record; every later
 * record must fit it. A bad line does not stop the reader: it returns a
 * negative code with a short lowercase reason, and the next call reads the
 * next line. The caller prints "file:line: reason" and skips the line, or
 * stops (--strict). Blank lines are skipped.
 *
 *     struct rc_manifest *m;
 *     if (rc_manifest_open(&m, path, RC_SCHEMA_NONE, RC_MANIFEST_AUTO) < 0)
 *             return 1;                           // logged
 *     struct rc_record rec; const char *img; uint64_t line; char why[256];
 *     while ((rc = rc_manifest_next(m, &arena, &rec, &img, &line,
 *                                   why, sizeof why)) != 0) {
 *             if (rc == RC_E_FORMAT) {            // a bad line: go on
 *                     rc_log_warn("%s:%llu: %s", path,
 *                                 (unsigned long long)line, why);
 *                     continue;                   // or stop (--strict)
 *             }
 *             if (rc < 0)                         // I/O, memory: logged
 *                     break;
 *             use(&rec, img);                     // memory in arena
 *     }
 *     rc_manifest_close(m);
 *
 * A webdataset tar is streamed in one pass (no seeking, so a pipe works):
 * members whose names share a key (the name up to the first dot of its
 * last path component, as webdataset splits it: "shard0/000123.jpg" has
 * key "shard0/000123" and extension "jpg") form a sample, and the members
 * of a sample are adjacent. A sample has one image member (.jpg .jpeg .png
 * .webp) and a text member: .txt (its whole content is one descriptive
 * caption) or .json (an object in one of the four schemas; image_path is
 * not needed). Members with other extensions (.cls, .npy, .seg.png) are
 * ignored. rc_wds_next() works as rc_manifest_next(), a bad sample being
 * the bad line:
 *
 *     struct rc_wds *w;
 *     rc_wds_open(&w, "data-000000.tar", RC_SCHEMA_NONE);
 *     while ((rc = rc_wds_next(w, &arena, &rec, &bytes, &nbytes,
 *                              why, sizeof why)) != 0) {
 *             if (rc < 0) {              // why names the key or the damage
 *                     rc_log_warn("%s: %s", path, why);
 *                     continue;          // a bad sample, or the tar ends
 *             }
 *             decode(bytes, nbytes);     // the image member as stored
 *     }
 *     rc_wds_close(w);
 *
 * Memory: records, texts, keys, paths and image bytes are allocated from
 * the caller's arena (arena.h) and live until it is reset; nothing else is
 * kept from one call to the next. Readers are not thread-safe.
 */
#ifndef RCLIP_MANIFEST_H
#define RCLIP_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/arena.h"
#include "data/record.h"

enum rc_manifest_format {
	RC_MANIFEST_AUTO = 0,  /* from the name, else from the first line */
	RC_MANIFEST_JSONL = 1, /* one JSON object per line */
	RC_MANIFEST_TSV = 2,   /* image_path<TAB>caption */
	RC_MANIFEST_TAR = 3,   /* a webdataset tar: read it with rc_wds_* */
	RC_MANIFEST_PARQUET = 4, /* a Parquet file: one record a row */
};

/* A webdataset member larger than this is refused (the sample is skipped):
 * no image worth decoding is that big, and its bytes are held in memory. */
#define RC_WDS_MAX_MEMBER ((size_t)1 << 30)

/* rc_manifest_check_text - refuse an input that is not text (a Parquet
 * file, an archive, binary data), judged from its first 4 KiB read with
 * pread (f's position untouched; a pipe is not judged): 0, or RC_E_FORMAT
 * ("PATH: not a text manifest: a parquet file", with a hint) or RC_E_IO,
 * logged. For readers of JSONL lines outside this layer. */
int rc_manifest_check_text(FILE *f, const char *path);

/* ---------------------------------------------------------------- names */

/* rc_manifest_schema_name - "descriptive", "reasonlite", "reasonpro",
 * "sets", or "none" for RC_SCHEMA_NONE and unknown values. Static. */
const char *rc_manifest_schema_name(int schema);

/* rc_manifest_schema_parse - the schema named s, for --schema: the names
 * above, or "desc", "lite", "pro", "choice" (case-insensitive). Returns
 * the RC_SCHEMA_* value, or RC_E_ARG (not logged) for an unknown name. */
int rc_manifest_schema_parse(const char *s);

/* rc_manifest_format_of - the input format its name implies: .jsonl and
 * .json are RC_MANIFEST_JSONL, .tsv and .txt RC_MANIFEST_TSV, .tar
 * RC_MANIFEST_TAR (also .tar.gz, .tgz, .tar.zst, .tar.xz, .tar.bz2,
 * case-insensitive), .parquet RC_MANIFEST_PARQUET; anything else, and
 * "-", RC_MANIFEST_AUTO. */
int rc_manifest_format_of(const char *path);

/* ---------------------------------------------------------------- one line */

/* rc_manifest_parse_json - one JSONL line (len bytes, need not be
 * NUL-terminated; surrounding whitespace is allowed) into *rec, allocating
 * from a. schema is the file's schema, or RC_SCHEMA_NONE to take the
 * schema the object claims: the first of "sets" (choice sets), "trp",
 * "trp_cls" or "trp_cls_ls" (ReasonPro), "tb" or "trl" (ReasonLite),
 * "caption" or "captions" (descriptive) that it has; the fields of other
 * schemas and unknown fields are ignored.
 * On success returns 0 and fills rec: schema, texts (record.h tells the
 * roles and groups; each text is also NUL-terminated; tokens NULL),
 * labels (ReasonPro: trp_cls then the three trp_cls_ls ids), key (the
 * "id" of a choice-set record, else image_path) and, when image_path is
 * not NULL, *image_path (NUL-terminated). rec->image is NULL.
 * image_path NULL parses the JSON member of a webdataset sample: the
 * object then needs no "image_path" (one present is ignored), the "id" of
 * a choice-set record is optional and rec->key is NULL when absent.
 * Returns RC_E_FORMAT with a reason in why (n bytes, always
 * NUL-terminated when n > 0; not logged) for: malformed JSON (with the
 * column), a value that is not an object, a missing field, a field of the
 * wrong type, tb/trl not 3 strings, neg not 4 strings, trp_cls_ls not 3
 * codes, a category code not in S A H T P, an empty or whitespace-only
 * caption, tag, id or image_path, a record of another schema than the
 * file's, more texts than a record holds (RC_RECORD_MAX_TEXTS). Returns
 * RC_E_NOMEM when out of memory (logged). Nothing allocated from a is
 * freed on failure (it goes with the next reset). */
int rc_manifest_parse_json(const char *line, size_t len, int schema,
	struct rc_arena *a, struct rc_record *rec, const char **image_path,
	char *why, size_t n);

/* rc_manifest_parse_tsv - one TSV line "image_path<TAB>caption" (a
 * trailing '\r' is ignored) into a descriptive record with one caption,
 * key = image_path. Returns 0, RC_E_FORMAT with a reason in why (no tab,
 * more than one tab, an empty path or caption, a NUL byte, a caption that
 * is not valid UTF-8) or RC_E_NOMEM (logged). Memory as above. */
int rc_manifest_parse_tsv(const char *line, size_t len, struct rc_arena *a,
	struct rc_record *rec, const char **image_path, char *why, size_t n);

/* rc_manifest_lite_three - a ReasonLite record's tb and trl captions made
 * three each as the official data are (its merge script pads a shorter
 * list with its first caption and keeps the first three), so that a
 * stage-1 epoch visits the official 3 x 3 pairs (tb i/3, trl i%3); a
 * record without trl (CC12M-Refined: tb only) keeps none. Other schemas
 * are left alone. The texts are re-made in a. Returns 0 or RC_E_NOMEM. */
int rc_manifest_lite_three(struct rc_arena *a, struct rc_record *rec);

/* ---------------------------------------------------------------- manifests */

struct rc_manifest;

/* rc_manifest_open - read the manifest at path ("-" = stdin). schema is
 * RC_SCHEMA_NONE (take it from the first valid record) or the schema
 * every record must have. format is RC_MANIFEST_JSONL, RC_MANIFEST_TSV,
 * RC_MANIFEST_PARQUET or RC_MANIFEST_AUTO: from the name
 * (rc_manifest_format_of), else from the file's first bytes (Parquet's
 * magic), else from the first non-blank line (JSONL when it starts with
 * '{' or '[').
 * A Parquet file gives one record a row (the row number is the line):
 * the columns as a JSON line's fields (parquet.h maps them), the image
 * from image_path or embedded as a Hugging Face Image column "image"
 * ({bytes, path}): then rec->image holds the bytes (in the arena) and
 * *image_path is NULL; the key is "id", else "image_name".
 * What is not text is refused before any record: a file named or forced
 * as JSONL or TSV whose first 4 KiB are Parquet, zip, compressed, an
 * image, a shard, or mostly not UTF-8 (NUL bytes, invalid sequences,
 * control characters): RC_E_FORMAT, logged as "path: not a text
 * manifest: a parquet file" with a hint. From stdin the first line is
 * checked (rc_manifest_next then returns RC_E_FORMAT, logged, and the
 * caller stops: see there).
 * Returns 0 with *out (close with rc_manifest_close), RC_E_IO (logged:
 * cannot open), RC_E_FORMAT (logged: not text, a damaged Parquet footer),
 * RC_E_ARG (logged: a tar, or a TSV forced to a schema other than
 * descriptive) or RC_E_NOMEM. */
int rc_manifest_open(struct rc_manifest **out, const char *path, int schema,
	int format);

/* rc_manifest_open_stream - the same over an open stream f (not closed by
 * rc_manifest_close); name is used for the format guess and in messages
 * and is not copied. */
int rc_manifest_open_stream(struct rc_manifest **out, FILE *f,
	const char *name, int schema, int format);

/* rc_manifest_next - the next record. Returns 1 with *rec, *image_path
 * (NUL-terminated) and *lineno (1-based) set, memory from a; 0 at the end
 * of the input; RC_E_FORMAT for a bad line: *lineno and why are set (not
 * logged) and the next call goes on with the next line; RC_E_IO or
 * RC_E_NOMEM (logged; why set too) when reading cannot go on;
 * RC_E_UNSUPPORTED (logged) when the input turns out not to be text (a
 * stream's first line), or a Parquet file's page is damaged or of an
 * encoding not read (the rest of the file is lost). A UTF-8
 * byte order mark is ignored, and so is a TSV header, a first line
 * "image_path<TAB>caption" or "filepath<TAB>title" (open_clip's CSV
 * columns). image_path and lineno may be NULL. */
int rc_manifest_next(struct rc_manifest *m, struct rc_arena *a,
	struct rc_record *rec, const char **image_path, uint64_t *lineno,
	char *why, size_t n);

/* rc_manifest_schema - the schema records must have: forced, or taken
 * from the first valid record; RC_SCHEMA_NONE before that. */
int rc_manifest_schema(const struct rc_manifest *m);

/* rc_manifest_format - RC_MANIFEST_JSONL or RC_MANIFEST_TSV, or
 * RC_MANIFEST_AUTO while no line has been read from an unnamed input. */
int rc_manifest_format(const struct rc_manifest *m);

/* rc_manifest_close - close the file (not a stream given to
 * rc_manifest_open_stream, nor stdin) and free the reader. NULL-safe. */
void rc_manifest_close(struct rc_manifest *m);

/* ---------------------------------------------------------------- webdataset */

struct rc_wds;

/* rc_wds_open - stream the tar at path ("-" = stdin; a tar compressed
 * with gzip, bzip2, xz or zstd is read too). schema as for
 * rc_manifest_open(). Returns 0 with *out (close with rc_wds_close),
 * RC_E_IO (logged: cannot open or read) or RC_E_NOMEM. Data that is not a
 * tar opens, and the first rc_wds_next() says so (RC_E_TRUNCATED). */
int rc_wds_open(struct rc_wds **out, const char *path, int schema);

/* rc_wds_open_memory - the same over size bytes at data (not copied; they
 * must outlive the reader); name is used in messages. For tests, fuzzing
 * and tars already in memory. */
int rc_wds_open_memory(struct rc_wds **out, const void *data, size_t size,
	const char *name, int schema);

/* rc_wds_next - the next sample. Returns 1 with *rec (key: the sample
 * key, or the "id" of a choice-set .json) and the image member's bytes as
 * stored in the tar, *image and *image_len (also in rec->image and
 * rec->image_len), memory from a; 0 at the end of the tar. When a sample
 * has both a .json and a .txt, the .json is used if it holds a record of
 * the tar's schema (of any schema while none is known), else the .txt
 * (img2dataset writes a .json of metadata beside the caption).
 * RC_E_FORMAT: a bad sample, skipped; why names its key (or member) and
 * the reason (no image, no text member, two images, an empty image, a bad
 * .txt or .json, a member over RC_WDS_MAX_MEMBER, another schema), and the
 * next call goes on.
 * RC_E_TRUNCATED: the tar is truncated or corrupt, or not a tar; why says
 * so, with libarchive's reason and the last good key. A sample that was
 * whole before the damage is returned first; one cut by it is dropped;
 * every later call returns 0. RC_E_IO (a read error) ends the tar the
 * same way. None of these is logged: the caller prints why after the
 * tar's name. RC_E_NOMEM is logged. image and image_len may be NULL. */
int rc_wds_next(struct rc_wds *w, struct rc_arena *a, struct rc_record *rec,
	const uint8_t **image, size_t *image_len, char *why, size_t n);

/* rc_wds_image_only - read only the image member of each sample, for
 * captions kept apart (captions.h): a sample then needs no text member,
 * its .txt and .json are noted but not read, and rc_wds_next() gives a
 * record with the key and the image and no texts (schema RC_SCHEMA_NONE).
 * Call it before the first rc_wds_next(). */
void rc_wds_image_only(struct rc_wds *w);

/* rc_wds_sample_text - with rc_wds_image_only(): 1 when the sample last
 * returned had a .txt or .json member of its own, else 0. */
int rc_wds_sample_text(const struct rc_wds *w);

/* rc_wds_schema - as rc_manifest_schema(). */
int rc_wds_schema(const struct rc_wds *w);

/* rc_wds_close - close the archive and free the reader. NULL-safe. */
void rc_wds_close(struct rc_wds *w);

#endif
