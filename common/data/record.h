/* record.h - one image–text record as every stage sees it: what a manifest
 * line or a webdataset sample becomes (manifest.h), what a shard stores
 * (shard.h), what the trainer and the evaluator read.
 *
 * A record is an image, its source key and a list of texts, each with a
 * role in its schema (DESIGN.md §3), plus small integer labels. The four
 * official JSONL schemas map onto it:
 *
 *   descriptive  {"image_path", "caption"} or "captions": [...]
 *                  → texts: CAPTION × n
 *   ReasonLite   {"image_path", "tb": [3], "trl": [3]}
 *                  → texts: TB × 3, TRL × 3
 *   ReasonPro    {"image_path", "trp", "trp_cls": "S|A|H|T|P", "trp_cls_ls": [3]}
 *                  → texts: TRP; labels: [cls, ls0, ls1, ls2] (ids 0..4)
 *   choice sets  {"id", "image_path", "sets": [{"tag", "gt", "neg": [4]}]}
 *                  → per set g: TAG (group g), GT (group g), NEG × 4 (group g);
 *                    the record key is "id"
 *
 * The structure only points at memory owned by whoever filled it (an
 * arena, a shard's read buffer); it allocates nothing itself.
 */
#ifndef RCLIP_RECORD_H
#define RCLIP_RECORD_H

#include <stddef.h>
#include <stdint.h>

enum rc_schema {
	RC_SCHEMA_NONE = 0,
	RC_SCHEMA_DESC = 1, /* descriptive captions */
	RC_SCHEMA_LITE = 2, /* ReasonLite: tb + trl */
	RC_SCHEMA_PRO = 3,  /* ReasonPro: trp + categories */
	RC_SCHEMA_SETS = 4, /* RCLIP-Bench / compositional choice sets */
};

enum rc_role {
	RC_ROLE_CAPTION = 1,
	RC_ROLE_TB = 2,
	RC_ROLE_TRL = 3,
	RC_ROLE_TRP = 4,
	RC_ROLE_TAG = 5,
	RC_ROLE_GT = 6,
	RC_ROLE_NEG = 7,
};

/* Reasoning categories S, A, H, T, P: class ids 0..4. */
enum { RC_CATEGORIES = 5 };

enum rc_image_store {
	RC_STORE_RAW = 1,  /* S×S×3 RGB uint8, row-major */
	RC_STORE_JPEG = 2, /* JPEG bytes of the S×S image */
};

/* One text of a record. tokens may be NULL (not tokenized yet). Its ids
 * are those of the tokenizer the shard names (rclip-shard(5), key
 * "tokenizer"), start..end, unpadded, each token_bytes wide: 2 (uint16_t,
 * every shard of format v1, CLIP BPE and SigLIP's 32000) or 4 (uint32_t,
 * a vocabulary over 65536 such as Gemma's); 0 means 2, so that a record
 * built with uint16_t ids needs no more. Read them with rc_text_token. */
struct rc_text {
	uint8_t role;          /* enum rc_role */
	uint8_t group;         /* the choice set it belongs to (SETS), else 0 */
	uint8_t token_bytes;   /* 2 (or 0) or 4: the width of each id */
	const char *s;         /* UTF-8, not NUL-terminated */
	uint32_t len;          /* bytes */
	const void *tokens;    /* ntokens ids of token_bytes each, host order */
	uint16_t ntokens;
};

/* rc_text_token - id i (< ntokens) of t, whatever its width. */
static inline uint32_t rc_text_token(const struct rc_text *t, size_t i)
{
	return t->token_bytes == 4 ? ((const uint32_t *)t->tokens)[i]
				   : ((const uint16_t *)t->tokens)[i];
}

#define RC_RECORD_MAX_TEXTS 255
#define RC_RECORD_MAX_LABELS 255

struct rc_record {
	uint8_t schema;        /* enum rc_schema */
	const char *key;       /* the source key (image path, "id", tar key) */
	uint32_t key_len;
	const uint8_t *image;  /* payload as stored (see the shard's storage) */
	uint32_t image_len;
	struct rc_text *texts;
	uint32_t ntexts;
	const uint8_t *labels; /* category ids and the like */
	uint32_t nlabels;
};

/* rc_category_id - 'S','A','H','T','P' → 0..4, or -1. */
static inline int rc_category_id(int code)
{
	switch (code) {
	case 'S': return 0;
	case 'A': return 1;
	case 'H': return 2;
	case 'T': return 3;
	case 'P': return 4;
	}
	return -1;
}

/* rc_category_code - 0..4 → 'S','A','H','T','P', or '?'. */
static inline char rc_category_code(int id)
{
	return id >= 0 && id < RC_CATEGORIES ? "SAHTP"[id] : '?';
}

#endif
