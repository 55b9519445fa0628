/* thread.h - the thread count and work splitting on top of OpenMP. The
 * build may have no OpenMP (configure leaves OPENMP_CFLAGS empty): then
 * everything runs on one thread and these functions say so.
 *
 *     rc_thread_set(opt.jobs);               // -j N; 0 = all cores
 *     #pragma omp parallel
 *     {
 *             size_t lo, hi;
 *             rc_thread_chunk(n, rc_thread_num(), rc_thread_id(), &lo, &hi);
 *             for (size_t i = lo; i < hi; i++)
 *                     work(i, scratch[rc_thread_id()]);
 *     }
 *
 * Per-thread scratch is sized with rc_thread_max() before the region.
 */
#ifndef RCLIP_THREAD_H
#define RCLIP_THREAD_H

#include <stddef.h>

/* rc_thread_count - the number of threads a request means: requested when
 * it is > 0, else OMP_NUM_THREADS when it is set to a positive number, else
 * the number of cores this process may run on (its CPU affinity mask, which
 * honours taskset and container limits, or the online cores when that
 * cannot be read). Always >= 1. */
int rc_thread_count(int requested);

/* rc_thread_set - use rc_thread_count(requested) threads for the following
 * parallel regions (omp_set_num_threads). Returns the number set; 1
 * without OpenMP. */
int rc_thread_set(int requested);

/* rc_thread_max - the number of threads the next parallel region may use
 * (omp_get_max_threads), for sizing per-thread buffers; 1 without OpenMP. */
int rc_thread_max(void);

/* rc_thread_num - the number of threads in the current parallel region
 * (1 outside one, and without OpenMP). */
int rc_thread_num(void);

/* rc_thread_id - the calling thread's number in the current parallel
 * region, 0 .. rc_thread_num() - 1 (0 outside one). */
int rc_thread_id(void);

/* rc_thread_chunk - split [0, n) into nchunks contiguous ranges whose sizes
 * differ by at most one (the first n % nchunks get the extra item) and
 * give range i as [*begin, *end). Together the ranges cover [0, n) exactly
 * once, in order; with more chunks than items some ranges are empty.
 * nchunks < 1 is taken as 1; an i outside [0, nchunks) gets an empty range
 * at n. */
void rc_thread_chunk(size_t n, int nchunks, int i, size_t *begin, size_t *end);

#endif
