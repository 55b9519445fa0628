/* prefetch.c - a thread one batch ahead of the training loop (prefetch.h):
 * two slots of batch buffers; the thread fills the one the caller does
 * not hold, the caller takes them in turn. */
#include "train/prefetch.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "base/progress.h"
#include "data/record.h"
#include "model/backend.h"

struct slot {
	struct rc_batch b;       /* points into the buffers below */
	size_t cap_rgb, cap_ids, cap_cls, cap_multi;   /* bytes */
	int rc;
};

struct rc_prefetch {
	struct rc_loader *l;
	struct rc_backend *be;   /* the images' memory (pinned), or NULL: the heap */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot s[2];
	int full[2];            /* filled, not taken yet */
	int fill, take;         /* the slot the thread fills next, the caller takes next */
	int held;               /* the slot the caller holds, or -1 */
	int stop, ended;        /* asked to stop; the thread has returned */
	long epoch;             /* rc_prefetch_tell */
	uint64_t cursor;
};

/* grow - *p to hold n bytes (a new block when it is too small). */
static int grow(void **p, size_t *cap, size_t n)
{
	if (n <= *cap)
		return 0;
	void *q = realloc(*p, n);
	if (!q)
		return RC_E_NOMEM;
	*p = q, *cap = n;
	return 0;
}

/* grow_rgb - grow for the images, in be's pinned memory (the contents
 * need not survive: the batch is copied in after). */
static int grow_rgb(struct rc_backend *be, uint8_t **p, size_t *cap, size_t n)
{
	if (!be)
		return grow((void **)p, cap, n);
	if (n <= *cap)
		return 0;
	rc_backend_pinned_free(be, *p);
	*cap = 0;
	if (!(*p = rc_backend_pinned_alloc(be, n)))
		return RC_E_NOMEM;
	*cap = n;
	return 0;
}

/* copy - batch b (the loader's buffers) into slot s's own. */
static int copy(struct rc_backend *be, struct slot *s, const struct rc_batch *b)
{
	const size_t S = (size_t)b->image_size, rgb = (size_t)b->n * S * S * 3;
	const size_t ids = (size_t)b->ntext * b->n * b->T * sizeof *b->ids;
	const size_t rows = (size_t)b->n, multi = rows * RC_CATEGORIES * sizeof *b->multi;
	struct rc_batch *d = &s->b;
	if (grow_rgb(be, &d->rgb, &s->cap_rgb, rgb) < 0 ||
	    grow((void **)&d->ids, &s->cap_ids, ids) < 0 ||
	    grow((void **)&d->cls, &s->cap_cls, rows) < 0 ||
	    grow((void **)&d->multi, &s->cap_multi, multi) < 0)
		return rc_log_error(RC_E_NOMEM, "prefetch: out of memory for a batch");
	uint8_t *r = d->rgb, *c = d->cls;
	int32_t *i = d->ids;
	float *m = d->multi;
	*d = *b;
	d->rgb = r, d->ids = i, d->cls = c, d->multi = m;
	memcpy(d->rgb, b->rgb, rgb);
	memcpy(d->ids, b->ids, ids);
	memcpy(d->cls, b->cls, rows);
	memcpy(d->multi, b->multi, multi);
	return 0;
}

static void *run(void *arg)
{
	struct rc_prefetch *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && (p->full[p->fill] || p->held == p->fill))
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		struct slot *s = &p->s[p->fill];
		pthread_mutex_unlock(&p->mu);
		struct rc_batch b;
		int rc = rc_loader_next(p->l, &b);
		if (rc == 0)
			rc = copy(p->be, s, &b);
		pthread_mutex_lock(&p->mu);
		s->rc = rc;
		p->full[p->fill] = 1;
		p->fill ^= 1;
		pthread_cond_broadcast(&p->cv);
		if (rc < 0)
			break;          /* the loader has moved past a bad batch: no more */
	}
	p->ended = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int rc_prefetch_new(struct rc_prefetch **out, struct rc_loader *l, struct rc_backend *be)
{
	*out = NULL;
	struct rc_prefetch *p = rc_calloc(1, sizeof *p);
	if (!p)
		return RC_E_NOMEM;
	p->l = l;
	p->be = be;
	p->held = -1;
	rc_loader_tell(l, &p->epoch, &p->cursor);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	int e = pthread_create(&p->thread, NULL, run, p);
	if (e) {
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return rc_log_error(RC_E_IO, "prefetch: cannot start a thread: %s", strerror(e));
	}
	*out = p;
	return 0;
}

int rc_prefetch_next(struct rc_prefetch *p, struct rc_batch *b, double *wait_s)
{
	const double t0 = rc_seconds();
	pthread_mutex_lock(&p->mu);
	p->held = -1;                       /* the previous batch is done with */
	pthread_cond_broadcast(&p->cv);
	while (!p->full[p->take] && !p->ended)
		pthread_cond_wait(&p->cv, &p->mu);
	int rc;
	if (!p->full[p->take]) {
		rc = RC_E_IO;                   /* after an error: the thread is gone */
	} else {
		struct slot *s = &p->s[p->take];
		rc = s->rc;
		if (rc == 0) {
			*b = s->b;
			p->epoch = b->epoch, p->cursor = b->end;
			p->held = p->take;
			p->full[p->take] = 0;
			p->take ^= 1;
		}
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (wait_s)
		*wait_s = rc_seconds() - t0;
	return rc;
}

void rc_prefetch_tell(const struct rc_prefetch *p, long *epoch, uint64_t *cursor)
{
	*epoch = p->epoch, *cursor = p->cursor;
}

void rc_prefetch_free(struct rc_prefetch *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thread, NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	for (int k = 0; k < 2; k++) {
		if (p->be)
			rc_backend_pinned_free(p->be, p->s[k].b.rgb);
		else
			free(p->s[k].b.rgb);
		free(p->s[k].b.ids);
		free(p->s[k].b.cls);
		free(p->s[k].b.multi);
	}
	free(p);
}
