/* spm_norm.c - SentencePiece's normaliser: the precompiled charsmap (a
 * darts-clone double-array trie of byte strings and the NUL-terminated
 * replacements it points at; longest match wins, an unmatched character
 * is kept), leading, trailing and repeated spaces removed, spaces escaped
 * as U+2581 and a dummy prefix, as the model's NormalizerSpec says. */
#include <string.h>

#include "text/spm_impl.h"
#include "base/error.h"

#define SPACE "\xE2\x96\x81"

/* darts-clone's unit layout */
static uint32_t u_offset(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
static uint32_t u_label(uint32_t u) { return u & ((1u << 31) | 0xFF); }
static int u_leaf(uint32_t u) { return (u >> 8) & 1; }
static uint32_t u_value(uint32_t u) { return u & ((1u << 31) - 1); }

/* The longest charsmap rule matching a prefix of p: its length (0: none)
 * and the offset of its replacement. */
static size_t trie_longest(const struct rc_spm *s, const char *p, size_t len, uint32_t *value)
{
	const uint32_t *t = s->trie;
	size_t best = 0;
	if (!t || !s->ntrie)
		return 0;
	size_t pos = u_offset(t[0]);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		pos ^= c;
		if (pos >= s->ntrie)
			break;
		uint32_t u = t[pos];
		if (u_label(u) != c)
			break;
		pos ^= u_offset(u);
		if (pos >= s->ntrie)
			break;
		if (u_leaf(u)) {
			best = i + 1;
			*value = u_value(t[pos]);
		}
	}
	return best;
}

static size_t char_len(const char *p, size_t len)
{
	unsigned char c = (unsigned char)p[0];
	size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	return n <= len ? n : len;
}

/* One step: the normalised form of the prefix of in and the bytes it
 * consumed. User-defined pieces pass unchanged. */
static size_t norm_prefix(const struct rc_spm *s, const char *in, size_t len,
	const char **out, size_t *outlen)
{
	size_t ul = 0;
	for (size_t k = 0; k < s->nuser; k++) {
		int32_t i = s->user[k];
		if (s->len[i] > ul && s->len[i] <= len && !memcmp(in, s->blob + s->off[i], s->len[i]))
			ul = s->len[i];
	}
	if (ul) {
		*out = in;
		*outlen = ul;
		return ul;
	}
	uint32_t v = 0;
	size_t n = trie_longest(s, in, len, &v);
	if (n && v < s->nnormstr) {
		*out = s->normstr + v;
		*outlen = strnlen(*out, s->nnormstr - v);
		return n;
	}
	n = char_len(in, len);
	*out = in;
	*outlen = n;
	return n;
}

int spm_normalize(const struct rc_spm *s, const char *in, size_t len, struct spm_buf *out)
{
	size_t start = out->n;
	const char *p;
	size_t pl;
	if (s->remove_extra_ws)
		while (len) {
			size_t n = norm_prefix(s, in, len, &p, &pl);
			if (pl != 1 || p[0] != ' ')
				break;
			in += n;
			len -= n;
		}
	if (!len)
		return 0;
	if (s->add_dummy_prefix && spm_buf_put(out, s->escape_ws ? SPACE : " ", s->escape_ws ? 3 : 1) < 0)
		return RC_E_NOMEM;
	int prev_space = s->remove_extra_ws;
	while (len) {
		size_t n = norm_prefix(s, in, len, &p, &pl);
		while (prev_space && pl && p[0] == ' ') {
			p++;
			pl--;
		}
		if (pl) {
			size_t k = 0;
			while (k < pl) { /* runs without a space in one copy */
				const char *sp = s->escape_ws ? memchr(p + k, ' ', pl - k) : NULL;
				size_t run = sp ? (size_t)(sp - (p + k)) : pl - k;
				if (spm_buf_put(out, p + k, run) < 0 || (sp && spm_buf_put(out, SPACE, 3) < 0))
					return RC_E_NOMEM;
				k += run + (sp != NULL);
			}
			prev_space = p[pl - 1] == ' ';
		}
		in += n;
		len -= n;
		if (!s->remove_extra_ws)
			prev_space = 0;
	}
	if (s->remove_extra_ws) {
		const char *sp = s->escape_ws ? SPACE : " ";
		size_t sl = strlen(sp);
		while (out->n - start >= sl && !memcmp(out->p + out->n - sl, sp, sl))
			out->n -= sl;
		out->p[out->n] = 0;
	}
	return 0;
}
