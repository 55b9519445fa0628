/* textclean.h - CLIP caption cleaning, as open_clip does it before BPE.
 *
 * open_clip's tokenizer cleans each caption as
 *     ftfy.fix_text → html.unescape twice → strip → collapse whitespace
 *     (str.split / " ".join) → str.lower()
 * rclip does the same steps with the same character tables (texttab.h),
 * except ftfy's heuristic repair of mojibake (fix_encoding and its helpers),
 * which it leaves out: text that ftfy would re-decode from a wrong encoding
 * is kept as it is. Every deterministic ftfy fix is applied, in ftfy's order
 * and repeated until nothing changes, as ftfy does: HTML entities ending in
 * ';' (unless the line contains '<'), C1 controls read as Windows-1252,
 * Latin ligatures, half/full-width forms, curly quotes, line breaks,
 * terminal escapes, control characters, NFC (utf8proc).
 *
 *     struct rc_textclean *tc = rc_textclean_new();
 *     const uint32_t *cps; size_t n;
 *     rc_textclean_run(tc, line, len, &cps, &n);   // cleaned code points
 *     rc_textclean_free(tc);
 *
 * A cleaner holds scratch buffers; use one per thread.
 */
#ifndef RCLIP_TEXTCLEAN_H
#define RCLIP_TEXTCLEAN_H

#include <stddef.h>
#include <stdint.h>

struct rc_textclean;

/* rc_textclean_new - a cleaner with empty scratch buffers, or NULL when out
 * of memory. Free with rc_textclean_free (NULL is fine). */
struct rc_textclean *rc_textclean_new(void);
void rc_textclean_free(struct rc_textclean *tc);

/* rc_textclean_run - clean len bytes of UTF-8 (need not be valid: invalid
 * bytes become U+FFFD and are counted). On success returns 0 and points
 * *out at n cleaned code points, owned by tc and valid until the next call.
 * Returns RC_E_NOMEM when a buffer cannot grow. */
int rc_textclean_run(struct rc_textclean *tc, const char *s, size_t len,
	const uint32_t **out, size_t *n);

/* rc_textclean_invalid - U+FFFD replacements made in the last run. */
size_t rc_textclean_invalid(const struct rc_textclean *tc);

#endif
