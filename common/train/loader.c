/* loader.c - the training data loader (loader.h): the per-epoch item
 * numbering (shard order, shuffle buffer), the batch slice of this rank,
 * and reading, decoding and packing the rows on threads. */
#include "train/loader.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/error.h"
#include "data/image.h"
#include "data/preprocess.h"
#include "data/tokenizer_id.h"
#include "base/io.h"
#include "base/log.h"
#include "data/record.h"
#include "base/rng.h"
#include "data/shard.h"
#include "base/thread.h"
#include "train/perm.h"

struct item {
	uint32_t shard, sub;
	uint64_t rec;
};

struct rc_loader {
	struct rc_loader_opts o;
	struct rc_shard_list list;
	struct rc_shard **shard;      /* [nshards] open for random access */
	size_t nshards;
	uint64_t *first;              /* [nshards + 1] each shard's first record number */
	uint64_t records;             /* in all the shards */
	uint64_t *held;               /* [nheld] the held-out record numbers, ascending */
	uint64_t nheld;
	int *per;                     /* [nshards] items per record of each shard */
	uint64_t *ifirst;             /* [nshards + 1] each shard's first item of the split */
	uint64_t *hfirst;             /* [nshards + 1] held-out records before each shard */
	int schema;                   /* the records' schema (S0-Rea: ReasonPro's too) */
	const char *tokenizer;        /* the data's (the first shard's, owned by it) */
	int batch;                    /* items per batch */
	uint64_t items;               /* per epoch */
	long spe;                     /* steps per epoch */
	int local;                    /* rows of this rank */

	/* the numbering of the current epoch */
	long epoch;
	uint64_t emitted;
	struct rc_perm perm;          /* RC_SHUFFLE_PERM's; RC_SHUFFLE_GROUPS's of pass */
	uint64_t pass;                /* RC_SHUFFLE_GROUPS: the pass perm is for */
	uint32_t *order;              /* [nshards] shard order (RC_SHUFFLE_BUFFER) */
	size_t si;                    /* position in order */
	uint64_t rec;
	uint32_t sub;
	struct item *buf;             /* shuffle buffer */
	size_t nbuf;
	uint64_t rng;

	/* the batch */
	struct item *slice;           /* [local] */
	uint64_t *keys;               /* [batch] the batch's record numbers */
	struct rc_batch b;
	int32_t *rowtok;              /* [ntext·local, ctx] */
	int *rowlen;                  /* [ntext·local] */
	int *err;                     /* [local] */
	int *src, *firstrow;          /* [local] the row that reads each row's record */
	struct rc_record *recs;       /* [local] records read (at their first row) */
	struct rc_arena *arena;       /* [local] one per row */
	int narena;
};

/* ---------------------------------------------------------------- numbering */

static uint64_t mix(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t s = a ^ (b * 0xd1342543de82ef95ull) ^ (c * 0xaf251af3b0f025b5ull);
	rc_rng_next(&s);
	return rc_rng_next(&s);
}

/* record_of - the global number of record rec of shard sh. */
static uint64_t record_of(const struct rc_loader *l, uint32_t sh, uint64_t rec)
{
	return l->first[sh] + rec;
}

/* locate - the shard and record of global record number g. */
static void locate(const struct rc_loader *l, uint64_t g, struct item *it)
{
	size_t lo = 0, hi = l->nshards;          /* first[lo] <= g < first[hi] */
	while (hi - lo > 1) {
		const size_t mid = lo + (hi - lo) / 2;
		if (l->first[mid] <= g)
			lo = mid;
		else
			hi = mid;
	}
	it->shard = (uint32_t)lo, it->rec = g - l->first[lo];
}

/* is_held - whether global record g is held out. */
static int is_held(const struct rc_loader *l, uint64_t g)
{
	size_t lo = 0, hi = l->nheld;
	while (lo < hi) {
		const size_t mid = lo + (hi - lo) / 2;
		if (l->held[mid] == g)
			return 1;
		if (l->held[mid] < g)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* kept_record - the global number of the j-th record that is not held
 * out: j plus the number of held-out records before it, which are those
 * held[k] with held[k] - k <= j (held[k] - k counts the kept records
 * below held[k], a non-decreasing sequence). */
static uint64_t kept_record(const struct rc_loader *l, uint64_t j)
{
	size_t lo = 0, hi = l->nheld;
	while (lo < hi) {
		const size_t mid = lo + (hi - lo) / 2;
		if (l->held[mid] - mid <= j)
			lo = mid + 1;
		else
			hi = mid;
	}
	return j + lo;
}

/* item_at - item k of the stream in dataset order (the split's records,
 * image-major). Records of a shard have the same number of items; with
 * the same number everywhere, record k / per and sub-item k % per. */
static void item_at(const struct rc_loader *l, uint64_t k, struct item *it)
{
	size_t lo = 0, hi = l->nshards;          /* ifirst[lo] <= k < ifirst[lo + 1] */
	while (hi - lo > 1) {
		const size_t mid = lo + (hi - lo) / 2;
		if (l->ifirst[mid] <= k)
			lo = mid;
		else
			hi = mid;
	}
	const uint64_t in = k - l->ifirst[lo], per = (uint64_t)l->per[lo];
	const uint64_t j = in / per;             /* the split's record j of the shard */
	const uint64_t g = l->o.split ? l->held[l->hfirst[lo] + j] :
		kept_record(l, l->first[lo] - l->hfirst[lo] + j);
	locate(l, g, it);
	it->sub = (uint32_t)(in % per);
}

static void epoch_reset(struct rc_loader *l, long epoch)
{
	l->epoch = epoch, l->emitted = 0, l->si = 0, l->rec = 0, l->sub = 0, l->nbuf = 0;
	for (size_t i = 0; i < l->nshards; i++)
		l->order[i] = (uint32_t)i;
	if (l->o.shuffle == RC_SHUFFLE_BUFFER) {
		uint64_t s = mix(l->o.seed, (uint64_t)epoch, 1);
		for (size_t i = l->nshards; i > 1; i--) {
			size_t j = (size_t)rc_rng_below(&s, i);
			uint32_t t = l->order[i - 1];
			l->order[i - 1] = l->order[j], l->order[j] = t;
		}
	}
	if (l->o.shuffle == RC_SHUFFLE_PERM)
		rc_perm_init(&l->perm, l->items, mix(l->o.seed, (uint64_t)epoch, 3));
	l->pass = UINT64_MAX;
	l->rng = mix(l->o.seed, (uint64_t)epoch, 2);
}

/* group_item - item p of the epoch in RC_SHUFFLE_GROUPS's order (see
 * loader.h), as a number of item_at's dataset order. */
static uint64_t group_item(struct rc_loader *l, uint64_t p)
{
	const uint64_t per = (uint64_t)l->per[0], R = l->items / per, G = (uint64_t)l->o.group;
	const uint64_t pass = p / R, q = p % R, full = R / G;
	if (pass != l->pass) {
		rc_perm_init(&l->perm, full ? full : 1,
			mix(l->o.seed, (uint64_t)l->epoch * per + pass, 5));
		l->pass = pass;
	}
	const uint64_t j = q < full * G ? rc_perm_at(&l->perm, q / G) * G + q % G : q;
	/* the record's item of this pass: a seeded rotation, so that over
	 * the epoch's passes it gives each of its items once */
	const uint64_t sub = (pass + mix(l->o.seed, (uint64_t)l->epoch, 6 + j) % per) % per;
	return j * per + sub;
}

/* raw_next - the next item in the epoch's shard order, record after
 * record, leaving out the held-out records; 0 at the end. */
static int raw_next(struct rc_loader *l, struct item *it)
{
	for (;;) {
		while (l->si < l->nshards && l->rec >= l->list.e[l->order[l->si]].records)
			l->si++, l->rec = 0, l->sub = 0;
		if (l->si >= l->nshards)
			return 0;
		const uint32_t sh = l->order[l->si];
		if (l->sub == 0 && l->nheld && is_held(l, record_of(l, sh, l->rec))) {
			l->rec++;
			continue;
		}
		it->shard = sh, it->rec = l->rec, it->sub = l->sub;
		if (++l->sub == (uint32_t)l->per[sh])
			l->sub = 0, l->rec++;
		return 1;
	}
}

/* next_item - the next item of the epoch's stream; 0 at its end. */
static int next_item(struct rc_loader *l, struct item *it)
{
	if (l->o.shuffle != RC_SHUFFLE_BUFFER) {
		if (l->emitted >= l->items)
			return 0;
		item_at(l, l->o.shuffle == RC_SHUFFLE_PERM ? rc_perm_at(&l->perm, l->emitted) :
			l->o.shuffle == RC_SHUFFLE_GROUPS ? group_item(l, l->emitted) :
			l->emitted, it);
	} else {
		struct item x;
		while (l->nbuf < (size_t)l->o.buffer && raw_next(l, &x))
			l->buf[l->nbuf++] = x;
		if (!l->nbuf)
			return 0;
		size_t j = (size_t)rc_rng_below(&l->rng, l->nbuf);
		*it = l->buf[j];
		l->buf[j] = l->buf[--l->nbuf];
	}
	l->emitted++;
	return 1;
}

int rc_loader_seek(struct rc_loader *l, long epoch, uint64_t cursor)
{
	if (epoch < 0 || cursor > (uint64_t)l->spe * (uint64_t)l->batch)
		return rc_log_error(RC_E_RANGE, "data: position %ld/%llu outside the stream "
			"(%llu items per epoch)", epoch, (unsigned long long)cursor,
			(unsigned long long)l->items);
	epoch_reset(l, epoch);
	if (l->o.shuffle != RC_SHUFFLE_BUFFER) {
		l->emitted = cursor;             /* random access: nothing to replay */
		return 0;
	}
	struct item it;
	for (uint64_t k = 0; k < cursor; k++)
		next_item(l, &it);
	return 0;
}

void rc_loader_tell(const struct rc_loader *l, long *epoch, uint64_t *cursor)
{
	*epoch = l->epoch, *cursor = l->emitted;
}

int rc_loader_item(struct rc_loader *l, long epoch, uint64_t k, uint32_t *shard,
	uint64_t *record, uint32_t *sub)
{
	long e;
	uint64_t c;
	rc_loader_tell(l, &e, &c);
	epoch_reset(l, epoch);
	struct item it = { 0, 0, 0 };
	int ok = 1;
	for (uint64_t i = 0; i <= k && ok; i++)
		ok = next_item(l, &it);
	rc_loader_seek(l, e, c);
	if (!ok)
		return RC_E_RANGE;
	*shard = it.shard, *record = it.rec, *sub = it.sub;
	return 0;
}

/* ---------------------------------------------------------------- open */

static int stage_schema(const struct rc_loader_opts *o)
{
	if (o->stage == 2)
		return RC_SCHEMA_PRO;
	if (o->stage == 1 || o->stream != RC_STREAM_CAPTION)
		return RC_SCHEMA_LITE;
	return RC_SCHEMA_DESC;
}

/* S0-Rea: stage 0 --stream trl takes ReasonPro shards beside ReasonLite
 * ones, as the official baseline trains on trl and trp together. */
static int mixes_pro(const struct rc_loader_opts *o)
{
	return o->stage == 0 && o->stream == RC_STREAM_TRL;
}

/* Items per record of a shard of schema: a ReasonPro record in S0-Rea is
 * one item (its trp), as each of a ReasonLite record's 3 trl is. */
static int stage_per(const struct rc_loader_opts *o, int schema)
{
	if (o->stage == 1)
		return 9;
	if (mixes_pro(o) && schema == RC_SCHEMA_PRO)
		return 1;
	if (o->stage == 0 && o->stream != RC_STREAM_CAPTION)
		return 3;
	return 1;
}

void rc_loader_close(struct rc_loader *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->nshards; i++)
		rc_shard_close(l->shard[i]);
	free(l->shard);
	rc_shard_list_free(&l->list);
	free(l->first);
	free(l->per);
	free(l->ifirst);
	free(l->hfirst);
	free(l->held);
	free(l->order);
	free(l->buf);
	free(l->slice);
	free(l->keys);
	free(l->b.rgb);
	free(l->b.ids);
	free(l->b.cls);
	free(l->b.multi);
	free(l->rowtok);
	free(l->rowlen);
	free(l->err);
	free(l->src);
	free(l->firstrow);
	free(l->recs);
	for (int i = 0; l->arena && i < l->narena; i++)
		rc_arena_free(&l->arena[i]);
	free(l->arena);
	free(l);
}

static int cmp_u64(const void *a, const void *b)
{
	const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* hold_out - the held-out records: ceil(F·records) of them (as a
 * train_test_split of that fraction), the images of the first ones of a
 * seeded permutation of the records, kept sorted. */
static int hold_out(struct rc_loader *l)
{
	const double f = l->o.holdout;
	if (!(f > 0))
		return 0;
	uint64_t n = (uint64_t)ceil(f * (double)l->records);
	if (n > l->records)
		n = l->records;
	if (!(l->held = rc_malloc((n ? n : 1) * sizeof *l->held)))
		return RC_E_NOMEM;
	struct rc_perm p;
	rc_perm_init(&p, l->records, mix(l->o.seed, 0, 4));
	for (uint64_t k = 0; k < n; k++)
		l->held[k] = rc_perm_at(&p, k);
	qsort(l->held, n, sizeof *l->held, cmp_u64);
	l->nheld = n;
	return 0;
}

/* Shard i's ids against the model's tokenizer, and one tokenizer a
 * list: the first shard's names the data's (what a model that names none
 * is trained on). */
static int check_tokenizer(struct rc_loader *l, size_t i)
{
	const char *have = rc_shard_tokenizer(l->shard[i]);
	if (l->o.tokenizer &&
	    rc_tokenizer_check(l->list.e[i].full, have, l->o.tokenizer, l->o.vocab) < 0)
		return RC_E_FORMAT;
	if (i == 0) {
		l->tokenizer = have;
		return 0;
	}
	if (rc_tokenizer_agree(have, l->tokenizer))
		return 0;
	return rc_log_error(RC_E_FORMAT, "%s: token ids of %s, and %s holds ids of %s: one "
		"list, one tokenizer", l->list.e[i].full, have, l->list.e[0].full, l->tokenizer);
}

const char *rc_loader_tokenizer(const struct rc_loader *l)
{
	return l->tokenizer;
}

int rc_loader_open(struct rc_loader **out, const struct rc_loader_opts *o)
{
	*out = NULL;
	if (o->stage < 0 || o->stage > 2 || o->batch < 1 || o->nranks < 1 || o->rank < 0 ||
	    o->rank >= o->nranks || o->batch % o->nranks || o->buffer < 1 ||
	    o->image_size < 1 || o->ctx < 2 || o->vocab < 1 || o->shuffle < RC_SHUFFLE_NONE ||
	    o->shuffle > RC_SHUFFLE_GROUPS || (o->shuffle == RC_SHUFFLE_GROUPS && o->group < 1) ||
	    !(o->holdout >= 0 && o->holdout < 1) ||
	    (o->split && !(o->holdout > 0)) ||
	    (o->stage == 0 && (o->stream < RC_STREAM_CAPTION || o->stream > RC_STREAM_TRL)))
		return rc_log_error(RC_E_ARG, "data loader: bad options (batch %d over %d ranks)",
			o->batch, o->nranks);
	if (o->pad_full && (o->pad_id < 0 || o->pad_id >= o->vocab))
		return rc_log_error(RC_E_RANGE, "the model's pad_token_id %d is outside its "
			"vocabulary (%d)", o->pad_id, o->vocab);
	struct rc_loader *l = rc_calloc(1, sizeof *l);
	if (!l)
		return RC_E_NOMEM;
	int rc;
	l->o = *o;
	if (o->split)
		l->o.shuffle = RC_SHUFFLE_NONE;
	l->schema = stage_schema(o);
	rc_shard_list_init(&l->list);
	if ((rc = rc_shard_list_read(&l->list, o->list)) < 0)
		goto fail;
	l->nshards = l->list.n;
	if (!l->nshards) {
		rc = rc_log_error(RC_E_RANGE, "%s: no shards in the list", o->list);
		goto fail;
	}
	rc = RC_E_NOMEM;
	if (!(l->shard = rc_calloc(l->nshards, sizeof *l->shard)) ||
	    !(l->first = rc_calloc(l->nshards + 1, sizeof *l->first)) ||
	    !(l->per = rc_calloc(l->nshards, sizeof *l->per)) ||
	    !(l->ifirst = rc_calloc(l->nshards + 1, sizeof *l->ifirst)) ||
	    !(l->hfirst = rc_calloc(l->nshards + 1, sizeof *l->hfirst)) ||
	    !(l->order = rc_calloc(l->nshards, sizeof *l->order)))
		goto fail;
	for (size_t i = 0; i < l->nshards; i++) {
		const struct rc_shard_list_entry *e = &l->list.e[i];
		if (o->verify && (rc = rc_shard_list_check(&l->list, i)) < 0)
			goto fail;
		if ((rc = rc_shard_open(&l->shard[i], e->full)) < 0)
			goto fail;
		const struct rc_shard_info *in = rc_shard_info(l->shard[i]);
		if (in->records != e->records) {
			rc = rc_log_error(RC_E_FORMAT, "%s:%llu: %s: %llu records in the list, %llu in "
				"the file", o->list, (unsigned long long)e->lineno, e->path,
				(unsigned long long)e->records, (unsigned long long)in->records);
			goto fail;
		}
		if (in->schema != RC_SCHEMA_NONE && in->schema != (uint32_t)l->schema &&
		    !(mixes_pro(o) && in->schema == RC_SCHEMA_PRO)) {
			rc = rc_log_error(RC_E_ARG, "%s: schema %s; stage %d%s needs %s%s", e->full,
				rc_shard_schema_name((int)in->schema), o->stage,
				o->stage == 0 ? (o->stream == RC_STREAM_CAPTION ? " --stream caption" :
				o->stream == RC_STREAM_TB ? " --stream tb" : " --stream trl") : "",
				rc_shard_schema_name(l->schema), mixes_pro(o) ? " or reasonpro" : "");
			goto fail;
		}
		l->per[i] = stage_per(o, (int)in->schema);
		if (l->o.shuffle == RC_SHUFFLE_GROUPS && l->per[i] != l->per[0]) {
			rc = rc_log_error(RC_E_ARG, "%s: %d items a record, %s has %d: groups of "
				"records need the same number everywhere", e->full, l->per[i],
				l->list.e[0].full, l->per[0]);
			goto fail;
		}
		if (rc_preprocess_check(e->full, in, o->preprocess, o->image_size) < 0 ||
		    check_tokenizer(l, i) < 0) {
			rc = RC_E_ARG; /* a shard that does not fit, as the schema */
			goto fail;
		}
		l->first[i + 1] = l->first[i] + e->records;
	}
	l->records = l->first[l->nshards];
	if ((rc = hold_out(l)) < 0)
		goto fail;
	/* the split's items shard by shard: its records times their items */
	for (size_t i = 0, h = 0; i < l->nshards; i++) {
		while (h < l->nheld && l->held[h] < l->first[i + 1])
			h++;
		l->hfirst[i + 1] = h;
		const uint64_t held = h - l->hfirst[i], n = l->first[i + 1] - l->first[i];
		l->ifirst[i + 1] = l->ifirst[i] + (o->split ? held : n - held) * (uint64_t)l->per[i];
	}
	l->items = l->ifirst[l->nshards];
	l->batch = o->batch;
	if (o->split) {
		/* the held-out items in batches of at most `batch`, a multiple of the ranks */
		const uint64_t fit = l->items - l->items % (uint64_t)o->nranks;
		if (fit < (uint64_t)l->batch)
			l->batch = (int)fit;
		if (l->batch < 1) {
			rc = rc_log_error(RC_E_RANGE, "%s: %llu held-out items, fewer than the %d ranks",
				o->list, (unsigned long long)l->items, o->nranks);
			goto fail;
		}
	}
	l->local = l->batch / o->nranks;
	l->spe = (long)(l->items / (uint64_t)l->batch);
	if (l->spe < 1) {
		rc = rc_log_error(RC_E_RANGE, "%s: %llu items per epoch, fewer than one batch of %d",
			o->list, (unsigned long long)l->items, l->batch);
		if (l->nheld)
			rc_log_hint("%llu of the %llu records are held out", (unsigned long long)l->nheld,
				(unsigned long long)l->records);
		goto fail;
	}
	const int nt = o->stage == 1 ? 2 : 1, n = l->local, S = o->image_size;
	l->narena = n;   /* one arena per row: any thread may read any row */
	rc = RC_E_NOMEM;
	if ((l->o.shuffle == RC_SHUFFLE_BUFFER &&
	     !(l->buf = rc_calloc((size_t)o->buffer, sizeof *l->buf))) ||
	    !(l->slice = rc_calloc((size_t)n, sizeof *l->slice)) ||
	    !(l->keys = rc_calloc((size_t)l->batch, sizeof *l->keys)) ||
	    !(l->b.rgb = rc_malloc((size_t)n * S * S * 3)) ||
	    !(l->b.ids = rc_malloc((size_t)nt * n * o->ctx * sizeof(int32_t))) ||
	    !(l->b.cls = rc_calloc((size_t)n, 1)) ||
	    !(l->b.multi = rc_calloc((size_t)n * RC_CATEGORIES, sizeof(float))) ||
	    !(l->rowtok = rc_malloc((size_t)nt * n * o->ctx * sizeof(int32_t))) ||
	    !(l->rowlen = rc_calloc((size_t)nt * n, sizeof(int))) ||
	    !(l->err = rc_calloc((size_t)n, sizeof(int))) ||
	    !(l->src = rc_calloc((size_t)n, sizeof(int))) ||
	    !(l->firstrow = rc_calloc((size_t)n, sizeof(int))) ||
	    !(l->recs = rc_calloc((size_t)n, sizeof *l->recs)) ||
	    !(l->arena = rc_calloc((size_t)l->narena, sizeof *l->arena)))
		goto fail;
	l->b.ntext = nt;
	epoch_reset(l, 0);
	*out = l;
	return 0;
fail:
	rc_loader_close(l);
	return rc;
}

uint64_t rc_loader_items(const struct rc_loader *l)
{
	return l->items;
}

long rc_loader_steps_per_epoch(const struct rc_loader *l)
{
	return l->spe;
}

int rc_loader_batch(const struct rc_loader *l)
{
	return l->batch;
}

uint64_t rc_loader_held(const struct rc_loader *l)
{
	return l->nheld;
}

/* ---------------------------------------------------------------- rows */

/* nth_text - the k-th text of role in rec, or NULL. */
static const struct rc_text *nth_text(const struct rc_record *rec, int role, int k, int *count)
{
	const struct rc_text *t = NULL;
	int c = 0;
	for (uint32_t i = 0; i < rec->ntexts; i++)
		if (rec->texts[i].role == role) {
			if (c == k)
				t = &rec->texts[i];
			c++;
		}
	if (count)
		*count = c;
	return t;
}

/* put_tokens - text t as row r of the batch's token rows, cut to the
 * context as open_clip cuts (the last id becomes the end token). */
static int put_tokens(struct rc_loader *l, int r, const struct rc_text *t, const char *shard,
	uint64_t rec)
{
	if (!t->ntokens)
		return rc_log_error(RC_E_FORMAT, "%s: record %llu: a text without token ids", shard,
			(unsigned long long)rec);
	int n = t->ntokens < l->o.ctx ? t->ntokens : l->o.ctx;
	int32_t *row = l->rowtok + (size_t)r * l->o.ctx;
	for (int i = 0; i < n; i++) {
		uint32_t id = rc_text_token(t, (size_t)i);
		if (id >= (uint32_t)l->o.vocab)
			return rc_log_error(RC_E_RANGE, "%s: record %llu: token id %u is outside the "
				"model's vocabulary (%d)", shard, (unsigned long long)rec, id,
				l->o.vocab);
		row[i] = (int32_t)id;
	}
	if (t->ntokens > l->o.ctx)
		row[n - 1] = l->o.eot;
	l->rowlen[r] = n;
	return 0;
}

static const int stream_role[] = { 0, RC_ROLE_CAPTION, RC_ROLE_TB, RC_ROLE_TRL };

/* read_record - phase 1, for the first row r of each record in the
 * batch: read the record (its checksum checked), check that it fits the
 * stage, and decode its image into row r. Each bad record is logged once. */
static int read_record(struct rc_loader *l, int r)
{
	const struct item *it = &l->slice[r];
	struct rc_shard *sh = l->shard[it->shard];
	const char *name = rc_shard_name(sh);
	const int S = l->o.image_size;
	struct rc_record *rec = &l->recs[r];
	int rc = rc_shard_read(sh, it->rec, rec, &l->arena[r]);
	if (rc < 0)
		return rc;
	const unsigned long long ri = (unsigned long long)it->rec;
	const int want = rc_shard_info(sh)->schema != RC_SCHEMA_NONE ?
		(int)rc_shard_info(sh)->schema : l->schema;
	if (rec->schema != want)
		return rc_log_error(RC_E_FORMAT, "%s: record %llu: schema %s; stage %d needs %s",
			name, ri, rc_shard_schema_name(rec->schema), l->o.stage,
			rc_shard_schema_name(want));
	int c1, c2;
	if (l->o.stage == 1) {
		nth_text(rec, RC_ROLE_TB, 0, &c1);
		nth_text(rec, RC_ROLE_TRL, 0, &c2);
		if (c1 != 3 || c2 != 3)
			return rc_log_error(RC_E_FORMAT, "%s: record %llu: %d tb and %d trl captions; "
				"stage 1 needs 3 of each", name, ri, c1, c2);
	} else if (l->o.stage == 2 || rec->schema == RC_SCHEMA_PRO) {
		if (!nth_text(rec, RC_ROLE_TRP, 0, &c1))
			return rc_log_error(RC_E_FORMAT, "%s: record %llu: no trp caption", name, ri);
		if (l->o.stage == 2 && !rec->nlabels)
			return rc_log_error(RC_E_FORMAT, "%s: record %llu: no trp_cls category", name, ri);
		for (uint32_t i = 0; i < rec->nlabels; i++)
			if (rec->labels[i] >= RC_CATEGORIES)
				return rc_log_error(RC_E_FORMAT, "%s: record %llu: category id %u", name,
					ri, rec->labels[i]);
	} else {
		nth_text(rec, stream_role[l->o.stream], 0, &c1);
		if (l->o.stream == RC_STREAM_CAPTION ? c1 < 1 : c1 != 3)
			return rc_log_error(RC_E_FORMAT, "%s: record %llu: %d %s captions, need %s", name,
				ri, c1, l->o.stream == RC_STREAM_TB ? "tb" : l->o.stream == RC_STREAM_TRL ?
				"trl" : "descriptive", l->o.stream == RC_STREAM_CAPTION ? "one" : "3");
	}
	uint8_t *px = l->b.rgb + (size_t)r * S * S * 3;
	const struct rc_shard_info *in = rc_shard_info(sh);
	if (in->store == RC_STORE_RAW) {
		if (rec->image_len != (uint32_t)(S * S * 3))
			return rc_log_error(RC_E_FORMAT, "%s: record %llu: %u image bytes, not %d",
				name, ri, rec->image_len, S * S * 3);
		memcpy(px, rec->image, (size_t)S * S * 3);
		return 0;
	}
	struct rc_image im;
	char why[128];
	if ((rc = rc_image_decode(rec->image, rec->image_len, NULL, &im, why, sizeof why)) < 0)
		return rc_log_error(rc, "%s: record %llu: image: %s", name, ri, why);
	if (im.w != S || im.h != S)
		rc = rc_log_error(RC_E_FORMAT, "%s: record %llu: a %dx%d image in a %dx%d shard",
			name, ri, im.w, im.h, S, S);
	else
		memcpy(px, im.rgb, (size_t)S * S * 3);
	rc_image_free(&im);
	return rc;
}

/* fill_row - phase 2: row r's texts (and labels) from the record read for
 * row src, and its pixels copied from row src. */
static int fill_row(struct rc_loader *l, int r, int src)
{
	const struct item *it = &l->slice[r];
	const struct rc_record *rec = &l->recs[src];
	const char *name = rc_shard_name(l->shard[it->shard]);
	const int n = l->local, S = l->o.image_size;
	int rc, count;
	if (r != src)
		memcpy(l->b.rgb + (size_t)r * S * S * 3, l->b.rgb + (size_t)src * S * S * 3,
			(size_t)S * S * 3);
	if (l->o.stage == 1) {
		const struct rc_text *tb = nth_text(rec, RC_ROLE_TB, (int)it->sub / 3, NULL);
		const struct rc_text *trl = nth_text(rec, RC_ROLE_TRL, (int)it->sub % 3, NULL);
		if ((rc = put_tokens(l, r, tb, name, it->rec)) < 0)
			return rc;
		return put_tokens(l, n + r, trl, name, it->rec);
	}
	if (l->o.stage == 0 && rec->schema == RC_SCHEMA_PRO)  /* S0-Rea: its trp */
		return put_tokens(l, r, nth_text(rec, RC_ROLE_TRP, 0, NULL), name, it->rec);
	if (l->o.stage == 2) {
		l->b.cls[r] = rec->labels[0];
		float *mh = l->b.multi + (size_t)r * RC_CATEGORIES;
		memset(mh, 0, RC_CATEGORIES * sizeof *mh);
		for (uint32_t i = 1; i < rec->nlabels; i++)
			mh[rec->labels[i]] = 1.0f;
		return put_tokens(l, r, nth_text(rec, RC_ROLE_TRP, 0, NULL), name, it->rec);
	}
	const int role = stream_role[l->o.stream];
	int k = (int)it->sub;
	if (l->o.stream == RC_STREAM_CAPTION) {
		nth_text(rec, role, 0, &count);
		k = l->o.shuffle ? (int)(mix(l->o.seed, (uint64_t)l->epoch,
			((uint64_t)it->shard << 40) ^ it->rec) % (uint64_t)count)
			: (int)(l->epoch % count);
	}
	return put_tokens(l, r, nth_text(rec, role, k, NULL), name, it->rec);
}

int rc_loader_next(struct rc_loader *l, struct rc_batch *b)
{
	const int B = l->batch, n = l->local;
	if (l->emitted + (uint64_t)B > (uint64_t)l->spe * (uint64_t)B)
		epoch_reset(l, l->epoch + 1);
	l->b.epoch = l->epoch, l->b.cursor = l->emitted;
	const int lo = l->o.rank * n;
	for (int k = 0; k < B; k++) {
		struct item it;
		next_item(l, &it);          /* never at the end: a whole batch remains */
		if (k >= lo && k < lo + n)
			l->slice[k - lo] = it;
		l->keys[k] = record_of(l, it.shard, it.rec);
	}
	/* the rows of the whole batch whose record (image) another row has too */
	qsort(l->keys, (size_t)B, sizeof *l->keys, cmp_u64);
	l->b.repeated = 0;
	for (int k = 0, e; k < B; k = e) {
		for (e = k + 1; e < B && l->keys[e] == l->keys[k]; e++)
			;
		if (e - k > 1)
			l->b.repeated += e - k;
	}
	/* each record once: src[r] is the first row holding row r's record */
	int nfirst = 0;
	for (int r = 0; r < n; r++) {
		int s = r;
		for (int q = 0; q < r && s == r; q++)
			if (l->slice[q].shard == l->slice[r].shard && l->slice[q].rec == l->slice[r].rec)
				s = l->src[q];
		l->src[r] = s;
		if (s == r)
			l->firstrow[nfirst++] = r;
	}
	int rc = 0;
	#pragma omp parallel for schedule(dynamic, 1)
	for (int k = 0; k < nfirst; k++)
		l->err[l->firstrow[k]] = read_record(l, l->firstrow[k]);
	for (int k = 0; k < nfirst && !rc; k++)
		rc = l->err[l->firstrow[k]];
	if (!rc) {
		#pragma omp parallel for schedule(dynamic, 1)
		for (int r = 0; r < n; r++)
			l->err[r] = fill_row(l, r, l->src[r]);
		for (int r = 0; r < n && !rc; r++)
			rc = l->err[r];
	}
	for (int k = 0; k < nfirst; k++)
		rc_arena_reset(&l->arena[l->firstrow[k]]);
	if (rc < 0)
		return rc;
	/* pack the token rows to the longest */
	const int rows = l->b.ntext * n;
	const int32_t pad = l->o.pad_full ? l->o.pad_id : 0;
	int T = l->o.pad_full ? l->o.ctx : 1;
	for (int r = 0; r < rows; r++)
		T = l->rowlen[r] > T ? l->rowlen[r] : T;
	for (int r = 0; r < rows; r++) {
		int32_t *dst = l->b.ids + (size_t)r * T;
		const int len = l->rowlen[r], lead = l->o.pad_full && l->o.pad_left ? T - len : 0;
		memcpy(dst + lead, l->rowtok + (size_t)r * l->o.ctx, (size_t)len * sizeof *dst);
		for (int i = 0; i < lead; i++)
			dst[i] = pad;
		for (int i = lead + len; i < T; i++)
			dst[i] = pad;
	}
	l->b.n = n, l->b.T = T, l->b.image_size = l->o.image_size, l->b.end = l->emitted;
	*b = l->b;
	return 0;
}
