/* spm.c - SentencePiece-family tokenizers: the piece and merge tables,
 * the per-text pipeline of each flavour (SiglipTokenizer's, the Hugging
 * Face fast tokenizer's) and the row as transformers pads it. See spm.h. */
#include <stdlib.h>
#include <string.h>

#include "text/spm.h"
#include "text/spm_impl.h"
#include "text/texttab.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "base/utf8.h"

/* ---------------------------------------------------------------- state */

struct rc_spm_state {
	const struct rc_spm *s;
	struct spm_work w;
	uint32_t *cps, *cps2;
	size_t cap, cap2;
	struct spm_buf text, seg;
	struct spm_ids out;
	size_t invalid;
	int32_t unk_prefix;     /* SigLIP: pieces of "<unk>" alone; -1 unknown */
};

struct rc_spm_state *rc_spm_state_new(const struct rc_spm *s)
{
	struct rc_spm_state *st = rc_calloc(1, sizeof *st);
	if (st) {
		st->s = s;
		st->unk_prefix = -1;
	}
	return st;
}

void rc_spm_state_free(struct rc_spm_state *st)
{
	if (!st)
		return;
	struct spm_work *w = &st->w;
	free(w->a.p);
	free(w->b.p);
	free(w->c.p);
	free(w->ids.p);
	free(w->tmp.p);
	free(w->lat);
	free(w->sym);
	free(w->heap);
	free(st->cps);
	free(st->cps2);
	free(st->text.p);
	free(st->seg.p);
	free(st->out.p);
	free(st);
}

size_t rc_spm_state_invalid(const struct rc_spm_state *st) { return st->invalid; }

/* ---------------------------------------------------------------- lowercase */

static int in_tab(const struct rc_range *r, size_t n, uint32_t c) { return rc_tt_in(r, n, c); }

/* Python's str.lower() of n code points into out (room for 3n): the
 * final-sigma rule needs the neighbours, as CPython reads them. */
static size_t py_lower(const uint32_t *s, size_t n, uint32_t *out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t c = s[i];
		if (c == 0x03A3) {
			int before = 0, after = 0;
			for (size_t j = i; j-- > 0;) {
				if (in_tab(rc_tt_case_ignorable, rc_tt_case_ignorable_n, s[j]))
					continue;
				before = in_tab(rc_tt_cased, rc_tt_cased_n, s[j]);
				break;
			}
			for (size_t j = i + 1; j < n; j++) {
				if (in_tab(rc_tt_case_ignorable, rc_tt_case_ignorable_n, s[j]))
					continue;
				after = in_tab(rc_tt_cased, rc_tt_cased_n, s[j]);
				break;
			}
			out[k++] = before && !after ? 0x03C2 : 0x03C3;
			continue;
		}
		if (c < 0x80) {
			out[k++] = c >= 'A' && c <= 'Z' ? c + 32 : c;
			continue;
		}
		const char *v = rc_tt_cpmap_find(rc_tt_lower, rc_tt_lower_n, c);
		if (!v) {
			out[k++] = c;
			continue;
		}
		size_t j = 0, len = strlen(v);
		while (j < len)
			out[k++] = rc_utf8_next(v, len, &j);
	}
	return k;
}

/* ---------------------------------------------------------------- pipelines */

static int is_space(uint32_t c) { return in_tab(rc_tt_py_space, rc_tt_py_space_n, c); }

/* Strip Python whitespace from the ends of a UTF-8 span. */
static void strip_span(const char *p, size_t *a, size_t *b, int left, int right)
{
	while (left && *a < *b) {
		size_t i = *a;
		if (!is_space(rc_utf8_next(p, *b, &i)))
			break;
		*a = i;
	}
	while (right && *a < *b) {
		size_t j = *b - 1;
		while (j > *a && ((unsigned char)p[j] & 0xC0) == 0x80)
			j--;
		size_t i = j;
		if (!is_space(rc_utf8_next(p, *b, &i)))
			break;
		*b = j;
	}
}

/* SiglipTokenizer.canonicalize_text: lower(), ASCII punctuation removed,
 * \s+ to one space, strip(). In: code points; out: UTF-8 in b. */
static int siglip_canon(struct rc_spm_state *st, const char *t, size_t len, struct spm_buf *b)
{
	if (rc_grow((void **)&st->cps, &st->cap, 3 * len + 4, sizeof *st->cps) < 0 ||
	    rc_grow((void **)&st->cps2, &st->cap2, 3 * len + 4, sizeof *st->cps2) < 0)
		return RC_E_NOMEM;
	size_t n = rc_utf8_decode(t, len, st->cps2, NULL);
	if (st->s->canon_lower)
		n = py_lower(st->cps2, n, st->cps);
	else
		memcpy(st->cps, st->cps2, n * sizeof *st->cps);
	b->n = 0;
	int space = 0, any = 0;
	char u[4];
	for (size_t i = 0; i < n; i++) {
		uint32_t c = st->cps[i];
		if (c < 0x80 && (c > ' ' && c < 0x7F) && !(c >= '0' && c <= '9') &&
		    !((c | 32) >= 'a' && (c | 32) <= 'z'))
			continue; /* string.punctuation: printable ASCII, not alphanumeric */
		if (is_space(c)) {
			space = 1;
			continue;
		}
		if (space && any && spm_buf_put(b, " ", 1) < 0)
			return RC_E_NOMEM;
		space = 0;
		any = 1;
		if (spm_buf_put(b, u, rc_utf8_encode1(c, u)) < 0)
			return RC_E_NOMEM;
	}
	return 0;
}

/* SentencePiece's encode of "<unk>" + text with the leading pieces of
 * "<unk>" dropped (SiglipTokenizer._tokenize). */
static int siglip_segment(struct rc_spm_state *st, const char *t, size_t len)
{
	const struct rc_spm *s = st->s;
	struct spm_work *w = &st->w;
	struct spm_buf *c = &w->c;
	if (st->unk_prefix < 0) {
		w->a.n = 0;
		w->tmp.n = 0;
		if (spm_normalize(s, "<unk>", 5, &w->a) < 0 ||
		    spm_unigram(s, w, w->a.p, w->a.n, &w->tmp) < 0)
			return RC_E_NOMEM;
		st->unk_prefix = (int32_t)w->tmp.n;
	}
	if (siglip_canon(st, t, len, c) < 0)
		return RC_E_NOMEM;
	struct spm_buf *in = &w->b;
	in->n = 0;
	if (spm_buf_put(in, "<unk>", 5) < 0 || spm_buf_put(in, c->p, c->n) < 0)
		return RC_E_NOMEM;
	w->a.n = 0;
	w->tmp.n = 0;
	if (spm_normalize(s, in->p, in->n, &w->a) < 0 ||
	    spm_unigram(s, w, w->a.p, w->a.n, &w->tmp) < 0)
		return RC_E_NOMEM;
	size_t skip = w->tmp.n >= (size_t)st->unk_prefix ? (size_t)st->unk_prefix : 0;
	for (size_t i = skip; i < w->tmp.n; i++)
		if (spm_ids_put(&st->out, w->tmp.p[i]) < 0)
			return RC_E_NOMEM;
	return 0;
}

/* The Hugging Face normalizer steps and the literal Split, then BPE (or
 * unigram) per word. */
static int hf_segment(struct rc_spm_state *st, const char *t, size_t len)
{
	const struct rc_spm *s = st->s;
	struct spm_work *w = &st->w;
	struct spm_buf *cur = &w->a, *nxt = &w->b;
	cur->n = 0;
	if (spm_buf_put(cur, t, len) < 0)
		return RC_E_NOMEM;
	for (int k = 0; k < s->nhf; k++) {
		nxt->n = 0;
		if (s->hf_steps[k] == SPM_HF_REPLACE) {
			const char *pat = s->hf_arg[k][0], *rep = s->hf_arg[k][1];
			size_t pl = strlen(pat), rl = strlen(rep), i = 0;
			while (i < cur->n) {
				const char *m = pl ? memmem(cur->p + i, cur->n - i, pat, pl) : NULL;
				size_t run = m ? (size_t)(m - (cur->p + i)) : cur->n - i;
				if (spm_buf_put(nxt, cur->p + i, run) < 0 || (m && spm_buf_put(nxt, rep, rl) < 0))
					return RC_E_NOMEM;
				i += run + (m ? pl : 0);
			}
		} else if (s->hf_steps[k] == SPM_HF_PREPEND) {
			if (cur->n && spm_buf_put(nxt, s->hf_arg[k][0], strlen(s->hf_arg[k][0])) < 0)
				return RC_E_NOMEM;
			if (spm_buf_put(nxt, cur->p, cur->n) < 0)
				return RC_E_NOMEM;
		} else { /* Lowercase: each character on its own (Rust's to_lowercase) */
			size_t i = 0;
			char u[4];
			while (i < cur->n) {
				uint32_t c = rc_utf8_next(cur->p, cur->n, &i);
				const char *v = c == 0x03A3 ? "\xCF\x83" : c < 0x41 ? NULL :
					rc_tt_cpmap_find(rc_tt_lower, rc_tt_lower_n, c);
				int rc = v ? spm_buf_put(nxt, v, strlen(v)) : spm_buf_put(nxt, u, rc_utf8_encode1(c, u));
				if (rc < 0)
					return RC_E_NOMEM;
			}
		}
		struct spm_buf *tmp = cur;
		cur = nxt;
		nxt = tmp;
	}
	/* Split(literal, merged_with_previous): each occurrence ends a word. */
	size_t start = 0, sl = s->split_on ? strlen(s->split_on) : 0;
	for (size_t i = 0; i <= cur->n;) {
		size_t end = 0;
		if (i == cur->n)
			end = i;
		else if (sl && i + sl <= cur->n && !memcmp(cur->p + i, s->split_on, sl))
			end = i + sl;
		if (!end && i < cur->n) {
			i++;
			continue;
		}
		if (end > start) {
			int rc = s->kind == RC_SPM_BPE ? spm_bpe(s, w, cur->p + start, end - start, &st->out)
				: spm_unigram(s, w, cur->p + start, end - start, &st->out);
			if (rc < 0)
				return rc;
		}
		if (i == cur->n)
			break;
		start = i = end;
	}
	return 0;
}

/* The leftmost, then longest, added token at or after p[from]. */
static const struct spm_added *find_added(const struct rc_spm *s, const char *p, size_t len,
	size_t from, size_t *at)
{
	for (size_t i = from; i < len; i++) {
		const struct spm_added *best = NULL;
		for (size_t k = 0; k < s->nadded; k++) {
			const struct spm_added *a = &s->added[k];
			if (a->s[0] == p[i] && a->len <= len - i && !memcmp(p + i, a->s, a->len) &&
			    (!best || a->len > best->len))
				best = a;
		}
		if (best) {
			*at = i;
			return best;
		}
	}
	return NULL;
}

int rc_spm_encode(struct rc_spm_state *st, const char *text, size_t len,
	const int32_t **ids, size_t *n)
{
	const struct rc_spm *s = st->s;
	struct spm_buf *t = &st->text;
	st->out.n = 0;
	t->n = 0;
	/* Valid UTF-8 first (U+FFFD for invalid bytes); lowercase; SigLIP's
	 * "▁" + text.replace("▁", " "). */
	if (rc_grow((void **)&st->cps, &st->cap, 3 * len + 4, sizeof *st->cps) < 0 ||
	    rc_grow((void **)&st->cps2, &st->cap2, 3 * len + 4, sizeof *st->cps2) < 0)
		return RC_E_NOMEM;
	size_t m = rc_utf8_decode(text, len, st->cps2, &st->invalid);
	const uint32_t *cp = st->cps2;
	if (s->lower) {
		m = py_lower(st->cps2, m, st->cps);
		cp = st->cps;
	}
	char u[4];
	if (s->flavor == RC_SPM_FLAVOR_SIGLIP && spm_buf_put(t, "\xE2\x96\x81", 3) < 0)
		return RC_E_NOMEM;
	for (size_t i = 0; i < m; i++) {
		uint32_t c = cp[i];
		if (s->flavor == RC_SPM_FLAVOR_SIGLIP && c == 0x2581)
			c = ' ';
		if (spm_buf_put(t, u, rc_utf8_encode1(c, u)) < 0)
			return RC_E_NOMEM;
	}
	/* Split on the added tokens; each side of one may be stripped. */
	size_t pos = 0;
	int lstrip_next = 0;
	size_t first_special = (size_t)-1;
	for (;;) {
		size_t at = t->n;
		const struct spm_added *a = find_added(s, t->p, t->n, pos, &at);
		size_t a0 = pos, a1 = a ? at : t->n;
		strip_span(t->p, &a0, &a1, lstrip_next, a && a->lstrip);
		if (a1 > a0) {
			int rc = s->flavor == RC_SPM_FLAVOR_SIGLIP ? siglip_segment(st, t->p + a0, a1 - a0)
				: hf_segment(st, t->p + a0, a1 - a0);
			if (rc < 0)
				return rc;
		}
		if (!a)
			break;
		if (first_special == (size_t)-1)
			first_special = st->out.n;
		if (spm_ids_put(&st->out, a->id) < 0)
			return RC_E_NOMEM;
		lstrip_next = a->rstrip;
		pos = at + a->len;
	}
	/* SiglipTokenizer.tokenize: a lone "▁" before a special token goes. */
	if (s->flavor == RC_SPM_FLAVOR_SIGLIP && first_special == 1 && st->out.n > 1 &&
	    st->out.p[0] == spm_find(s, "\xE2\x96\x81", 3)) {
		memmove(st->out.p, st->out.p + 1, (st->out.n - 1) * sizeof *st->out.p);
		st->out.n--;
	}
	*ids = st->out.p;
	*n = st->out.n;
	return 0;
}

/* ---------------------------------------------------------------- rows */

size_t rc_spm_frame(const struct rc_spm *s, const int32_t *ids, size_t n,
	int32_t *row, size_t ctx, int *truncated)
{
	size_t nspecial = (size_t)(s->add_bos != 0) + (size_t)(s->add_eos != 0);
	size_t keep = n;
	if (ctx && keep + nspecial > ctx)
		keep = ctx > nspecial ? ctx - nspecial : 0;
	if (truncated)
		*truncated = keep < n;
	size_t k = 0;
	if (s->add_bos)
		row[k++] = s->bos;
	if (keep) /* an empty text may have no ids at all */
		memcpy(row + k, ids, keep * sizeof *ids);
	k += keep;
	/* SiglipTokenizer adds </s> only when the ids do not already end so */
	if (s->add_eos && !(s->flavor == RC_SPM_FLAVOR_SIGLIP && keep && ids[keep - 1] == s->eos))
		row[k++] = s->eos;
	return k;
}

size_t rc_spm_pack(const struct rc_spm *s, const int32_t *ids, size_t n,
	int32_t *row, size_t ctx, int *truncated)
{
	size_t k = rc_spm_frame(s, ids, n, row, ctx, truncated);
	if (k < ctx && s->pad_left) {
		memmove(row + (ctx - k), row, k * sizeof *row);
		for (size_t i = 0; i < ctx - k; i++)
			row[i] = s->pad;
	} else
		for (size_t i = k; i < ctx; i++)
			row[i] = s->pad;
	return k;
}
