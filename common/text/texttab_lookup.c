/* texttab_lookup.c - binary searches over the generated tables of
 * texttab.c (kept apart so that the generated file is data only). */
#include "text/texttab.h"

#include <string.h>

int rc_tt_in(const struct rc_range *r, size_t n, uint32_t cp)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cp < r[mid].lo)
			hi = mid;
		else if (cp > r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

const char *rc_tt_cpmap_find(const struct rc_cpmap *m, size_t n, uint32_t cp)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cp < m[mid].cp)
			hi = mid;
		else if (cp > m[mid].cp)
			lo = mid + 1;
		else
			return m[mid].to;
	}
	return NULL;
}

/* Keys are ordered as Python orders their UTF-8 bytes: bytewise, a prefix
 * before the longer key. */
static int key_cmp(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

const char *rc_tt_strmap_find(const struct rc_strmap *m, size_t n, const char *key, size_t len)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(key, len, m[mid].key);
		if (c < 0)
			hi = mid;
		else if (c > 0)
			lo = mid + 1;
		else
			return m[mid].to;
	}
	return NULL;
}
