/* eval.h - the evaluation metrics of DESIGN.md §6 as pure functions of
 * L2-normalised embeddings (rows of D floats, so a dot product is the
 * cosine similarity), and the statistics rclip-eval reports with them:
 * bootstrap confidence intervals and McNemar's test.
 *
 *     // choice sets: row 0 of cand[k,D] is the true caption
 *     int choice;
 *     int ok = rc_eval_choice(img, cand, 5, D, scores, &choice);
 *
 *     // retrieval: owner[j] is the image of caption j
 *     rc_eval_ranks(be, img, ni, txt, nt, D, owner, i2t, t2i);   // 1-based ranks
 *     size_t r1 = rc_eval_hits(i2t, ni, 1);                  // I→T R@1 count
 *
 *     // zero-shot: class embeddings from template embeddings
 *     rc_eval_class_embed(tmpl, ntemplates, D, cls_row);
 *     rc_eval_label_ranks(be, img, ni, cls, nc, D, labels, rank, NULL);
 *
 *     double lo, hi;
 *     rc_eval_bootstrap(hit, n, 1000, 1, &lo, &hi);           // 95 % CI
 *     struct rc_eval_mcnemar t;
 *     rc_eval_mcnemar(only_a, only_b, &t);
 *
 * Ranks follow one rule everywhere: the rank of the true item is 1 + the
 * number of candidates whose score is strictly greater, so a tie goes in
 * favour of the true item (the choice-set rule, "ties resolved in favour
 * of the true caption"). Score matrices come from the backend
 * (rc_backend_scores, model/backend.h) in blocks of rows; the true item's
 * score is read from the same matrix as its rivals', so a rank never
 * depends on two roundings of one product.
 */
#ifndef RCLIP_EVAL_H
#define RCLIP_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "model/backend.h"

/* Rows of the score matrix computed at once (memory: this many rows of
 * the gallery's length in floats). */
#define RC_EVAL_BLOCK 256

/* rc_eval_choice - score the k candidates cand[k,D] against img[D] (dot
 * products into scores[k] when scores is not NULL) and return 1 when
 * candidate 0, the true one, has the highest score (ties count as
 * correct), else 0. *choice (may be NULL) gets 0 when correct, else the
 * first candidate with the highest score. k >= 1. Never fails. */
int rc_eval_choice(const float *img, const float *cand, int k, size_t D, float *scores,
	int *choice);

/* rc_eval_ranks - retrieval ranks between images img[ni,D] and captions
 * txt[nt,D], caption j belonging to image owner[j] (< ni):
 *   i2t[i] (i < ni) = 1 + the number of captions scoring strictly higher
 *     with image i than its best own caption (0 for an image without a
 *     caption: it is left out of the I→T figures);
 *   t2i[j] (j < nt) = 1 + the number of images scoring strictly higher
 *     with caption j than its own image.
 * Either output may be NULL to skip that direction. Scores are computed
 * by blocks of RC_EVAL_BLOCK rows on be (a backend of any model, or
 * none). Returns 0, RC_E_ARG (an owner out of range, not logged), or
 * RC_E_NOMEM or the backend's errors (logged). */
int rc_eval_ranks(struct rc_backend *be, const float *img, size_t ni, const float *txt,
	size_t nt, size_t D, const uint32_t *owner, uint32_t *i2t, uint32_t *t2i);

/* rc_eval_label_ranks - for each image i of img[ni,D], the rank of its
 * class label[i] (< nc) among the classes cls[nc,D]: 1 + the number of
 * classes scoring strictly higher. pred[i] (may be NULL) gets the first
 * class of highest score, the label itself when it ties for first.
 * Scores as rc_eval_ranks. Returns 0, RC_E_ARG (a label out of range, not
 * logged), or RC_E_NOMEM or the backend's errors (logged). */
int rc_eval_label_ranks(struct rc_backend *be, const float *img, size_t ni, const float *cls,
	size_t nc, size_t D, const uint32_t *label, uint32_t *rank, uint32_t *pred);

/* rc_eval_class_embed - a zero-shot class embedding: out[D] = the
 * L2-normalised mean of the n rows of tmpl[n,D] (each already normalised,
 * one per template). The mean is summed in double. A zero mean gives a
 * zero row. */
void rc_eval_class_embed(const float *tmpl, size_t n, size_t D, float *out);

/* rc_eval_hits - how many of the n ranks are in 1..k (a rank of 0, no
 * item, never counts). */
size_t rc_eval_hits(const uint32_t *rank, size_t n, uint32_t k);

/* How a median of an even count of ranks is taken. */
enum rc_eval_median {
	RC_EVAL_MEDIAN_UPPER = 0, /* the upper middle value, sorted(ranks)[n // 2], as
	                           * the official eval_RCLIP_retrieval.py */
	RC_EVAL_MEDIAN_MEAN = 1,  /* the mean of the two middle values, as numpy.median
	                           * in the official eval_retrieval.py (COCO/Flickr) */
};

/* rc_eval_rank_stats - mean and median of the n ranks that are not 0, the
 * median of an even count taken as how (enum rc_eval_median) says. Both
 * are 0 when there is none. Returns 0 or RC_E_NOMEM. */
int rc_eval_rank_stats(const uint32_t *rank, size_t n, int how, double *mean, double *median);

/* rc_eval_bootstrap - a 95 % percentile bootstrap interval of the mean of
 * hit[n] (0/1 values): B resamples of n items drawn with replacement by a
 * splitmix64 generator seeded with seed, the 2.5th and 97.5th percentiles
 * of their means (linear interpolation between order statistics, as
 * numpy.percentile) in *lo and *hi. The same seed gives the same interval.
 * n = 0 gives 0 and 0. Returns 0, RC_E_ARG (B < 1) or RC_E_NOMEM. */
int rc_eval_bootstrap(const uint8_t *hit, size_t n, int B, uint64_t seed, double *lo,
	double *hi);

/* McNemar's test between two classifiers on the same items: b items only
 * the first gets right, c only the second. */
struct rc_eval_mcnemar {
	uint64_t b, c;
	double p_exact;  /* two-sided exact binomial test of b against Bin(b+c, 1/2) */
	double chi2;     /* (|b - c| - 1)² / (b + c) with continuity correction, 0 if b+c = 0 */
	double p_chi2;   /* its p-value, chi-square with 1 degree of freedom */
};

/* rc_eval_mcnemar - fill *t for b and c. Never fails. */
void rc_eval_mcnemar(uint64_t b, uint64_t c, struct rc_eval_mcnemar *t);

#endif
