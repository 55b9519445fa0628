/* tokenizer_id.h - which tokenizer made a shard's token ids, and whether
 * they are the ids a model takes. A shard names its tokenizer in its
 * metadata (rclip-shard(5), key "tokenizer"): "clip-bpe" or "clip-bpe-hf"
 * for CLIP's BPE, or rc_spm_id()'s "NAME:HASH[:lower]" for the tokenizer
 * of a model directory (SigLIP's unigram, SigLIP2's Gemma BPE); a shard
 * without the key holds CLIP BPE ids, as every shard written before the
 * key existed does. A model's tokenizer comes from its files or its
 * checkpoint (convert/model_io.h, rc_clip_tokenizer).
 *
 *     const char *have = rc_shard_tokenizer(shard);
 *     if (rc_tokenizer_check(path, have, model_tok, vocab) < 0)   // logged
 *             return 1;
 *
 * Two identities agree when both are CLIP BPE (open_clip's and the Hugging
 * Face semantics differ only in rare texts, and CLIP models always took
 * both), or when they are the same tokenizer: the same NAME:HASH, with or
 * without ":lower" (lowercasing changes the texts, not the vocabulary: a
 * SigLIP2 model trains on lowercased texts, as its official recipe does).
 */
#ifndef RCLIP_TOKENIZER_ID_H
#define RCLIP_TOKENIZER_ID_H

#include "data/shard.h"

/* The identity of CLIP's BPE, as open_clip tokenizes (and with
 * transformers' semantics). */
#define RC_TOKENIZER_CLIP "clip-bpe"
#define RC_TOKENIZER_CLIP_HF "clip-bpe-hf"

/* The most CLIP BPE ids: a model taking them needs this vocabulary. */
#define RC_TOKENIZER_CLIP_VOCAB 49408

/* rc_shard_tokenizer - the "tokenizer" of r's metadata, or
 * RC_TOKENIZER_CLIP when it has none (owned by r or static). */
const char *rc_shard_tokenizer(const struct rc_shard *r);

/* rc_tokenizer_is_clip - 1 when id names CLIP's BPE (either semantics). */
int rc_tokenizer_is_clip(const char *id);

/* rc_tokenizer_agree - 1 when ids of a and of b are the same ids (above). */
int rc_tokenizer_agree(const char *a, const char *b);

/* rc_tokenizer_check - whether the shard named name, whose ids come from
 * have, fits a model whose tokenizer is want, or NULL (or "") when the
 * model does not name one (a config's random weights, a checkpoint of an older
 * rclip): then CLIP BPE ids need a vocabulary of at least
 * RC_TOKENIZER_CLIP_VOCAB (vocab is the model's), and any other
 * tokenizer's ids are taken (rclip-train checks each id against the
 * vocabulary as it reads it). Returns 0, or RC_E_FORMAT logged in one
 * line naming the shard and both sides ("d-000000.rcs: token ids of
 * clip-bpe, the model takes siglip-unigram:0123456789abcdef"), with a
 * hint of the rclip-shard options that make the right shards. */
int rc_tokenizer_check(const char *name, const char *have, const char *want, int vocab);

/* rc_tokenizer_model_dir - the directory of a model path into dir (n
 * bytes), where its tokenizer files are: path itself when it is a
 * directory, else the directory of the file. Returns 1, or 0 when nothing
 * is at path (a built-in config's name; dir untouched). */
int rc_tokenizer_model_dir(const char *path, char *dir, size_t n);

/* rc_tokenizer_checkpoint - the "tokenizer" metadata of the rclip
 * checkpoint at path (what rclip-train writes for a model not trained on
 * CLIP BPE) into buf (n bytes): 1, or 0 when path is no checkpoint or
 * names none (CLIP's BPE, or an rclip before the key), or RC_E_FORMAT (an
 * unreadable checkpoint, logged). */
int rc_tokenizer_checkpoint(const char *path, char *buf, size_t n);

#endif
