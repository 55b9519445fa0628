/* hfclean.c - the Hugging Face fast CLIP tokenizer's normalizer (hfclean.h):
 * NFC through utf8proc, runs of White_Space to one space, and a lowercase
 * of each character on its own (str.lower()'s table, with Σ → σ always). */
#include "text/hfclean.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "base/error.h"
#include "base/io.h"
#include "base/utf8.h"
#include "text/texttab.h"


struct rc_hfclean {
	uint32_t *a, *b;      /* code points: decoded, then normalized */
	size_t capa, capb;
	char *u8;             /* UTF-8 for utf8proc */
	size_t capu8;
	size_t invalid;
};

struct rc_hfclean *rc_hfclean_new(void)
{
	return rc_calloc(1, sizeof(struct rc_hfclean));
}

void rc_hfclean_free(struct rc_hfclean *hc)
{
	if (!hc)
		return;
	free(hc->a);
	free(hc->b);
	free(hc->u8);
	free(hc);
}

size_t rc_hfclean_invalid(const struct rc_hfclean *hc) { return hc->invalid; }

int rc_hfclean_is_space(uint32_t c)
{
	return rc_utf8_is_space(c) && !(c >= 0x1C && c <= 0x1F);
}

/* NFC of hc->a[0..n) into hc->a; returns the new length, or -1 when out of
 * memory. Text below U+0300 is already NFC. */
static long nfc(struct rc_hfclean *hc, size_t n)
{
	size_t i;
	for (i = 0; i < n && hc->a[i] < 0x300; i++)
		;
	if (i == n)
		return (long)n;
	if (rc_grow((void **)&hc->u8, &hc->capu8, 4 * n + 1, 1) < 0)
		return -1;
	size_t len = rc_utf8_encode(hc->a, n, hc->u8);
	utf8proc_uint8_t *dst = NULL;
	utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)hc->u8, (utf8proc_ssize_t)len,
		&dst, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
	if (m < 0) {
		free(dst);
		return m == UTF8PROC_ERROR_NOMEM ? -1 : (long)n; /* valid input: cannot fail */
	}
	/* NFC never lengthens beyond the decomposed form, which fits 4n bytes */
	if (rc_grow((void **)&hc->a, &hc->capa, (size_t)m + 1, sizeof *hc->a) < 0) {
		free(dst);
		return -1;
	}
	size_t k = 0, j = 0;
	while (k < (size_t)m)
		hc->a[j++] = rc_utf8_next((const char *)dst, (size_t)m, &k);
	free(dst);
	return (long)j;
}

int rc_hfclean_run(struct rc_hfclean *hc, const char *s, size_t len, const uint32_t **out,
	size_t *n)
{
	hc->invalid = 0;
	if (rc_grow((void **)&hc->a, &hc->capa, len + 1, sizeof *hc->a) < 0)
		return RC_E_NOMEM;
	long m = nfc(hc, rc_utf8_decode(s, len, hc->a, &hc->invalid));
	if (m < 0 || rc_grow((void **)&hc->b, &hc->capb, 2 * (size_t)m + 1, sizeof *hc->b) < 0)
		return RC_E_NOMEM;
	size_t k = 0;
	for (size_t i = 0; i < (size_t)m; i++) {
		uint32_t c = hc->a[i];
		if (rc_hfclean_is_space(c)) {
			if (i == 0 || !rc_hfclean_is_space(hc->a[i - 1]))
				hc->b[k++] = ' ';
			continue;
		}
		if (c < 0x80) {
			hc->b[k++] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
		} else if (c == 0x3A3) {
			hc->b[k++] = 0x3C3; /* no final sigma: each character on its own */
		} else {
			const char *v = rc_tt_cpmap_find(rc_tt_lower, rc_tt_lower_n, c);
			if (!v) {
				hc->b[k++] = c;
				continue;
			}
			size_t vl = strlen(v), t = 0;
			while (t < vl)
				hc->b[k++] = rc_utf8_next(v, vl, &t);
		}
	}
	*out = hc->b;
	*n = k;
	return 0;
}
