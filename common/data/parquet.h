/* parquet.h - Parquet files read row by row, each row as a JSON object
 * (jansson), for the manifests of the official release (ReasonLite,
 * ReasonPro, CC12M-Refined, RCLIP-Bench: Hugging Face `datasets` and
 * pyarrow with their defaults).
 *
 *     struct rc_parquet *p;
 *     if (rc_parquet_open(&p, "v1-00000-of-00001.parquet") < 0)
 *             return 1;                               // logged
 *     json_t *row; uint64_t r; char why[256]; int rc;
 *     while ((rc = rc_parquet_next(p, &row, &r, why, sizeof why)) != 0) {
 *             if (rc == RC_E_FORMAT) {                // one bad row: go on
 *                     warn("%s:%llu: %s", path, r, why);
 *                     continue;
 *             }
 *             if (rc < 0) {                           // the rest is lost
 *                     error("%s: %s", path, why);
 *                     break;
 *             }
 *             use(row);                               // {"id": ..., "sets": [...]}
 *             json_decref(row);
 *     }
 *     rc_parquet_close(p);
 *
 * What is read: data pages v1 and v2; PLAIN, PLAIN_DICTIONARY and
 * RLE_DICTIONARY values (RLE for booleans), RLE / bit-packed hybrid
 * levels; uncompressed, SNAPPY, GZIP and ZSTD pages; every physical type.
 * Columns map onto JSON as a reader of the file expects: a group is an
 * object, a LIST-annotated group (or a bare repeated field) an array,
 * null for a null, BYTE_ARRAY with a STRING / UTF8 / ENUM / JSON
 * annotation a string (invalid UTF-8 makes the row bad), any other
 * BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY and INT96 a string of raw bytes (made
 * with json_stringn_nocheck: use json_string_length, never dump it), so
 * that a Hugging Face Image column is {"bytes": <image bytes>, "path": s}.
 * Integers are integers, FLOAT and DOUBLE reals, BOOLEAN booleans.
 * Not read (a clear reason): DELTA_* and BYTE_STREAM_SPLIT encodings, the
 * LZO, BROTLI and LZ4 codecs, encrypted files, columns in other files.
 *
 * The file is mapped (a pipe is read into memory first: Parquet needs its
 * footer first); one page per column is held decompressed at a time.
 * Every length, offset and count is checked against the bytes there are.
 */
#ifndef RCLIP_PARQUET_H
#define RCLIP_PARQUET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct rc_parquet;

/* rc_parquet_is_magic - 1 when head (n bytes) starts with "PAR1". */
int rc_parquet_is_magic(const void *head, size_t n);

/* rc_parquet_open - open the Parquet file at path ("-" = stdin, read
 * whole). Returns 0 with *out (close with rc_parquet_close), or RC_E_IO
 * (cannot read), RC_E_FORMAT (not Parquet, or a damaged footer or
 * schema: the reason), RC_E_UNSUPPORTED (encrypted, a column in another
 * file), RC_E_NOMEM; logged as "path: reason". */
int rc_parquet_open(struct rc_parquet **out, const char *path);

/* rc_parquet_open_memory - the same over size bytes at data (not copied;
 * they must outlive the reader); name is used in reasons. Not logged:
 * the reason is in why (n bytes) on failure. */
int rc_parquet_open_memory(struct rc_parquet **out, const void *data, size_t size,
	const char *name, char *why, size_t n);

/* rc_parquet_rows - the row count the footer gives. */
uint64_t rc_parquet_rows(const struct rc_parquet *p);

/* rc_parquet_next - the next row. Returns 1 with *row (the caller
 * json_decrefs it) and *rowno (1-based over the file); 0 at the end;
 * RC_E_FORMAT for a bad row (a STRING that is not UTF-8): *rowno and why
 * are set and the next call reads the next row; RC_E_TRUNCATED,
 * RC_E_FORMAT-like damage and RC_E_UNSUPPORTED in a page end the file:
 * why names the row group, the column and the page, the call returns
 * RC_E_TRUNCATED (damage) or RC_E_UNSUPPORTED, and every later call
 * returns 0. RC_E_NOMEM is logged. Not logged otherwise. rowno may be
 * NULL. */
int rc_parquet_next(struct rc_parquet *p, json_t **row, uint64_t *rowno, char *why, size_t n);

/* rc_parquet_close - unmap and free. NULL-safe. */
void rc_parquet_close(struct rc_parquet *p);

#endif
