/* topk_cpu.c - exact top-k maximum-inner-product search on the CPU
 * (topk_cpu.h): sgemm tiles of scores folded into per-thread, per-query
 * heaps, then merged.
 *
 * Each thread owns a contiguous part of the gallery and walks it in
 * blocks: one sgemm gives the scores of a query block against a gallery
 * block (a qb × gb tile, small enough to stay in cache), and a scan of the
 * tile updates that thread's heaps. After the query block, the threads
 * merge the heaps of a share of its queries each. */
#include "model/topk_cpu.h"

#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "base/thread.h"

struct hit {
	float s;
	int64_t i;
};

/* ---------------------------------------------------------------- heaps */

/* The total order, reversed: a is worse than b. */
static inline int worse(const struct hit *a, const struct hit *b)
{
	return a->s < b->s || (a->s == b->s && a->i > b->i);
}

/* A heap of the best hits so far with the worst at its root. */
static void sift_up(struct hit *h, size_t at)
{
	while (at > 0) {
		size_t p = (at - 1) / 2;
		if (!worse(&h[at], &h[p]))
			break;
		struct hit t = h[at];
		h[at] = h[p];
		h[p] = t;
		at = p;
	}
}

static void sift_down(struct hit *h, size_t n, size_t at)
{
	for (;;) {
		size_t l = 2 * at + 1, w = at;
		if (l < n && worse(&h[l], &h[w]))
			w = l;
		if (l + 1 < n && worse(&h[l + 1], &h[w]))
			w = l + 1;
		if (w == at)
			return;
		struct hit t = h[at];
		h[at] = h[w];
		h[w] = t;
		at = w;
	}
}

/* Fold m scores of gallery rows base, base+1, ... into a heap of *count
 * of kk hits. A thread scans its rows in ascending order, so a score
 * equal to the worst kept one (which has a lower index) never displaces
 * it: only a strictly larger score is a candidate, and runs of 16 scores
 * under the threshold are skipped with one vectorised test. */
static void scan(struct hit *h, size_t *count, size_t kk, const float *row, size_t m,
	int64_t base)
{
	size_t c = *count, j = 0;
	for (; c < kk && j < m; j++) {
		h[c] = (struct hit){row[j], base + (int64_t)j};
		sift_up(h, c++);
	}
	*count = c;
	if (j == m)
		return;
	float thr = h[0].s;
	while (j < m) {
		if (j + 16 <= m) {
			int any = 0;
#pragma omp simd reduction(|:any)
			for (size_t u = 0; u < 16; u++)
				any |= row[j + u] > thr;
			if (!any) {
				j += 16;
				continue;
			}
		}
		size_t end = j + 16 <= m ? j + 16 : m;
		for (; j < end; j++)
			if (row[j] > thr) {
				h[0] = (struct hit){row[j], base + (int64_t)j};
				sift_down(h, kk, 0);
				thr = h[0].s;
			}
	}
}

static int by_rank(const void *pa, const void *pb)
{
	const struct hit *a = pa, *b = pb;
	if (a->s != b->s)
		return a->s > b->s ? -1 : 1;
	return (a->i > b->i) - (a->i < b->i);
}

/* ---------------------------------------------------------------- search */

int rc_topk_cpu(const float *gallery, size_t n, size_t d, const float *queries, size_t q,
	const struct rc_topk_opts *o, float *score, int64_t *index)
{
	size_t kk = o->k < n ? o->k : n;
	int nt = rc_thread_max();
	size_t gb = o->gallery_block ? o->gallery_block : 1024;
	size_t qb = o->query_block ? o->query_block : 1024;
	size_t budget = o->max_bytes ? o->max_bytes : (size_t)64 << 20;
	if (gb > n)
		gb = n;
	if (qb > q)
		qb = q;
	/* a query row of a block costs each thread a tile row and a heap */
	size_t per_row = gb * sizeof(float) + kk * sizeof(struct hit);
	if (qb > budget / per_row)
		qb = budget / per_row > 0 ? budget / per_row : 1;
	if (d > INT_MAX || gb > INT_MAX || qb > INT_MAX)
		return rc_log_error(RC_E_RANGE, "search: rows of %zu floats or blocks of "
			"%zu x %zu exceed BLAS's sizes", d, qb, gb);
	/* query blocks of equal sizes (differing by one at most): a last block
	 * of one row, which BLAS computes on another path, only when all are */
	size_t nqb = (q + qb - 1) / qb, ngb = (n + gb - 1) / gb;
	qb = (q + nqb - 1) / nqb;

	/* OpenBLAS single-threaded: the threads here each call it (ops_cpu.h) */
	openblas_set_num_threads(1);
	size_t nheap = (size_t)nt * qb * kk;
	float *tiles = rc_calloc((size_t)nt * qb * gb, sizeof *tiles);
	struct hit *heaps = rc_calloc(nheap, sizeof *heaps);
	size_t *pos = rc_calloc((size_t)nt * (size_t)nt, sizeof *pos);
	size_t *counts = rc_calloc((size_t)nt * qb, sizeof *counts);
	int rc = 0;
	if (!tiles || !heaps || !pos || !counts) {
		rc = RC_E_NOMEM;
		goto out;
	}
	rc_log_debug("search: %zu queries x %zu rows of %zu, k %zu, blocks %zu x %zu, "
		"%d threads", q, n, d, kk, qb, gb, nt);

	size_t qbase = q / nqb, qrem = q % nqb;
	for (size_t b = 0; b < nqb; b++) {
		size_t q0 = b * qbase + (b < qrem ? b : qrem);
		size_t m = qbase + (b < qrem);
		const float *qrows = queries + q0 * d;
#pragma omp parallel num_threads(nt)
		{
			int t = rc_thread_id(), team = rc_thread_num();
			size_t lo, hi;
			struct hit *h = heaps + (size_t)t * qb * kk;
			size_t *c = counts + (size_t)t * qb;
			float *tile = tiles + (size_t)t * qb * gb;
			memset(c, 0, m * sizeof *c);
			/* whole gallery blocks per thread: the tiles, and so the
			 * products, are the same whatever the number of threads */
			rc_thread_chunk(ngb, team, t, &lo, &hi);
			for (size_t g0 = lo * gb; g0 < hi * gb && g0 < n; g0 += gb) {
				size_t w = n - g0 < gb ? n - g0 : gb;
				cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)w,
					(int)d, 1.0f, qrows, (int)d, gallery + g0 * d, (int)d, 0.0f,
					tile, (int)w);
				for (size_t i = 0; i < m; i++)
					scan(h + i * kk, &c[i], kk, tile + i * w, w, (int64_t)g0);
			}
#pragma omp barrier
			/* merge: a thread takes a share of the queries, sorts every
			 * thread's heap of each and merges them in rank order */
			rc_thread_chunk(m, team, t, &lo, &hi);
			size_t *at = pos + (size_t)t * (size_t)nt;
			for (size_t i = lo; i < hi; i++) {
				for (int u = 0; u < team; u++) {
					qsort(heaps + ((size_t)u * qb + i) * kk, counts[(size_t)u * qb + i],
						sizeof *heaps, by_rank);
					at[u] = 0;
				}
				for (size_t r = 0; r < kk; r++) {
					const struct hit *best = NULL;
					int bu = 0;
					for (int u = 0; u < team; u++) {
						const struct hit *x = heaps + ((size_t)u * qb + i) * kk + at[u];
						if (at[u] < counts[(size_t)u * qb + i] &&
						    (!best || by_rank(x, best) < 0))
							best = x, bu = u;
					}
					at[bu]++;
					score[(q0 + i) * kk + r] = best->s;
					index[(q0 + i) * kk + r] = best->i;
				}
			}
		}
	}
out:
	free(tiles);
	free(heaps);
	free(pos);
	free(counts);
	return rc;
}
