/* image_resize.c - Pillow's antialiased bicubic resize (Image.resize with
 * BICUBIC, reducing_gap None) and the CLIP crop built on it (image.h).
 * It follows the arithmetic of Pillow's src/libImaging/Resample.c exactly
 * (weights, int32 fixed point, uint8 between the passes, the pass order);
 * the code is our own. */
#include "data/image.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"

/* Pillow's resampler (Resample.c): for output pixel i of n over an input
 * of size in, scale = in / n, the filter is stretched by
 * fs = max(scale, 1) (antialiasing when shrinking), its support becomes
 * 2 * fs, the taps run from (int)(center - support + 0.5) to
 * (int)(center + support + 0.5) clamped to the input, the weights
 * bicubic((x - center + 0.5) / fs) are divided by their sum and turned
 * into int32 with 22 fractional bits, rounded half away from zero. A pass
 * adds 1 << 21 to the weighted sum and keeps bits 22..29, clipped to
 * 0..255. Every expression below keeps Pillow's evaluation order, so that
 * the doubles, and hence the integer weights, are the same. */
#define PRECISION_BITS (32 - 8 - 2)

/* Fused multiply-adds would change the last bit of a double here and
 * there (GCC does not contract under -std=c11; clang needs telling). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

static double bicubic(double x)
{
	const double a = -0.5;
	if (x < 0.0)
		x = -x;
	if (x < 1.0)
		return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
	if (x < 2.0)
		return (((x - 5) * x + 8) * x - 4) * a;
	return 0.0;
}

static int taps(int insize, int outsize)
{
	double fs = (double)(float)insize / outsize;
	if (fs < 1.0)
		fs = 1.0;
	return (int)ceil(2.0 * fs) * 2 + 1;
}

/* coeffs - bounds (first tap, count) and ksize int32 weights for outputs
 * o0 .. o0 + n - 1 of an insize -> outsize pass; tmp holds ksize doubles. */
static void coeffs(int insize, int outsize, int o0, int n, int ksize,
	int *bounds, int32_t *kk, double *tmp)
{
	double scale = (double)(float)insize / outsize; /* Pillow's float box */
	double fs = scale < 1.0 ? 1.0 : scale;
	double support = 2.0 * fs;
	for (int i = 0; i < n; i++) {
		int xx = o0 + i;
		double center = 0.0 + (xx + 0.5) * scale;
		double ww = 0.0, ss = 1.0 / fs;
		int xmin = (int)(center - support + 0.5);
		if (xmin < 0)
			xmin = 0;
		int xmax = (int)(center + support + 0.5);
		if (xmax > insize)
			xmax = insize;
		xmax -= xmin;
		for (int x = 0; x < xmax; x++) {
			double w = bicubic((x + xmin - center + 0.5) * ss);
			tmp[x] = w;
			ww += w;
		}
		int32_t *k = kk + (size_t)i * ksize;
		for (int x = 0; x < ksize; x++) {
			double v = x < xmax ? (ww != 0.0 ? tmp[x] / ww : tmp[x]) : 0.0;
			k[x] = v < 0 ? (int32_t)(-0.5 + v * (1 << PRECISION_BITS))
				     : (int32_t)(0.5 + v * (1 << PRECISION_BITS));
		}
		bounds[2 * i] = xmin;
		bounds[2 * i + 1] = xmax;
	}
}

/* The two passes are built twice on x86-64 with GCC: for AVX2 and for
 * the baseline, picked at run time (the results are the same integers). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define RC_VECTOR_CLONES __attribute__((target_clones("avx2", "default"), \
	optimize("tree-vectorize", "vect-cost-model=cheap")))
#else
#define RC_VECTOR_CLONES
#endif

static inline uint8_t clip8(int32_t ss)
{
	if (ss < 0)
		return 0;
	ss >>= PRECISION_BITS;
	return (uint8_t)(ss > 255 ? 255 : ss);
}

/* hpass - horizontal pass: rows of cw output pixels from rows of src
 * (stride sstride bytes, column xoff at its start). Rows go in blocks of
 * HB: the block's input columns are first transposed (column x of all HB
 * rows side by side), so that each tap is one multiply-add over HB*3
 * contiguous values, which compilers vectorize; the sums are Pillow's,
 * integer and exact, whatever the order. tbuf holds span * HB * 3 bytes. */
#define HB 16
RC_VECTOR_CLONES
static void hpass(const uint8_t *src, size_t sstride, int rows, int cw, const int *bh,
	const int32_t *kh, int ksh, int xoff, uint8_t *dst, uint8_t *tbuf)
{
	int xlo = bh[0] - xoff;
	int span = bh[2 * (cw - 1)] + bh[2 * (cw - 1) + 1] - xoff - xlo;
	for (int y0 = 0; y0 < rows; y0 += HB) {
		int nr = rows - y0 < HB ? rows - y0 : HB;
		if (nr < HB)
			memset(tbuf, 0, (size_t)span * HB * 3);
		for (int r = 0; r < nr; r++) {
			const uint8_t *row = src + (size_t)(y0 + r) * sstride + (size_t)xlo * 3;
			uint8_t *t = tbuf + (size_t)r * 3;
			for (int x = 0; x < span; x++) {
				t[(size_t)x * HB * 3] = row[3 * x];
				t[(size_t)x * HB * 3 + 1] = row[3 * x + 1];
				t[(size_t)x * HB * 3 + 2] = row[3 * x + 2];
			}
		}
		for (int i = 0; i < cw; i++) {
			const int32_t *k = kh + (size_t)i * ksh;
			const uint8_t *t = tbuf + (size_t)(bh[2 * i] - xoff - xlo) * HB * 3;
			int n = bh[2 * i + 1];
			int32_t acc[HB * 3];
			for (int j = 0; j < HB * 3; j++)
				acc[j] = 1 << (PRECISION_BITS - 1);
			for (int x = 0; x < n; x++) {
				int32_t kx = k[x];
				const uint8_t *tx = t + (size_t)x * HB * 3;
				for (int j = 0; j < HB * 3; j++)
					acc[j] += tx[j] * kx;
			}
			for (int r = 0; r < nr; r++) {
				uint8_t *d = dst + ((size_t)(y0 + r) * cw + i) * 3;
				d[0] = clip8(acc[3 * r]);
				d[1] = clip8(acc[3 * r + 1]);
				d[2] = clip8(acc[3 * r + 2]);
			}
		}
	}
}

/* vpass - vertical pass: ch output rows of n3 bytes from the rows of src
 * (input row y at src + (y - yoff) * sstride). The sums of one output row
 * are kept for all its columns in acc (integer sums: the order of the
 * additions does not matter), so the input is read row by row. */
RC_VECTOR_CLONES
static void vpass(const uint8_t *src, size_t sstride, size_t n3, int ch, const int *bv,
	const int32_t *kv, int ksv, int yoff, int32_t *acc, uint8_t *dst)
{
	for (int j = 0; j < ch; j++) {
		const int32_t *k = kv + (size_t)j * ksv;
		int ymin = bv[2 * j], n = bv[2 * j + 1];
		for (size_t c = 0; c < n3; c++)
			acc[c] = 1 << (PRECISION_BITS - 1);
		for (int y = 0; y < n; y++) {
			const uint8_t *sp = src + (size_t)(ymin + y - yoff) * sstride;
			int32_t ky = k[y];
			for (size_t c = 0; c < n3; c++)
				acc[c] += sp[c] * ky;
		}
		uint8_t *d = dst + (size_t)j * n3;
		for (size_t c = 0; c < n3; c++)
			d[c] = clip8(acc[c]);
	}
}

/* resample - the window [x0, x0 + cw) × [y0, y0 + ch) of the ow×oh resize
 * of the w×h RGB image in, into out (cw×ch RGB). Each output pixel is
 * computed exactly as in the full resize, so a window equals a crop of it.
 * As Pillow: a pass whose size does not change is skipped; with two
 * passes the first writes uint8 rows that the second reads. The order is
 * Pillow 13's (python-pillow/Pillow#9549): vertical first when the height
 * shrinks by more than twice as many pixels as the width does, else
 * horizontal first (Pillow 12 and older: always horizontal first). */
static int resample(const uint8_t *in, int w, int h, int ow, int oh,
	int x0, int y0, int cw, int ch, uint8_t *out)
{
	int need_h = ow != w, need_v = oh != h;
	if (!need_h && !need_v) { /* a copy of the window */
		for (int y = 0; y < ch; y++)
			memcpy(out + (size_t)y * cw * 3,
				in + ((size_t)(y0 + y) * w + x0) * 3, (size_t)cw * 3);
		return 0;
	}
	int vfirst = need_h && need_v && oh < h &&
		(int64_t)h - oh > 2 * ((int64_t)w - ow);
	int ksh = need_h ? taps(w, ow) : 0, ksv = need_v ? taps(h, oh) : 0;
	int kmax = ksh > ksv ? ksh : ksv;

	/* one allocation: the doubles of one output's weights, weights and
	 * bounds of both passes, the column sums of the vertical pass, the
	 * uint8 rows between the passes (at most: the passes' real extent
	 * is known only once the bounds are) */
	size_t nkh = (size_t)cw * ksh, nkv = (size_t)ch * ksv;
	size_t nbh = need_h ? 2 * (size_t)cw : 0, nbv = need_v ? 2 * (size_t)ch : 0;
	size_t nacc = !need_v ? 0 : vfirst ? (size_t)w * 3 : (size_t)cw * 3;
	size_t tmp_bytes = !(need_h && need_v) ? 0 :
		vfirst ? (size_t)ch * w * 3 : (size_t)h * cw * 3;
	size_t tb_bytes = need_h ? (size_t)w * HB * 3 : 0; /* hpass's transposed block */
	size_t bytes = (size_t)kmax * sizeof(double) +
		(nkh + nkv + nbh + nbv + nacc) * sizeof(int32_t) + tmp_bytes + tb_bytes;
	char *mem = rc_malloc(bytes);
	if (!mem)
		return RC_E_NOMEM;
	double *dtmp = (double *)mem;
	int32_t *kh = (int32_t *)(mem + (size_t)kmax * sizeof(double));
	int32_t *kv = kh + nkh;
	int *bh = (int *)(kv + nkv);
	int *bv = bh + nbh;
	int32_t *acc = (int32_t *)(bv + nbv);
	uint8_t *tmp = (uint8_t *)(acc + nacc);
	uint8_t *tbuf = tmp + tmp_bytes;

	if (need_h)
		coeffs(w, ow, x0, cw, ksh, bh, kh, dtmp);
	if (need_v)
		coeffs(h, oh, y0, ch, ksv, bv, kv, dtmp);
	size_t stride = (size_t)w * 3;

	if (!need_v) {
		hpass(in + (size_t)y0 * stride, stride, ch, cw, bh, kh, ksh, 0, out, tbuf);
	} else if (!need_h) {
		vpass(in + (size_t)x0 * 3, stride, (size_t)cw * 3, ch, bv, kv, ksv, 0, acc, out);
	} else if (!vfirst) {
		/* the input rows the vertical pass reads */
		int ylo = bv[0], yhi = bv[2 * (ch - 1)] + bv[2 * (ch - 1) + 1];
		hpass(in + (size_t)ylo * stride, stride, yhi - ylo, cw, bh, kh, ksh, 0, tmp, tbuf);
		vpass(tmp, (size_t)cw * 3, (size_t)cw * 3, ch, bv, kv, ksv, ylo, acc, out);
	} else {
		/* the input columns the horizontal pass reads */
		int xlo = bh[0], xhi = bh[2 * (cw - 1)] + bh[2 * (cw - 1) + 1];
		size_t n3 = (size_t)(xhi - xlo) * 3;
		vpass(in + (size_t)xlo * 3, stride, n3, ch, bv, kv, ksv, 0, acc, tmp);
		hpass(tmp, n3, ch, cw, bh, kh, ksh, xlo, out, tbuf);
	}
	free(mem);
	return 0;
}

int rc_image_resize(const uint8_t *in, int w, int h, uint8_t *out, int ow, int oh)
{
	if (!in || !out || w < 1 || h < 1 || ow < 1 || oh < 1 || w > RC_IMAGE_MAX_SIDE ||
		h > RC_IMAGE_MAX_SIDE || ow > RC_IMAGE_MAX_SIDE || oh > RC_IMAGE_MAX_SIDE)
		return RC_E_ARG;
	return resample(in, w, h, ow, oh, 0, 0, ow, oh, out);
}

void rc_image_clip_size(int w, int h, int S, int *ow, int *oh)
{
	/* Python: int(S * long / short), a correctly rounded true division
	 * then truncation; S * long and short are exact doubles. */
	if (w <= h) {
		*ow = S;
		double l = (double)S * h / w;
		*oh = l < INT_MAX ? (int)l : INT_MAX;
	} else {
		*oh = S;
		double l = (double)S * w / h;
		*ow = l < INT_MAX ? (int)l : INT_MAX;
	}
}

int rc_image_clip(const struct rc_image *in, int S, uint8_t *out)
{
	if (!in || !in->rgb || !out || in->w < 1 || in->h < 1 || S < 1 ||
		S > RC_IMAGE_MAX_SIDE)
		return RC_E_ARG;
	int ow, oh;
	rc_image_clip_size(in->w, in->h, S, &ow, &oh);
	if (ow > RC_IMAGE_MAX_SIDE || oh > RC_IMAGE_MAX_SIDE)
		return RC_E_RANGE;  /* Pillow could not allocate that image either */
	return resample(in->rgb, in->w, in->h, ow, oh, (ow - S) / 2, (oh - S) / 2, S, S, out);
}
