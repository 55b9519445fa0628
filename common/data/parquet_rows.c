/* parquet_rows.c - rows of an open Parquet file (parquet.h): per leaf
 * column a cursor over its pages (a dictionary page kept, one data page
 * decompressed with its levels decoded), values decoded as the row needs
 * them, and each row assembled into a JSON object (parquet.c says how).
 * Damage in a page ends the file with a reason naming the row group, the
 * column and the page.
 */
#include "data/parquet.h"
#include "data/parquet_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* A reason about column c's current page. */
#define DAMAGE(p, c, ...) page_why(p, c, why, nwhy, __VA_ARGS__)

static int page_why(const struct rc_parquet *p, const struct pq_col *c, char *why, size_t nwhy,
	const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 5, 6)))
#endif
	;

static int page_why(const struct rc_parquet *p, const struct pq_col *c, char *why, size_t nwhy,
	const char *fmt, ...)
{
	char r[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r, sizeof r, fmt, ap);
	va_end(ap);
	return pq_why(why, nwhy, RC_E_FORMAT, "row group %zu, column %s, page %d: %s", p->rg,
		c->lf->name, c->page, r);
}

/* One PLAIN value of the column's type at *pos (booleans: bit *bit). */
static int plain(const struct pq_node *n, const uint8_t **pos, const uint8_t *end, size_t *bit,
	struct pq_val *v)
{
	const uint8_t *s = *pos;
	size_t left = (size_t)(end - s), w;
	memset(v, 0, sizeof *v);
	switch (n->type) {
	case PQ_BOOLEAN:
		if ((*bit >> 3) >= left)
			return RC_E_FORMAT;
		v->i = (s[*bit >> 3] >> (*bit & 7)) & 1;
		(*bit)++;
		return 0;
	case PQ_INT32:
	case PQ_FLOAT:
		if (left < 4)
			return RC_E_FORMAT;
		v->i = (int32_t)le32(s);
		if (n->type == PQ_FLOAT) {
			uint32_t u = le32(s);
			float f;
			memcpy(&f, &u, 4);
			v->d = f;
		}
		*pos = s + 4;
		return 0;
	case PQ_INT64:
	case PQ_DOUBLE:
		if (left < 8)
			return RC_E_FORMAT;
		v->i = (int64_t)le64(s);
		if (n->type == PQ_DOUBLE) {
			uint64_t u = le64(s);
			memcpy(&v->d, &u, 8);
		}
		*pos = s + 8;
		return 0;
	case PQ_BYTE_ARRAY:
		if (left < 4)
			return RC_E_FORMAT;
		w = le32(s);
		if (w > left - 4)
			return RC_E_FORMAT;
		v->p = s + 4;
		v->len = (uint32_t)w;
		*pos = s + 4 + w;
		return 0;
	default: /* INT96, FIXED_LEN_BYTE_ARRAY: raw bytes */
		w = n->type == PQ_INT96 ? 12 : (size_t)n->type_length;
		if (left < w)
			return RC_E_FORMAT;
		v->p = s;
		v->len = (uint32_t)w;
		*pos = s + w;
		return 0;
	}
}

static int grow_u32(uint32_t **a, size_t *cap, size_t n)
{
	if (n <= *cap)
		return 0;
	uint32_t *b = rc_reallocarray(*a, n, sizeof *b);
	if (!b)
		return RC_E_NOMEM;
	*a = b;
	*cap = n;
	return 0;
}

/* The page's payload decompressed into c->buf (dlen bytes). */
static int inflate_page(struct rc_parquet *p, struct pq_col *c, const uint8_t *src, size_t slen,
	size_t dlen, int codec, char *why, size_t nwhy)
{
	if (dlen > PQ_MAX_PAGE)
		return DAMAGE(p, c, "a page of %zu bytes (at most %zu)", dlen, PQ_MAX_PAGE);
	if (dlen + 1 > c->cap) {
		uint8_t *b = rc_realloc(c->buf, dlen + 1);
		if (!b)
			return RC_E_NOMEM;
		c->buf = b;
		c->cap = dlen + 1;
	}
	char r[160];
	int rc = pq_decompress(codec, src, slen, c->buf, dlen, r, sizeof r);
	if (rc < 0)
		return rc == RC_E_UNSUPPORTED ? pq_why(why, nwhy, rc, "row group %zu, column %s: %s",
			p->rg, c->lf->name, r) : DAMAGE(p, c, "%s", r);
	return 0;
}

static int dictionary(struct rc_parquet *p, struct pq_col *c, const struct pq_page_header *h,
	const uint8_t *src, char *why, size_t nwhy)
{
	if (c->dict_buf)
		return DAMAGE(p, c, "a second dictionary page");
	if (h->encoding != PQ_ENC_PLAIN && h->encoding != PQ_ENC_PLAIN_DICT)
		return DAMAGE(p, c, "dictionary encoded as %s", pq_encoding_name(h->encoding));
	int rc = inflate_page(p, c, src, (size_t)h->csize, (size_t)h->usize, c->ch->codec, why, nwhy);
	if (rc < 0)
		return rc;
	/* Keep the page: the dictionary's strings point into it. */
	c->dict_buf = c->buf;
	c->buf = NULL;
	c->cap = 0;
	size_t n = (size_t)h->num_values;
	if (n > (size_t)h->usize * 8 + 1)
		return DAMAGE(p, c, "a dictionary of %zu values in %lld bytes", n,
			(long long)h->usize);
	if (n && !(c->dict = rc_calloc(n, sizeof *c->dict)))
		return RC_E_NOMEM;
	const uint8_t *pos = c->dict_buf, *end = c->dict_buf + h->usize;
	size_t bit = 0;
	for (size_t i = 0; i < n; i++)
		if (plain(c->lf->n, &pos, end, &bit, &c->dict[i]) < 0)
			return DAMAGE(p, c, "the dictionary ends at value %zu of %zu", i, n);
	c->ndict = n;
	return 0;
}

/* Levels of one kind: n values of the hybrid in p[0..len). */
static int levels(struct rc_parquet *p, struct pq_col *c, const uint8_t *s, size_t len, int max,
	uint32_t *out, size_t n, const char *what, char *why, size_t nwhy)
{
	char r[160];
	if (max == 0) {
		memset(out, 0, n * sizeof *out);
		return 0;
	}
	if (pq_rle_decode(s, len, pq_bit_width((uint32_t)max), out, n, r, sizeof r) < 0)
		return DAMAGE(p, c, "%s levels: %s", what, r);
	for (size_t i = 0; i < n; i++)
		if (out[i] > (uint32_t)max)
			return DAMAGE(p, c, "%s level %u above the maximum %d", what, out[i], max);
	return 0;
}

/* The values section of a data page: ready to be read. */
static int values(struct rc_parquet *p, struct pq_col *c, int enc, const uint8_t *s,
	const uint8_t *end, size_t nv, char *why, size_t nwhy)
{
	char r[160];
	c->enc = enc;
	c->v = s;
	c->vend = end;
	c->bit = 0;
	c->nix = c->ixi = 0;
	switch (enc) {
	case PQ_ENC_PLAIN:
		return 0;
	case PQ_ENC_PLAIN_DICT:
	case PQ_ENC_RLE_DICT:
		if (!c->dict_buf)
			return DAMAGE(p, c, "dictionary-encoded values without a dictionary page");
		if (nv == 0)
			return 0;
		if (s >= end)
			return DAMAGE(p, c, "no bit width for the dictionary indices");
		if (grow_u32(&c->ix, &c->ixcap, nv) < 0)
			return RC_E_NOMEM;
		if (pq_rle_decode(s + 1, (size_t)(end - s - 1), s[0], c->ix, nv, r, sizeof r) < 0)
			return DAMAGE(p, c, "dictionary indices: %s", r);
		for (size_t i = 0; i < nv; i++)
			if (c->ix[i] >= c->ndict)
				return DAMAGE(p, c, "dictionary index %u of %zu entries", c->ix[i],
					c->ndict);
		c->nix = nv;
		return 0;
	case PQ_ENC_RLE:
		if (c->lf->n->type != PQ_BOOLEAN)
			break;
		if (end - s < 4 || le32(s) > (size_t)(end - s - 4))
			return DAMAGE(p, c, "rle booleans: bad length");
		if (grow_u32(&c->ix, &c->ixcap, nv) < 0)
			return RC_E_NOMEM;
		if (pq_rle_decode(s + 4, le32(s), 1, c->ix, nv, r, sizeof r) < 0)
			return DAMAGE(p, c, "rle booleans: %s", r);
		c->nix = nv;
		return 0;
	}
	return pq_why(why, nwhy, RC_E_UNSUPPORTED, "row group %zu, column %s, page %d: %s "
		"encoding is not supported (plain, dictionary)", p->rg, c->lf->name, c->page,
		pq_encoding_name(enc));
}

/* Read pages until a data page with levels is loaded. Returns 1, 0 when
 * the column chunk is done, or an error. */
static int next_page(struct rc_parquet *p, struct pq_col *c, char *why, size_t nwhy)
{
	const struct pq_leaf *lf = c->lf;
	while (c->seen < c->ch->num_values) {
		struct pq_page_header h;
		size_t used;
		char r[160];
		c->page++;
		if (c->pos >= c->end)
			return DAMAGE(p, c, "the column chunk ends after %lld of %lld values",
				(long long)c->seen, (long long)c->ch->num_values);
		if (pq_page_header_parse(c->pos, (size_t)(c->end - c->pos), &used, &h, r,
				sizeof r) < 0)
			return DAMAGE(p, c, "page header: %s", r);
		const uint8_t *src = c->pos + used;
		if ((uint64_t)h.csize > (uint64_t)(c->end - src))
			return DAMAGE(p, c, "%lld bytes of page data, %zu left in the column chunk",
				(long long)h.csize, (size_t)(c->end - src));
		c->pos = src + h.csize;
		int rc;
		if (h.type == PQ_PAGE_DICT) {
			if (!h.has_dict)
				return DAMAGE(p, c, "a dictionary page without its header");
			if ((rc = dictionary(p, c, &h, src, why, nwhy)) < 0)
				return rc;
			continue;
		}
		if (h.type != PQ_PAGE_DATA && h.type != PQ_PAGE_DATA_V2)
			continue; /* an index page: nothing to read */
		size_t n = (size_t)h.num_values;
		if ((int64_t)n > c->ch->num_values - c->seen)
			return DAMAGE(p, c, "%zu values, %lld left in the column chunk", n,
				(long long)(c->ch->num_values - c->seen));
		if (n == 0)
			continue;
		if (n > (size_t)h.usize * 8 + 64 && lf->max_def + lf->max_rep > 0)
			return DAMAGE(p, c, "%zu values in %lld bytes", n, (long long)h.usize);
		if (grow_u32(&c->lev, &c->levcap, 2 * n) < 0)
			return RC_E_NOMEM;
		c->def = c->lev;
		c->rep = c->lev + n;
		const uint8_t *s, *end, *rl, *dl;
		size_t rlen = 0, dlen = 0;
		int enc;
		if (h.type == PQ_PAGE_DATA) {
			if (!h.has_data)
				return DAMAGE(p, c, "a data page without its header");
			if ((rc = inflate_page(p, c, src, (size_t)h.csize, (size_t)h.usize,
					c->ch->codec, why, nwhy)) < 0)
				return rc;
			s = c->buf;
			end = c->buf + h.usize;
			if (lf->max_rep > 0 && h.rep_enc != PQ_ENC_RLE)
				return pq_why(why, nwhy, RC_E_UNSUPPORTED, "row group %zu, column %s, "
					"page %d: %s repetition levels", p->rg, lf->name, c->page,
					pq_encoding_name(h.rep_enc));
			if (lf->max_def > 0 && h.def_enc != PQ_ENC_RLE)
				return pq_why(why, nwhy, RC_E_UNSUPPORTED, "row group %zu, column %s, "
					"page %d: %s definition levels", p->rg, lf->name, c->page,
					pq_encoding_name(h.def_enc));
			rl = dl = s;
			if (lf->max_rep > 0) {
				if (end - s < 4 || le32(s) > (size_t)(end - s - 4))
					return DAMAGE(p, c, "repetition levels run past the page");
				rlen = le32(s);
				rl = s + 4;
				s += 4 + rlen;
			}
			if (lf->max_def > 0) {
				if (end - s < 4 || le32(s) > (size_t)(end - s - 4))
					return DAMAGE(p, c, "definition levels run past the page");
				dlen = le32(s);
				dl = s + 4;
				s += 4 + dlen;
			}
			enc = h.encoding;
		} else {
			if (!h.has_v2)
				return DAMAGE(p, c, "a v2 data page without its header");
			rlen = (size_t)h.rep_len;
			dlen = (size_t)h.def_len;
			if (rlen + dlen > (size_t)h.csize || rlen + dlen > (size_t)h.usize)
				return DAMAGE(p, c, "levels of %zu bytes in a page of %lld", rlen + dlen,
					(long long)h.csize);
			rl = src;
			dl = src + rlen;
			const uint8_t *vs = src + rlen + dlen;
			size_t vlen = (size_t)h.csize - rlen - dlen;
			size_t ulen = (size_t)h.usize - rlen - dlen;
			if ((rc = inflate_page(p, c, vs, vlen, ulen, h.is_compressed ?
					c->ch->codec : PQ_CODEC_NONE, why, nwhy)) < 0)
				return rc;
			s = c->buf;
			end = c->buf + ulen;
			enc = h.encoding;
		}
		if ((rc = levels(p, c, rl, rlen, lf->max_rep, c->rep, n, "repetition", why,
				nwhy)) < 0 ||
		    (rc = levels(p, c, dl, dlen, lf->max_def, c->def, n, "definition", why,
				nwhy)) < 0)
			return rc;
		size_t nv = 0;
		for (size_t i = 0; i < n; i++)
			nv += c->def[i] == (uint32_t)lf->max_def;
		if ((rc = values(p, c, enc, s, end, nv, why, nwhy)) < 0)
			return rc;
		c->nlev = n;
		c->li = 0;
		c->seen += (int64_t)n;
		return 1;
	}
	return 0;
}

/* The next value of the loaded page. */
static int next_value(struct rc_parquet *p, struct pq_col *c, struct pq_val *v, char *why,
	size_t nwhy)
{
	if (c->enc == PQ_ENC_PLAIN) {
		if (plain(c->lf->n, &c->v, c->vend, &c->bit, v) < 0)
			return DAMAGE(p, c, "the values end before the levels do");
		return 0;
	}
	if (c->ixi >= c->nix)
		return DAMAGE(p, c, "more values than indices");
	uint32_t k = c->ix[c->ixi++];
	if (c->enc == PQ_ENC_RLE) {
		memset(v, 0, sizeof *v);
		v->i = k & 1;
	} else {
		*v = c->dict[k];
	}
	return 0;
}

/* ---------------------------------------------------------------- assembly */

static json_t *to_json(const struct pq_node *n, const struct pq_val *v, int *bad)
{
	switch (n->type) {
	case PQ_BOOLEAN: return json_boolean(v->i);
	case PQ_INT32:
	case PQ_INT64: return json_integer((json_int_t)v->i);
	case PQ_FLOAT:
	case PQ_DOUBLE: return isfinite(v->d) ? json_real(v->d) : json_null();
	}
	if (n->is_string) {
		json_t *s = json_stringn((const char *)v->p, v->len);
		if (s)
			return s;
		*bad = 1; /* not UTF-8 (or out of memory: the row is dropped either way) */
		return json_null();
	}
	return json_stringn_nocheck(v->len ? (const char *)v->p : "", v->len);
}

/* Set the slot (object key, or array index at) to x (reference taken). */
static int put(json_t *parent, int in_array, const char *key, size_t at, json_t *x)
{
	if (!x)
		return RC_E_NOMEM;
	if (in_array) {
		if (at != json_array_size(parent)) {
			json_decref(x);
			return RC_E_FORMAT;
		}
		return json_array_append_new(parent, x) ? RC_E_NOMEM : 0;
	}
	return json_object_set_new(parent, key, x) ? RC_E_NOMEM : 0;
}

/* One (r, d, value) of column c into row. */
static int place(struct rc_parquet *p, struct pq_col *c, json_t *row, uint32_t r, uint32_t d,
	int *bad, char *why, size_t nwhy)
{
	const struct pq_leaf *lf = c->lf;
	json_t *parent = row;
	int in_array = 0, rc;
	size_t at = 0;
	for (int k = 0; k < lf->npath; k++) {
		const struct pq_node *n = lf->path[k];
		json_t *cur = in_array ? json_array_get(parent, at) : json_object_get(parent, n->name);
		if (d < (uint32_t)n->def) {
			if (!cur && (rc = put(parent, in_array, n->name, at, json_null())) < 0)
				goto misfit;
			return 0;
		}
		if (n->kind == N_LEAF) {
			struct pq_val v;
			if (cur)
				goto misfit;
			if ((rc = next_value(p, c, &v, why, nwhy)) < 0)
				return rc;
			if ((rc = put(parent, in_array, n->name, at, to_json(n, &v, bad))) < 0)
				goto misfit;
			return 0;
		}
		if (!cur) {
			cur = n->kind == N_OBJ ? json_object() : json_array();
			if ((rc = put(parent, in_array, n->name, at, cur)) < 0)
				goto misfit;
		} else if (n->kind == N_OBJ ? !json_is_object(cur) : !json_is_array(cur)) {
			rc = RC_E_FORMAT;
			goto misfit;
		}
		if (n->kind == N_OBJ) {
			parent = cur;
			in_array = 0;
			continue;
		}
		if (d < (uint32_t)n->def_elem)
			return 0; /* an empty list */
		if ((uint32_t)n->rep > r)
			c->idx[n->rep] = 0;
		else if ((uint32_t)n->rep == r)
			c->idx[n->rep]++;
		at = (size_t)c->idx[n->rep];
		if (at > json_array_size(cur)) {
			rc = RC_E_FORMAT;
			goto misfit;
		}
		parent = cur;
		in_array = 1;
	}
	return 0;
misfit:
	if (rc == RC_E_NOMEM)
		return rc;
	return DAMAGE(p, c, "levels (r %u, d %u) do not fit the schema", r, d);
}

/* Column c's part of the current row. */
static int row_part(struct rc_parquet *p, struct pq_col *c, json_t *row, int *bad, char *why,
	size_t nwhy)
{
	int rc, first = 1;
	for (;;) {
		if (c->li >= c->nlev) {
			if ((rc = next_page(p, c, why, nwhy)) < 0)
				return rc;
			if (rc == 0) {
				if (first)
					return DAMAGE(p, c, "the column ends before the row group's "
						"%lld rows", (long long)p->m.rg[p->rg].num_rows);
				return 0;
			}
		}
		uint32_t r = c->rep[c->li];
		if (first ? r != 0 : r == 0) {
			if (first)
				return DAMAGE(p, c, "a row starts at repetition level %u", r);
			return 0;
		}
		first = 0;
		uint32_t d = c->def[c->li++];
		if ((rc = place(p, c, row, r, d, bad, why, nwhy)) < 0)
			return rc;
	}
}

static int start_group(struct rc_parquet *p, char *why, size_t nwhy)
{
	pq_free_cols(p);
	(void)why;
	(void)nwhy;
	if (!(p->col = rc_calloc(p->nleaf ? p->nleaf : 1, sizeof *p->col)))
		return RC_E_NOMEM;
	const struct pq_rowgroup *g = &p->m.rg[p->rg];
	for (size_t k = 0; k < p->nleaf; k++) {
		struct pq_col *c = &p->col[k];
		const struct pq_chunk *ch = &g->col[k];
		int64_t start = ch->dict_off > 0 && ch->dict_off < ch->data_off ? ch->dict_off :
			ch->data_off;
		c->lf = &p->leaf[k];
		c->ch = ch;
		c->pos = p->data + start;
		c->end = c->pos + ch->comp_size;
		c->page = -1;
	}
	p->rg_left = g->num_rows;
	return 0;
}

int rc_parquet_next(struct rc_parquet *p, json_t **row, uint64_t *rowno, char *why, size_t n)
{
	*row = NULL;
	if (p->done)
		return 0;
	int rc;
	while (p->rg_left <= 0) {
		if (p->rg_left == 0)
			p->rg++;
		if (p->rg >= p->m.nrg) {
			p->done = 1;
			return 0;
		}
		if ((rc = start_group(p, why, n)) < 0)
			goto fatal;
	}
	p->row++;
	p->rg_left--;
	if (rowno)
		*rowno = p->row;
	json_t *o = json_object();
	int bad = 0;
	if (!o) {
		rc = RC_E_NOMEM;
		goto fatal;
	}
	for (size_t k = 0; k < p->nleaf; k++)
		if ((rc = row_part(p, &p->col[k], o, &bad, why, n)) < 0) {
			json_decref(o);
			goto fatal;
		}
	if (bad) {
		json_decref(o);
		return pq_why(why, n, RC_E_FORMAT, "a string column that is not valid utf-8");
	}
	*row = o;
	return 1;
fatal:
	p->done = 1;
	if (rc == RC_E_NOMEM) {
		pq_why(why, n, rc, "out of memory");
		return rc_log_error(rc, "%s: out of memory", p->name);
	}
	return rc == RC_E_UNSUPPORTED ? rc : RC_E_TRUNCATED;
}
