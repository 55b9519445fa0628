/* texttab.h - character tables for CLIP text cleaning, generated from the
 * reference libraries by build-aux/gen-texttab.py (see texttab.c).
 *
 * Range tables are sorted, disjoint, inclusive; look them up with
 * rc_tt_in(). Maps are sorted by key (code point, or key bytes for
 * strings); values are UTF-8.
 *
 *     if (rc_tt_in(rc_tt_letter, rc_tt_letter_n, cp)) ...   // \p{L}
 */
#ifndef RCLIP_TEXTTAB_H
#define RCLIP_TEXTTAB_H

#include <stddef.h>
#include <stdint.h>

struct rc_range { uint32_t lo, hi; };
struct rc_cpmap { uint32_t cp; const char *to; };
struct rc_strmap { const char *key; const char *to; };

#define RC_TT_DECLARE_RANGES(name) \
	extern const struct rc_range rc_tt_##name[]; extern const size_t rc_tt_##name##_n
#define RC_TT_DECLARE_CPMAP(name) \
	extern const struct rc_cpmap rc_tt_##name[]; extern const size_t rc_tt_##name##_n
#define RC_TT_DECLARE_STRMAP(name) \
	extern const struct rc_strmap rc_tt_##name[]; extern const size_t rc_tt_##name##_n

/* The classes of open_clip's pattern as the regex module matches them
 * case-insensitively: [\p{L}], [\p{N}] and [^\s\p{L}\p{N}]. A code point
 * in none of them (a space, or U+0345) belongs to no piece. */
RC_TT_DECLARE_RANGES(letter);
RC_TT_DECLARE_RANGES(number);
RC_TT_DECLARE_RANGES(other);
RC_TT_DECLARE_CPMAP(fold_ascii);    /* U+017F → "s", ... */
RC_TT_DECLARE_RANGES(py_space);     /* str.isspace() */
RC_TT_DECLARE_CPMAP(lower);         /* str.lower(), U+03A3 excepted */
RC_TT_DECLARE_RANGES(case_ignorable);
RC_TT_DECLARE_RANGES(cased);
RC_TT_DECLARE_STRMAP(html5);        /* html.entities.html5 */
RC_TT_DECLARE_CPMAP(html_charref);  /* html._invalid_charrefs */
RC_TT_DECLARE_RANGES(html_dropped); /* html._invalid_codepoints */
RC_TT_DECLARE_STRMAP(ftfy_entities);
RC_TT_DECLARE_RANGES(ftfy_control);
RC_TT_DECLARE_CPMAP(ftfy_ligature);
RC_TT_DECLARE_CPMAP(ftfy_width);
RC_TT_DECLARE_CPMAP(ftfy_c1);
RC_TT_DECLARE_RANGES(ftfy_squote);
RC_TT_DECLARE_RANGES(ftfy_dquote);

/* rc_tt_in - 1 when cp lies in one of the n ranges of r, else 0. */
int rc_tt_in(const struct rc_range *r, size_t n, uint32_t cp);
/* rc_tt_cpmap_find - the replacement for cp, or NULL. */
const char *rc_tt_cpmap_find(const struct rc_cpmap *m, size_t n, uint32_t cp);
/* rc_tt_strmap_find - the value for the key of len bytes, or NULL. */
const char *rc_tt_strmap_find(const struct rc_strmap *m, size_t n, const char *key, size_t len);

#endif
