/* spm.h - SentencePiece-family tokenizers (SigLIP's unigram, SigLIP2's
 * Gemma BPE with byte fallback), id for id with Hugging Face transformers.
 *
 * A tokenizer (struct rc_spm) is read once from a model directory and is
 * then read-only, shared by all threads; each thread encodes through its
 * own struct rc_spm_state (scratch space).
 *
 *     struct rc_spm *tok;
 *     if (rc_spm_load_dir(&tok, "siglip-so400m") < 0)   // logged
 *             return 1;
 *     struct rc_spm_state *st = rc_spm_state_new(tok);
 *     const int32_t *ids; size_t n;
 *     rc_spm_encode(st, "A photo of a cat.", 17, &ids, &n);
 *     int32_t row[64];
 *     rc_spm_pack(tok, ids, n, row, 64, NULL);  // padding="max_length", truncation
 *     rc_spm_state_free(st);
 *     rc_spm_free(tok);
 *
 * What a directory holds decides the pipeline:
 * - tokenizer_config.json naming SiglipTokenizer, and spiece.model: as
 *   transformers' SiglipTokenizer (a SentencePiece processor): the text is
 *   lowercased (str.lower()), ASCII punctuation removed, whitespace runs
 *   made one space and the ends stripped; SentencePiece's normaliser
 *   (precompiled charsmap, dummy prefix, extra whitespace removed) and
 *   unigram Viterbi; `</s>` appended; padded with `</s>` on the right.
 * - tokenizer.json with a BPE model (Gemma, SigLIP2): as the fast
 *   tokenizer built from it (GemmaTokenizer): its normalizer (Replace,
 *   Lowercase, Prepend), no pre-tokenisation beyond a literal Split, BPE by
 *   merge rank with byte fallback (<0xNN>) and fused unknowns; the special
 *   tokens of its post_processor template; padding_side from
 *   tokenizer_config.json (GemmaTokenizer's default: left).
 * - a bare spiece.model or tokenizer.model: SentencePiece's own pipeline
 *   (unigram only).
 * Added (special) tokens written in the text become their ids, as in
 * transformers.
 */
#ifndef RCLIP_SPM_H
#define RCLIP_SPM_H

#include <stddef.h>
#include <stdint.h>

struct rc_spm;
struct rc_spm_state;

enum { RC_SPM_UNIGRAM = 1, RC_SPM_BPE = 2 };
enum { RC_SPM_FLAVOR_SPM = 0, RC_SPM_FLAVOR_SIGLIP, RC_SPM_FLAVOR_HF };

/* The context length of SigLIP and SigLIP2 text towers. */
#define RC_SPM_CONTEXT 64

/* rc_spm_dir_kind - what tokenizer files the directory holds: 1 when it
 * has a SentencePiece-family tokenizer (spiece.model, tokenizer.model, or
 * a tokenizer.json whose model is not CLIP's byte-level BPE), else 0. */
int rc_spm_dir_kind(const char *dir);

/* rc_spm_load_dir - read the tokenizer of a model directory (above).
 * Returns 0 with *out (free with rc_spm_free), or RC_E_NOTFOUND (no
 * tokenizer file), RC_E_IO, RC_E_FORMAT ("file: reason"),
 * RC_E_UNSUPPORTED (a pipeline step rclip does not implement, named) or
 * RC_E_NOMEM, logged. */
int rc_spm_load_dir(struct rc_spm **out, const char *dir);
void rc_spm_free(struct rc_spm *s);

/* rc_spm_set_lower - lowercase each text first with Python's str.lower(),
 * as the official SigLIP2 recipe does before its tokenizer. */
void rc_spm_set_lower(struct rc_spm *s, int on);

/* rc_spm_name - "siglip-unigram", "gemma-bpe", "siglip2-bpe", "hf-bpe":
 * the pipeline, for messages. Static within s. */
const char *rc_spm_name(const struct rc_spm *s);

/* rc_spm_id - the tokenizer's identity, for shard metadata and
 * checkpoints: "NAME:HASH", HASH 16 hex digits of the xxh3 of the
 * tokenizer file and the tokenizer_config.json beside it (so that two
 * different tokenizers never give the same string), then ":lower" while
 * rc_spm_set_lower is on ("gemma-bpe:5d1c0e4b9a3f2871:lower"). Owned by
 * s, valid until rc_spm_set_lower or rc_spm_free. */
const char *rc_spm_id(const struct rc_spm *s);
size_t rc_spm_vocab_size(const struct rc_spm *s);
int32_t rc_spm_pad(const struct rc_spm *s);
int rc_spm_pad_left(const struct rc_spm *s);  /* 1: rows are padded on the left */

struct rc_spm_state *rc_spm_state_new(const struct rc_spm *s);
void rc_spm_state_free(struct rc_spm_state *st);

/* rc_spm_encode - the content ids of one text (len bytes of UTF-8;
 * invalid bytes become U+FFFD), without the template's special tokens,
 * untruncated. On success returns 0 and points *ids at *n ids owned by
 * st, valid until the next call; RC_E_NOMEM otherwise. */
int rc_spm_encode(struct rc_spm_state *st, const char *text, size_t len,
	const int32_t **ids, size_t *n);

/* rc_spm_state_invalid - U+FFFD replacements made by the last encode. */
size_t rc_spm_state_invalid(const struct rc_spm_state *st);

/* rc_spm_pack - one row as the reference tokenizer builds it with
 * padding="max_length", truncation=True, max_length=ctx: the content cut
 * to leave room for the special tokens, the special tokens added, padded
 * with the pad id on the tokenizer's side. *truncated (may be NULL) is
 * set when ids were dropped. Returns the number of ids before padding. */
size_t rc_spm_pack(const struct rc_spm *s, const int32_t *ids, size_t n,
	int32_t *row, size_t ctx, int *truncated);

/* rc_spm_frame - the unpadded row (special tokens added, no truncation
 * when ctx is 0) into row (room for n + 2); returns its length. */
size_t rc_spm_frame(const struct rc_spm *s, const int32_t *ids, size_t n,
	int32_t *row, size_t ctx, int *truncated);

#endif
