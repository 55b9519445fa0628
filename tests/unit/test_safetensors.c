/* test_safetensors.c - Check suite for safetensors.h: files written by
 * Python's safetensors (numpy and PyTorch, tests/fixtures/safetensors/ from
 * gen_safetensors.py) read value for value; the writer reproduces Python's
 * bytes; round trips of every dtype with metadata; F16/BF16 conversions
 * against numpy and PyTorch (exhaustive for halves to float); every kind
 * of bad header refused with its message; every truncation refused.
 */
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "data/safetensors.h"

#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "../fixtures/safetensors/halves.inc"

static char tmpdir[4096];

static void setup(void)
{
	rc_test_tmpdir(tmpdir, sizeof tmpdir, "safetensors");
}

static void teardown(void)
{
	rc_test_rmdir(tmpdir);
}

static const char *tmp(const char *name)
{
	return rc_test_join(tmpdir, name);
}

static const char *fixture(const char *name)
{
	return rc_test_fixture("safetensors", name);
}

static char *slurp(const char *path, size_t *len)
{
	return rc_test_slurp(path, len);
}

static uint32_t bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return u;
}

static float from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, 4);
	return f;
}

/* ---------------------------------------------------------------- halves */

/* The checksum of gen_safetensors.py: sum((2i + 1) * v_i) mod 2^64. */
struct wsum {
	uint64_t s, i;
};

static void wsum_add(struct wsum *w, uint64_t v)
{
	w->s += (2 * w->i++ + 1) * v;
}

START_TEST(test_halves_samples)
{
	for (size_t i = 0; i < sizeof halves_samples / sizeof *halves_samples; i++) {
		float f = from_bits(halves_samples[i][0]);
		ck_assert_msg(rc_st_f32_to_f16(f) == halves_samples[i][1],
			      "f16(%a) = %04x, numpy %04x", (double)f,
			      rc_st_f32_to_f16(f), halves_samples[i][1]);
		ck_assert_msg(rc_st_f32_to_bf16(f) == halves_samples[i][2],
			      "bf16(%a) = %04x, torch %04x", (double)f,
			      rc_st_f32_to_bf16(f), halves_samples[i][2]);
	}
	/* Known values (IEEE 754 binary16 / bfloat16 tables). */
	ck_assert_uint_eq(bits(rc_st_f16_to_f32(0x3c00)), bits(1.0f));
	ck_assert_uint_eq(bits(rc_st_f16_to_f32(0xc100)), bits(-2.5f));
	ck_assert_uint_eq(bits(rc_st_f16_to_f32(0x0001)), bits(0x1p-24f));
	ck_assert_uint_eq(bits(rc_st_f16_to_f32(0x03ff)), bits(1023 * 0x1p-24f));
	ck_assert_uint_eq(bits(rc_st_f16_to_f32(0x0400)), bits(0x1p-14f));
	ck_assert_uint_eq(bits(rc_st_f16_to_f32(0x7bff)), bits(65504.0f));
	ck_assert_uint_eq(bits(rc_st_f16_to_f32(0x8000)), 0x80000000u);
	ck_assert_uint_eq(bits(rc_st_f16_to_f32(0x7c00)), 0x7f800000u);
	ck_assert_uint_eq(bits(rc_st_f16_to_f32(0xfc00)), 0xff800000u);
	ck_assert(isnan(rc_st_f16_to_f32(0x7e00)) && isnan(rc_st_f16_to_f32(0xfc01)));
	ck_assert_uint_eq(bits(rc_st_bf16_to_f32(0x3f80)), bits(1.0f));
	ck_assert_uint_eq(bits(rc_st_bf16_to_f32(0xc049)), 0xc0490000u);
	ck_assert(isnan(rc_st_bf16_to_f32(0x7fc0)));
	/* NaN stays NaN both ways, with its sign. */
	ck_assert_uint_eq(rc_st_f32_to_f16(NAN) & 0x7c00, 0x7c00);
	ck_assert_uint_ne(rc_st_f32_to_f16(NAN) & 0x03ff, 0);
	ck_assert_uint_ne(rc_st_f32_to_f16(from_bits(0xff800001)) & 0x03ff, 0);
	ck_assert_uint_eq(rc_st_f32_to_f16(from_bits(0xff800001)) & 0x8000, 0x8000);
	ck_assert(isnan(rc_st_bf16_to_f32(rc_st_f32_to_bf16(from_bits(0x7f800001)))));
	ck_assert(isnan(rc_st_bf16_to_f32(rc_st_f32_to_bf16(from_bits(0xffffffff)))));
}
END_TEST

/* Every half to float, against numpy (NaNs out, as in the generator), and
 * back: every finite half survives f16 -> f32 -> f16. */
START_TEST(test_halves_exhaustive_to_f32)
{
	struct wsum h = {0, 0}, b = {0, 0};
	for (uint32_t x = 0; x < 65536; x++) {
		float f = rc_st_f16_to_f32((uint16_t)x);
		if (!isnan(f)) {
			wsum_add(&h, bits(f));
			ck_assert_uint_eq(rc_st_f32_to_f16(f), x);
		}
		float g = rc_st_bf16_to_f32((uint16_t)x);
		if (!isnan(g)) {
			wsum_add(&b, bits(g));
			ck_assert_uint_eq(rc_st_f32_to_bf16(g), x);
		}
	}
	ck_assert_uint_eq(h.s, HALVES_F16_TO_F32);
	ck_assert_uint_eq(b.s, HALVES_BF16_TO_F32);
}
END_TEST

/* Float to half and to bfloat16 over the generator's input list. */
START_TEST(test_halves_from_f32)
{
	struct wsum h = {0, 0}, b = {0, 0};
	uint64_t n = 0;
	for (uint64_t i = 0; i < (1u << 20); i++) {
		uint32_t x = (uint32_t)(i * 0x9E3779B1u);
		if (isnan(from_bits(x)))
			continue;
		wsum_add(&h, rc_st_f32_to_f16(from_bits(x)));
		wsum_add(&b, rc_st_f32_to_bf16(from_bits(x)));
		n++;
	}
	for (uint32_t x = 0; x < 65536; x++) {
		float f = rc_st_f16_to_f32((uint16_t)x);
		if (!isfinite(f))
			continue;
		for (uint32_t d = 0xfff; d <= 0x1001; d++) {
			uint32_t y = bits(f) + d;
			if (isnan(from_bits(y)))
				continue;
			wsum_add(&h, rc_st_f32_to_f16(from_bits(y)));
			wsum_add(&b, rc_st_f32_to_bf16(from_bits(y)));
			n++;
		}
	}
	for (int k = 0; k < 1024; k++) {
		float f = (float)((2 * k + 1) * 0x1p-25);
		wsum_add(&h, rc_st_f32_to_f16(f));
		wsum_add(&b, rc_st_f32_to_bf16(f));
		n++;
	}
	ck_assert_uint_eq(n, HALVES_NINPUTS);
	ck_assert_uint_eq(h.s, HALVES_F32_TO_F16);
	ck_assert_uint_eq(b.s, HALVES_F32_TO_BF16);
}
END_TEST

/* ---------------------------------------------------------------- fixtures */

/* The tensors of gen_safetensors.py's mixed(), built here from the same
 * formulas, into a writer. */
struct mixed {
	float a[6];
	uint16_t b[7];
	double c[2];
	int64_t d[3];
	int32_t e[4];
	int16_t f[3];
	int8_t g[3];
	uint8_t h[5], i[2];
	uint16_t j[1];
	uint32_t k[1];
	uint64_t l[1];
	float scalar;
};

static void mixed_fill(struct mixed *m)
{
	static const float halves[7] = {1.0f, -2.5f, 0x1p-14f, 0x1p-24f, 65504.0f,
					-INFINITY, NAN};
	for (int i = 0; i < 6; i++)
		m->a[i] = i * 0.25f - 0.5f;
	for (int i = 0; i < 7; i++)
		m->b[i] = rc_st_f32_to_f16(halves[i]);
	m->c[0] = 1.0 / 3.0;
	m->c[1] = -1e300;
	m->d[0] = -1, m->d[1] = 0, m->d[2] = INT64_C(1) << 40;
	for (int i = 0; i < 4; i++)
		m->e[i] = i - 2;
	m->f[0] = -300, m->f[1] = 0, m->f[2] = 300;
	m->g[0] = -128, m->g[1] = 0, m->g[2] = 127;
	static const uint8_t h[5] = {0, 1, 2, 254, 255};
	memcpy(m->h, h, 5);
	m->i[0] = 1, m->i[1] = 0;
	m->j[0] = 65535;
	m->k[0] = UINT32_MAX;
	m->l[0] = UINT64_MAX;
	m->scalar = 3.5f;
}

static void mixed_add(struct rc_st_writer *w, const struct mixed *m)
{
	static const int64_t s23[] = {2, 3}, s7[] = {7}, s2[] = {2}, s3[] = {3},
		s22[] = {2, 2}, s131[] = {1, 3, 1}, s5[] = {5}, s1[] = {1},
		s04[] = {0, 4};
	ck_assert_int_eq(rc_st_writer_add(w, "a.weight", RC_ST_F32, 2, s23, m->a), 0);
	ck_assert_int_eq(rc_st_writer_add(w, "b.half", RC_ST_F16, 1, s7, m->b), 0);
	ck_assert_int_eq(rc_st_writer_add(w, "c.f64", RC_ST_F64, 1, s2, m->c), 0);
	ck_assert_int_eq(rc_st_writer_add(w, "d.i64", RC_ST_I64, 1, s3, m->d), 0);
	ck_assert_int_eq(rc_st_writer_add(w, "e.i32", RC_ST_I32, 2, s22, m->e), 0);
	ck_assert_int_eq(rc_st_writer_add(w, "f.i16", RC_ST_I16, 1, s3, m->f), 0);
	ck_assert_int_eq(rc_st_writer_add(w, "g.i8", RC_ST_I8, 3, s131, m->g), 0);
	ck_assert_int_eq(rc_st_writer_add(w, "h.u8", RC_ST_U8, 1, s5, m->h), 0);
	ck_assert_int_eq(rc_st_writer_add(w, "i.bool", RC_ST_BOOL, 1, s2, m->i), 0);
	ck_assert_int_eq(rc_st_writer_add(w, "j.u16", RC_ST_U16, 1, s1, m->j), 0);
	ck_assert_int_eq(rc_st_writer_add(w, "k.u32", RC_ST_U32, 1, s1, m->k), 0);
	ck_assert_int_eq(rc_st_writer_add(w, "l.u64", RC_ST_U64, 1, s1, m->l), 0);
	ck_assert_int_eq(rc_st_writer_add(w, "scalar", RC_ST_F32, 0, NULL, &m->scalar), 0);
	ck_assert_int_eq(rc_st_writer_add(w, "empty", RC_ST_F32, 2, s04, NULL), 0);
}

static void check_shape(const struct rc_st_tensor *t, int dtype, int ndim,
			const int64_t *shape)
{
	ck_assert_ptr_nonnull(t);
	ck_assert_msg(t->dtype == dtype, "%s: dtype %s", t->name,
		      rc_st_dtype_name(t->dtype));
	ck_assert_int_eq(t->ndim, ndim);
	size_t n = 1;
	for (int k = 0; k < ndim; k++) {
		ck_assert_int_eq(t->shape[k], shape[k]);
		n *= (size_t)shape[k];
	}
	ck_assert_uint_eq(t->nelem, n);
	ck_assert_uint_eq(t->nbytes, n * rc_st_dtype_size(dtype));
}

/* Everything mixed() holds, read back from st. */
static void check_mixed(const struct rc_st *st)
{
	static const char *names[] = {"a.weight", "b.half", "c.f64", "d.i64",
		"e.i32", "empty", "f.i16", "g.i8", "h.u8", "i.bool", "j.u16",
		"k.u32", "l.u64", "scalar"};
	struct mixed m;
	mixed_fill(&m);
	ck_assert_uint_eq(rc_st_count(st), 14);
	for (size_t i = 0; i < 14; i++)
		ck_assert_str_eq(rc_st_at(st, i)->name, names[i]);

	float f[7];
	const struct rc_st_tensor *t = rc_st_find(st, "a.weight");
	check_shape(t, RC_ST_F32, 2, (int64_t[]){2, 3});
	ck_assert_int_eq(rc_st_read_f32(st, t, f, 6), 0);
	for (int i = 0; i < 6; i++)
		ck_assert(f[i] == i * 0.25f - 0.5f);

	t = rc_st_find(st, "b.half");
	check_shape(t, RC_ST_F16, 1, (int64_t[]){7});
	ck_assert_int_eq(rc_st_read_f32(st, t, f, 7), 0);
	ck_assert(f[0] == 1.0f && f[1] == -2.5f && f[2] == 0x1p-14f &&
		  f[3] == 0x1p-24f && f[4] == 65504.0f && f[5] == -INFINITY &&
		  isnan(f[6]));

	t = rc_st_find(st, "c.f64");
	check_shape(t, RC_ST_F64, 1, (int64_t[]){2});
	ck_assert_int_eq(rc_st_read_f32(st, t, f, 2), 0);
	ck_assert(f[0] == (float)(1.0 / 3.0) && f[1] == -INFINITY);

	t = rc_st_find(st, "scalar");
	check_shape(t, RC_ST_F32, 0, NULL);
	ck_assert_int_eq(rc_st_read_f32(st, t, f, 1), 0);
	ck_assert(f[0] == 3.5f);

	t = rc_st_find(st, "empty");
	check_shape(t, RC_ST_F32, 2, (int64_t[]){0, 4});
	ck_assert_int_eq(rc_st_read_f32(st, t, f, 0), 0);

	/* The integer tensors, byte for byte. */
	struct {
		const char *name;
		int dtype, ndim;
		int64_t shape[3];
		const void *want;
	} ints[] = {
		{"d.i64", RC_ST_I64, 1, {3}, m.d}, {"e.i32", RC_ST_I32, 2, {2, 2}, m.e},
		{"f.i16", RC_ST_I16, 1, {3}, m.f}, {"g.i8", RC_ST_I8, 3, {1, 3, 1}, m.g},
		{"h.u8", RC_ST_U8, 1, {5}, m.h}, {"i.bool", RC_ST_BOOL, 1, {2}, m.i},
		{"j.u16", RC_ST_U16, 1, {1}, m.j}, {"k.u32", RC_ST_U32, 1, {1}, m.k},
		{"l.u64", RC_ST_U64, 1, {1}, m.l},
	};
	for (size_t i = 0; i < sizeof ints / sizeof *ints; i++) {
		t = rc_st_find(st, ints[i].name);
		check_shape(t, ints[i].dtype, ints[i].ndim, ints[i].shape);
		ck_assert_msg(memcmp(t->data, ints[i].want, t->nbytes) == 0, "%s",
			      ints[i].name);
	}
	ck_assert_ptr_null(rc_st_find(st, "missing"));
	ck_assert_ptr_null(rc_st_find(st, ""));
	ck_assert_ptr_null(rc_st_find(st, "zzz"));
}

START_TEST(test_numpy_fixture)
{
	struct rc_st *st;
	ck_assert_int_eq(rc_st_open(&st, fixture("numpy_mixed.safetensors")), 0);
	check_mixed(st);
	ck_assert_str_eq(rc_st_meta(st, "format"), "np");
	ck_assert_ptr_null(rc_st_meta(st, "nope"));
	ck_assert_uint_eq(rc_st_meta_count(st), 1);
	ck_assert_str_eq(rc_st_name(st), fixture("numpy_mixed.safetensors"));

	/* Tensors in Python's layout are aligned to their element size. */
	size_t len;
	char *file = slurp(fixture("numpy_mixed.safetensors"), &len);
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | (uint8_t)file[i];
	ck_assert_uint_eq(n % 8, 0);
	free(file);
	struct rc_st *m;
	file = slurp(fixture("numpy_mixed.safetensors"), &len);
	ck_assert_int_eq(rc_st_open_mem(&m, file, len, "mem"), 0);
	for (size_t i = 0; i < rc_st_count(m); i++) {
		const struct rc_st_tensor *t = rc_st_at(m, i);
		ck_assert_uint_eq((size_t)((const char *)t->data - file) %
				  rc_st_dtype_size(t->dtype), 0);
	}
	rc_st_close(m);
	free(file);

	/* Refusals of rc_st_read_f32 name the tensor. */
	float f[8];
	capture_begin();
	int rc = rc_st_read_f32(st, rc_st_find(st, "d.i64"), f, 3);
	const char *msg = capture_end();
	ck_assert_int_eq(rc, RC_E_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(msg, "tensor 'd.i64': dtype I64"));
	capture_begin();
	rc = rc_st_read_f32(st, rc_st_find(st, "a.weight"), f, 5);
	msg = capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	ck_assert_ptr_nonnull(strstr(msg, "numpy_mixed.safetensors: tensor "
				     "'a.weight': has 6 elements, the caller expects 5"));
	rc_st_close(st);
}
END_TEST

START_TEST(test_torch_fixture)
{
	struct rc_st *st;
	float f[4];
	ck_assert_int_eq(rc_st_open(&st, fixture("torch_bf16.safetensors")), 0);
	ck_assert_uint_eq(rc_st_count(st), 3);
	ck_assert_str_eq(rc_st_meta(st, "format"), "pt");
	const struct rc_st_tensor *t = rc_st_find(st, "x.bf16");
	check_shape(t, RC_ST_BF16, 2, (int64_t[]){2, 2});
	ck_assert_int_eq(rc_st_read_f32(st, t, f, 4), 0);
	ck_assert(f[0] == 1.0f && f[1] == -0.0078125f && f[2] == 3.140625f &&
		  f[3] == 0.0f && signbit(f[3]));
	t = rc_st_find(st, "y.f16");
	check_shape(t, RC_ST_F16, 1, (int64_t[]){3});
	ck_assert_int_eq(rc_st_read_f32(st, t, f, 3), 0);
	ck_assert(f[0] == 0.5f && f[1] == -65504.0f && f[2] == 0x1p-24f);
	t = rc_st_find(st, "z.f32");
	check_shape(t, RC_ST_F32, 1, (int64_t[]){2});
	ck_assert_int_eq(rc_st_read_f32(st, t, f, 2), 0);
	ck_assert(f[0] == 1e-3f && f[1] == 7.0f);
	rc_st_close(st);
}
END_TEST

/* The writer gives Python's bytes for the same tensors and metadata. */
START_TEST(test_writer_matches_python)
{
	struct mixed m;
	struct rc_st_writer *w;
	mixed_fill(&m);
	ck_assert_int_eq(rc_st_writer_new(&w), 0);
	mixed_add(w, &m);
	ck_assert_int_eq(rc_st_writer_meta(w, "format", "np"), 0);
	ck_assert_int_eq(rc_st_writer_write(w, tmp("ours.safetensors")), 0);
	rc_st_writer_free(w);

	size_t la, lb;
	char *a = slurp(tmp("ours.safetensors"), &la);
	char *b = slurp(fixture("numpy_mixed.safetensors"), &lb);
	ck_assert_uint_eq(la, lb);
	ck_assert_msg(memcmp(a, b, la) == 0, "bytes differ from Python's "
		      "(header: %.*s)", (int)(la < 900 ? la : 900) - 8, a + 8);
	free(a);
	free(b);
	struct rc_st *st;
	ck_assert_int_eq(rc_st_open(&st, tmp("ours.safetensors")), 0);
	check_mixed(st);
	rc_st_close(st);
}
END_TEST

START_TEST(test_truncated_while_mapped)
{
	/* a file cut short after it was opened (mapped): reading a tensor
	 * past the new end is an error naming it, not a SIGBUS */
	enum { N = 1 << 16 };
	float *x = calloc(N, sizeof *x);
	int64_t shape[1] = { N };
	struct rc_st_writer *w;
	ck_assert_int_eq(rc_st_writer_new(&w), 0);
	ck_assert_int_eq(rc_st_writer_add(w, "big", RC_ST_F32, 1, shape, x), 0);
	ck_assert_int_eq(rc_st_writer_write(w, tmp("cut.safetensors")), 0);
	rc_st_writer_free(w);
	struct rc_st *st;
	ck_assert_int_eq(rc_st_open(&st, tmp("cut.safetensors")), 0);
	ck_assert_int_eq(truncate(tmp("cut.safetensors"), 100), 0);
	capture_begin();
	int rc = rc_st_read_f32(st, rc_st_find(st, "big"), x, N);
	const char *err = capture_end();
	ck_assert_int_eq(rc, RC_E_TRUNCATED);
	ck_assert_ptr_nonnull(strstr(err, "cut.safetensors: truncated while reading (tensor 'big')"));
	rc_st_close(st);
	free(x);
}
END_TEST

/* ---------------------------------------------------------------- round trips */

START_TEST(test_roundtrip_every_dtype)
{
	struct rc_st_writer *w;
	uint8_t data[RC_ST_NDTYPES][3 * 8];
	char name[RC_ST_NDTYPES][16];
	ck_assert_int_eq(rc_st_writer_new(&w), 0);
	/* Names in reverse order of dtype: the layout must not follow them. */
	for (int d = 1; d < RC_ST_NDTYPES; d++) {
		int64_t shape[1] = {3};
		for (size_t i = 0; i < sizeof data[d]; i++)
			data[d][i] = (uint8_t)(d * 31 + i * 7);
		snprintf(name[d], sizeof name[d], "t%02d.%s", RC_ST_NDTYPES - d,
			 rc_st_dtype_name(d));
		ck_assert_int_eq(rc_st_writer_add(w, name[d], d, 1, shape, data[d]), 0);
	}
	ck_assert_int_eq(rc_st_writer_meta(w, "b", "2"), 0);
	ck_assert_int_eq(rc_st_writer_meta(w, "a", "x"), 0);
	ck_assert_int_eq(rc_st_writer_meta(w, "a", "1"), 0);     /* replaced */
	ck_assert_int_eq(rc_st_writer_meta(w, "ü \"q\"\n", "{\"json\": [1]}"), 0);
	ck_assert_int_eq(rc_st_writer_write(w, tmp("all.safetensors")), 0);
	/* Written twice: the writer is unchanged by a write. */
	ck_assert_int_eq(rc_st_writer_write(w, tmp("again.safetensors")), 0);
	rc_st_writer_free(w);

	size_t la, lb;
	char *a = slurp(tmp("all.safetensors"), &la), *b = slurp(tmp("again.safetensors"), &lb);
	ck_assert(la == lb && memcmp(a, b, la) == 0);
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | (uint8_t)a[i];
	ck_assert_uint_eq(n % 8, 0);
	ck_assert_int_eq(a[8 + n - 1] == ' ' || a[8 + n - 1] == '}', 1);
	free(b);

	struct rc_st *st;
	ck_assert_int_eq(rc_st_open(&st, tmp("all.safetensors")), 0);
	ck_assert_uint_eq(rc_st_count(st), RC_ST_NDTYPES - 1);
	for (int d = 1; d < RC_ST_NDTYPES; d++) {
		const struct rc_st_tensor *t = rc_st_find(st, name[d]);
		check_shape(t, d, 1, (int64_t[]){3});
		ck_assert(memcmp(t->data, data[d], t->nbytes) == 0);
	}
	ck_assert_uint_eq(rc_st_meta_count(st), 3);
	const char *k, *v;
	rc_st_meta_at(st, 0, &k, &v);
	ck_assert(strcmp(k, "a") == 0 && strcmp(v, "1") == 0);
	rc_st_meta_at(st, 1, &k, &v);
	ck_assert(strcmp(k, "b") == 0 && strcmp(v, "2") == 0);
	ck_assert_str_eq(rc_st_meta(st, "ü \"q\"\n"), "{\"json\": [1]}");
	rc_st_close(st);

	/* The same through memory, at an odd address: reading still works. */
	char *odd = malloc(la + 1);
	memcpy(odd + 1, a, la);
	ck_assert_int_eq(rc_st_open_mem(&st, odd + 1, la, "odd"), 0);
	for (int d = 1; d < RC_ST_NDTYPES; d++) {
		const struct rc_st_tensor *t = rc_st_find(st, name[d]);
		size_t off = (size_t)((const char *)t->data - (odd + 1));
		ck_assert_uint_eq(off % rc_st_dtype_size(d), 0);
		float f[3];
		int want = d == RC_ST_F32 || d == RC_ST_F16 || d == RC_ST_BF16 ||
			   d == RC_ST_F64 ? 0 : RC_E_UNSUPPORTED;
		capture_begin();
		int rc = rc_st_read_f32(st, t, f, 3);
		capture_end();
		ck_assert_int_eq(rc, want);
		if (d == RC_ST_F32) {
			float g[3];
			memcpy(g, data[d], 12);
			ck_assert(memcmp(f, g, 12) == 0);
		}
	}
	rc_st_close(st);
	free(odd);
	free(a);
}
END_TEST

START_TEST(test_empty_file)
{
	struct rc_st_writer *w;
	ck_assert_int_eq(rc_st_writer_new(&w), 0);
	ck_assert_int_eq(rc_st_writer_write(w, tmp("none.safetensors")), 0);
	rc_st_writer_free(w);
	size_t len;
	char *a = slurp(tmp("none.safetensors"), &len);
	/* The reference's serialization of nothing (its test_empty). */
	ck_assert_uint_eq(len, 16);
	ck_assert(memcmp(a, "\x08\0\0\0\0\0\0\0{}      ", 16) == 0);
	free(a);
	struct rc_st *st;
	ck_assert_int_eq(rc_st_open(&st, tmp("none.safetensors")), 0);
	ck_assert_uint_eq(rc_st_count(st), 0);
	ck_assert_uint_eq(rc_st_meta_count(st), 0);
	ck_assert_ptr_null(rc_st_find(st, "x"));
	rc_st_close(st);
}
END_TEST

START_TEST(test_writer_refuses)
{
	struct rc_st_writer *w;
	float x[4] = {0};
	int64_t s1[] = {4}, neg[] = {-1}, big[] = {INT64_MAX, INT64_MAX};
	int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 4};
	ck_assert_int_eq(rc_st_writer_new(&w), 0);
	ck_assert_int_eq(rc_st_writer_add(w, "x", RC_ST_F32, 1, s1, x), 0);
	struct {
		const char *name;
		int dtype, ndim;
		const int64_t *shape;
		const void *data;
		const char *msg;
	} bad[] = {
		{"x", RC_ST_F32, 1, s1, x, "tensor 'x' added twice"},
		{"__metadata__", RC_ST_F32, 1, s1, x, "'__metadata__' cannot name"},
		{"bad\xff", RC_ST_F32, 1, s1, x, "cannot name a tensor"},
		{"d", 0, 1, s1, x, "bad dtype 0"},
		{"d", RC_ST_NDTYPES, 1, s1, x, "bad dtype"},
		{"n", RC_ST_F32, 1, neg, x, "shape[0] = -1 is negative"},
		{"o", RC_ST_F32, 2, big, x, "overflows"},
		{"9", RC_ST_F32, 9, nine, x, "9 dimensions"},
		{"v", RC_ST_F32, -1, s1, x, "-1 dimensions"},
		{"z", RC_ST_F32, 1, s1, NULL, "no data"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		capture_begin();
		int rc = rc_st_writer_add(w, bad[i].name, bad[i].dtype, bad[i].ndim,
					  bad[i].shape, bad[i].data);
		const char *msg = capture_end();
		ck_assert_msg(rc == RC_E_ARG, "case %zu: rc %d", i, rc);
		ck_assert_msg(strstr(msg, bad[i].msg), "case %zu: %s", i, msg);
	}
	capture_begin();
	int rc = rc_st_writer_meta(w, "k", "bad\xc3");
	capture_end();
	ck_assert_int_eq(rc, RC_E_ARG);
	/* A directory that does not exist: nothing is left behind. */
	capture_begin();
	rc = rc_st_writer_write(w, tmp("no/such/dir.safetensors"));
	const char *msg = capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
	ck_assert_ptr_nonnull(strstr(msg, "no/such/dir.safetensors"));
	rc_st_writer_free(w);
	rc_st_writer_free(NULL);
	rc_st_close(NULL);
}
END_TEST

/* ---------------------------------------------------------------- refusals */

/* A file of the header text (length from strlen when hlen is -1, else
 * (uint64_t)hlen) and
 * ndata zero bytes of data, opened in memory as "bad.st". */
static int open_bad(const char *header, int64_t hlen, size_t ndata,
		    const char **msg)
{
	size_t h = strlen(header);
	uint64_t n = hlen == -1 ? h : (uint64_t)hlen;
	size_t size = 8 + h + ndata;
	uint8_t *buf = calloc(1, size);
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t)(n >> 8 * i);
	memcpy(buf + 8, header, h);
	struct rc_st *st = NULL;
	capture_begin();
	int rc = rc_st_open_mem(&st, buf, size, "bad.st");
	*msg = capture_end();
	if (rc == 0)
		rc_st_close(st);
	else
		ck_assert_ptr_null(st);
	free(buf);
	return rc;
}

#define T4 "\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]"

START_TEST(test_bad_headers)
{
	struct {
		const char *header;
		int64_t hlen;
		size_t ndata;
		int rc;
		const char *msg;
	} cases[] = {
		{"{\"t\":{" T4 "}}", 1000, 4, RC_E_TRUNCATED,
		 "header length 1000 runs past the end of the file"},
		{"{}", 100000001, 0, RC_E_RANGE, "header length 100000001 is over the"},
		{"{}", -2 /* 2^64 - 2 */, 0, RC_E_RANGE, "is over the"},
		{"{\"t\":{" T4 "}", -1, 4, RC_E_FORMAT, "header is not valid JSON"},
		{"", -1, 0, RC_E_FORMAT, "header is not valid JSON"},
		{"{\"t\":{" T4 "}}\0", 0 /* set below */, 4, RC_E_FORMAT, "not valid JSON"},
		{"[]", -1, 0, RC_E_FORMAT, "header is not a JSON object"},
		{"{\"t\":3}", -1, 0, RC_E_FORMAT, "tensor 't': entry is not a JSON object"},
		{"{\"t\":[]}", -1, 0, RC_E_FORMAT, "tensor 't': entry is not a JSON object"},
		{"{\"t\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4,
		 RC_E_FORMAT, "tensor 't': unknown dtype 'F33'"},
		{"{\"t\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4,
		 RC_E_FORMAT, "unknown dtype 'f32'"},
		{"{\"t\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", -1, 1,
		 RC_E_UNSUPPORTED, "tensor 't': dtype F4 is not supported"},
		{"{\"t\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4,
		 RC_E_FORMAT, "dtype is missing or not a string"},
		{"{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4,
		 RC_E_FORMAT, "dtype is missing"},
		{"{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", -1, 4,
		 RC_E_FORMAT, "shape is missing or not an array"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", -1, 4,
		 RC_E_FORMAT, "tensor 't': shape[0] is not an integer >= 0"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", -1, 4,
		 RC_E_FORMAT, "shape[0] is not an integer"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[1,\"2\"],\"data_offsets\":[0,4]}}", -1, 4,
		 RC_E_FORMAT, "shape[1] is not an integer"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
		 "\"data_offsets\":[0,4]}}", -1, 4, RC_E_UNSUPPORTED,
		 "tensor 't': 9 dimensions, at most 8 are supported"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],"
		 "\"data_offsets\":[0,0]}}", -1, 0, RC_E_FORMAT, "the size overflows"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],"
		 "\"data_offsets\":[0,0]}}", -1, 0, RC_E_FORMAT, "the size overflows"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[9223372036854775807,"
		 "9223372036854775807,9223372036854775807],\"data_offsets\":[0,0]}}", -1, 0,
		 RC_E_FORMAT, "the size overflows"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", -1, 4,
		 RC_E_FORMAT, "tensor 't': F32 of 2 elements needs 8 bytes, "
		 "data_offsets [0, 4] hold 4"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 3,
		 RC_E_TRUNCATED, "tensor 't': data_offsets [0, 4] run past the end of "
		 "the 3-byte data buffer"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":"
		 "[9223372036854775800,9223372036854775804]}}", -1, 4, RC_E_TRUNCATED,
		 "run past the end"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":"
		 "[18446744073709551612,0]}}", -1, 4, RC_E_FORMAT, "not valid JSON"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", -1, 4,
		 RC_E_FORMAT, "data_offsets [4, 0] end before they begin"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,4]}}", -1, 4,
		 RC_E_FORMAT, "data_offsets is not an array of two integers"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", -1, 4,
		 RC_E_FORMAT, "data_offsets is not an array"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"0\":4}}}", -1, 4,
		 RC_E_FORMAT, "data_offsets is not an array"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", -1, 4,
		 RC_E_FORMAT, "data_offsets is not an array"},
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
		 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", -1, 8,
		 RC_E_FORMAT, "tensor 'b' (bytes 4..8) overlaps tensor 'a' (bytes 0..8)"},
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
		 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", -1, 4,
		 RC_E_FORMAT, "overlaps tensor"},
		{"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
		 "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", -1, 12,
		 RC_E_FORMAT, "bytes 4..8 of the data buffer belong to no tensor (a hole "
		 "before 'b')"},
		{"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", -1, 8,
		 RC_E_FORMAT, "bytes 0..4 of the data buffer belong to no tensor"},
		{"{\"t\":{" T4 "}}", -1, 5, RC_E_FORMAT, "the tensors end at byte 4 of the "
		 "5-byte data buffer"},
		{"{}", -1, 1, RC_E_FORMAT, "end at byte 0 of the 1-byte data buffer"},
		{"{\"t\":{" T4 "},\"t\":{" T4 "}}", -1, 4, RC_E_FORMAT, "duplicate"},
		{"{\"a\\u0000b\":{" T4 "}}", -1, 4, RC_E_FORMAT, "NUL byte"},
		{"{\"t\xff\":{" T4 "}}", -1, 4, RC_E_FORMAT, "not valid JSON"},
		{"{\"__metadata__\":[],\"t\":{" T4 "}}", -1, 4, RC_E_FORMAT,
		 "__metadata__ is not a JSON object"},
		{"{\"__metadata__\":{\"k\":1},\"t\":{" T4 "}}", -1, 4, RC_E_FORMAT,
		 "__metadata__: the value of 'k' is not a string"},
		{"{\"__metadata__\":{\"k\":{}}}", -1, 0, RC_E_FORMAT, "not a string"},
		{"{\"__metadata__\":{},\"__metadata__\":{}}", -1, 0, RC_E_FORMAT,
		 "duplicate"},
		{"{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", -1, 0, RC_E_FORMAT,
		 "duplicate"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *msg;
		int64_t hlen = cases[i].hlen;
		int rc;
		if (i == 5) {
			/* strlen stops at the NUL: build this one by hand. */
			char h[128];
			size_t n = strlen(cases[i].header);
			memcpy(h, cases[i].header, n + 1);
			uint8_t buf[8 + 128 + 4] = {0};
			buf[0] = (uint8_t)(n + 1);
			memcpy(buf + 8, h, n + 1);
			struct rc_st *st;
			capture_begin();
			rc = rc_st_open_mem(&st, buf, 8 + n + 1 + 4, "bad.st");
			msg = capture_end();
		} else {
			rc = open_bad(cases[i].header, hlen, cases[i].ndata, &msg);
		}
		ck_assert_msg(rc == cases[i].rc, "case %zu (%s): rc %d, want %d; %s", i,
			      cases[i].header, rc, cases[i].rc, msg);
		ck_assert_msg(strncmp(msg, "test_safetensors: bad.st: ", 26) == 0 &&
			      strstr(msg, cases[i].msg), "case %zu: message %s", i, msg);
		ck_assert_msg(strchr(msg, '\n') == msg + strlen(msg) - 1,
			      "case %zu: not one line: %s", i, msg);
	}
}
END_TEST

/* What the format allows, accepted. */
START_TEST(test_good_oddities)
{
	const char *ok[] = {
		" \n{\"t\":{" T4 "}}\t \n",                            /* whitespace */
		"{\"t\":{" T4 ",\"extra\":[1,{}]}}",                  /* unknown field */
		"{\"__metadata__\":null,\"t\":{" T4 "}}",              /* null metadata */
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
		"\"b\":{\"dtype\":\"I8\",\"shape\":[3,0],\"data_offsets\":[0,0]},"
		"\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
		"\"t\":{" T4 "}}",                                      /* empties */
		"{\"\":{" T4 "}}",                                      /* empty name */
		"{\"\\u00e9\\n\":{" T4 "}}",                            /* escapes */
		"{\"t\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
		"{\"t\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}",
		"{\"t\":{\"dtype\":\"C64\",\"shape\":[],\"data_offsets\":[0,8]}}",
		("{\"t\":{\"dtype\":\"F32\",\"shape\":[18446744073709551615],"
		 "\"data_offsets\":[0,0]}}"), /* too big for jansson: refused */
	};
	size_t ndata[] = {4, 4, 4, 4, 4, 4, 4, 4, 8, 0};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		const char *msg;
		int rc = open_bad(ok[i], -1, ndata[i], &msg);
		if (i == 9)
			ck_assert_int_eq(rc, RC_E_FORMAT);
		else
			ck_assert_msg(rc == 0, "case %zu: %s", i, msg);
	}
	/* Several empty tensors at the same offset, in name order. */
	uint8_t buf[512] = {0};
	const char *h = "{\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
		"\"a\":{\"dtype\":\"U8\",\"shape\":[2,0,5],\"data_offsets\":[0,0]},"
		"\"m\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}";
	size_t n = strlen(h);
	buf[0] = (uint8_t)n;
	memcpy(buf + 8, h, n);
	buf[8 + n] = 7;
	buf[9 + n] = 9;
	struct rc_st *st;
	ck_assert_int_eq(rc_st_open_mem(&st, buf, 8 + n + 2, "mem"), 0);
	ck_assert_uint_eq(rc_st_count(st), 3);
	ck_assert_str_eq(rc_st_at(st, 0)->name, "a");
	ck_assert_uint_eq(rc_st_at(st, 0)->nelem, 0);
	ck_assert_int_eq(rc_st_at(st, 0)->shape[2], 5);
	ck_assert_str_eq(rc_st_at(st, 1)->name, "m");
	ck_assert_int_eq(((const uint8_t *)rc_st_at(st, 1)->data)[1], 9);
	ck_assert_str_eq(rc_st_at(st, 2)->name, "z");
	rc_st_close(st);
}
END_TEST

/* Every prefix of a real file is refused, with one message. */
START_TEST(test_every_truncation)
{
	size_t len;
	char *file = slurp(fixture("numpy_mixed.safetensors"), &len);
	for (size_t n = 0; n < len; n++) {
		char *copy = malloc(n ? n : 1);   /* exact size: ASan sees overreads */
		memcpy(copy, file, n);
		struct rc_st *st;
		capture_begin();
		int rc = rc_st_open_mem(&st, copy, n, "cut");
		const char *msg = capture_end();
		ck_assert_msg(rc == RC_E_TRUNCATED, "length %zu: rc %d: %s", n, rc, msg);
		ck_assert_ptr_nonnull(strstr(msg, "cut: "));
		free(copy);
	}
	free(file);
}
END_TEST

START_TEST(test_open_errors)
{
	struct rc_st *st;
	const char *msg;
	capture_begin();
	int rc = rc_st_open(&st, tmp("missing.safetensors"));
	msg = capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
	ck_assert_ptr_nonnull(strstr(msg, "missing.safetensors: No such file"));
	capture_begin();
	rc = rc_st_open(&st, tmpdir);
	msg = capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
	capture_begin();
	rc = rc_st_open(&st, "-");
	msg = capture_end();
	ck_assert_int_eq(rc, RC_E_IO);
	ck_assert_ptr_nonnull(strstr(msg, "random access"));

	FILE *f = fopen(tmp("empty"), "wb");
	fclose(f);
	capture_begin();
	rc = rc_st_open(&st, tmp("empty"));
	msg = capture_end();
	ck_assert_int_eq(rc, RC_E_TRUNCATED);
	ck_assert_ptr_nonnull(strstr(msg, "empty: file truncated: 0 bytes"));
	f = fopen(tmp("three"), "wb");
	fwrite("\x08\0\0", 1, 3, f);
	fclose(f);
	capture_begin();
	rc = rc_st_open(&st, tmp("three"));
	capture_end();
	ck_assert_int_eq(rc, RC_E_TRUNCATED);
	f = fopen(tmp("bad"), "wb");
	fwrite("\x02\0\0\0\0\0\0\0[]", 1, 10, f);
	fclose(f);
	capture_begin();
	rc = rc_st_open(&st, tmp("bad"));
	msg = capture_end();
	ck_assert_int_eq(rc, RC_E_FORMAT);
	ck_assert_ptr_nonnull(strstr(msg, "bad: header is not a JSON object"));
}
END_TEST

START_TEST(test_dtype_names)
{
	static const char *names[] = {NULL, "F32", "F16", "BF16", "F64", "I64",
		"I32", "I16", "I8", "U8", "BOOL", "U16", "U32", "U64", "F8_E5M2",
		"F8_E4M3", "C64"};
	static const size_t sizes[] = {0, 4, 2, 2, 8, 8, 4, 2, 1, 1, 1, 2, 4, 8,
		1, 1, 8};
	ck_assert_int_eq(sizeof names / sizeof *names, RC_ST_NDTYPES);
	for (int d = 1; d < RC_ST_NDTYPES; d++) {
		ck_assert_str_eq(rc_st_dtype_name(d), names[d]);
		ck_assert_uint_eq(rc_st_dtype_size(d), sizes[d]);
	}
	ck_assert_str_eq(rc_st_dtype_name(0), "?");
	ck_assert_str_eq(rc_st_dtype_name(RC_ST_NDTYPES), "?");
	ck_assert_uint_eq(rc_st_dtype_size(-1), 0);
	ck_assert_int_eq(RC_ST_F32, 1);
	ck_assert_int_eq(RC_ST_BOOL, 10);
}
END_TEST

static Suite *safetensors_suite(void)
{
	Suite *s = suite_create("safetensors");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_dtype_names);
	tcase_add_test(tc, test_halves_samples);
	tcase_add_test(tc, test_halves_exhaustive_to_f32);
	tcase_add_test(tc, test_halves_from_f32);
	tcase_add_test(tc, test_numpy_fixture);
	tcase_add_test(tc, test_torch_fixture);
	tcase_add_test(tc, test_writer_matches_python);
	tcase_add_test(tc, test_truncated_while_mapped);
	tcase_add_test(tc, test_roundtrip_every_dtype);
	tcase_add_test(tc, test_empty_file);
	tcase_add_test(tc, test_writer_refuses);
	tcase_add_test(tc, test_bad_headers);
	tcase_add_test(tc, test_good_oddities);
	tcase_add_test(tc, test_every_truncation);
	tcase_add_test(tc, test_open_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	rc_log_init("test_safetensors");
	return rc_test_run(safetensors_suite());
}
