/* prefetch.h - the next batch read while the current one trains: a thread
 * that calls rc_loader_next ahead of the caller, into a second set of
 * buffers, so that a GPU does not wait for the CPU's decoding. The
 * batches, their order and the positions are the loader's: a run with a
 * prefetcher reads exactly what one without reads.
 *
 *     struct rc_prefetch *pf;
 *     rc_loader_seek(ld, epoch, cursor);          // position first
 *     if (rc_prefetch_new(&pf, ld, be) < 0)       // starts the thread
 *             return RC_E_NOMEM;                  // logged
 *     struct rc_batch b;
 *     double wait;
 *     while (training)
 *             if (rc_prefetch_next(pf, &b, &wait) < 0)   // a bad record, logged
 *                     break;
 *     rc_prefetch_tell(pf, &epoch, &cursor);      // for a checkpoint
 *     rc_prefetch_free(pf);                       // joins the thread
 *
 * While a prefetcher runs, only it may call the loader (no seek, next or
 * item on it). The loader's decoding runs on its own OpenMP team in the
 * prefetcher's thread: on a CPU backend the two would share the cores, so
 * the training job uses a prefetcher only when the backend is a device.
 */
#ifndef RCLIP_PREFETCH_H
#define RCLIP_PREFETCH_H

#include <stdint.h>

#include "train/loader.h"

struct rc_prefetch;

/* rc_prefetch_new - a prefetcher over l (not owned; it must outlive the
 * prefetcher), which starts reading the batch at l's position at once.
 * The batches' images lie in be's pinned memory (rc_backend_pinned_alloc:
 * a GPU's upload of them is a DMA alongside its compute); be may be NULL
 * (the heap) and must outlive the prefetcher. Returns 0 and *out, or
 * RC_E_NOMEM or RC_E_IO (no thread), logged. */
struct rc_backend;

int rc_prefetch_new(struct rc_prefetch **out, struct rc_loader *l, struct rc_backend *be);

/* rc_prefetch_next - the next batch, as rc_loader_next gives it (the
 * memory belongs to the prefetcher and is reused by the call after next);
 * *wait_s (may be NULL) gets the seconds the call waited for it. Returns
 * 0 or the loader's error for that batch (logged by the loader); after an
 * error every later call returns it too. */
int rc_prefetch_next(struct rc_prefetch *p, struct rc_batch *b, double *wait_s);

/* rc_prefetch_tell - where the batch after the last one handed out
 * starts, as rc_loader_tell says it without a prefetcher. */
void rc_prefetch_tell(const struct rc_prefetch *p, long *epoch, uint64_t *cursor);

/* rc_prefetch_free - stop the thread (after the batch it is reading) and
 * release the buffers; p may be NULL. */
void rc_prefetch_free(struct rc_prefetch *p);

#endif
