/* bpe.h - the CLIP byte-level BPE tokenizer, id for id as open_clip.
 *
 * A vocabulary (struct rc_bpe) is read once from the CLIP merges file (the
 * gzip'd bpe_simple_vocab_16e6.txt that rclip ships, or a Hugging Face
 * merges.txt, optionally with its vocab.json) and is then read-only, shared
 * by all threads. Each thread encodes through its own struct rc_bpe_state,
 * which holds the text cleaner (textclean.h), scratch space and a cache of
 * the words it has seen.
 *
 *     struct rc_bpe *bpe;
 *     if (rc_bpe_load(&bpe, NULL, NULL) < 0)      // the shipped merges
 *         return 1;
 *     struct rc_bpe_state *st = rc_bpe_state_new(bpe);
 *     const int32_t *ids; size_t n;
 *     rc_bpe_encode(st, "A photo of a cat.", 17, &ids, &n);
 *     int32_t row[77]; int trunc;
 *     rc_bpe_pack(bpe, ids, n, row, 77, 0, &trunc);   // open_clip.tokenize
 *     rc_bpe_state_free(st);
 *     rc_bpe_free(bpe);
 *
 * Encoding: clean the text (textclean.h), split it with open_clip's
 * pattern  <start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|
 * \p{N}|[^\s\p{L}\p{N}]+  (case-insensitive), map each piece's UTF-8 bytes
 * to byte symbols, the last one marked end-of-word, and merge pairs in the
 * order of the merges file.
 *
 * Two semantics (rc_bpe_set_semantics), the same BPE under both:
 *   RC_BPE_OPEN_CLIP  open_clip.tokenize, as above (the default);
 *   RC_BPE_HF         transformers' CLIPTokenizerFast, id for id: the exact
 *     strings <|startoftext|> and <|endoftext|> in the raw text are those
 *     ids; each text between them is normalized (hfclean.h: no ftfy, no
 *     HTML unescaping, White_Space runs to a space, lowercase without final
 *     sigma) and split by the same pattern case-sensitively, with the
 *     Hugging Face spellings <|startoftext|> and <|endoftext|> as ordinary
 *     text ("<|", "endoftext", "|>" after the byte-level step's own split),
 *     U+0345 and U+001C..U+001F as punctuation.
 * The official evaluation and training code tokenizes a Hugging Face
 * checkpoint with the latter, an open_clip one with the former.
 */
#ifndef RCLIP_BPE_H
#define RCLIP_BPE_H

#include <stddef.h>
#include <stdint.h>

struct rc_bpe;
struct rc_bpe_state;

/* The merges CLIP uses: lines 2..48895 of its merges file. */
#define RC_BPE_CLIP_MERGES 48894
#define RC_BPE_CONTEXT 77

/* rc_bpe_find_merges - the path of the shipped merges file: the first of
 * $RCLIP_DATA_DIR, the install data directory and the source tree's data/
 * that holds bpe_simple_vocab_16e6.txt.gz. Returns a static string, or
 * NULL (logged, with a hint) when there is none. */
const char *rc_bpe_find_merges(void);

/* rc_bpe_load - read a merges file (gzip'd or plain; NULL means
 * rc_bpe_find_merges()) and, when vocab_json is not NULL, a Hugging Face
 * vocab.json that gives the ids. Without vocab.json the ids are CLIP's
 * construction: 256 byte symbols, the same with "</w>", one per merge,
 * then <start_of_text> and <end_of_text>. At most RC_BPE_CLIP_MERGES
 * merges are used. Returns 0 with *out (free with rc_bpe_free), or
 * RC_E_IO, RC_E_FORMAT ("file:line: reason"), RC_E_NOTFOUND (a token
 * missing from vocab.json) or RC_E_NOMEM, logged. */
int rc_bpe_load(struct rc_bpe **out, const char *merges, const char *vocab_json);
void rc_bpe_free(struct rc_bpe *bpe);

/* rc_bpe_load_model - the tokenizer of a model at path: PATH/merges.txt with
 * PATH/vocab.json when the path is a directory holding both (a Hugging Face
 * model), else the CLIP merges rclip ships; with RC_BPE_HF semantics when
 * the path is a directory with a config.json (a Hugging Face model), else
 * RC_BPE_OPEN_CLIP (an open_clip directory or file, an rclip checkpoint).
 * Returns as rc_bpe_load. */
int rc_bpe_load_model(struct rc_bpe **out, const char *path);

/* How a caption becomes ids (see above). */
enum rc_bpe_semantics {
	RC_BPE_OPEN_CLIP = 0,
	RC_BPE_HF = 1,
};

/* rc_bpe_set_semantics - encode with sem from now on; call it before any
 * state encodes (the vocabulary is shared read-only by the threads). */
void rc_bpe_set_semantics(struct rc_bpe *bpe, int sem);
int rc_bpe_semantics(const struct rc_bpe *bpe);

/* rc_bpe_semantics_name - "open_clip" or "hf" (NULL for another value);
 * rc_bpe_semantics_parse - the value of such a name, or RC_E_ARG (not
 * logged). */
const char *rc_bpe_semantics_name(int sem);
int rc_bpe_semantics_parse(const char *s);

int32_t rc_bpe_sot(const struct rc_bpe *bpe);        /* 49406 for CLIP */
int32_t rc_bpe_eot(const struct rc_bpe *bpe);        /* 49407 for CLIP */
size_t rc_bpe_vocab_size(const struct rc_bpe *bpe);  /* 49408 for CLIP */
size_t rc_bpe_merges(const struct rc_bpe *bpe);

/* rc_bpe_state_new - per-thread encoder state, or NULL when out of memory
 * (logged). It refers to bpe, which must outlive it. */
struct rc_bpe_state *rc_bpe_state_new(const struct rc_bpe *bpe);
void rc_bpe_state_free(struct rc_bpe_state *st);

/* rc_bpe_encode - the ids of one caption (len bytes of UTF-8; invalid
 * bytes become U+FFFD), without start and end tokens, untruncated. On
 * success returns 0 and points *ids at *n ids owned by st, valid until the
 * next call. Returns RC_E_NOMEM when out of memory. */
int rc_bpe_encode(struct rc_bpe_state *st, const char *text, size_t len,
	const int32_t **ids, size_t *n);

/* rc_bpe_state_invalid - U+FFFD replacements made by the last encode. */
size_t rc_bpe_state_invalid(const struct rc_bpe_state *st);

/* rc_bpe_word - BPE of one pre-tokenized piece (raw bytes, no cleaning),
 * for tests: the ids go to *ids as in rc_bpe_encode. */
int rc_bpe_word(struct rc_bpe_state *st, const char *piece, size_t len,
	const int32_t **ids, size_t *n);

/* rc_bpe_pack - one row as open_clip.tokenize builds it: start token, the
 * ids, end token, then pad up to ctx. A longer sequence keeps ctx-2 ids
 * and ends with the end token. *truncated (may be NULL) is set to 1 when
 * ids were dropped. Returns the number of ids before the padding. */
size_t rc_bpe_pack(const struct rc_bpe *bpe, const int32_t *ids, size_t n,
	int32_t *row, size_t ctx, int32_t pad, int *truncated);

/* rc_bpe_decode - text back from ids as open_clip's decode does (each
 * token's bytes, "</w>" read as a space, invalid UTF-8 replaced, special
 * tokens spelled <start_of_text> and <end_of_text>), with the row's frame
 * left out: a leading start token, and the last end token with everything
 * after it (the padding); trailing spaces are removed. Writes a NUL-terminated string into a malloc'd
 * *out (caller frees). Returns 0, RC_E_RANGE (an id past the vocabulary;
 * *bad_index is set) or RC_E_NOMEM. */
int rc_bpe_decode(const struct rc_bpe *bpe, const int32_t *ids, size_t n,
	char **out, size_t *bad_index);

/* rc_bpe_token_bytes - the bytes a token stands for (*eow set when it ends
 * a word); NULL for an id outside the vocabulary. Not NUL-terminated. */
const char *rc_bpe_token_bytes(const struct rc_bpe *bpe, int32_t id, size_t *len, int *eow);

#endif
