/* search.h - exact top-k maximum-inner-product search: for each of Q query
 * rows, the k rows of an (N, D) float32 gallery with the largest dot
 * products, as rclip-retrieve search gives them.
 *
 * The scores are computed in tiles of (query block × gallery block) with
 * OpenBLAS sgemm, and each tile is folded into per-query top-k heaps at
 * once, so memory stays bounded whatever N (the gallery is typically an
 * mmap'd .npy, rc_npy_map_f32) and nothing of size Q × N is ever held.
 * The threads (thread.h: the count rc_thread_set() or rc_ops_set_threads()
 * chose) split the gallery; their heaps are merged per query. OpenBLAS is
 * made single-threaded, as ops_cpu.h explains.
 *
 * The order is total: score descending, and among equal scores the lower
 * gallery index first. The answer does not depend on the number of
 * threads: each thread takes whole gallery blocks, so every product is
 * computed in the same tile whatever the threads. Other block sizes may
 * change a score in its last bit (BLAS takes other paths for small or
 * one-row products), and so may a query searched alone rather than with
 * others.
 *
 *     size_t kk = rc_search_hits(k, n);            // min(k, n)
 *     float *score = rc_calloc(q * kk, sizeof *score);
 *     int64_t *index = rc_calloc(q * kk, sizeof *index);
 *     struct rc_search_opts so = {.k = k};
 *     if (rc_search_nonfinite_row(gallery, n, d) >= 0) ...   // refuse
 *     rc = rc_search_topk(gallery, n, d, queries, q, &so, score, index);
 *     // hit r of query i: index[i * kk + r], score[i * kk + r]
 *
 * Rows must be finite: a NaN score has no place in the order (check with
 * rc_search_nonfinite_row first). Scores are the float32 products as
 * sgemm computes them.
 */
#ifndef RCLIP_SEARCH_H
#define RCLIP_SEARCH_H

#include <stddef.h>
#include <stdint.h>

struct rc_search_opts {
	size_t k;              /* hits per query, >= 1 */
	size_t query_block;    /* query rows per tile; 0: automatic (<= 1024) */
	size_t gallery_block;  /* gallery rows per tile; 0: automatic (1024) */
	size_t max_bytes;      /* scratch (a tile and heaps) per thread; 0: 64
	                          MiB. The query block shrinks to fit, down to
	                          one row. */
};

/* rc_search_hits - the hits per query for k over n gallery rows:
 * min(k, n). */
size_t rc_search_hits(size_t k, size_t n);

/* rc_search_topk - the top rc_search_hits(o->k, n) gallery rows of each
 * query by dot product, sorted (score descending, index ascending), into
 * score[q * kk] and index[q * kk] (caller-allocated; row i of each holds
 * query i's hits). gallery is n × d, queries q × d, both row-major.
 * n = 0 or q = 0 writes nothing. Returns 0, RC_E_ARG (k < 1 or d = 0),
 * RC_E_RANGE (d or a block too large for BLAS's int sizes) or
 * RC_E_NOMEM (logged). Allocates scratch only for the call. */
int rc_search_topk(const float *gallery, size_t n, size_t d, const float *queries,
	size_t q, const struct rc_search_opts *o, float *score, int64_t *index);

/* rc_search_nonfinite_row - the first of the n rows of d floats in x that
 * holds a NaN or an infinity, or -1 when all are finite. Parallel. */
int64_t rc_search_nonfinite_row(const float *x, size_t n, size_t d);

/* rc_search_read_ids - the lines of the ids file path, one per gallery row
 * (n of them; gallery names the gallery in the message): (*lines)[i] points
 * into *buf (the caller frees both). Returns 0, RC_E_FORMAT ("PATH: N ids
 * for the M rows of GALLERY"), RC_E_IO or RC_E_NOMEM, logged. */
int rc_search_read_ids(const char *path, size_t n, const char *gallery, char **buf,
	char ***lines);

/* rc_search_write - the hits of nq queries (kk each, as rc_search_topk
 * gives them) to out ("-": stdout) through an atomic file: TSV lines
 * query_index, rank (from 1), id, score (%.9g: float32 exactly), or with
 * jsonl one {"query_index", "ids", "scores"} object a query. ids (NULL: the
 * row numbers) are written as given in TSV; in JSON rclip-retrieve embed's
 * escapes (\\ \n \r \t) are undone first. Returns 0, RC_E_IO or RC_E_NOMEM,
 * logged; on error out is untouched. */
int rc_search_write(const char *out, int jsonl, char **ids, size_t nq, size_t kk,
	const float *score, const int64_t *index);

#endif
