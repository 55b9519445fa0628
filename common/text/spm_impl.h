/* spm_impl.h - the inside of struct rc_spm, shared by the loaders
 * (spm_model.c: a SentencePiece .model; spm_json.c: tokenizer.json and
 * tokenizer_config.json), the normaliser (spm_norm.c), the segmenters
 * (spm_algo.c: unigram Viterbi, BPE merges) and spm.c. Not public. */
#ifndef RCLIP_SPM_IMPL_H
#define RCLIP_SPM_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "text/spm.h"

/* SentencePiece piece types (sentencepiece_model.proto). */
enum { SPM_NORMAL = 1, SPM_UNKNOWN = 2, SPM_CONTROL = 3, SPM_USER = 4,
       SPM_UNUSED = 5, SPM_BYTE = 6 };

/* How the text reaches the segmenter: SentencePiece's own normaliser
 * (a .model), or the Hugging Face pipeline of a tokenizer.json. */
enum { SPM_NORM_SENTENCEPIECE, SPM_NORM_HF };

/* An open-addressing table of byte strings: id, or -1 for a string that
 * is only a prefix of pieces (the unigram lattice stops at a miss). */
struct spm_slot {
	uint64_t h;      /* 0: empty */
	uint32_t off, len;
	int32_t id;
};

struct spm_pair {
	uint64_t key;    /* (left + 1) << 32 | (right + 1); 0: empty */
	uint32_t rank;
	int32_t result;
};

/* One added (special) token that the text is split on. */
struct spm_added {
	char *s;
	size_t len;
	int32_t id;
	uint8_t lstrip, rstrip;
};

struct rc_spm {
	int kind;               /* RC_SPM_UNIGRAM / RC_SPM_BPE */
	int norm;               /* SPM_NORM_* */
	int flavor;             /* RC_SPM_FLAVOR_* */
	char name[64];          /* for shard metadata and messages */
	uint64_t files_hash;    /* xxh3 of the tokenizer file and its config */
	char id[96];            /* rc_spm_id: "NAME:HASH[:lower]" */
	/* pieces */
	size_t n;
	uint32_t *off, *len;    /* each piece in blob */
	float *score;
	uint8_t *type;
	char *blob;
	size_t nblob, capblob;
	struct spm_slot *tab;   /* pieces and their prefixes */
	size_t tab_mask;
	float min_score, max_score; /* over NORMAL pieces (unigram) */
	int32_t *user;          /* the user-defined pieces: kept whole by the normaliser */
	size_t nuser;
	int32_t byte_id[256];   /* <0xNN>, or -1 */
	int byte_fallback, fuse_unk;
	/* BPE merges */
	struct spm_pair *pairs;
	size_t pair_mask;
	/* SentencePiece normaliser */
	uint8_t *charsmap;      /* precompiled: u32 trie size, trie, strings */
	size_t ncharsmap;
	const uint32_t *trie;
	size_t ntrie;
	const char *normstr;
	size_t nnormstr;
	int add_dummy_prefix, remove_extra_ws, escape_ws;
	/* Hugging Face normaliser steps, in order (HF pipeline) */
	int hf_steps[8];        /* SPM_HF_* */
	char *hf_arg[8][2];     /* Replace: pattern, content; Prepend: text */
	int nhf;
	char *split_on;         /* pre-tokenizer Split: a literal, merged_with_previous */
	/* special tokens and the row */
	struct spm_added *added;
	size_t nadded;
	int32_t unk, pad, bos, eos;
	int add_bos, add_eos;   /* the template (HF) or the tokenizer class */
	int pad_left;
	int lower;              /* lowercase first (Python's str.lower()) */
	int siglip;             /* SiglipTokenizer's canonicalisation */
	int canon_lower;        /* ... with its do_lower_case */
};

enum { SPM_HF_REPLACE = 1, SPM_HF_LOWER, SPM_HF_PREPEND };

/* spm_new - an empty tokenizer; spm_add_piece - append a piece (id = its
 * index); spm_finish - build the lookup tables once all pieces are in.
 * Each returns 0 or RC_E_NOMEM (logged). */
struct rc_spm *spm_new(void);
int spm_add_piece(struct rc_spm *s, const char *p, size_t len, float score, int type);
int spm_finish(struct rc_spm *s);
/* spm_find - the id of a piece, or -1. */
int32_t spm_find(const struct rc_spm *s, const char *p, size_t len);
/* spm_lookup - the table entry for p (NULL when p is neither a piece nor
 * a prefix of one). spm_lookup_h - the same with h = spm_hash_step()
 * folded over p's bytes from SPM_HASH0, so that a caller extending p one
 * byte at a time hashes each byte once. */
const struct spm_slot *spm_lookup(const struct rc_spm *s, const char *p, size_t len);
const struct spm_slot *spm_lookup_h(const struct rc_spm *s, const char *p, size_t len, uint64_t h);
#define SPM_HASH0 0xcbf29ce484222325ull
static inline uint64_t spm_hash_step(uint64_t h, unsigned char c)
{
	return (h ^ c) * 0x100000001b3ull; /* FNV-1a */
}
int spm_add_merge(struct rc_spm *s, int32_t a, int32_t b, uint32_t rank, int32_t result);
const struct spm_pair *spm_merge(const struct rc_spm *s, int32_t a, int32_t b);
int spm_add_special(struct rc_spm *s, const char *tok, size_t len, int32_t id, int lstrip, int rstrip);

/* spm_set_id - s->id from the name, files_hash and lower (spm_vocab.c). */
void spm_set_id(struct rc_spm *s);

/* The loaders (spm_model.c, spm_json.c). Return 0 or a logged RC_E_*. */
int spm_read_model(struct rc_spm *s, const char *path);
int spm_read_json(struct rc_spm *s, const char *path);

/* A growable byte buffer and a growable id buffer for the encoder. */
struct spm_buf { char *p; size_t n, cap; };
struct spm_ids { int32_t *p; size_t n, cap; };
int spm_buf_put(struct spm_buf *b, const char *s, size_t n);
int spm_ids_put(struct spm_ids *v, int32_t id);

/* spm_normalize - SentencePiece's normaliser (charsmap, whitespace) of
 * len bytes appended to out. */
int spm_normalize(const struct rc_spm *s, const char *in, size_t len, struct spm_buf *out);

/* Scratch for the segmenters. */
struct spm_work {
	struct spm_buf a, b, c;
	struct spm_ids ids, tmp;
	void *lat;  size_t latcap;  /* unigram: best path per byte */
	void *sym;  size_t symcap;  /* BPE: symbols */
	void *heap; size_t heapcap; /* BPE: the merge queue */
};

/* spm_unigram - Viterbi over the normalised text, as SentencePiece's
 * unigram model does it (unknown runs fused); ids appended to out. */
int spm_unigram(const struct rc_spm *s, struct spm_work *w, const char *t, size_t len,
	struct spm_ids *out);
/* spm_bpe - Hugging Face's BPE (merge rank, then leftmost) over one word,
 * with byte fallback; ids appended to out. */
int spm_bpe(const struct rc_spm *s, struct spm_work *w, const char *t, size_t len,
	struct spm_ids *out);

#endif
