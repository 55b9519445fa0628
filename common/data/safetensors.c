/* safetensors.c - the safetensors reader (safetensors.h): the file mapped,
 * its JSON header parsed with jansson and every number in it checked
 * before a tensor view is made; conversion of F32, F16, BF16 and F64 data
 * to float. The writer is in safetensors_write.c.
 */
#include "data/safetensors.h"

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "base/mapguard.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c reads little-endian data in place: a little-endian host is needed"
#endif

struct rc_st {
	char *name;
	void *map;              /* the mapping (rc_st_open), else NULL */
	size_t map_size;
	size_t ntensors;
	struct rc_st_tensor *t; /* sorted by name */
	size_t nmeta;
	const char **kv;        /* key, value, ...; sorted by key */
	char *strings;          /* every name, key and value, one block */
};

/* ---------------------------------------------------------------- dtypes */

static const struct {
	const char *name;
	size_t size;
} dtypes[RC_ST_NDTYPES] = {
	[RC_ST_F32] = {"F32", 4}, [RC_ST_F16] = {"F16", 2},
	[RC_ST_BF16] = {"BF16", 2}, [RC_ST_F64] = {"F64", 8},
	[RC_ST_I64] = {"I64", 8}, [RC_ST_I32] = {"I32", 4},
	[RC_ST_I16] = {"I16", 2}, [RC_ST_I8] = {"I8", 1},
	[RC_ST_U8] = {"U8", 1}, [RC_ST_BOOL] = {"BOOL", 1},
	[RC_ST_U16] = {"U16", 2}, [RC_ST_U32] = {"U32", 4},
	[RC_ST_U64] = {"U64", 8}, [RC_ST_F8_E5M2] = {"F8_E5M2", 1},
	[RC_ST_F8_E4M3] = {"F8_E4M3", 1}, [RC_ST_C64] = {"C64", 8},
};

/* Dtypes of the format that this build does not hold (sub-byte or exotic). */
static const char *const unheld[] = {"F8_E8M0", "F4", "F6_E2M3", "F6_E3M2"};

const char *rc_st_dtype_name(int dtype)
{
	return dtype > 0 && dtype < RC_ST_NDTYPES ? dtypes[dtype].name : "?";
}

size_t rc_st_dtype_size(int dtype)
{
	return dtype > 0 && dtype < RC_ST_NDTYPES ? dtypes[dtype].size : 0;
}

/* ---------------------------------------------------------------- halves */

static uint32_t f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float f32_from(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

float rc_st_f16_to_f32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000) << 16;
	uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
	if (exp == 0)   /* zero or subnormal: mant x 2^-24, exact in a float */
		return f32_from(sign | f32_bits((float)mant * 0x1p-24f));
	if (exp == 31)  /* inf, or NaN with its payload */
		return f32_from(sign | 0x7f800000 | mant << 13);
	return f32_from(sign | (exp + 112) << 23 | mant << 13);
}

float rc_st_bf16_to_f32(uint16_t b)
{
	return f32_from((uint32_t)b << 16);
}

uint16_t rc_st_f32_to_f16(float f)
{
	uint32_t x = f32_bits(f), ax = x & 0x7fffffff;
	uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
	if (ax > 0x7f800000) {  /* NaN: the top of its payload, never 0 */
		uint32_t p = (ax >> 13) & 0x3ff;
		return (uint16_t)(sign | 0x7c00 | (p ? p : 1));
	}
	if (ax >= 0x477ff000)   /* 65520 and up round to 65536: inf */
		return sign | 0x7c00;
	if (ax < 0x38800000) {  /* below 2^-14: a subnormal half, or zero */
		if (ax <= 0x33000000) /* up to 2^-25, the tie that goes to 0 */
			return sign;
		/* value = m x 2^(e-150) = (m >> s) units of 2^-24 */
		uint32_t e = ax >> 23, m = (ax & 0x7fffff) | 0x800000;
		uint32_t s = 126 - e;           /* 14..24 */
		uint32_t q = m >> s, rem = m & ((1u << s) - 1), half = 1u << (s - 1);
		if (rem > half || (rem == half && (q & 1)))
			q++;                    /* may carry into the exponent: right */
		return (uint16_t)(sign | q);
	}
	uint32_t r = ax - 0x38000000;   /* exponent bias 127 -> 15 */
	r += 0xfff + ((r >> 13) & 1);   /* round the 13 dropped bits to even */
	return (uint16_t)(sign | r >> 13);
}

uint16_t rc_st_f32_to_bf16(float f)
{
	uint32_t x = f32_bits(f);
	if ((x & 0x7fffffff) > 0x7f800000)
		return (uint16_t)(x >> 16 | 0x40);  /* NaN, quieted, sign kept */
	return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

/* ---------------------------------------------------------------- parsing */

/* One tensor entry while the header is checked. */
struct entry {
	uint64_t begin, end;
	size_t i;       /* its index in st->t */
};

static int cmp_offsets(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end;
}

static int cmp_names(const void *a, const void *b)
{
	const struct rc_st_tensor *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A JSON integer >= 0, or -1. */
static int64_t json_uint(const json_t *v)
{
	if (!json_is_integer(v))
		return -1;
	json_int_t x = json_integer_value(v);
	return x < 0 ? -1 : (int64_t)x;
}

static int parse_dtype(const struct rc_st *st, const char *name, const json_t *v)
{
	const char *s = json_string_value(v);
	if (!s)
		return rc_log_error(RC_E_FORMAT, "%s: tensor '%.200s': dtype is missing "
				    "or not a string", st->name, name);
	for (int d = 1; d < RC_ST_NDTYPES; d++)
		if (strcmp(s, dtypes[d].name) == 0)
			return d;
	for (size_t i = 0; i < sizeof unheld / sizeof *unheld; i++)
		if (strcmp(s, unheld[i]) == 0)
			return rc_log_error(RC_E_UNSUPPORTED, "%s: tensor '%.200s': dtype "
					    "%s is not supported", st->name, name, s);
	return rc_log_error(RC_E_FORMAT, "%s: tensor '%.200s': unknown dtype '%.32s'",
			    st->name, name, s);
}

/* Check one tensor entry against the buffer of buflen bytes; fill t (but
 * its data) and e. */
static int parse_entry(const struct rc_st *st, const char *name, const json_t *obj,
		       size_t buflen, struct rc_st_tensor *t, struct entry *e)
{
	if (!json_is_object(obj))
		return rc_log_error(RC_E_FORMAT, "%s: tensor '%.200s': entry is not a "
				    "JSON object", st->name, name);
	int dtype = parse_dtype(st, name, json_object_get(obj, "dtype"));
	if (dtype < 0)
		return dtype;
	t->name = name;
	t->dtype = dtype;

	const json_t *shape = json_object_get(obj, "shape");
	if (!json_is_array(shape))
		return rc_log_error(RC_E_FORMAT, "%s: tensor '%.200s': shape is missing "
				    "or not an array", st->name, name);
	size_t ndim = json_array_size(shape);
	if (ndim > RC_ST_MAX_DIMS)
		return rc_log_error(RC_E_UNSUPPORTED, "%s: tensor '%.200s': %zu "
				    "dimensions, at most %d are supported", st->name,
				    name, ndim, RC_ST_MAX_DIMS);
	t->ndim = (int)ndim;
	uint64_t nelem = 1, nbytes;
	int overflow = 0;
	for (size_t k = 0; k < ndim; k++) {
		int64_t n = json_uint(json_array_get(shape, k));
		if (n < 0)
			return rc_log_error(RC_E_FORMAT, "%s: tensor '%.200s': shape[%zu] "
					    "is not an integer >= 0", st->name, name, k);
		t->shape[k] = n;
		overflow |= __builtin_mul_overflow(nelem, (uint64_t)n, &nelem);
	}
	/* A zero anywhere makes an empty tensor, whatever overflowed before it. */
	for (size_t k = 0; k < ndim; k++)
		if (t->shape[k] == 0)
			nelem = 0, overflow = 0;
	overflow |= __builtin_mul_overflow(nelem, (uint64_t)dtypes[dtype].size, &nbytes);
	if (overflow || nbytes > SIZE_MAX)
		return rc_log_error(RC_E_FORMAT, "%s: tensor '%.200s': its shape holds "
				    "too many elements (the size overflows)", st->name,
				    name);

	const json_t *offs = json_object_get(obj, "data_offsets");
	int64_t b = json_uint(json_array_get(offs, 0));
	int64_t en = json_uint(json_array_get(offs, 1));
	if (!json_is_array(offs) || json_array_size(offs) != 2 || b < 0 || en < 0)
		return rc_log_error(RC_E_FORMAT, "%s: tensor '%.200s': data_offsets is "
				    "not an array of two integers >= 0", st->name, name);
	if (en < b)
		return rc_log_error(RC_E_FORMAT, "%s: tensor '%.200s': data_offsets [%"
				    PRId64 ", %" PRId64 "] end before they begin",
				    st->name, name, b, en);
	if ((uint64_t)(en - b) != nbytes)
		return rc_log_error(RC_E_FORMAT, "%s: tensor '%.200s': %s of %" PRIu64
				    " elements needs %" PRIu64 " bytes, data_offsets [%"
				    PRId64 ", %" PRId64 "] hold %" PRId64, st->name,
				    name, dtypes[dtype].name, nelem, nbytes, b, en, en - b);
	if ((uint64_t)en > buflen)
		return rc_log_error(RC_E_TRUNCATED, "%s: tensor '%.200s': data_offsets [%"
				    PRId64 ", %" PRId64 "] run past the end of the "
				    "%zu-byte data buffer (file truncated?)", st->name,
				    name, b, en, buflen);
	t->nelem = (size_t)nelem;
	t->nbytes = (size_t)nbytes;
	e->begin = (uint64_t)b;
	e->end = (uint64_t)en;
	return 0;
}

/* __metadata__: null, or an object of strings. Counts its string bytes. */
static int check_meta(const struct rc_st *st, const json_t *m, size_t *nmeta,
		      size_t *bytes)
{
	const char *k;
	size_t klen;
	json_t *v;
	if (json_is_null(m))
		return 0;
	if (!json_is_object(m))
		return rc_log_error(RC_E_FORMAT, "%s: __metadata__ is not a JSON "
				    "object", st->name);
	json_object_keylen_foreach((json_t *)m, k, klen, v) {
		if (!json_is_string(v))
			return rc_log_error(RC_E_FORMAT, "%s: __metadata__: the value "
					    "of '%.200s' is not a string", st->name, k);
		if (klen != strlen(k) || json_string_length(v) != strlen(json_string_value(v)))
			return rc_log_error(RC_E_UNSUPPORTED, "%s: __metadata__: '%.200s' "
					    "holds a NUL byte", st->name, k);
		*bytes += klen + json_string_length(v) + 2;
		(*nmeta)++;
	}
	return 0;
}

/* The buffer must be tiled by the tensors: sorted by offset, each begins
 * where the one before ends, and the last ends at the end of the buffer. */
static int check_tiling(const struct rc_st *st, struct entry *e, size_t n,
			size_t buflen)
{
	qsort(e, n, sizeof *e, cmp_offsets);
	uint64_t at = 0;
	for (size_t j = 0; j < n; j++) {
		const char *name = st->t[e[j].i].name;
		if (e[j].begin < at)
			return rc_log_error(RC_E_FORMAT, "%s: tensor '%.200s' (bytes %"
					    PRIu64 "..%" PRIu64 ") overlaps tensor '%.200s' "
					    "(bytes %" PRIu64 "..%" PRIu64 ")", st->name,
					    name, e[j].begin, e[j].end,
					    st->t[e[j - 1].i].name, e[j - 1].begin,
					    e[j - 1].end);
		if (e[j].begin > at)
			return rc_log_error(RC_E_FORMAT, "%s: bytes %" PRIu64 "..%"
					    PRIu64 " of the data buffer belong to no "
					    "tensor (a hole before '%.200s')", st->name, at,
					    e[j].begin, name);
		at = e[j].end;
	}
	if (at != buflen)
		return rc_log_error(RC_E_FORMAT, "%s: the tensors end at byte %"
				    PRIu64 " of the %zu-byte data buffer: data "
				    "after the last tensor", st->name, at, buflen);
	return 0;
}

/* Check the header in data (size bytes) and build st's tables. */
static int parse(struct rc_st *st, const uint8_t *data, size_t size)
{
	json_error_t jerr;
	struct entry *e = NULL;
	int rc;

	if (size < 8)
		return rc_log_error(RC_E_TRUNCATED, "%s: file truncated: %zu bytes, "
				    "less than the 8-byte header length", st->name,
				    size);
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | data[i];
	if (n > RC_ST_MAX_HEADER)
		return rc_log_error(RC_E_RANGE, "%s: header length %" PRIu64 " is "
				    "over the %" PRIu64 "-byte limit (not a "
				    "safetensors file?)", st->name, n, RC_ST_MAX_HEADER);
	if (n > size - 8)
		return rc_log_error(RC_E_TRUNCATED, "%s: header length %" PRIu64
				    " runs past the end of the file (%zu bytes): "
				    "truncated, or not a safetensors file", st->name,
				    n, size);
	const uint8_t *buf = data + 8 + n;
	size_t buflen = size - 8 - (size_t)n;

	json_t *root = json_loadb((const char *)data + 8, (size_t)n,
				  JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return rc_log_error(RC_E_FORMAT, "%s: header is not valid JSON: %s "
				    "(byte %d of the header)", st->name, jerr.text,
				    jerr.position);
	if (!json_is_object(root)) {
		rc = rc_log_error(RC_E_FORMAT, "%s: header is not a JSON object",
				  st->name);
		goto out;
	}

	/* Count, so that everything is allocated once. */
	const char *k;
	size_t klen, bytes = 0;
	json_t *v;
	const json_t *meta = NULL;
	json_object_keylen_foreach(root, k, klen, v) {
		if (klen != strlen(k)) {
			rc = rc_log_error(RC_E_UNSUPPORTED, "%s: tensor '%.200s...': the "
					  "name holds a NUL byte", st->name, k);
			goto out;
		}
		if (strcmp(k, "__metadata__") == 0) {
			meta = v;
			continue;
		}
		st->ntensors++;
		bytes += klen + 1;
	}
	if (meta && (rc = check_meta(st, meta, &st->nmeta, &bytes)) < 0)
		goto out;
	rc = RC_E_NOMEM;
	if (!(st->t = rc_calloc(st->ntensors, sizeof *st->t)) ||
	    !(e = rc_calloc(st->ntensors, sizeof *e)) ||
	    !(st->kv = rc_calloc(2 * st->nmeta, sizeof *st->kv)) ||
	    !(st->strings = rc_malloc(bytes)))
		goto out;

	char *s = st->strings;
	size_t i = 0;
	json_object_keylen_foreach(root, k, klen, v) {
		if (strcmp(k, "__metadata__") == 0)
			continue;
		memcpy(s, k, klen + 1);
		if ((rc = parse_entry(st, s, v, buflen, &st->t[i], &e[i])) < 0)
			goto out;
		e[i].i = i;
		s += klen + 1;
		i++;
	}
	if ((rc = check_tiling(st, e, st->ntensors, buflen)) < 0)
		goto out;
	for (size_t j = 0; j < st->ntensors; j++)
		st->t[e[j].i].data = buf + e[j].begin;
	qsort(st->t, st->ntensors, sizeof *st->t, cmp_names);
	/* JSON_REJECT_DUPLICATES has seen to this; the check is cheap. */
	for (size_t j = 1; j < st->ntensors; j++)
		if (strcmp(st->t[j - 1].name, st->t[j].name) == 0) {
			rc = rc_log_error(RC_E_FORMAT, "%s: tensor '%.200s' appears twice",
					  st->name, st->t[j].name);
			goto out;
		}

	i = 0;
	if (meta && json_is_object(meta))
		json_object_keylen_foreach((json_t *)meta, k, klen, v) {
			size_t vlen = json_string_length(v);
			st->kv[2 * i] = memcpy(s, k, klen + 1);
			s += klen + 1;
			st->kv[2 * i + 1] = memcpy(s, json_string_value(v), vlen + 1);
			s += vlen + 1;
			i++;
		}
	qsort(st->kv, st->nmeta, 2 * sizeof *st->kv, cmp_keys);
	rc = 0;
out:
	free(e);
	json_decref(root);
	return rc;
}

/* ---------------------------------------------------------------- open */

static struct rc_st *st_new(const char *name)
{
	struct rc_st *st = rc_calloc(1, sizeof *st);
	if (st && !(st->name = rc_strdup(name))) {
		free(st);
		return NULL;
	}
	return st;
}

int rc_st_open_mem(struct rc_st **out, const void *data, size_t size,
		   const char *name)
{
	struct rc_st *st;
	*out = NULL;
	if (!(st = st_new(name)))
		return RC_E_NOMEM;
	int rc = parse(st, data, size);
	if (rc < 0) {
		rc_st_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

int rc_st_open(struct rc_st **out, const char *path)
{
	struct rc_st *st;
	struct stat sb;
	int rc;

	*out = NULL;
	if (strcmp(path, "-") == 0)
		return rc_log_error(RC_E_IO, "-: a safetensors file needs random "
				    "access: give a file name, not standard input");
	if (!(st = st_new(path)))
		return RC_E_NOMEM;
	/* O_NONBLOCK: a FIFO opens at once, and fstat refuses it */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &sb) != 0) {
		rc = rc_log_error(RC_E_IO, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = rc_log_error(RC_E_IO, "%s: not a regular file (a safetensors "
				  "file needs random access)", path);
		goto fail;
	}
	size_t size = (size_t)sb.st_size;
	if ((uint64_t)sb.st_size > SIZE_MAX) {
		rc = rc_log_error(RC_E_RANGE, "%s: too large to map", path);
		goto fail;
	}
	if (size < 8) {  /* mmap of an empty file fails: report what is short */
		uint8_t h[8];
		ssize_t got = pread(fd, h, size, 0);
		rc = got < 0 ? rc_log_error(RC_E_IO, "%s: %s", path, strerror(errno))
			     : parse(st, h, (size_t)got);
		goto fail;
	}
	void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED) {
		rc = rc_log_error(RC_E_IO, "%s: mmap: %s", path, strerror(errno));
		goto fail;
	}
	close(fd);
	fd = -1;
	st->map = m;
	st->map_size = size;
	if ((rc = parse(st, m, size)) < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	rc_st_close(st);
	return rc < 0 ? rc : RC_E_FORMAT;
}

void rc_st_close(struct rc_st *st)
{
	if (!st)
		return;
	if (st->map)
		munmap(st->map, st->map_size);
	free(st->t);
	free(st->kv);
	free(st->strings);
	free(st->name);
	free(st);
}

/* ---------------------------------------------------------------- access */

size_t rc_st_count(const struct rc_st *st)
{
	return st->ntensors;
}

const struct rc_st_tensor *rc_st_at(const struct rc_st *st, size_t i)
{
	rc_assert(i < st->ntensors);
	return &st->t[i];
}

const struct rc_st_tensor *rc_st_find(const struct rc_st *st, const char *name)
{
	size_t lo = 0, hi = st->ntensors;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, st->t[mid].name);
		if (c == 0)
			return &st->t[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const char *rc_st_name(const struct rc_st *st)
{
	return st->name;
}

const char *rc_st_meta(const struct rc_st *st, const char *key)
{
	for (size_t i = 0; i < st->nmeta; i++)
		if (strcmp(st->kv[2 * i], key) == 0)
			return st->kv[2 * i + 1];
	return NULL;
}

size_t rc_st_meta_count(const struct rc_st *st)
{
	return st->nmeta;
}

void rc_st_meta_at(const struct rc_st *st, size_t i, const char **key,
		   const char **value)
{
	rc_assert(i < st->nmeta);
	*key = st->kv[2 * i];
	*value = st->kv[2 * i + 1];
}

/* convert - n values of t's dtype at p into dst; 1 for a dtype it cannot
 * convert. */
static int convert(const struct rc_st_tensor *t, const uint8_t *p, float *dst, size_t n)
{
	switch (t->dtype) {
	case RC_ST_F32:
		if (n)
			memcpy(dst, p, 4 * n);
		return 0;
	case RC_ST_F16:
	case RC_ST_BF16:
		for (size_t i = 0; i < n; i++) {
			uint16_t h;
			memcpy(&h, p + 2 * i, 2);   /* the data may be unaligned */
			dst[i] = t->dtype == RC_ST_F16 ? rc_st_f16_to_f32(h)
						       : rc_st_bf16_to_f32(h);
		}
		return 0;
	case RC_ST_F64:
		for (size_t i = 0; i < n; i++) {
			double d;
			memcpy(&d, p + 8 * i, 8);
			dst[i] = (float)d;
		}
		return 0;
	}
	return 1;
}

int rc_st_read_f32(const struct rc_st *st, const struct rc_st_tensor *t,
		   float *dst, size_t n)
{
	if (n != t->nelem)
		return rc_log_error(RC_E_ARG, "%s: tensor '%.200s': has %zu elements, "
				    "the caller expects %zu", st->name, t->name,
				    t->nelem, n);
	/* the data may be a mapping of a file that shrank since: a SIGBUS
	 * while copying is reported, not fatal */
	struct rc_map_guard g;
	if (RC_MAP_TRY(&g))
		return rc_log_error(RC_E_TRUNCATED, "%s: truncated while reading (tensor "
				    "'%.200s')", st->name, t->name);
	int r = convert(t, t->data, dst, n);
	rc_map_end(&g);
	if (r == 0)
		return 0;
	return rc_log_error(RC_E_UNSUPPORTED, "%s: tensor '%.200s': dtype %s cannot "
			    "be read as float32", st->name, t->name,
			    rc_st_dtype_name(t->dtype));
}
