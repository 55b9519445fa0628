/* arena.c - the block-list arena of arena.h. Normal blocks: those before
 * `cur` are full, those after it were emptied by a reset. Large blocks: a
 * second list, reused in order after a reset.
 */
#include "base/arena.h"

#include "base/error.h"
#include "base/log.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(RC_ARENA_ALIGN >= alignof(max_align_t),
	       "arena alignment below max_align_t");

struct rc_arena_block {
	struct rc_arena_block *next;
	size_t size; /* usable bytes after the header */
	size_t used;
	/* data follows, at HEADER bytes from the block start */
};

/* The header rounded up so that data starts aligned. */
#define HEADER ((sizeof(struct rc_arena_block) + RC_ARENA_ALIGN - 1) & \
		~(size_t)(RC_ARENA_ALIGN - 1))

static size_t round_up(size_t n)
{
	return (n + RC_ARENA_ALIGN - 1) & ~(size_t)(RC_ARENA_ALIGN - 1);
}

static char *block_data(struct rc_arena_block *b)
{
	return (char *)b + HEADER;
}

static struct rc_arena_block *block_new(struct rc_arena *a, size_t size)
{
	/* aligned_alloc wants a multiple of the alignment; size already is. */
	struct rc_arena_block *b = aligned_alloc(RC_ARENA_ALIGN, HEADER + size);
	if (!b) {
		rc_log_error(RC_E_NOMEM, "out of memory (arena block of %zu bytes)",
			     HEADER + size);
		return NULL;
	}
	b->next = NULL;
	b->size = size;
	b->used = 0;
	a->reserved += size;
	return b;
}

void rc_arena_init(struct rc_arena *a, size_t block_size)
{
	memset(a, 0, sizeof *a);
	a->block_size = block_size;
}

static size_t block_size_of(const struct rc_arena *a)
{
	size_t bs = a->block_size ? a->block_size : RC_ARENA_DEFAULT_BLOCK;
	if (bs < RC_ARENA_MIN_BLOCK)
		bs = RC_ARENA_MIN_BLOCK;
	return bs > SIZE_MAX / 2 ? SIZE_MAX / 2 : round_up(bs);
}

/* A large allocation: the next large block if it is big enough, else a
 * new block in its place (the old one freed), so that the list never holds
 * more blocks than the largest number of large allocations in one round. */
static void *alloc_large(struct rc_arena *a, size_t need)
{
	struct rc_arena_block *b = a->big_last ? a->big_last->next : a->big;
	if (!b || b->size < need) {
		struct rc_arena_block *nb = block_new(a, need);
		if (!nb)
			return NULL;
		if (b) {
			nb->next = b->next;
			a->reserved -= b->size;
			free(b);
		}
		if (a->big_last)
			a->big_last->next = nb;
		else
			a->big = nb;
		b = nb;
	}
	b->used = need;
	a->big_last = b;
	return block_data(b);
}

void *rc_arena_alloc(struct rc_arena *a, size_t n)
{
	size_t bs = block_size_of(a);

	if (n > SIZE_MAX - HEADER - RC_ARENA_ALIGN) {
		rc_log_error(RC_E_NOMEM, "out of memory (%zu bytes)", n);
		return NULL;
	}
	size_t need = round_up(n ? n : 1);
	if (need > bs / 4)
		return alloc_large(a, need);

	struct rc_arena_block *b = a->cur;
	if (!b || b->size - b->used < need) {
		/* The next block is empty (after a reset) and holds a quarter
		 * block; else add one at the end. */
		if (b && b->next) {
			b = b->next;
		} else {
			struct rc_arena_block *nb = block_new(a, bs);
			if (!nb)
				return NULL;
			if (b)
				b->next = nb;
			else
				a->first = nb;
			b = nb;
		}
		a->cur = b;
	}
	void *p = block_data(b) + b->used;
	b->used += need;
	return p;
}

void *rc_arena_calloc(struct rc_arena *a, size_t count, size_t size)
{
	if (size && count > SIZE_MAX / size) {
		rc_log_error(RC_E_NOMEM, "out of memory (%zu x %zu bytes)",
			     count, size);
		return NULL;
	}
	void *p = rc_arena_alloc(a, count * size);
	if (p)
		memset(p, 0, count * size);
	return p;
}

char *rc_arena_strndup(struct rc_arena *a, const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = rc_arena_alloc(a, len + 1);
	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

char *rc_arena_strdup(struct rc_arena *a, const char *s)
{
	return rc_arena_strndup(a, s, SIZE_MAX);
}

void rc_arena_reset(struct rc_arena *a)
{
	for (struct rc_arena_block *b = a->first; b; b = b->next)
		b->used = 0;
	a->cur = a->first;
	a->big_last = NULL;
}

static void free_list(struct rc_arena_block *b)
{
	while (b) {
		struct rc_arena_block *next = b->next;
		free(b);
		b = next;
	}
}

void rc_arena_free(struct rc_arena *a)
{
	if (!a)
		return;
	free_list(a->first);
	free_list(a->big);
	a->first = NULL;
	a->cur = NULL;
	a->big = NULL;
	a->big_last = NULL;
	a->reserved = 0;
}

size_t rc_arena_reserved(const struct rc_arena *a)
{
	return a->reserved;
}

char *rc_arena_path_join(struct rc_arena *a, const char *root, const char *path)
{
	if (path[0] == '/' || !root || !*root)
		return rc_arena_strdup(a, path);
	size_t la = strlen(root), lb = strlen(path);
	char *p = rc_arena_alloc(a, la + lb + 2);
	if (p) {
		memcpy(p, root, la);
		p[la] = '/';
		memcpy(p + la + 1, path, lb + 1);
	}
	return p;
}
