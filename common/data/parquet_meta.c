/* parquet_meta.c - the Parquet footer (FileMetaData) and page headers
 * (PageHeader), read from the Thrift compact protocol: a field header
 * byte (id delta, type), zigzag varints, length-prefixed binaries, list
 * headers. Only the fields rclip uses are kept; every other field is
 * skipped by its type, with nesting bounded. Every length is checked
 * against the bytes that remain, so a damaged footer is a reason, never a
 * read outside the buffer.
 */
#include "data/parquet_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"

/* Compact protocol types. */
enum { CT_STOP = 0, CT_TRUE = 1, CT_FALSE = 2, CT_BYTE = 3, CT_I16 = 4, CT_I32 = 5,
	CT_I64 = 6, CT_DOUBLE = 7, CT_BINARY = 8, CT_LIST = 9, CT_SET = 10, CT_MAP = 11,
	CT_STRUCT = 12 };

struct tr {
	const uint8_t *p, *end;
	int depth;
	int bad;            /* set with the first reason */
	char *why;
	size_t nwhy;
};

static int fail(struct tr *t, const char *fmt, ...)
{
	if (!t->bad) {
		t->bad = 1;
		if (t->why && t->nwhy) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(t->why, t->nwhy, fmt, ap);
			va_end(ap);
		}
	}
	return RC_E_FORMAT;
}

static uint64_t varint(struct tr *t)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (t->p >= t->end) {
			fail(t, "thrift data ends inside a number");
			return 0;
		}
		uint8_t b = *t->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	fail(t, "thrift number longer than 10 bytes");
	return 0;
}

static int64_t zigzag(struct tr *t)
{
	uint64_t v = varint(t);
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* A binary (string): a pointer into the buffer and its length. */
static const uint8_t *binary(struct tr *t, size_t *len)
{
	uint64_t n = varint(t);
	if (t->bad)
		return NULL;
	if (n > (uint64_t)(t->end - t->p)) {
		fail(t, "thrift string of %llu bytes runs past the end",
			(unsigned long long)n);
		return NULL;
	}
	const uint8_t *s = t->p;
	t->p += n;
	*len = (size_t)n;
	return s;
}

static char *string(struct tr *t)
{
	size_t len = 0;
	const uint8_t *s = binary(t, &len);
	if (!s)
		return NULL;
	char *c = rc_malloc(len + 1);
	if (!c) {
		fail(t, "out of memory");
		return NULL;
	}
	memcpy(c, s, len);
	c[len] = 0;
	return c;
}

/* A list header: the element count (bounded by the bytes left: every
 * element takes at least one) and the element type. */
static size_t list_header(struct tr *t, int *etype)
{
	if (t->p >= t->end) {
		fail(t, "thrift data ends at a list");
		return 0;
	}
	uint8_t b = *t->p++;
	uint64_t n = b >> 4;
	*etype = b & 15;
	if (n == 15)
		n = varint(t);
	if (!t->bad && n > (uint64_t)(t->end - t->p))
		fail(t, "thrift list of %llu elements in %zu bytes", (unsigned long long)n,
			(size_t)(t->end - t->p));
	return t->bad ? 0 : (size_t)n;
}

static void skip(struct tr *t, int type);

static void skip_struct(struct tr *t)
{
	if (++t->depth > PQ_MAX_DEPTH) {
		fail(t, "thrift structs nested deeper than %d", PQ_MAX_DEPTH);
		return;
	}
	while (!t->bad) {
		if (t->p >= t->end) {
			fail(t, "thrift data ends inside a struct");
			break;
		}
		uint8_t b = *t->p++;
		if (b == CT_STOP)
			break;
		if (!(b >> 4))
			zigzag(t); /* a long field id */
		skip(t, b & 15);
	}
	t->depth--;
}

static void skip(struct tr *t, int type)
{
	size_t len;
	int et, kt;
	switch (type) {
	case CT_TRUE:
	case CT_FALSE:
		return;
	case CT_BYTE:
		if (t->p >= t->end)
			fail(t, "thrift data ends at a byte");
		else
			t->p++;
		return;
	case CT_I16:
	case CT_I32:
	case CT_I64:
		varint(t);
		return;
	case CT_DOUBLE:
		if (t->end - t->p < 8)
			fail(t, "thrift data ends at a double");
		else
			t->p += 8;
		return;
	case CT_BINARY:
		binary(t, &len);
		return;
	case CT_LIST:
	case CT_SET: {
		size_t n = list_header(t, &et);
		if (++t->depth > PQ_MAX_DEPTH) {
			fail(t, "thrift lists nested deeper than %d", PQ_MAX_DEPTH);
			return;
		}
		for (size_t i = 0; i < n && !t->bad; i++) {
			if (et == CT_TRUE || et == CT_FALSE) /* a bool element is a byte */
				skip(t, CT_BYTE);
			else
				skip(t, et);
		}
		t->depth--;
		return;
	}
	case CT_MAP: {
		uint64_t n = varint(t);
		if (t->bad || n == 0)
			return;
		if (t->p >= t->end || n > (uint64_t)(t->end - t->p)) {
			fail(t, "thrift map runs past the end");
			return;
		}
		kt = *t->p >> 4;
		et = *t->p & 15;
		t->p++;
		if (++t->depth > PQ_MAX_DEPTH) {
			fail(t, "thrift maps nested deeper than %d", PQ_MAX_DEPTH);
			return;
		}
		for (uint64_t i = 0; i < n && !t->bad; i++) {
			skip(t, kt == CT_TRUE || kt == CT_FALSE ? CT_BYTE : kt);
			skip(t, et == CT_TRUE || et == CT_FALSE ? CT_BYTE : et);
		}
		t->depth--;
		return;
	}
	case CT_STRUCT:
		skip_struct(t);
		return;
	}
	fail(t, "unknown thrift type %d", type);
}

/* The next field of a struct: 1 with *id and *type, 0 at its end. */
static int field(struct tr *t, int *last, int *id, int *type)
{
	if (t->bad)
		return 0;
	if (t->p >= t->end) {
		fail(t, "thrift data ends inside a struct");
		return 0;
	}
	uint8_t b = *t->p++;
	if (b == CT_STOP)
		return 0;
	int delta = b >> 4;
	*type = b & 15;
	*id = delta ? *last + delta : (int)zigzag(t);
	*last = *id;
	return !t->bad;
}

/* An integer field of type i16/i32/i64 (anything else is skipped as
 * malformed); bools come in the field type. */
static int64_t int_field(struct tr *t, int type)
{
	if (type == CT_I16 || type == CT_I32 || type == CT_I64 || type == CT_BYTE) {
		if (type == CT_BYTE) {
			if (t->p >= t->end)
				return fail(t, "thrift data ends at a byte");
			return (int8_t)*t->p++;
		}
		return zigzag(t);
	}
	fail(t, "thrift field of type %d where an integer belongs", type);
	return 0;
}

static int32_t i32_field(struct tr *t, int type)
{
	int64_t v = int_field(t, type);
	if (v < INT32_MIN || v > INT32_MAX)
		fail(t, "thrift i32 out of range");
	return (int32_t)v;
}

static int struct_begin(struct tr *t, int type)
{
	if (type != CT_STRUCT)
		return fail(t, "thrift field of type %d where a struct belongs", type);
	if (++t->depth > PQ_MAX_DEPTH)
		return fail(t, "thrift structs nested deeper than %d", PQ_MAX_DEPTH);
	return 0;
}

/* ---------------------------------------------------------------- FileMetaData */

/* The LogicalType union: which member is set. */
static int logical_type(struct tr *t, int type)
{
	if (struct_begin(t, type) < 0)
		return 0;
	int last = 0, id, ft, which = 0;
	while (field(t, &last, &id, &ft)) {
		if (!which)
			which = id;
		skip(t, ft);
	}
	t->depth--;
	return which;
}

static void schema_el(struct tr *t, struct pq_schema_el *e)
{
	*e = (struct pq_schema_el){.type = -1, .repetition = -1, .converted = -1};
	int last = 0, id, ft, named = 0;
	while (field(t, &last, &id, &ft)) {
		switch (id) {
		case 1: e->type = i32_field(t, ft); break;
		case 2: e->type_length = i32_field(t, ft); break;
		case 3: e->repetition = i32_field(t, ft); break;
		case 4:
			if (ft != CT_BINARY) {
				fail(t, "schema name is not a string");
				break;
			}
			free(e->name);
			e->name = string(t);
			named = 1;
			break;
		case 5: e->num_children = i32_field(t, ft); break;
		case 6: e->converted = i32_field(t, ft); break;
		case 10: e->logical = logical_type(t, ft); break;
		default: skip(t, ft);
		}
	}
	if (!t->bad && !named)
		fail(t, "a schema element without a name");
}

static void column_meta(struct tr *t, struct pq_chunk *c)
{
	int last = 0, id, ft, et;
	c->has_meta = 1;
	c->type = -1;
	while (field(t, &last, &id, &ft)) {
		switch (id) {
		case 1: c->type = i32_field(t, ft); break;
		case 3: {
			if (ft != CT_LIST) {
				fail(t, "path_in_schema is not a list");
				break;
			}
			size_t n = list_header(t, &et);
			if (et != CT_BINARY && n) {
				fail(t, "path_in_schema is not a list of strings");
				break;
			}
			size_t cap = 1, len = 0;
			const uint8_t *parts[PQ_MAX_DEPTH];
			size_t plen[PQ_MAX_DEPTH];
			if (n > PQ_MAX_DEPTH) {
				fail(t, "path_in_schema deeper than %d", PQ_MAX_DEPTH);
				break;
			}
			for (size_t i = 0; i < n && !t->bad; i++) {
				parts[i] = binary(t, &plen[i]);
				cap += plen[i] + 1;
			}
			if (t->bad)
				break;
			free(c->path);
			if (!(c->path = rc_malloc(cap))) {
				fail(t, "out of memory");
				break;
			}
			for (size_t i = 0; i < n; i++) {
				if (i)
					c->path[len++] = '.';
				memcpy(c->path + len, parts[i], plen[i]);
				len += plen[i];
			}
			c->path[len] = 0;
			break;
		}
		case 4: c->codec = i32_field(t, ft); break;
		case 5: c->num_values = int_field(t, ft); break;
		case 7: c->comp_size = int_field(t, ft); break;
		case 9: c->data_off = int_field(t, ft); break;
		case 11: c->dict_off = int_field(t, ft); break;
		default: skip(t, ft);
		}
	}
}

static void column_chunk(struct tr *t, struct pq_chunk *c)
{
	int last = 0, id, ft;
	while (field(t, &last, &id, &ft)) {
		if (id == 3) {
			if (struct_begin(t, ft) < 0)
				break;
			column_meta(t, c);
			t->depth--;
		} else {
			skip(t, ft);
		}
	}
}

static void row_group(struct tr *t, struct pq_rowgroup *g)
{
	int last = 0, id, ft, et;
	while (field(t, &last, &id, &ft)) {
		if (id == 1 && ft == CT_LIST && !g->col) {
			size_t n = list_header(t, &et);
			if (n && et != CT_STRUCT) {
				fail(t, "row group columns are not structs");
				break;
			}
			if (n && !(g->col = rc_calloc(n, sizeof *g->col))) {
				fail(t, "out of memory");
				break;
			}
			g->ncol = n;
			for (size_t i = 0; i < n && !t->bad; i++) {
				t->depth++;
				column_chunk(t, &g->col[i]);
				t->depth--;
			}
		} else if (id == 3) {
			g->num_rows = int_field(t, ft);
		} else {
			skip(t, ft);
		}
	}
}

int pq_meta_parse(const uint8_t *p, size_t n, struct pq_meta *m, char *why, size_t nwhy)
{
	struct tr t = {.p = p, .end = p + n, .why = why, .nwhy = nwhy};
	int last = 0, id, ft, et, got_schema = 0, got_rows = 0, got_rg = 0;
	memset(m, 0, sizeof *m);
	while (field(&t, &last, &id, &ft)) {
		if (id == 2 && ft == CT_LIST && !got_schema) {
			size_t k = list_header(&t, &et);
			got_schema = 1;
			if (k && et != CT_STRUCT)
				return fail(&t, "schema is not a list of structs");
			if (k > PQ_MAX_SCHEMA)
				return fail(&t, "schema of %zu elements (at most %d)", k, PQ_MAX_SCHEMA);
			if (k && !(m->el = rc_calloc(k, sizeof *m->el)))
				return RC_E_NOMEM;
			m->nel = k;
			for (size_t i = 0; i < k && !t.bad; i++) {
				t.depth++;
				schema_el(&t, &m->el[i]);
				t.depth--;
			}
		} else if (id == 3) {
			m->num_rows = int_field(&t, ft);
			got_rows = 1;
		} else if (id == 4 && ft == CT_LIST && !got_rg) {
			size_t k = list_header(&t, &et);
			got_rg = 1;
			if (k && et != CT_STRUCT)
				return fail(&t, "row groups are not structs");
			if (k && !(m->rg = rc_calloc(k, sizeof *m->rg)))
				return RC_E_NOMEM;
			m->nrg = k;
			for (size_t i = 0; i < k && !t.bad; i++) {
				t.depth++;
				row_group(&t, &m->rg[i]);
				t.depth--;
			}
		} else {
			skip(&t, ft);
		}
	}
	if (t.bad)
		return RC_E_FORMAT;
	if (!got_schema || m->nel == 0)
		return fail(&t, "the footer has no schema");
	if (!got_rows || m->num_rows < 0)
		return fail(&t, "the footer has no row count");
	return 0;
}

void pq_meta_free(struct pq_meta *m)
{
	for (size_t i = 0; i < m->nel; i++)
		free(m->el[i].name);
	free(m->el);
	for (size_t g = 0; g < m->nrg; g++) {
		for (size_t c = 0; c < m->rg[g].ncol; c++)
			free(m->rg[g].col[c].path);
		free(m->rg[g].col);
	}
	free(m->rg);
	memset(m, 0, sizeof *m);
}

/* ---------------------------------------------------------------- page headers */

static void data_header(struct tr *t, int type, struct pq_page_header *h, int v2)
{
	if (struct_begin(t, type) < 0)
		return;
	int last = 0, id, ft;
	while (field(t, &last, &id, &ft)) {
		if (!v2) {
			switch (id) {
			case 1: h->num_values = i32_field(t, ft); break;
			case 2: h->encoding = i32_field(t, ft); break;
			case 3: h->def_enc = i32_field(t, ft); break;
			case 4: h->rep_enc = i32_field(t, ft); break;
			default: skip(t, ft);
			}
			continue;
		}
		switch (id) {
		case 1: h->num_values = i32_field(t, ft); break;
		case 2: h->num_nulls = i32_field(t, ft); break;
		case 3: h->num_rows = i32_field(t, ft); break;
		case 4: h->encoding = i32_field(t, ft); break;
		case 5: h->def_len = i32_field(t, ft); break;
		case 6: h->rep_len = i32_field(t, ft); break;
		case 7:
			if (ft == CT_TRUE || ft == CT_FALSE)
				h->is_compressed = ft == CT_TRUE;
			else
				fail(t, "is_compressed is not a bool");
			break;
		default: skip(t, ft);
		}
	}
	t->depth--;
}

static void dict_header(struct tr *t, int type, struct pq_page_header *h)
{
	if (struct_begin(t, type) < 0)
		return;
	int last = 0, id, ft;
	while (field(t, &last, &id, &ft)) {
		if (id == 1)
			h->num_values = i32_field(t, ft);
		else if (id == 2)
			h->encoding = i32_field(t, ft);
		else
			skip(t, ft);
	}
	t->depth--;
}

int pq_page_header_parse(const uint8_t *p, size_t n, size_t *used, struct pq_page_header *h,
	char *why, size_t nwhy)
{
	struct tr t = {.p = p, .end = p + n, .why = why, .nwhy = nwhy};
	int last = 0, id, ft, got = 0;
	*h = (struct pq_page_header){.type = -1, .is_compressed = 1};
	while (field(&t, &last, &id, &ft)) {
		switch (id) {
		case 1: h->type = i32_field(&t, ft); got |= 1; break;
		case 2: h->usize = i32_field(&t, ft); got |= 2; break;
		case 3: h->csize = i32_field(&t, ft); got |= 4; break;
		case 5: data_header(&t, ft, h, 0); h->has_data = 1; break;
		case 7: dict_header(&t, ft, h); h->has_dict = 1; break;
		case 8: data_header(&t, ft, h, 1); h->has_v2 = 1; break;
		default: skip(&t, ft);
		}
	}
	if (t.bad)
		return RC_E_FORMAT;
	if (got != 7)
		return fail(&t, "page header without type or sizes");
	if (h->usize < 0 || h->csize < 0 || h->num_values < 0 || h->def_len < 0 ||
	    h->rep_len < 0 || h->num_nulls < 0)
		return fail(&t, "negative size in page header");
	*used = (size_t)(t.p - p);
	return 0;
}
