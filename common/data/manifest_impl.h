/* manifest_impl.h - what the files of the manifest module share
 * (manifest.c: names, checks, drafts, TSV; manifest_json.c: JSON records;
 * manifest_read.c: the line reader; wds.c: webdataset tars): a record
 * checked but not yet copied, the JSON parser with its schema verdict,
 * the checks on one caption, and reason formatting. Not public. */
#ifndef RCLIP_MANIFEST_IMPL_H
#define RCLIP_MANIFEST_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "base/arena.h"
#include "data/record.h"

/* A record checked but not yet copied: pointers into the JSON or line. */
struct rc_manifest_text {
	const char *s;
	size_t len;
	uint8_t role, group;
};

struct rc_manifest_draft {
	int schema;
	struct rc_manifest_text t[RC_RECORD_MAX_TEXTS];
	size_t nt;
	uint8_t labels[4];
	size_t nl;
	const char *path;     /* image_path, or NULL */
	size_t path_len;
	const char *key;      /* the key when it is not the path ("id") */
	size_t key_len;
	char idbuf[32];       /* an integer id printed */
};

/* rc_manifest_build - copy a checked draft into a: texts, labels, path
 * (to *image_path when it is not NULL) and key (the path when the draft
 * has none). Returns 0 or RC_E_NOMEM (logged). */
int rc_manifest_build(const struct rc_manifest_draft *p, struct rc_arena *a,
	struct rc_record *rec, const char **image_path);

/* rc_manifest_is_blank - 1 when s holds only Unicode White_Space (or
 * nothing), else 0. */
int rc_manifest_is_blank(const char *s, size_t len);

/* How a failed parse relates to the schema asked for. */
enum {
	RC_FIT_BAD = 0,      /* the object claims the schema asked for (or no
	                      * schema was asked for and it claims one): its
	                      * error is a real one */
	RC_FIT_OTHER = 1,    /* it claims another schema only */
	RC_FIT_NONE = 2,     /* it is not JSON, not an object, or claims none */
};

/* rc_manifest_json_record - rc_manifest_parse_json() that also says, on
 * failure, whether the object claimed the schema (*fit, see above). */
int rc_manifest_json_record(const char *text, size_t len, int schema,
	struct rc_arena *a, struct rc_record *rec, const char **image_path,
	char *why, size_t n, int *fit);

/* rc_manifest_json_value - the same for a parsed value o (a JSONL line,
 * a Parquet row). */
int rc_manifest_json_value(const json_t *o, int schema, struct rc_arena *a,
	struct rc_record *rec, const char **image_path, char *why, size_t n, int *fit);

/* rc_manifest_parquet_record - a Parquet row (parquet.h) into a record:
 * the row's fields as a JSON line's; the image from "image_path", or
 * embedded as a Hugging Face Image column "image": {"bytes", "path"}
 * (the bytes copied into a, rec->image; *image_path NULL; the key "id",
 * else "image_name", else the image's "path"), or a path in image.path.
 * Returns as rc_manifest_json_value. */
int rc_manifest_parquet_record(json_t *row, int schema, struct rc_arena *a,
	struct rc_record *rec, const char **image_path, char *why, size_t n, int *fit);

/* rc_manifest_sniff - what the first n bytes of an input are when they
 * are not text (NULL when they may be): "a parquet file", "a zip
 * archive", "gzip data", ..., "binary data". */
const char *rc_manifest_sniff(const void *head, size_t n);

/* rc_manifest_check_caption - a caption from a TSV line or a .txt member:
 * no NUL byte, valid UTF-8, not empty or only white space. Returns 0, or
 * RC_E_FORMAT with "<what> ..." in why. */
int rc_manifest_check_caption(const char *s, size_t len, const char *what,
	char *why, size_t n);

/* rc_manifest_text_record - a descriptive record with one caption (s, len;
 * already checked) and the given key, copied into a. Returns 0 or
 * RC_E_NOMEM. */
int rc_manifest_text_record(struct rc_arena *a, struct rc_record *rec,
	const char *s, size_t len, const char *key, size_t key_len);

/* rc_manifest_why - format a reason into why (n bytes): control bytes and
 * invalid UTF-8 become '?'. Returns RC_E_FORMAT. */
int rc_manifest_why(char *why, size_t n, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 3, 4)))
#endif
	;

#endif
