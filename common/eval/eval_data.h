/* eval_data.h - the data of a benchmark as rclip-eval scores it: a
 * manifest (JSONL in the official schemas, or TSV for retrieval) or shards
 * read into images (paths or shard payloads), texts with the image each
 * belongs to, choice sets (the true caption first, then 4 negatives, a
 * tag), and zero-shot labels. DESIGN.md §6 gives the tasks.
 *
 *     struct rc_eval_source src = { RC_EVAL_SETS, "bench-v1.jsonl", NULL };
 *     struct rc_eval_data d;
 *     if (rc_eval_data_read(&src, &d, 224) < 0)    // logged: file:line: why
 *             return 1;
 *     ...                                           // d.img[d.ni], d.txt[d.nt], d.set[d.ns]
 *     rc_eval_data_free(&d);
 */
#ifndef RCLIP_EVAL_DATA_H
#define RCLIP_EVAL_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "eval/encode.h"
#include "data/shard.h"

enum rc_eval_task {
	RC_EVAL_SETS = 1,             /* choice sets: accuracy per tag */
	RC_EVAL_RCLIP_RETRIEVAL,      /* the same data, gallery = every true caption */
	RC_EVAL_RETRIEVAL,            /* descriptive data, several captions an image */
	RC_EVAL_ZEROSHOT,             /* {"image_path", "label"} lines */
};

/* rc_eval_task_name - "sets", "rclip-retrieval", "retrieval", "zeroshot",
 * or NULL. */
const char *rc_eval_task_name(int task);

/* Where the data comes from. */
struct rc_eval_source {
	int task;                     /* enum rc_eval_task */
	const char *data;             /* a manifest, a shard list (.list) or a shard (.rcs) */
	const char *image_root;       /* relative image paths (NULL: the manifest's directory) */
	int preprocess;               /* the model's enum rc_preprocess: what shards
	                                 must hold (data/preprocess.h; 0: CLIP's) */
};

/* One choice set: its image, tag, and texts text .. text+4 (gt first). */
struct rc_eval_set {
	uint32_t image, tag, text, index;
};

/* Everything is owned by the structure (its arena, its arrays, the shards
 * it keeps open); free it with rc_eval_data_free. */
struct rc_eval_data {
	struct rc_arena arena;
	/* images, in input order */
	struct rc_encode_image *img;
	const char **key;          /* the item's id (record id, image path) */
	const char **ipath;        /* image path as written in the data, or NULL */
	const char **src;          /* the input file, for messages */
	uint64_t *line;            /* its line, or record number in a shard */
	uint8_t *in_shard;         /* line counts records */
	size_t ni, cap_i;
	/* texts */
	const char **txt;
	uint32_t *tlen, *owner;    /* owner: the text's image */
	size_t nt, cap_t;
	/* sets */
	struct rc_eval_set *set;
	size_t ns, cap_s;
	const char **tags;
	size_t ntags, cap_tags;
	/* zeroshot */
	uint32_t *label;           /* per image */
	size_t cap_l;
	/* shards stay open: payloads point into them */
	struct rc_shard **shards;
	size_t nshards, cap_sh;
};

/* Lines of a class or template file. */
struct rc_eval_lines {
	char **s;
	uint32_t *len;
	size_t n, cap;
};

/* rc_eval_data_read - the images, texts and sets (or captions) of src for a
 * model of image size S (shards must hold S×S images of src->preprocess).
 * Returns 0 with *d filled, or RC_E_FORMAT (a malformed line or record:
 * "file:line: why"; a shard of another schema, size or preprocessing),
 * RC_E_IO, RC_E_NOMEM,
 * logged; *d is freed on error. */
int rc_eval_data_read(const struct rc_eval_source *src, struct rc_eval_data *d, int S);

/* rc_eval_data_read_zeroshot - the images and labels of a zero-shot
 * manifest, each label a class name of cls or its 0-based line. Returns as
 * rc_eval_data_read (an unknown label or index is RC_E_FORMAT). */
int rc_eval_data_read_zeroshot(const struct rc_eval_source *src, struct rc_eval_data *d,
	const struct rc_eval_lines *cls);

/* rc_eval_data_add_text - append a text (len bytes, copied into d's arena)
 * belonging to image owner. Returns 0 or RC_E_NOMEM. */
int rc_eval_data_add_text(struct rc_eval_data *d, const char *s, uint32_t len, uint32_t owner);

/* rc_eval_data_where - "FILE:LINE" (or "SHARD: record N") of image i, in buf. */
const char *rc_eval_data_where(const struct rc_eval_data *d, size_t i, char *buf, size_t n);

/* rc_eval_data_free - release d; a zeroed d is fine. */
void rc_eval_data_free(struct rc_eval_data *d);

/* rc_eval_lines_read - the non-empty lines of path (a trailing CR dropped);
 * an empty line is an error, and with templates a line without "{}".
 * Returns 0, RC_E_FORMAT ("file:line: why"), RC_E_IO or RC_E_NOMEM, logged. */
int rc_eval_lines_read(const char *path, struct rc_eval_lines *l, int templates);
void rc_eval_lines_free(struct rc_eval_lines *l);

/* rc_eval_fill_template - template t with its "{}" replaced by name, in
 * arena a; *len its length. NULL when out of memory. */
char *rc_eval_fill_template(struct rc_arena *a, const char *t, const char *name, uint32_t *len);

#endif
