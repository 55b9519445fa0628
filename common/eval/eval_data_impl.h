/* eval_data_impl.h - what the readers of a benchmark's data share inside
 * common/eval/ (eval_data.c, eval_sets.c, eval_bench.c): adding images,
 * texts, tags and sets to a struct rc_eval_data, resolving image paths,
 * walking a line-based input, and skipping a malformed item (warned and
 * counted) or failing on it (strict), all in eval_items.c, below the
 * readers. Not a public header. */
#ifndef RCLIP_EVAL_DATA_IMPL_H
#define RCLIP_EVAL_DATA_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "base/log.h"
#include "eval/eval_data.h"

/* Malformed items named one by one on stderr before the rest are only
 * counted. */
#define RC_EVAL_BAD_WARNED 10

/* Append image im (path or payload), its key, the path as written (may be
 * NULL), its source file and line. Returns 0 or RC_E_NOMEM. */
int rc_eval_data_add_image(struct rc_eval_data *d, const struct rc_encode_image *im,
	const char *key, const char *ipath, const char *src, uint64_t line, int in_shard);

/* The index of tag s (len bytes) in d->tags, added when new. Returns 0 or
 * RC_E_NOMEM. */
int rc_eval_data_tag(struct rc_eval_data *d, const char *s, uint32_t len, uint32_t *out);

/* Append a set of image over the ntxt texts txt[] (the true one first,
 * then the negatives; the pointers are kept and must live as long as d,
 * in its arena or a shard it holds), tagged tag (copied). Returns 0 or
 * RC_E_NOMEM. */
int rc_eval_data_add_set(struct rc_eval_data *d, uint32_t image, uint32_t index,
	const char *tag, uint32_t tag_len, const char *const *txt, const uint32_t *len,
	uint32_t ntxt);

/* The directory relative image paths of src are resolved against (n bytes
 * at root), and path joined to it in d's arena (NULL when out of memory). */
void rc_eval_data_root(const struct rc_eval_source *src, char *root, size_t n);
char *rc_eval_data_join(struct rc_eval_data *d, const char *root, const char *path);

/* A malformed item at file:line (line 0: a JSON document, the item named
 * in the message; set >= 0: that set of the record, else the whole
 * record): with strict, logged as an error and RC_E_FORMAT
 * returned; else counted, warned ("(skipped)") while fewer than
 * RC_EVAL_BAD_WARNED were, and 0 returned. */
int rc_eval_data_bad(struct rc_eval_data *d, int strict, const char *file, uint64_t line,
	int set, const char *fmt, ...) RC_PRINTF(6, 7);

/* One non-blank line of a line-based input (surrounding ASCII whitespace
 * and a first line's byte order mark removed), with what it needs. */
struct rc_eval_line {
	const struct rc_eval_source *o;
	const char *name;          /* the input in messages ("(stdin)" for "-") */
	char root[4096];           /* relative image paths resolve against it */
	const char *s;             /* the line, len bytes, not NUL-terminated */
	size_t len;
	uint64_t lineno;
};
typedef int rc_eval_line_fn(void *ctx, struct rc_eval_data *d, const struct rc_eval_line *l);

/* Call fn on each non-blank line of src->data ("-" = stdin) until it
 * returns < 0. Returns 0, fn's error, or RC_E_IO / RC_E_NOMEM (logged). */
int rc_eval_data_lines(const struct rc_eval_source *src, struct rc_eval_data *d,
	rc_eval_line_fn *fn, void *ctx);

/* eval_sets.c: a JSONL file of choice sets {"id", "image_path", "sets":
 * [{"tag", "gt", "neg": [...]}]} read as the official eval_RCLIP.py reads
 * it (eval_data.h tells what is skipped). Returns as rc_eval_data_read. */
int rc_eval_sets_read_jsonl(const struct rc_eval_source *src, struct rc_eval_data *d);

/* eval_bench.c: the choice sets (or Winoground examples) of src->data in
 * src->format (RC_EVAL_FMT_AUTO: detected), RCLIP-Bench JSONL through
 * rc_eval_sets_read_jsonl. Returns as rc_eval_data_read. */
int rc_eval_bench_read(const struct rc_eval_source *src, struct rc_eval_data *d);

#endif
