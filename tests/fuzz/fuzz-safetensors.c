/* fuzz-safetensors.c - libFuzzer target for the safetensors reader
 * (safetensors.h): any bytes opened in memory; when they open, every
 * tensor is checked against the format's promises (inside the buffer, its
 * size from its shape, the tensors tiling the buffer, names sorted and
 * found) and every float tensor read as float32. Each input also runs a
 * second time with the header length set to the rest of the input, so
 * that mutated JSON reaches the header parser without a matching length.
 * Build: `make fuzz`; run: tests/fuzz/fuzz-safetensors -close_fd_mask=2 DIR
 * (the reader logs every error it finds on stderr; the mask drops that).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "data/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct rc_st *st, const uint8_t *buf, size_t size)
{
	uint64_t n = 0, total = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | buf[i];
	const uint8_t *lo = buf + 8 + n, *hi = buf + size;
	for (size_t i = 0; i < rc_st_count(st); i++) {
		const struct rc_st_tensor *t = rc_st_at(st, i);
		const uint8_t *p = t->data;
		size_t esize = rc_st_dtype_size(t->dtype);
		uint64_t nelem = 1;
		if (esize == 0 || t->ndim < 0 || t->ndim > RC_ST_MAX_DIMS)
			abort();
		for (int k = 0; k < t->ndim; k++) {
			if (t->shape[k] < 0)
				abort();
			nelem *= (uint64_t)t->shape[k];  /* cannot wrap: checked */
		}
		if (nelem != t->nelem || t->nbytes != t->nelem * esize ||
		    p < lo || p > hi || t->nbytes > (size_t)(hi - p))
			abort();
		if (i > 0 && strcmp(rc_st_at(st, i - 1)->name, t->name) >= 0)
			abort();
		if (rc_st_find(st, t->name) != t)
			abort();
		total += t->nbytes;
		if (t->dtype == RC_ST_F32 || t->dtype == RC_ST_F16 ||
		    t->dtype == RC_ST_BF16 || t->dtype == RC_ST_F64) {
			float *f = malloc(t->nelem ? t->nelem * sizeof *f : 1);
			if (!f || rc_st_read_f32(st, t, f, t->nelem) != 0)
				abort();
			volatile float sink = 0;
			for (size_t k = 0; k < t->nelem; k++)
				sink += f[k];
			(void)sink;
			free(f);
		} else if (rc_st_read_f32(st, t, NULL, t->nelem) != RC_E_UNSUPPORTED) {
			abort();
		}
	}
	/* No overlap and no hole: the sizes add up to the buffer. */
	if (total != (uint64_t)(hi - lo))
		abort();
	for (size_t i = 0; i < rc_st_meta_count(st); i++) {
		const char *k, *v;
		rc_st_meta_at(st, i, &k, &v);
		if (rc_st_meta(st, k) != v)
			abort();
	}
}

static void exercise(const uint8_t *buf, size_t size)
{
	struct rc_st *st;
	if (rc_st_open_mem(&st, buf, size, "fuzz.safetensors") == 0) {
		check(st, buf, size);
		rc_st_close(st);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int init;
	if (!init) {
		rc_log_init("fuzz-safetensors");
		init = 1;
	}
	/* An exact-size copy: ASan flags any read past the end. */
	uint8_t *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	exercise(buf, size);
	if (size >= 8) {
		uint64_t n = size - 8;
		for (int i = 0; i < 8; i++)
			buf[i] = (uint8_t)(n >> 8 * i);
		exercise(buf, size);
	}
	free(buf);
	return 0;
}
