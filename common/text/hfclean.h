/* hfclean.h - CLIP caption normalization as the Hugging Face fast CLIP
 * tokenizer does it (transformers' CLIPTokenizerFast, the tokenizers
 * library): the normalizer NFC → Replace(\s+, " ") → Lowercase, and nothing
 * else. Unlike open_clip (textclean.h) there is no ftfy, no HTML
 * unescaping, no stripping; \s is Unicode White_Space (U+001C..U+001F are
 * not spaces here, as they are for Python); Lowercase maps each character
 * on its own, so Σ always becomes σ (no final sigma).
 *
 *     struct rc_hfclean *hc = rc_hfclean_new();
 *     const uint32_t *cps; size_t n;
 *     rc_hfclean_run(hc, text, len, &cps, &n);   // normalized code points
 *     rc_hfclean_free(hc);
 *
 * The special tokens <|startoftext|> and <|endoftext|> are taken out of
 * the raw text before this (bpe.c); a cleaner holds scratch buffers, one
 * per thread.
 */
#ifndef RCLIP_HFCLEAN_H
#define RCLIP_HFCLEAN_H

#include <stddef.h>
#include <stdint.h>

struct rc_hfclean;

/* rc_hfclean_new - a cleaner, or NULL when out of memory. Free with
 * rc_hfclean_free (NULL is fine). */
struct rc_hfclean *rc_hfclean_new(void);
void rc_hfclean_free(struct rc_hfclean *hc);

/* rc_hfclean_run - normalize len bytes of UTF-8 (invalid bytes become
 * U+FFFD and are counted). Returns 0 and points *out at n code points
 * owned by hc, valid until the next call, or RC_E_NOMEM. */
int rc_hfclean_run(struct rc_hfclean *hc, const char *s, size_t len, const uint32_t **out,
	size_t *n);

/* rc_hfclean_invalid - U+FFFD replacements made in the last run. */
size_t rc_hfclean_invalid(const struct rc_hfclean *hc);

/* rc_hfclean_is_space - 1 for the \s of the Hugging Face tokenizer's
 * patterns (Unicode White_Space), else 0. */
int rc_hfclean_is_space(uint32_t c);

#endif
