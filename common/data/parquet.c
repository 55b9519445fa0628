/* parquet.c - Parquet rows as JSON objects (parquet.h): the file mapped and
 * its footer read (parquet_meta.c), the flat schema turned into a tree of
 * objects, lists and leaves with their definition and repetition levels,
 * and each row assembled from one cursor per leaf column that holds one
 * decoded page at a time (parquet_page.c decompresses and decodes).
 *
 * Assembly (Dremel's, as the format's README describes levels): each
 * (repetition r, definition d, value) of a leaf walks the leaf's path
 * from the root. A node whose definition level is above d is null (an
 * empty list for a list's elements); a list at repetition level R starts
 * a new element when R == r, its first element when R > r (a new parent),
 * and goes on in its last element when R < r. Leaves of one struct find
 * the elements the first leaf made by keeping their own index per level.
 */
#include "data/parquet.h"
#include "data/parquet_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"

int pq_why(char *why, size_t n, int rc, const char *fmt, ...)
{
	if (why && n) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, n, fmt, ap);
		va_end(ap);
	}
	return rc;
}

int rc_parquet_is_magic(const void *head, size_t n)
{
	return n >= 4 && !memcmp(head, "PAR1", 4);
}

uint64_t rc_parquet_rows(const struct rc_parquet *p)
{
	return (uint64_t)p->m.num_rows;
}

/* ---------------------------------------------------------------- schema */

static struct pq_node *new_node(struct rc_parquet *p)
{
	if (p->nnodes == p->capnodes)
		return NULL; /* sized for the schema: cannot happen */
	struct pq_node *n = &p->nodes[p->nnodes++];
	memset(n, 0, sizeof *n);
	return n;
}

static int is_list(const struct pq_schema_el *e)
{
	return e->converted == PQ_CONV_LIST || e->logical == PQ_LOGICAL_LIST;
}

static int is_string(const struct pq_schema_el *e)
{
	return e->converted == PQ_CONV_UTF8 || e->converted == PQ_CONV_ENUM ||
	       e->converted == PQ_CONV_JSON || e->logical == PQ_LOGICAL_STRING ||
	       e->logical == PQ_LOGICAL_ENUM || e->logical == PQ_LOGICAL_JSON;
}

static int build(struct rc_parquet *p, size_t *i, int def, int rep, int depth,
	struct pq_node **out, char *why, size_t nwhy);

/* Element e (already taken, its children at *i) as a node that is never a
 * list itself, with definition level def. */
static int make(struct rc_parquet *p, const struct pq_schema_el *e, size_t *i, int def,
	int rep, int depth, struct pq_node **out, char *why, size_t nwhy)
{
	struct pq_node *n = new_node(p);
	if (!n)
		return pq_why(why, nwhy, RC_E_FORMAT, "schema too large");
	n->name = e->name;
	n->def = def;
	*out = n;
	if (e->type >= 0) {
		if (e->type > PQ_FIXED)
			return pq_why(why, nwhy, RC_E_FORMAT, "column %s: unknown type %d",
				e->name, e->type);
		if (e->type == PQ_FIXED && (e->type_length <= 0 || e->type_length > (1 << 24)))
			return pq_why(why, nwhy, RC_E_FORMAT, "column %s: fixed length %d",
				e->name, e->type_length);
		n->kind = N_LEAF;
		n->type = e->type;
		n->type_length = e->type_length;
		n->is_string = e->type == PQ_BYTE_ARRAY && is_string(e);
		n->rep = rep;
		return 0;
	}
	n->kind = N_OBJ;
	if (e->num_children < 0 || (size_t)e->num_children > p->m.nel - *i)
		return pq_why(why, nwhy, RC_E_FORMAT, "group %s claims %d children", e->name,
			e->num_children);
	if (p->nkids + (size_t)e->num_children > p->capkids)
		return pq_why(why, nwhy, RC_E_FORMAT, "schema too large");
	n->kid = p->kids + p->nkids;
	n->nkid = e->num_children;
	p->nkids += (size_t)e->num_children;
	for (int k = 0; k < n->nkid; k++) {
		int rc = build(p, i, def, rep, depth + 1, &n->kid[k], why, nwhy);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The element at *i and its children. */
static int build(struct rc_parquet *p, size_t *i, int def, int rep, int depth,
	struct pq_node **out, char *why, size_t nwhy)
{
	if (depth > PQ_MAX_DEPTH || rep >= PQ_MAX_DEPTH)
		return pq_why(why, nwhy, RC_E_FORMAT, "schema nested deeper than %d",
			PQ_MAX_DEPTH);
	if (*i >= p->m.nel)
		return pq_why(why, nwhy, RC_E_FORMAT, "the schema ends inside a group");
	const struct pq_schema_el *e = &p->m.el[(*i)++];
	if (e->repetition < PQ_REQUIRED || e->repetition > PQ_REPEATED)
		return pq_why(why, nwhy, RC_E_FORMAT, "column %s: repetition %d", e->name,
			e->repetition);
	if (e->repetition == PQ_REPEATED) { /* a bare repeated field: a list */
		struct pq_node *l = new_node(p);
		if (!l)
			return pq_why(why, nwhy, RC_E_FORMAT, "schema too large");
		*l = (struct pq_node){.name = e->name, .kind = N_LIST, .def = def,
			.def_elem = def + 1, .rep = rep + 1};
		*out = l;
		return make(p, e, i, def + 1, rep + 1, depth + 1, &l->elem, why, nwhy);
	}
	int d = def + (e->repetition == PQ_OPTIONAL);
	if (e->type < 0 && is_list(e) && e->num_children == 1 && *i < p->m.nel &&
	    p->m.el[*i].repetition == PQ_REPEATED) {
		struct pq_node *l = new_node(p);
		if (!l)
			return pq_why(why, nwhy, RC_E_FORMAT, "schema too large");
		*l = (struct pq_node){.name = e->name, .kind = N_LIST, .def = d, .def_elem = d + 1,
			.rep = rep + 1};
		*out = l;
		const struct pq_schema_el *r = &p->m.el[(*i)++];
		if (r->type < 0 && r->num_children == 1) /* three levels: list.element */
			return build(p, i, d + 1, rep + 1, depth + 2, &l->elem, why, nwhy);
		return make(p, r, i, d + 1, rep + 1, depth + 1, &l->elem, why, nwhy);
	}
	return make(p, e, i, d, rep, depth, out, why, nwhy);
}

/* The leaves in column order, each with its path from the root. */
static int collect(struct rc_parquet *p, struct pq_node *n, struct pq_node **path, int np,
	char *why, size_t nwhy)
{
	if (np >= 2 * PQ_MAX_DEPTH + 2)
		return pq_why(why, nwhy, RC_E_FORMAT, "schema nested too deep");
	path[np++] = n;
	if (n->kind == N_LIST)
		return collect(p, n->elem, path, np, why, nwhy);
	if (n->kind == N_OBJ) {
		for (int k = 0; k < n->nkid; k++) {
			int rc = collect(p, n->kid[k], path, np, why, nwhy);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	struct pq_leaf *lf = &p->leaf[p->nleaf++];
	lf->npath = np - 1; /* without the root */
	memcpy(lf->path, path + 1, (size_t)(np - 1) * sizeof *path);
	lf->n = n;
	lf->max_def = n->def;
	lf->max_rep = n->rep;
	return 0;
}

/* The dotted name of leaf k, from the schema elements' names. */
static int leaf_names(struct rc_parquet *p)
{
	/* Walk the flat schema again: a stack of names and children left. */
	const char *stack[PQ_MAX_DEPTH + 2];
	int left[PQ_MAX_DEPTH + 2], top = 0;
	size_t k = 0;
	left[0] = p->m.el[0].num_children;
	for (size_t i = 1; i < p->m.nel && top >= 0; i++) {
		const struct pq_schema_el *e = &p->m.el[i];
		while (top > 0 && left[top] == 0)
			top--;
		left[top]--;
		if (e->type < 0) {
			if (top + 1 > PQ_MAX_DEPTH)
				return RC_E_FORMAT;
			stack[++top] = e->name;
			left[top] = e->num_children;
			continue;
		}
		size_t len = strlen(e->name) + 1;
		for (int s = 1; s <= top; s++)
			len += strlen(stack[s]) + 1;
		if (k >= p->nleaf || !(p->leaf[k].name = rc_malloc(len)))
			return k >= p->nleaf ? RC_E_FORMAT : RC_E_NOMEM;
		char *o = p->leaf[k].name;
		for (int s = 1; s <= top; s++)
			o += sprintf(o, "%s.", stack[s]);
		strcpy(o, e->name);
		k++;
	}
	return k == p->nleaf ? 0 : RC_E_FORMAT;
}

static int schema(struct rc_parquet *p, char *why, size_t nwhy)
{
	const struct pq_schema_el *r = &p->m.el[0];
	if (r->type >= 0 || r->num_children < 1)
		return pq_why(why, nwhy, RC_E_FORMAT, "the schema's root is not a group of columns");
	p->capnodes = 2 * p->m.nel + 2;
	p->capkids = p->m.nel;
	if (!(p->nodes = rc_calloc(p->capnodes, sizeof *p->nodes)) ||
	    !(p->kids = rc_calloc(p->capkids, sizeof *p->kids)) ||
	    !(p->leaf = rc_calloc(p->m.nel, sizeof *p->leaf)))
		return RC_E_NOMEM;
	size_t i = 1;
	struct pq_node *root = new_node(p);
	*root = (struct pq_node){.name = r->name, .kind = N_OBJ, .nkid = r->num_children};
	if ((size_t)r->num_children > p->m.nel - 1)
		return pq_why(why, nwhy, RC_E_FORMAT, "the root claims %d columns",
			r->num_children);
	root->kid = p->kids;
	p->nkids = (size_t)r->num_children;
	for (int k = 0; k < root->nkid; k++) {
		int rc = build(p, &i, 0, 0, 1, &root->kid[k], why, nwhy);
		if (rc < 0)
			return rc;
	}
	if (i != p->m.nel)
		return pq_why(why, nwhy, RC_E_FORMAT, "%zu schema elements outside the root",
			p->m.nel - i);
	p->root = root;
	struct pq_node *path[2 * PQ_MAX_DEPTH + 2];
	int rc = collect(p, root, path, 0, why, nwhy);
	if (rc < 0)
		return rc;
	if ((rc = leaf_names(p)) < 0)
		return rc == RC_E_NOMEM ? rc :
			pq_why(why, nwhy, RC_E_FORMAT, "the schema's groups do not add up");
	/* Field names become JSON keys. */
	for (size_t a = 0; a < p->nnodes; a++) {
		json_t *t = p->nodes[a].name ? json_string(p->nodes[a].name) : json_null();
		if (!t)
			return pq_why(why, nwhy, RC_E_FORMAT, "a column name is not valid utf-8");
		json_decref(t);
	}
	return 0;
}

/* The row groups' column chunks fit the schema and the file. */
static int check_chunks(struct rc_parquet *p, char *why, size_t nwhy)
{
	for (size_t g = 0; g < p->m.nrg; g++) {
		const struct pq_rowgroup *rg = &p->m.rg[g];
		if (rg->num_rows < 0)
			return pq_why(why, nwhy, RC_E_FORMAT, "row group %zu: %lld rows", g,
				(long long)rg->num_rows);
		if (rg->ncol != p->nleaf)
			return pq_why(why, nwhy, RC_E_FORMAT, "row group %zu: %zu columns, the "
				"schema has %zu", g, rg->ncol, p->nleaf);
		for (size_t c = 0; c < rg->ncol; c++) {
			const struct pq_chunk *ch = &rg->col[c];
			const char *name = p->leaf[c].name;
			if (!ch->has_meta)
				return pq_why(why, nwhy, RC_E_UNSUPPORTED, "row group %zu, column %s: "
					"no metadata (a column in another file?)", g, name);
			if (ch->type != p->leaf[c].n->type)
				return pq_why(why, nwhy, RC_E_FORMAT, "row group %zu, column %s: type "
					"%d, the schema says %d", g, name, ch->type, p->leaf[c].n->type);
			if (ch->path && strcmp(ch->path, name))
				return pq_why(why, nwhy, RC_E_FORMAT, "row group %zu: column %zu is %s, "
					"the schema says %s", g, c, ch->path, name);
			int64_t start = ch->dict_off > 0 && ch->dict_off < ch->data_off ?
				ch->dict_off : ch->data_off;
			if (start < 4 || ch->comp_size < 0 || ch->num_values < 0 ||
			    (uint64_t)start > p->size ||
			    (uint64_t)ch->comp_size > p->size - (uint64_t)start)
				return pq_why(why, nwhy, RC_E_FORMAT, "row group %zu, column %s: pages "
					"at %lld (%lld bytes) outside the file", g, name,
					(long long)start, (long long)ch->comp_size);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- opening */

static int open_data(struct rc_parquet *p, char *why, size_t nwhy)
{
	const uint8_t *d = p->data;
	size_t n = p->size;
	if (n >= 4 && !memcmp(d, "PARE", 4))
		return pq_why(why, nwhy, RC_E_UNSUPPORTED, "an encrypted parquet file");
	if (n < 12 || memcmp(d, "PAR1", 4))
		return pq_why(why, nwhy, RC_E_FORMAT, "not a parquet file (no PAR1 at the start)");
	if (memcmp(d + n - 4, "PAR1", 4))
		return pq_why(why, nwhy, RC_E_FORMAT, "truncated parquet file (no PAR1 at the "
			"end of its %zu bytes)", n);
	uint32_t flen = (uint32_t)d[n - 8] | (uint32_t)d[n - 7] << 8 |
		(uint32_t)d[n - 6] << 16 | (uint32_t)d[n - 5] << 24;
	if ((uint64_t)flen > n - 12)
		return pq_why(why, nwhy, RC_E_FORMAT, "footer of %u bytes in a file of %zu", flen, n);
	char r[200];
	int rc = pq_meta_parse(d + n - 8 - flen, flen, &p->m, r, sizeof r);
	if (rc < 0)
		return rc == RC_E_NOMEM ? rc : pq_why(why, nwhy, rc, "footer: %s", r);
	if ((rc = schema(p, why, nwhy)) < 0 || (rc = check_chunks(p, why, nwhy)) < 0)
		return rc;
	p->rg_left = -1;
	return 0;
}

static struct rc_parquet *new_reader(const char *name)
{
	struct rc_parquet *p = rc_calloc(1, sizeof *p);
	if (p && !(p->name = rc_strdup(name ? name : "(parquet)"))) {
		free(p);
		return NULL;
	}
	return p;
}

int rc_parquet_open_memory(struct rc_parquet **out, const void *data, size_t size,
	const char *name, char *why, size_t n)
{
	*out = NULL;
	struct rc_parquet *p = new_reader(name);
	if (!p)
		return pq_why(why, n, RC_E_NOMEM, "out of memory");
	p->data = data;
	p->size = size;
	int rc = open_data(p, why, n);
	if (rc < 0) {
		if (rc == RC_E_NOMEM)
			pq_why(why, n, rc, "out of memory");
		rc_parquet_close(p);
		return rc;
	}
	*out = p;
	return 0;
}

int rc_parquet_open(struct rc_parquet **out, const char *path)
{
	*out = NULL;
	struct rc_parquet *p = new_reader(path);
	char why[300];
	int rc;
	if (!p)
		return RC_E_NOMEM;
	if (!strcmp(path, "-")) {
		char *buf;
		size_t len;
		if ((rc = rc_io_read_stream(stdin, "(stdin)", &buf, &len)) < 0)
			goto fail_logged;
		p->owned = (uint8_t *)buf;
		p->data = p->owned;
		p->size = len;
	} else {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		struct stat sb;
		if (fd < 0 || fstat(fd, &sb) != 0) {
			rc = rc_log_error(RC_E_IO, "%s: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto fail_logged;
		}
		p->size = (size_t)sb.st_size;
		if (!S_ISREG(sb.st_mode)) {
			close(fd);
			rc = rc_log_error(RC_E_IO, "%s: not a regular file (parquet needs random "
				"access; give - to read a pipe)", path);
			goto fail_logged;
		}
		if (p->size >= 12) {
			p->map = mmap(NULL, p->size, PROT_READ, MAP_PRIVATE, fd, 0);
			if (p->map == MAP_FAILED) {
				p->map = NULL;
				rc = rc_log_error(RC_E_IO, "%s: mmap: %s", path, strerror(errno));
				close(fd);
				goto fail_logged;
			}
			p->data = p->map;
		} else {
			static const uint8_t none[1];
			p->data = none; /* too short: open_data says so */
		}
		close(fd);
	}
	if ((rc = open_data(p, why, sizeof why)) < 0) {
		if (rc == RC_E_NOMEM)
			rc_log_error(rc, "%s: out of memory", path);
		else
			rc_log_error(rc, "%s: %s", path, why);
		goto fail_logged;
	}
	*out = p;
	return 0;
fail_logged:
	rc_parquet_close(p);
	return rc;
}

void pq_free_cols(struct rc_parquet *p)
{
	if (!p->col)
		return;
	for (size_t c = 0; c < p->nleaf; c++) {
		struct pq_col *k = &p->col[c];
		free(k->dict_buf);
		free(k->dict);
		free(k->buf);
		free(k->lev);
		free(k->ix);
	}
	free(p->col);
	p->col = NULL;
}

void rc_parquet_close(struct rc_parquet *p)
{
	if (!p)
		return;
	pq_free_cols(p);
	for (size_t i = 0; p->leaf && i < p->nleaf; i++)
		free(p->leaf[i].name);
	free(p->leaf);
	free(p->nodes);
	free(p->kids);
	pq_meta_free(&p->m);
	if (p->map)
		munmap(p->map, p->size);
	free(p->owned);
	free(p->name);
	free(p);
}
