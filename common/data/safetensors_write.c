/* safetensors_write.c - the safetensors writer (safetensors.h): tensors
 * collected by reference, laid out as the reference implementation lays
 * them out (largest alignment first, then by name), the header written
 * with jansson and padded to 8 bytes, the file written atomically.
 */
#include "data/safetensors.h"

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct wtensor {
	char *name;
	int dtype;
	int ndim;
	int64_t shape[RC_ST_MAX_DIMS];
	const void *data;
	size_t nbytes;
};

struct rc_st_writer {
	struct wtensor *t;
	size_t n, cap;
	char **kv;              /* key, value, ... (both owned) */
	size_t nmeta, metacap;
};

/* The order of the reference implementation's Dtype enum ("increasing
 * alignment order"); the writer puts higher ranks first, as it does, so
 * that the same tensors give the same bytes. */
static const int rank[RC_ST_NDTYPES] = {
	[RC_ST_BOOL] = 0, [RC_ST_U8] = 1, [RC_ST_I8] = 2, [RC_ST_F8_E5M2] = 3,
	[RC_ST_F8_E4M3] = 4, [RC_ST_I16] = 5, [RC_ST_U16] = 6, [RC_ST_F16] = 7,
	[RC_ST_BF16] = 8, [RC_ST_I32] = 9, [RC_ST_U32] = 10, [RC_ST_F32] = 11,
	[RC_ST_C64] = 12, [RC_ST_F64] = 13, [RC_ST_I64] = 14, [RC_ST_U64] = 15,
};

int rc_st_writer_new(struct rc_st_writer **out)
{
	*out = rc_calloc(1, sizeof **out);
	return *out ? 0 : RC_E_NOMEM;
}

void rc_st_writer_free(struct rc_st_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++)
		free(w->t[i].name);
	for (size_t i = 0; i < 2 * w->nmeta; i++)
		free(w->kv[i]);
	free(w->t);
	free(w->kv);
	free(w);
}

/* Is s valid UTF-8 (jansson's rule, which the header must follow)? */
static int is_utf8(const char *s)
{
	json_t *j = json_string(s);
	json_decref(j);
	return j != NULL;
}

int rc_st_writer_add(struct rc_st_writer *w, const char *name, int dtype,
		     int ndim, const int64_t *shape, const void *data)
{
	if (strcmp(name, "__metadata__") == 0 || !is_utf8(name))
		return rc_log_error(RC_E_ARG, "safetensors writer: '%.200s' cannot name a "
				    "tensor", name);
	if (rc_st_dtype_size(dtype) == 0)
		return rc_log_error(RC_E_ARG, "safetensors writer: tensor '%.200s': bad "
				    "dtype %d", name, dtype);
	if (ndim < 0 || ndim > RC_ST_MAX_DIMS)
		return rc_log_error(RC_E_ARG, "safetensors writer: tensor '%.200s': %d "
				    "dimensions (0..%d allowed)", name, ndim,
				    RC_ST_MAX_DIMS);
	for (size_t i = 0; i < w->n; i++)
		if (strcmp(w->t[i].name, name) == 0)
			return rc_log_error(RC_E_ARG, "safetensors writer: tensor '%.200s' "
					    "added twice", name);
	uint64_t nelem = 1, nbytes;
	int overflow = 0;
	for (int k = 0; k < ndim; k++) {
		if (shape[k] < 0)
			return rc_log_error(RC_E_ARG, "safetensors writer: tensor '%.200s': "
					    "shape[%d] = %" PRId64 " is negative", name,
					    k, shape[k]);
		overflow |= __builtin_mul_overflow(nelem, (uint64_t)shape[k], &nelem);
	}
	for (int k = 0; k < ndim; k++)
		if (shape[k] == 0)
			nelem = 0, overflow = 0;
	overflow |= __builtin_mul_overflow(nelem, (uint64_t)rc_st_dtype_size(dtype),
					   &nbytes);
	if (overflow || nbytes > SIZE_MAX || (nbytes && !data))
		return rc_log_error(RC_E_ARG, "safetensors writer: tensor '%.200s': %s",
				    name, nbytes && !data ? "no data" : "its size "
				    "overflows");
	int rc = rc_grow((void **)&w->t, &w->cap, w->n + 1, sizeof *w->t);
	if (rc < 0)
		return rc;
	struct wtensor *t = &w->t[w->n];
	memset(t, 0, sizeof *t);
	if (!(t->name = rc_strdup(name)))
		return RC_E_NOMEM;
	t->dtype = dtype;
	t->ndim = ndim;
	for (int k = 0; k < ndim; k++)
		t->shape[k] = shape[k];
	t->data = data;
	t->nbytes = (size_t)nbytes;
	w->n++;
	return 0;
}

int rc_st_writer_meta(struct rc_st_writer *w, const char *key, const char *value)
{
	if (!is_utf8(key) || !is_utf8(value))
		return rc_log_error(RC_E_ARG, "safetensors writer: metadata '%.200s' is "
				    "not UTF-8", key);
	char *v = rc_strdup(value);
	if (!v)
		return RC_E_NOMEM;
	for (size_t i = 0; i < w->nmeta; i++)
		if (strcmp(w->kv[2 * i], key) == 0) {
			free(w->kv[2 * i + 1]);
			w->kv[2 * i + 1] = v;
			return 0;
		}
	char *k = rc_strdup(key);
	int rc = k ? rc_grow((void **)&w->kv, &w->metacap, 2 * w->nmeta + 2,
			     sizeof *w->kv) : RC_E_NOMEM;
	if (rc < 0) {
		free(k);
		free(v);
		return rc;
	}
	w->kv[2 * w->nmeta] = k;
	w->kv[2 * w->nmeta + 1] = v;
	w->nmeta++;
	return 0;
}

static int cmp_layout(const void *a, const void *b)
{
	const struct wtensor *x = *(const struct wtensor *const *)a;
	const struct wtensor *y = *(const struct wtensor *const *)b;
	if (x->dtype != y->dtype && rank[x->dtype] != rank[y->dtype])
		return rank[x->dtype] > rank[y->dtype] ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The header JSON of the tensors in the order of `order`, or NULL when out
 * of memory (logged). */
static char *header_json(struct rc_st_writer *w, struct wtensor **order)
{
	json_t *root = json_object(), *meta = NULL;
	char *s = NULL;
	uint64_t at = 0;
	int bad = !root;

	if (!bad && w->nmeta) {
		qsort(w->kv, w->nmeta, 2 * sizeof *w->kv, cmp_keys);
		bad |= !(meta = json_object()) ||
		       json_object_set_new(root, "__metadata__", meta);
		for (size_t i = 0; !bad && i < w->nmeta; i++)
			bad |= json_object_set_new(meta, w->kv[2 * i],
						   json_string(w->kv[2 * i + 1]));
	}
	for (size_t i = 0; !bad && i < w->n; i++) {
		const struct wtensor *t = order[i];
		json_t *shape = json_array(), *offs = json_array(), *o = json_object();
		bad |= !shape || !offs || !o;
		for (int k = 0; !bad && k < t->ndim; k++)
			bad |= json_array_append_new(shape, json_integer(t->shape[k]));
		bad |= json_array_append_new(offs, json_integer((json_int_t)at)) ||
		       json_array_append_new(offs, json_integer((json_int_t)(at + t->nbytes)));
		at += t->nbytes;
		bad |= json_object_set_new(o, "dtype",
					   json_string(rc_st_dtype_name(t->dtype))) ||
		       json_object_set_new(o, "shape", shape) ||
		       json_object_set_new(o, "data_offsets", offs) ||
		       json_object_set_new(root, t->name, o);
	}
	if (!bad)
		s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!s)
		rc_log_error(RC_E_NOMEM, "safetensors writer: out of memory");
	return s;
}

int rc_st_writer_write(struct rc_st_writer *w, const char *path)
{
	static const char spaces[8] = "        ";
	struct rc_atomic_file af;
	struct wtensor **order;
	char *json = NULL;
	int rc;

	if (!(order = rc_calloc(w->n, sizeof *order)))
		return RC_E_NOMEM;
	for (size_t i = 0; i < w->n; i++)
		order[i] = &w->t[i];
	qsort(order, w->n, sizeof *order, cmp_layout);
	if (!(json = header_json(w, order))) {
		free(order);
		return RC_E_NOMEM;
	}
	size_t len = strlen(json), pad = (8 - len % 8) % 8;
	uint8_t n8[8];
	for (int i = 0; i < 8; i++)
		n8[i] = (uint8_t)((uint64_t)(len + pad) >> 8 * i);

	if ((rc = rc_atomic_open(&af, path)) < 0)
		goto out;
	if ((af.f != stdout || (rc = rc_io_refuse_tty(stdout)) == 0) &&
	    (rc = rc_io_write_all(af.f, n8, 8, path)) == 0 &&
	    (rc = rc_io_write_all(af.f, json, len, path)) == 0 &&
	    (rc = rc_io_write_all(af.f, spaces, pad, path)) == 0)
		for (size_t i = 0; rc == 0 && i < w->n; i++)
			rc = rc_io_write_all(af.f, order[i]->data, order[i]->nbytes,
					     path);
	if (rc == 0)
		rc = rc_atomic_commit(&af);
	else
		rc_atomic_abort(&af);
out:
	free(json);
	free(order);
	return rc;
}
