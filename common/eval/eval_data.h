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
#include "data/pathmap.h"
#include "data/shard.h"

enum rc_eval_task {
	RC_EVAL_SETS = 1,             /* choice sets: accuracy per tag */
	RC_EVAL_RCLIP_RETRIEVAL,      /* the same data, gallery = every true caption */
	RC_EVAL_RETRIEVAL,            /* descriptive data, several captions an image */
	RC_EVAL_ZEROSHOT,             /* {"image_path", "label"} lines */
	RC_EVAL_WINOGROUND,           /* 2 images × 2 captions: text, image, group scores */
};

/* The released annotation formats rclip-eval reads (eval_bench.c). */
enum rc_eval_format {
	RC_EVAL_FMT_AUTO = 0,         /* from the file: see rc_eval_format_detect */
	RC_EVAL_FMT_RCLIP,            /* RCLIP-Bench JSONL choice sets */
	RC_EVAL_FMT_SUGARCREPE,       /* {"N": {"filename", "caption", "negative_caption"}} */
	RC_EVAL_FMT_WHATSUP,          /* [{"image_path", "caption_options"}] or [[id, true, false]] */
	RC_EVAL_FMT_VALSE,            /* {"key": {"dataset", "image_file", "caption", "foil", "mturk"}} */
	RC_EVAL_FMT_WINOGROUND,       /* examples.jsonl: caption_0/1, image_0/1 */
};

/* rc_eval_format_name - "rclip", "sugarcrepe", "whatsup", "valse",
 * "winoground", "auto", or NULL; rc_eval_format_parse - the value of such a
 * name, or RC_E_ARG (not logged). */
const char *rc_eval_format_name(int fmt);
int rc_eval_format_parse(const char *s);

/* rc_eval_task_name - "sets", "rclip-retrieval", "retrieval", "zeroshot",
 * "winoground", or NULL. */
const char *rc_eval_task_name(int task);

/* Where the data comes from, and how strictly it is read. */
struct rc_eval_source {
	int task;                     /* enum rc_eval_task */
	const char *data;             /* a manifest, a shard list (.list) or a shard (.rcs) */
	const char *image_root;       /* relative image paths (NULL: the manifest's directory) */
	const struct rc_path_map *path_map; /* image path prefixes rewritten (pathmap.h), or NULL */
	int strict;                   /* a malformed item fails the read (else skipped, counted) */
	int negatives;                /* sets: the negatives a set must have; 0 = any >= 1 */
	int captions_per_image;       /* retrieval: the first N captions, shorter lists
	                               * repeated up to N; 0 = all of them */
	int format;                   /* sets: enum rc_eval_format of data */
	int preprocess;               /* the model's enum rc_preprocess: what shards
	                                 must hold (data/preprocess.h; 0: CLIP's) */
};

/* One choice set: its image, tag, and texts text .. text+nneg (gt first).
 * Winoground: an example, image and image + 1 its two images, text and
 * text + 1 its two captions (nneg 1), tag its collapsed_tag. */
struct rc_eval_set {
	uint32_t image, tag, text, index, nneg;
};

/* Everything is owned by the structure (its arena, its arrays, the shards
 * it keeps open); free it with rc_eval_data_free. */
struct rc_eval_data {
	struct rc_arena arena;
	const struct rc_path_map *path_map; /* the source's, applied by the readers */
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
	/* malformed items skipped (records, and sets of otherwise good records) */
	size_t bad_records, bad_sets, warned;
	size_t unvalidated;        /* VALSE items outside its validated set, left out */
	int ties_wrong;            /* sets: a negative scoring as high as the true caption
	                            * makes it wrong (SugarCrepe's and VALSE's pos > neg) */
};

/* Lines of a class or template file. */
struct rc_eval_lines {
	char **s;
	uint32_t *len;
	size_t n, cap;
};

/* rc_eval_data_read - the images, texts and sets (or captions) of src for a
 * model of image size S (shards must hold S×S images of src->preprocess). A malformed item
 * (a line that is not a record of the task, a choice set with another
 * number of negatives than src->negatives, an {"error": ...} row) is
 * skipped with a "file:line: why" warning and counted in d->bad_records or
 * d->bad_sets, as the official scripts drop it; with src->strict it fails
 * the read. Retrieval captions are then cut or repeated to
 * src->captions_per_image. Returns 0 with *d filled, or RC_E_FORMAT (a
 * malformed item under strict), RC_E_ARG or RC_E_FORMAT (a shard of another schema,
 * size or preprocessing), RC_E_IO, RC_E_NOMEM, logged; *d is freed on error. */
int rc_eval_data_read(const struct rc_eval_source *src, struct rc_eval_data *d, int S);

/* rc_eval_data_read_zeroshot - the images and labels of a zero-shot
 * manifest, each label a class name of cls or its 0-based line. Returns as
 * rc_eval_data_read (an unknown label or index is RC_E_FORMAT). */
int rc_eval_data_read_zeroshot(const struct rc_eval_source *src, struct rc_eval_data *d,
	const struct rc_eval_lines *cls);

/* rc_eval_data_add_text - append a text (len bytes, copied into d's arena)
 * belonging to image owner. Returns 0 or RC_E_NOMEM. */
int rc_eval_data_add_text(struct rc_eval_data *d, const char *s, uint32_t len, uint32_t owner);

/* rc_eval_data_cap_captions - keep the first n captions of every image
 * and repeat a shorter list cyclically up to n (c0 c1 c2 c0 c1 for 3 and 5),
 * as the official COCO/Flickr evaluation forms them; texts stay grouped by
 * image in image order. n = 0 keeps them all. Returns 0 or RC_E_NOMEM. */
int rc_eval_data_cap_captions(struct rc_eval_data *d, int n);

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
