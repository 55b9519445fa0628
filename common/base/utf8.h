/* utf8.h - UTF-8 to code points and back, for text cleaning.
 *
 * Decoding replaces each maximal invalid subsequence with U+FFFD, as
 * Python's bytes.decode("utf-8", "replace") does (surrogates, overlongs and
 * code points past U+10FFFF are invalid), and counts the replacements.
 *
 *     size_t bad;
 *     size_t n = rc_utf8_decode(s, len, cps, &bad);   // cps has len slots
 */
#ifndef RCLIP_UTF8_H
#define RCLIP_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* rc_utf8_decode - decode len bytes into out (room for len code points is
 * always enough). Returns the number of code points; *invalid (may be NULL)
 * gets the number of U+FFFD replacements made. */
size_t rc_utf8_decode(const char *s, size_t len, uint32_t *out, size_t *invalid);

/* rc_utf8_encode1 - write one code point (< 0x110000) to out (room for 4);
 * returns the byte count. */
size_t rc_utf8_encode1(uint32_t cp, char *out);

/* rc_utf8_encode - encode n code points to out (room for 4*n); returns the
 * byte count. */
size_t rc_utf8_encode(const uint32_t *cps, size_t n, char *out);

/* rc_utf8_next - decode the code point at s[*i] (len bytes in all) and
 * advance *i; invalid bytes give U+FFFD, as in rc_utf8_decode. */
uint32_t rc_utf8_next(const char *s, size_t len, size_t *i);

/* rc_utf8_is_space - 1 for what Python's str.isspace() accepts (Unicode
 * White_Space and the ASCII separators 0x1C..0x1F), else 0. */
int rc_utf8_is_space(uint32_t c);

#endif
