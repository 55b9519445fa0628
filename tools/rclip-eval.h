/* rclip-eval.h - what the parts of rclip-eval share: the options, and the
 * data of a benchmark as tools/eval-data.c reads it (images, texts, choice
 * sets, labels) for tools/rclip-eval.c to encode and score. */
#ifndef RCLIP_EVAL_TOOL_H
#define RCLIP_EVAL_TOOL_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "encode.h"
#include "shard.h"

enum task { T_SETS = 1, T_RRET, T_RET, T_ZS };

static const char *const task_names[] = {NULL, "sets", "rclip-retrieval", "retrieval",
	"zeroshot"};

struct opts {
	int task;
	const char *model, *data, *classes, *templates, *errors, *compare, *image_root, *output;
	long batch, threads, bootstrap, seed;
	int json, strict;
};

/* One choice set: its image, tag, and texts text .. text+4 (gt first). */
struct cset {
	uint32_t image, tag, text, index;
};

struct data {
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
	struct cset *set;
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

struct lines {
	char **s;
	uint32_t *len;
	size_t n, cap;
};

/* tools/eval-data.c */
int eval_add_text(struct data *d, const char *s, uint32_t len, uint32_t owner);
const char *eval_where(const struct data *d, size_t i, char *buf, size_t n);
int eval_read_data(const struct opts *o, struct data *d, int S);
void eval_lines_free(struct lines *l);
int eval_read_lines(const char *path, struct lines *l, int templates);
int eval_read_zeroshot(const struct opts *o, struct data *d, const struct lines *cls);
char *eval_fill_template(struct rc_arena *a, const char *t, const char *name, uint32_t *len);
void eval_data_free(struct data *d);

#endif
