/* utf8.c - UTF-8 decoding with Python's replacement rule (maximal subpart)
 * and encoding. */
#include "base/utf8.h"

uint32_t rc_utf8_next(const char *str, size_t len, size_t *pi)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = *pi;
	unsigned c = s[i];
	if (c < 0x80) {
		*pi = i + 1;
		return c;
	}
	/* Expected length and the allowed range of the second byte, per the
	 * Unicode table of well-formed sequences. */
	size_t need;
	unsigned lo = 0x80, hi = 0xBF;
	uint32_t cp;
	if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; }
	else if (c == 0xE0) { need = 2; cp = c & 0x0F; lo = 0xA0; }
	else if (c == 0xED) { need = 2; cp = c & 0x0F; hi = 0x9F; }
	else if (c >= 0xE1 && c <= 0xEF) { need = 2; cp = c & 0x0F; }
	else if (c == 0xF0) { need = 3; cp = c & 0x07; lo = 0x90; }
	else if (c >= 0xF1 && c <= 0xF3) { need = 3; cp = c & 0x07; }
	else if (c == 0xF4) { need = 3; cp = c & 0x07; hi = 0x8F; }
	else {
		*pi = i + 1;
		return 0xFFFD;
	}
	size_t k = 1;
	for (; k <= need; k++) {
		if (i + k >= len)
			break;
		unsigned b = s[i + k];
		if (b < lo || b > hi)
			break;
		lo = 0x80, hi = 0xBF;
		cp = (cp << 6) | (b & 0x3F);
	}
	if (k <= need) {
		/* The maximal valid prefix is replaced as one U+FFFD. */
		*pi = i + k;
		return 0xFFFD;
	}
	*pi = i + need + 1;
	return cp;
}

size_t rc_utf8_decode(const char *s, size_t len, uint32_t *out, size_t *invalid)
{
	size_t i = 0, n = 0, bad = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x80) {
			out[n++] = c;
			i++;
			continue;
		}
		size_t before = i;
		uint32_t cp = rc_utf8_next(s, len, &i);
		/* A real U+FFFD in the input is 3 bytes EF BF BD. */
		if (cp == 0xFFFD && !(i - before == 3 && (unsigned char)s[before] == 0xEF))
			bad++;
		out[n++] = cp;
	}
	if (invalid)
		*invalid = bad;
	return n;
}

size_t rc_utf8_encode1(uint32_t cp, char *out)
{
	unsigned char *o = (unsigned char *)out;
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

size_t rc_utf8_encode(const uint32_t *cps, size_t n, char *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += rc_utf8_encode1(cps[i], out + k);
	return k;
}

int rc_utf8_is_space(uint32_t c)
{
	return (c >= 9 && c <= 13) || (c >= 0x1C && c <= 0x20) || c == 0x85 ||
	       c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
	       c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
	       c == 0x3000;
}
