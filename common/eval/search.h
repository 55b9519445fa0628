/* search.h - what surrounds an exact top-k maximum-inner-product search
 * (for each of Q query rows, the k rows of an (N, D) float32 gallery with
 * the largest dot products, as rclip-retrieve search gives them): the
 * number of hits, the check that rows are finite, the ids file and the
 * results. The search itself is the backend's, rc_backend_topk
 * (model/backend.h), which defines its order and its memory bounds.
 *
 *     size_t kk = rc_search_hits(k, n);            // min(k, n)
 *     float *score = rc_calloc(q * kk, sizeof *score);
 *     int64_t *index = rc_calloc(q * kk, sizeof *index);
 *     struct rc_topk_opts so = {.k = k};
 *     if (rc_search_nonfinite_row(gallery, n, d) >= 0) ...   // refuse
 *     rc = rc_backend_topk(be, gallery, n, d, queries, q, &so, score, index);
 *     rc = rc_search_write("-", 0, ids, q, kk, score, index);
 *
 * Rows must be finite: a NaN score has no place in the order.
 */
#ifndef RCLIP_SEARCH_H
#define RCLIP_SEARCH_H

#include <stddef.h>
#include <stdint.h>

/* rc_search_hits - the hits per query for k over n gallery rows:
 * min(k, n). */
size_t rc_search_hits(size_t k, size_t n);

/* rc_search_nonfinite_row - the first of the n rows of d floats in x that
 * holds a NaN or an infinity, or -1 when all are finite. Parallel. */
int64_t rc_search_nonfinite_row(const float *x, size_t n, size_t d);

/* rc_search_read_ids - the lines of the ids file path, one per gallery row
 * (n of them; gallery names the gallery in the message): (*lines)[i] points
 * into *buf (the caller frees both). Returns 0, RC_E_FORMAT ("PATH: N ids
 * for the M rows of GALLERY"), RC_E_IO or RC_E_NOMEM, logged. */
int rc_search_read_ids(const char *path, size_t n, const char *gallery, char **buf,
	char ***lines);

/* rc_search_write - the hits of nq queries (kk each, as rc_backend_topk
 * gives them) to out ("-": stdout) through an atomic file: TSV lines
 * query_index, rank (from 1), id, score (%.9g: float32 exactly), or with
 * jsonl one {"query_index", "ids", "scores"} object a query. ids (NULL: the
 * row numbers) are written as given in TSV; in JSON rclip-retrieve embed's
 * escapes (\\ \n \r \t) are undone first. Returns 0, RC_E_IO or RC_E_NOMEM,
 * logged; on error out is untouched. */
int rc_search_write(const char *out, int jsonl, char **ids, size_t nq, size_t kk,
	const float *score, const int64_t *index);

#endif
