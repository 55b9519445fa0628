/* spm_algo.c - the two segmenters. Unigram: SentencePiece's Viterbi over
 * the normalised bytes (float path scores, the first best kept on a tie,
 * an unknown character scored min_score - 10, user-defined pieces
 * length * max_score - 0.1, runs of unknowns fused into one). BPE: Hugging
 * Face's merge loop (the lowest merge rank first, then the leftmost),
 * starting from one symbol per character, its <0xNN> bytes when the
 * character is not in the vocabulary (byte fallback), else the unknown
 * token, consecutive unknowns fused. */
#include <string.h>

#include "text/spm_impl.h"
#include "base/error.h"
#include "base/io.h"

struct node {
	float score;
	int32_t id;
	int32_t start;  /* -1: not reached yet */
};

static size_t char_len(const char *p, size_t len)
{
	unsigned char c = (unsigned char)p[0];
	size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
	return n <= len ? n : len;
}

int spm_unigram(const struct rc_spm *s, struct spm_work *w, const char *t, size_t len,
	struct spm_ids *out)
{
	if (!len)
		return 0;
	if (rc_grow(&w->lat, &w->latcap, len + 1, sizeof(struct node)) < 0)
		return RC_E_NOMEM;
	struct node *best = w->lat;
	for (size_t i = 0; i <= len; i++)
		best[i] = (struct node){0.0f, -1, -1};
	const float unk_score = s->min_score - 10.0f;
	for (size_t at = 0; at < len;) {
		const float here = best[at].score;
		size_t mblen = char_len(t + at, len - at);
		int single = 0;
		uint64_t h = SPM_HASH0;
		for (size_t end = at + 1; end <= len; end++) {
			h = spm_hash_step(h, (unsigned char)t[end - 1]);
			if (end < len && ((unsigned char)t[end] & 0xC0) == 0x80)
				continue;
			const struct spm_slot *e = spm_lookup_h(s, t + at, end - at, h);
			if (!e)
				break;
			if (e->id < 0)
				continue;
			int ty = s->type[e->id];
			if (ty != SPM_NORMAL && ty != SPM_USER)
				continue;
			size_t length = end - at;
			float score = ty == SPM_USER ? (float)((double)((float)length * s->max_score) - 0.1)
				: s->score[e->id];
			float cand = score + here;
			struct node *tn = &best[end];
			if (tn->start < 0 || cand > tn->score) {
				tn->score = cand;
				tn->start = (int32_t)at;
				tn->id = e->id;
			}
			if (length == mblen)
				single = 1;
		}
		if (!single) {
			struct node *tn = &best[at + mblen];
			float cand = unk_score + here;
			if (tn->start < 0 || cand > tn->score) {
				tn->score = cand;
				tn->start = (int32_t)at;
				tn->id = s->unk;
			}
		}
		at += mblen;
	}
	/* Back from the end; the path is written reversed, then turned. */
	size_t first = out->n;
	for (size_t pos = len; pos > 0;) {
		const struct node *nd = &best[pos];
		if (nd->start < 0)
			return RC_E_FORMAT; /* cannot happen: every character is reachable */
		if (spm_ids_put(out, nd->id) < 0)
			return RC_E_NOMEM;
		pos = (size_t)nd->start;
	}
	for (size_t i = first, j = out->n - 1; i < j; i++, j--) {
		int32_t x = out->p[i];
		out->p[i] = out->p[j];
		out->p[j] = x;
	}
	size_t k = first;
	for (size_t i = first; i < out->n; i++) {
		if (out->p[i] == s->unk && k > first && out->p[k - 1] == s->unk)
			continue;
		out->p[k++] = out->p[i];
	}
	out->n = k;
	return 0;
}

/* ---------------------------------------------------------------- BPE */

struct sym {
	int32_t id;
	int32_t prev, next;
	uint32_t len;      /* 0: merged into its left neighbour */
};

struct merge {
	uint32_t rank;
	uint32_t pos;
	int32_t result;
};

static int before(const struct merge *a, const struct merge *b)
{
	return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(struct merge *h, size_t *n, struct merge m)
{
	size_t i = (*n)++;
	while (i) {
		size_t p = (i - 1) / 2;
		if (!before(&m, &h[p]))
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = m;
}

static struct merge heap_pop(struct merge *h, size_t *n)
{
	struct merge top = h[0], last = h[--*n];
	size_t i = 0;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && before(&h[c + 1], &h[c]))
			c++;
		if (!before(&h[c], &last))
			break;
		h[i] = h[c];
		i = c;
	}
	if (*n)
		h[i] = last;
	return top;
}

static int push_pair(const struct rc_spm *s, struct spm_work *w, size_t *nh,
	const struct sym *y, size_t pos)
{
	const struct spm_pair *pr = spm_merge(s, y[pos].id, y[y[pos].next].id);
	if (!pr)
		return 0;
	if (rc_grow(&w->heap, &w->heapcap, *nh + 1, sizeof(struct merge)) < 0)
		return RC_E_NOMEM;
	heap_push(w->heap, nh, (struct merge){pr->rank, (uint32_t)pos, pr->result});
	return 0;
}

int spm_bpe(const struct rc_spm *s, struct spm_work *w, const char *t, size_t len,
	struct spm_ids *out)
{
	if (rc_grow(&w->sym, &w->symcap, len + 1, sizeof(struct sym)) < 0)
		return RC_E_NOMEM;
	struct sym *y = w->sym;
	size_t n = 0;
	int32_t unk_len = 0; /* a pending (fused) unknown */
	for (size_t i = 0; i < len;) {
		size_t cl = char_len(t + i, len - i);
		int32_t id = spm_find(s, t + i, cl);
		if (id >= 0) {
			if (unk_len) {
				y[n++] = (struct sym){s->unk, 0, 0, (uint32_t)unk_len};
				unk_len = 0;
			}
			y[n++] = (struct sym){id, 0, 0, (uint32_t)cl};
		} else {
			int all = s->byte_fallback;
			for (size_t k = 0; all && k < cl; k++)
				all = s->byte_id[(unsigned char)t[i + k]] >= 0;
			if (all) {
				for (size_t k = 0; k < cl; k++)
					y[n++] = (struct sym){s->byte_id[(unsigned char)t[i + k]], 0, 0, 1};
			} else if (s->unk >= 0) {
				if (unk_len && !s->fuse_unk) {
					y[n++] = (struct sym){s->unk, 0, 0, (uint32_t)unk_len};
					unk_len = 0;
				}
				unk_len += (int32_t)cl;
			}
		}
		i += cl;
	}
	if (unk_len)
		y[n++] = (struct sym){s->unk, 0, 0, (uint32_t)unk_len};
	for (size_t i = 0; i < n; i++) {
		y[i].prev = (int32_t)i - 1;
		y[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
	}
	size_t nh = 0;
	for (size_t i = 0; i + 1 < n; i++)
		if (push_pair(s, w, &nh, y, i) < 0)
			return RC_E_NOMEM;
	while (nh) {
		struct merge m = heap_pop(w->heap, &nh);
		struct sym *a = &y[m.pos];
		if (!a->len || a->next < 0)
			continue;
		struct sym *b = &y[a->next];
		const struct spm_pair *pr = spm_merge(s, a->id, b->id);
		if (!pr || pr->result != m.result)
			continue; /* stale: a neighbour changed since it was queued */
		a->id = m.result;
		a->len += b->len;
		b->len = 0;
		a->next = b->next;
		if (a->next >= 0)
			y[a->next].prev = (int32_t)m.pos;
		if (a->prev >= 0 && push_pair(s, w, &nh, y, (size_t)a->prev) < 0)
			return RC_E_NOMEM;
		if (a->next >= 0 && push_pair(s, w, &nh, y, m.pos) < 0)
			return RC_E_NOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (y[i].len && spm_ids_put(out, y[i].id) < 0)
			return RC_E_NOMEM;
	return 0;
}
