/* arena.h - an arena allocator: many small allocations that share one
 * lifetime (a batch, a vocabulary, a parsed file) and are freed in one call.
 *
 * Memory comes from a list of blocks of block_size bytes; an allocation
 * bigger than a quarter of a block gets a block of its own, so it wastes
 * nothing. Every pointer is aligned to RC_ARENA_ALIGN (16, the alignment
 * of max_align_t), so any type, and SSE/AVX-friendly float arrays, fit.
 * rc_arena_reset() makes all the memory available again without returning
 * it to the system; rc_arena_free() releases everything. After a reset,
 * large blocks are reused in the order they were allocated (one that is
 * too small is replaced), so a loop that allocates the same sizes every
 * round stops growing after its first round.
 *
 *     struct rc_arena a;
 *     rc_arena_init(&a, 0);                      // 0 = default block size
 *     for (each batch) {
 *             float *x = rc_arena_alloc(&a, B * C * sizeof *x);
 *             char *key = rc_arena_strdup(&a, record_key);
 *             if (!x || !key)
 *                     return RC_E_NOMEM;         // already logged
 *             ...
 *             rc_arena_reset(&a);                // keep the blocks
 *     }
 *     rc_arena_free(&a);
 *
 * An arena is not thread-safe: give each thread its own.
 */
#ifndef RCLIP_ARENA_H
#define RCLIP_ARENA_H

#include <stddef.h>

#define RC_ARENA_ALIGN 16
#define RC_ARENA_DEFAULT_BLOCK (64 * 1024)
#define RC_ARENA_MIN_BLOCK 256

struct rc_arena_block;

struct rc_arena {
	struct rc_arena_block *first;    /* normal blocks, in list order */
	struct rc_arena_block *cur;      /* the one allocations come from */
	struct rc_arena_block *big;      /* large blocks, one allocation each */
	struct rc_arena_block *big_last; /* the last large block in use */
	size_t block_size;               /* usable bytes of a normal block */
	size_t reserved;                 /* usable bytes of all blocks */
};

/* rc_arena_init - an empty arena whose blocks hold block_size bytes (0 =
 * RC_ARENA_DEFAULT_BLOCK; at least RC_ARENA_MIN_BLOCK, rounded up to
 * RC_ARENA_ALIGN). Allocates nothing until the first allocation. A
 * zero-filled struct rc_arena is also a valid empty arena with the default
 * block size. */
void rc_arena_init(struct rc_arena *a, size_t block_size);

/* rc_arena_alloc - n uninitialised bytes aligned to RC_ARENA_ALIGN (n = 0
 * gives a valid, distinct pointer). The memory belongs to the arena and
 * lives until rc_arena_reset() or rc_arena_free(). Returns NULL (logged
 * "out of memory") when a block cannot be allocated. */
void *rc_arena_alloc(struct rc_arena *a, size_t n);

/* rc_arena_calloc - count * size zeroed bytes; NULL on overflow or when
 * out of memory (logged). */
void *rc_arena_calloc(struct rc_arena *a, size_t count, size_t size);

/* rc_arena_strdup - a copy of s in the arena; NULL when out of memory. */
char *rc_arena_strdup(struct rc_arena *a, const char *s);

/* rc_arena_path_join - path under directory root ("root/path") in the
 * arena; path itself when it is absolute or root is NULL or empty. NULL
 * when out of memory. */
char *rc_arena_path_join(struct rc_arena *a, const char *root, const char *path);

/* rc_arena_strndup - a copy of at most n bytes of s, NUL-terminated. */
char *rc_arena_strndup(struct rc_arena *a, const char *s, size_t n);

/* rc_arena_reset - forget every allocation but keep the blocks for reuse.
 * Pointers from before the reset must not be used. */
void rc_arena_reset(struct rc_arena *a);

/* rc_arena_free - release all blocks; the arena is empty again and may be
 * reused. Safe on a zero-filled arena and when called twice; a NULL arena
 * does nothing. */
void rc_arena_free(struct rc_arena *a);

/* rc_arena_reserved - bytes held in blocks (used or free), for accounting
 * and tests. */
size_t rc_arena_reserved(const struct rc_arena *a);

/* ---------------------------------------------------------------- carving */

/* Count, then carve: many float buffers of one lifetime laid out in one
 * allocation (a model's parameters, a workspace of activations). The
 * layout code runs twice over the same sizes: first with base NULL, when
 * every buffer is NULL and only the total (off) counts, then over the
 * allocation of that total, when each buffer points into it.
 *
 *     struct rc_carve cv = { NULL, 0, 16 };        // count
 *     layout(&cv, ...);                            // x = rc_carve(&cv, n) ...
 *     float *mem = rc_malloc(cv.off * sizeof *mem);
 *     cv = (struct rc_carve){ mem, 0, 16 };        // and carve
 *     layout(&cv, ...);
 *
 * align (floats, a power of two; 0 or 1: none) starts each buffer on a
 * multiple of it: 16 floats put activations on 64-byte lines, while
 * parameters stay packed so that offsets are those of the file. */
struct rc_carve {
	float *base;     /* NULL while counting */
	size_t off;      /* floats taken so far */
	size_t align;
};

/* rc_carve - the next n floats: base + off (NULL while counting). */
static inline float *rc_carve(struct rc_carve *cv, size_t n)
{
	float *p = cv->base ? cv->base + cv->off : NULL;
	size_t a = cv->align > 1 ? cv->align : 1;
	cv->off += (n + a - 1) & ~(a - 1);
	return p;
}

#endif
