/* bpe.c - CLIP BPE encoding as open_clip does it: the pre-token pattern,
 * merging by rank with a heap, a per-thread word cache, packing rows as
 * open_clip.tokenize and decoding. The vocabulary is built in bpe_vocab.c.
 * See bpe.h. */
#include "text/bpe.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "text/bpe_impl.h"
#include "base/error.h"
#include "base/io.h"
#include "text/hfclean.h"
#include "text/textclean.h"
#include "base/utf8.h"

/* ---------------------------------------------------------------- cache */

struct cache_slot {
	uint64_t hash;  /* 0: empty */
	uint32_t key_off, ids_off;
	uint16_t key_len, nids;
};

#define CACHE_SLOTS (1u << 16)       /* per thread */
#define CACHE_MAX_KEY 48             /* longer pieces are not cached */
#define CACHE_POOL (CACHE_SLOTS * 8) /* bytes and ids each */

struct heap_item {
	uint32_t rank, pos;
};

struct rc_bpe_state {
	const struct rc_bpe *bpe;
	struct rc_textclean *tc;
	struct rc_hfclean *hc; /* made on the first Hugging Face encode */
	size_t invalid;        /* U+FFFD replacements of the last encode */
	int32_t *ids;
	size_t nids, capids;
	char *piece;         /* UTF-8 of the current piece */
	size_t cappiece;
	/* word merging scratch */
	uint32_t *word;      /* 3 × n: symbol, previous, next of each position */
	struct heap_item *heap;
	size_t capword, caphp;
	/* cache */
	struct cache_slot *slots;
	char *key_pool;
	int32_t *id_pool;
	size_t key_used, id_used, nslots_used;
};
/* ---------------------------------------------------------------- state */

struct rc_bpe_state *rc_bpe_state_new(const struct rc_bpe *bpe)
{
	struct rc_bpe_state *st = rc_calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->bpe = bpe;
	st->tc = rc_textclean_new();
	st->slots = rc_calloc(CACHE_SLOTS, sizeof *st->slots);
	st->key_pool = rc_malloc(CACHE_POOL);
	st->id_pool = rc_malloc(CACHE_POOL * sizeof *st->id_pool);
	if (!st->tc || !st->slots || !st->key_pool || !st->id_pool) {
		rc_bpe_state_free(st);
		return NULL;
	}
	return st;
}

void rc_bpe_state_free(struct rc_bpe_state *st)
{
	if (!st)
		return;
	rc_textclean_free(st->tc);
	rc_hfclean_free(st->hc);
	free(st->ids);
	free(st->piece);
	free(st->word);
	free(st->heap);
	free(st->slots);
	free(st->key_pool);
	free(st->id_pool);
	free(st);
}

size_t rc_bpe_state_invalid(const struct rc_bpe_state *st) { return st->invalid; }

static int emit(struct rc_bpe_state *st, int32_t id)
{
	if (st->nids == st->capids &&
	    rc_grow((void **)&st->ids, &st->capids, st->nids + 1, sizeof *st->ids) < 0)
		return RC_E_NOMEM;
	st->ids[st->nids++] = id;
	return 0;
}

/* Heap of (rank, position): the lowest rank first, the leftmost among
 * equals, which is the order open_clip merges in (all occurrences of the
 * best pair, left to right; a merge's own result only forms pairs of
 * higher rank). */
static inline int heap_less(struct heap_item a, struct heap_item b)
{
	return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

static void heap_push(struct heap_item *h, size_t *n, struct heap_item it)
{
	size_t i = (*n)++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!heap_less(it, h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = it;
}

static struct heap_item heap_pop(struct heap_item *h, size_t *n)
{
	struct heap_item top = h[0], last = h[--(*n)];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && heap_less(h[c + 1], h[c]))
			c++;
		if (!heap_less(h[c], last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
	return top;
}

#define NONE UINT32_MAX

/* BPE of one piece of raw bytes; appends its ids. */
static int merge_word(struct rc_bpe_state *st, const unsigned char *b, size_t n)
{
	const struct rc_bpe *bpe = st->bpe;
	if (n == 1)
		return emit(st, bpe->out_id[256 + bpe->byte_sym[b[0]]]);
	if (rc_grow((void **)&st->word, &st->capword, 3 * n, sizeof *st->word) < 0)
		return RC_E_NOMEM;
	/* Each merge adds at most two heap items; n-1 to start. */
	if (rc_grow((void **)&st->heap, &st->caphp, 3 * n, sizeof *st->heap) < 0)
		return RC_E_NOMEM;
	uint32_t *sym = st->word, *prev = sym + n, *next = prev + n;
	for (size_t i = 0; i < n; i++) {
		sym[i] = bpe->byte_sym[b[i]];
		prev[i] = i ? (uint32_t)i - 1 : NONE;
		next[i] = i + 1 < n ? (uint32_t)i + 1 : NONE;
	}
	sym[n - 1] += 256; /* the last byte ends the word */
	size_t hn = 0;
	for (size_t i = 0; i + 1 < n; i++) {
		const struct pair_slot *ps = rc_bpe_pair_find(bpe, sym[i], sym[i + 1]);
		if (ps)
			heap_push(st->heap, &hn, (struct heap_item){ps->rank, (uint32_t)i});
	}
	while (hn) {
		struct heap_item it = heap_pop(st->heap, &hn);
		uint32_t i = it.pos, j = next[i];
		if (sym[i] == NONE || j == NONE)
			continue;
		const struct pair_slot *ps = rc_bpe_pair_find(bpe, sym[i], sym[j]);
		if (!ps || ps->rank != it.rank)
			continue; /* stale: a neighbour changed */
		sym[i] = ps->result;
		sym[j] = NONE;
		next[i] = next[j];
		if (next[j] != NONE)
			prev[next[j]] = i;
		if (prev[i] != NONE && (ps = rc_bpe_pair_find(bpe, sym[prev[i]], sym[i])))
			heap_push(st->heap, &hn, (struct heap_item){ps->rank, prev[i]});
		if (next[i] != NONE && (ps = rc_bpe_pair_find(bpe, sym[i], sym[next[i]])))
			heap_push(st->heap, &hn, (struct heap_item){ps->rank, i});
	}
	for (uint32_t i = 0; i != NONE; i = next[i])
		if (emit(st, bpe->out_id[sym[i]]) < 0)
			return RC_E_NOMEM;
	return 0;
}

static void cache_clear(struct rc_bpe_state *st)
{
	memset(st->slots, 0, CACHE_SLOTS * sizeof *st->slots);
	st->key_used = st->id_used = st->nslots_used = 0;
}

/* A piece through the cache. */
static int encode_piece(struct rc_bpe_state *st, const char *b, size_t n)
{
	if (n > CACHE_MAX_KEY)
		return merge_word(st, (const unsigned char *)b, n);
	uint64_t h = XXH3_64bits(b, n) | 1;
	size_t i = h & (CACHE_SLOTS - 1);
	for (;;) {
		struct cache_slot *s = &st->slots[i];
		if (!s->hash)
			break;
		if (s->hash == h && s->key_len == n && !memcmp(st->key_pool + s->key_off, b, n)) {
			if (rc_grow((void **)&st->ids, &st->capids, st->nids + s->nids, sizeof *st->ids) < 0)
				return RC_E_NOMEM;
			memcpy(st->ids + st->nids, st->id_pool + s->ids_off, s->nids * sizeof *st->ids);
			st->nids += s->nids;
			return 0;
		}
		i = (i + 1) & (CACHE_SLOTS - 1);
	}
	size_t start = st->nids;
	int rc = merge_word(st, (const unsigned char *)b, n);
	if (rc < 0)
		return rc;
	size_t k = st->nids - start;
	if (st->nslots_used * 4 >= CACHE_SLOTS * 3 || st->key_used + n > CACHE_POOL ||
	    st->id_used + k > CACHE_POOL) {
		cache_clear(st);
		i = h & (CACHE_SLOTS - 1);
	}
	struct cache_slot *s = &st->slots[i];
	*s = (struct cache_slot){h, (uint32_t)st->key_used, (uint32_t)st->id_used,
		(uint16_t)n, (uint16_t)k};
	memcpy(st->key_pool + st->key_used, b, n);
	memcpy(st->id_pool + st->id_used, st->ids + start, k * sizeof *st->ids);
	st->key_used += n;
	st->id_used += k;
	st->nslots_used++;
	return 0;
}

int rc_bpe_word(struct rc_bpe_state *st, const char *piece, size_t len,
	const int32_t **ids, size_t *n)
{
	st->nids = 0;
	int rc = len ? encode_piece(st, piece, len) : 0;
	*ids = st->ids;
	*n = st->nids;
	return rc;
}

/* ---------------------------------------------------------------- split */

/* The pattern's literals match case-insensitively: an ASCII character, its
 * other case, or a code point that folds to it (U+017F long s → s). */
static inline int ci_is(uint32_t c, char want)
{
	if (c == (uint32_t)want)
		return 1;
	if (c < 0x80)
		return want >= 'a' && want <= 'z' && c == (uint32_t)(want - 32);
	const char *f = rc_tt_cpmap_find(rc_tt_fold_ascii, rc_tt_fold_ascii_n, c);
	return f && f[0] == want;
}

/* The length of literal lit at s, or 0: case-insensitively as open_clip's
 * pattern (ci_is), or exactly as the Hugging Face one. */
static size_t match(const uint32_t *s, size_t n, const char *lit, int exact)
{
	size_t k = 0;
	for (; lit[k]; k++)
		if (k >= n || (exact ? s[k] != (uint32_t)(unsigned char)lit[k] : !ci_is(s[k], lit[k])))
			return 0;
	return k;
}

/* Length of the contraction at s ('s 't 're 've 'm 'll 'd), or 0. */
static size_t contraction(const uint32_t *s, size_t n, int exact)
{
	static const char *forms[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		size_t m = match(s, n, forms[i], exact);
		if (m)
			return m;
	}
	return 0;
}

static int piece(struct rc_bpe_state *st, const uint32_t *s, size_t n)
{
	if (rc_grow((void **)&st->piece, &st->cappiece, 4 * n, 1) < 0)
		return RC_E_NOMEM;
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < 0x80)
			st->piece[len++] = (char)s[i];
		else
			len += rc_utf8_encode1(s[i], st->piece + len);
	}
	return encode_piece(st, st->piece, len);
}

/* The class of c in the Hugging Face split, which is case-sensitive:
 * U+0345 is punctuation (open_clip's case-insensitive pattern has it in no
 * class), and so are U+001C..U+001F, which are not White_Space. */
static unsigned hf_class(const struct rc_bpe *bpe, uint32_t c)
{
	if (c == 0x345 || (c >= 0x1C && c <= 0x1F))
		return CLS_O;
	return rc_bpe_class(bpe, c);
}

/* The pieces of cleaned text s[0..n), BPE'd. open_clip: its spellings of
 * the special tokens are those ids (matched case-insensitively, a folded
 * spelling BPE'd whole); Hugging Face: its spellings are ordinary pieces
 * (the ids come only from the raw text, see rc_bpe_encode). */
static int split(struct rc_bpe_state *st, const uint32_t *s, size_t n, int hf)
{
	static const char *oc_specials[2] = {"<start_of_text>", "<end_of_text>"};
	static const char *hf_specials[2] = {"<|startoftext|>", "<|endoftext|>"};
	const struct rc_bpe *bpe = st->bpe;
	size_t i = 0;
	int rc = 0;
	while (i < n && rc == 0) {
		uint32_t c = s[i];
		unsigned k = hf ? hf_class(bpe, c) : rc_bpe_class(bpe, c);
		size_t m = 0;
		if (c == '<') {
			int sp;
			for (sp = 0; sp < 2; sp++)
				if ((m = match(s + i, n - i, hf ? hf_specials[sp] : oc_specials[sp], hf)))
					break;
			if (sp < 2 && hf) {
				/* a piece of its own, which the byte-level step's
				 * GPT-2 pattern then cuts at the letters: "<|",
				 * "endoftext", "|>" (elsewhere that step changes
				 * nothing: the other pieces are of one class) */
				if ((rc = piece(st, s + i, 2)) == 0 &&
				    (rc = piece(st, s + i + 2, m - 4)) == 0)
					rc = piece(st, s + i + m - 2, 2);
				i += m;
				continue;
			}
			if (sp < 2) {
				/* The exact spelling is the special token; a
				 * folded one (with U+017F) is BPE'd whole. */
				size_t exact = 0;
				while (exact < m && s[i + exact] == (uint32_t)oc_specials[sp][exact])
					exact++;
				rc = exact == m ? emit(st, sp ? bpe->eot : bpe->sot) : piece(st, s + i, m);
				i += m;
				continue;
			}
		}
		if (c == '\'' && (m = contraction(s + i, n - i, hf))) {
			rc = piece(st, s + i, m);
			i += m;
			continue;
		}
		if (k & CLS_L) {
			m = 1;
			while (i + m < n && ((hf ? hf_class(bpe, s[i + m]) : rc_bpe_class(bpe, s[i + m]))
					     & CLS_L))
				m++;
		} else if (k & CLS_N) {
			m = 1;
		} else if (k & CLS_O) {
			m = 1;
			while (i + m < n && ((hf ? hf_class(bpe, s[i + m]) : rc_bpe_class(bpe, s[i + m]))
					     & CLS_O))
				m++;
		} else { /* whitespace, or in no class: no piece */
			i++;
			continue;
		}
		rc = piece(st, s + i, m);
		i += m;
	}
	return rc;
}

/* Hugging Face: the raw text cut at the exact strings <|startoftext|> and
 * <|endoftext|> (its added tokens, matched before normalization), each
 * part normalized and split on its own. */
static int encode_hf(struct rc_bpe_state *st, const char *text, size_t len)
{
	static const char *const sp[2] = {"<|startoftext|>", "<|endoftext|>"};
	static const size_t spn[2] = {15, 13};
	if (!st->hc && !(st->hc = rc_hfclean_new()))
		return RC_E_NOMEM;
	size_t start = 0, i = 0;
	int rc = 0;
	while (rc == 0) {
		int which = -1;
		for (; i < len && which < 0; i++)
			if (text[i] == '<')
				for (int k = 0; k < 2 && which < 0; k++)
					if (len - i >= spn[k] && !memcmp(text + i, sp[k], spn[k]))
						which = k;
		size_t end = which < 0 ? len : i - 1;
		if (end > start) {
			const uint32_t *s;
			size_t n;
			if ((rc = rc_hfclean_run(st->hc, text + start, end - start, &s, &n)) < 0)
				break;
			st->invalid += rc_hfclean_invalid(st->hc);
			rc = split(st, s, n, 1);
		}
		if (which < 0 || rc < 0)
			break;
		rc = emit(st, which ? st->bpe->eot : st->bpe->sot);
		start = i = end + spn[which];
	}
	return rc;
}

int rc_bpe_encode(struct rc_bpe_state *st, const char *text, size_t len,
	const int32_t **ids, size_t *nids)
{
	st->nids = 0;
	st->invalid = 0;
	int rc;
	if (st->bpe->semantics == RC_BPE_HF) {
		rc = encode_hf(st, text, len);
	} else {
		const uint32_t *s;
		size_t n;
		rc = rc_textclean_run(st->tc, text, len, &s, &n);
		st->invalid = rc_textclean_invalid(st->tc);
		if (rc == 0)
			rc = split(st, s, n, 0);
	}
	*ids = st->ids;
	*nids = st->nids;
	return rc;
}

/* ---------------------------------------------------------------- rows */

size_t rc_bpe_pack(const struct rc_bpe *bpe, const int32_t *ids, size_t n,
	int32_t *row, size_t ctx, int32_t pad, int *truncated)
{
	size_t keep = n, k = 0;
	int trunc = 0;
	if (ctx < 2)
		ctx = 2;
	if (keep > ctx - 2) {
		keep = ctx - 2;
		trunc = 1;
	}
	row[k++] = bpe->sot;
	if (keep) /* ids may be NULL when there are none */
		memcpy(row + k, ids, keep * sizeof *row);
	k += keep;
	row[k++] = bpe->eot;
	for (size_t i = k; i < ctx; i++)
		row[i] = pad;
	if (truncated)
		*truncated = trunc;
	return k;
}

int rc_bpe_decode(const struct rc_bpe *bpe, const int32_t *ids, size_t n,
	char **out, size_t *bad_index)
{
	*out = NULL;
	size_t cap = 64, len = 0;
	for (size_t i = 0; i < n; i++) {
		size_t tl;
		int eow;
		if (!rc_bpe_token_bytes(bpe, ids[i], &tl, &eow)) {
			if (bad_index)
				*bad_index = i;
			return RC_E_RANGE;
		}
		cap += tl + 4;
	}
	char *raw = rc_malloc(cap);
	if (!raw)
		return RC_E_NOMEM;
	/* The row's frame: a leading start token, and the last end token
	 * with the padding after it. Special tokens inside are spelled out,
	 * as open_clip's decode does. */
	size_t start = n && ids[0] == bpe->sot ? 1 : 0, stop = n;
	while (stop > start && ids[stop - 1] != bpe->eot)
		stop--;
	if (stop == start) /* no end token: no padding either */
		stop = n;
	else
		stop--;
	for (size_t i = start; i < stop; i++) {
		size_t tl;
		int eow;
		const char *t = rc_bpe_token_bytes(bpe, ids[i], &tl, &eow);
		memcpy(raw + len, t, tl);
		len += tl;
		if (eow) {
			memcpy(raw + len, "</w>", 4);
			len += 4;
		}
	}
	/* Decode with replacement, then "</w>" → " " (after decoding, as
	 * open_clip does, so a literal "</w>" in the bytes goes too). */
	char *txt = rc_malloc(3 * len + 1);
	if (!txt) {
		free(raw);
		return RC_E_NOMEM;
	}
	size_t i = 0, k = 0;
	while (i < len) {
		if (len - i >= 4 && !memcmp(raw + i, "</w>", 4)) {
			txt[k++] = ' ';
			i += 4;
			continue;
		}
		if ((unsigned char)raw[i] < 0x80) {
			txt[k++] = raw[i++];
			continue;
		}
		k += rc_utf8_encode1(rc_utf8_next(raw, len, &i), txt + k);
	}
	while (k > 0 && txt[k - 1] == ' ')
		k--;
	txt[k] = 0;
	free(raw);
	*out = txt;
	return 0;
}
