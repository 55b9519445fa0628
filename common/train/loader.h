/* loader.h - the training data loader: a shard list streamed as the items
 * of a training stage, in batches of decoded pixels and token ids.
 *
 * An item is what one row of a batch holds (DESIGN.md §5):
 *   stage 0  --stream caption: a descriptive record (one of its captions,
 *            chosen per epoch); --stream tb or trl: one of the 3 tb or trl
 *            captions of a ReasonLite record (3 items per record);
 *            --stream trl also takes ReasonPro shards in the same list,
 *            one item per record (its trp): the official S0-Rea baseline,
 *            which trains on ReasonLite's trl and ReasonPro's trp as one
 *            dataset (a concatenation, each trl and each trp one item)
 *   stage 1  a (tb i, trl j) pair of a ReasonLite record: 9 items per
 *            record, item 3i + j
 *   stage 2  a ReasonPro record: trp, its class and its 3 listed classes
 * Every epoch visits every item once. Items are numbered without reading
 * the data (the record counts come from the shard list, the items per
 * record from each shard's schema), dataset order being record after
 * record, image-major. The order of an epoch is a
 * pure function of (seed, epoch), by the shuffle mode:
 *   RC_SHUFFLE_PERM    a seeded permutation of all the items of the epoch
 *                      (perm.h), read through the shards' indexes (shards
 *                      are random-access): what the official training's
 *                      random sampler does; two rows of a batch share an
 *                      image only by chance
 *   RC_SHUFFLE_BUFFER  the shards in a seeded order and the items through
 *                      a seeded shuffle buffer of `buffer` items (for
 *                      streams that cannot seek; neighbouring items, such
 *                      as the 9 pairs of one image, tend to share batches)
 *   RC_SHUFFLE_NONE    dataset order
 * A batch is the next `batch` items of that stream; an epoch ends when
 * fewer than `batch` remain (the rest are dropped, as drop_last). Where the
 * stream stands is (epoch, cursor): rc_loader_seek to a saved position
 * puts the stream there (at once for a permutation; the buffer replays
 * the numbering, reading no record) so a resumed run reads exactly the
 * batches an uninterrupted one would.
 *
 * Held-out records: with holdout F > 0, ceil(F·records) records chosen by
 * a seeded permutation of the records (the seed's, the same every epoch)
 * are set aside, as a train_test_split of the images. split 0 streams the
 * others as above; split 1 streams the held-out records' items in dataset
 * order, for evaluation, in batches of min(batch, the held-out items
 * rounded down to a multiple of nranks) (rc_loader_batch).
 *
 * With nranks > 1 every rank numbers the same stream and reads only its
 * slice of each batch, rows [rank·batch/nranks, (rank+1)·batch/nranks):
 * gathered in rank order, the slices are the batch one rank would read.
 *
 * Records are read on -j threads (rc_shard_read checks each one's
 * checksum), images decoded (raw or JPEG at the model's size) to RGB
 * bytes, which the backend normalises (a quarter of the bytes of floats);
 * token ids are padded with 0 to the
 * longest text of the batch and cut at the model's context the way
 * open_clip cuts them (the last id becomes the end token). Memory is the
 * batch, the buffer and the held-out record numbers, whatever the
 * dataset's size.
 *
 *     struct rc_loader_opts o = { .list = "lite.list", .stage = 1, .batch = 256,
 *             .nranks = 1, .shuffle = RC_SHUFFLE_PERM, .buffer = 8192, .seed = 1,
 *             .image_size = 224, .ctx = 77, .eot = 49407 };
 *     struct rc_loader *ld;
 *     struct rc_batch b;
 *     if (rc_loader_open(&ld, &o) < 0)
 *             return 1;                           // logged
 *     while (training)
 *             if (rc_loader_next(ld, &b) < 0)     // a bad record, logged
 *                     break;
 *     rc_loader_close(ld);
 */
#ifndef RCLIP_LOADER_H
#define RCLIP_LOADER_H

#include <stddef.h>
#include <stdint.h>

enum rc_stream {
	RC_STREAM_CAPTION = 1,  /* descriptive captions */
	RC_STREAM_TB = 2,       /* ReasonLite's descriptive captions */
	RC_STREAM_TRL = 3,      /* ReasonLite's reasoning captions */
};

enum rc_shuffle {
	RC_SHUFFLE_NONE = 0,    /* dataset order */
	RC_SHUFFLE_BUFFER = 1,  /* shard order and a shuffle buffer */
	RC_SHUFFLE_PERM = 2,    /* a permutation of all the items of the epoch */
	RC_SHUFFLE_GROUPS = 3,  /* runs of `group` records kept together: see below */
};

struct rc_loader_opts {
	const char *list;       /* shard list */
	int stage;              /* 0, 1, 2 */
	int stream;             /* stage 0: enum rc_stream */
	int batch;              /* items per step over all ranks */
	int rank, nranks;       /* this process's slice (nranks divides batch) */
	int shuffle;            /* enum rc_shuffle (split 1: dataset order always) */
	int buffer;             /* RC_SHUFFLE_BUFFER's buffer, items (>= 1) */
	int group;              /* RC_SHUFFLE_GROUPS's run of records (>= 1): the
	                           epoch is as many passes as a record has items
	                           (its captions); each pass is a permutation of
	                           the runs of `group` consecutive records (the
	                           split's, the tail left in place) and gives
	                           each record one of its items, each item once an
	                           epoch. A family of rclip-synth's lands in one
	                           batch when the batch is a multiple of it. All
	                           shards must have the same items per record. */
	uint64_t seed;
	double holdout;         /* the fraction of records set aside, in [0, 1) */
	int split;              /* 0: the other records; 1: the held-out ones */
	int image_size;         /* the model's S; shards must hold S×S images */
	int preprocess;         /* the model's enum rc_preprocess; shards must
	                           hold it (data/preprocess.h; 0: CLIP's crop) */
	int ctx;                /* the model's text context */
	int eot;                /* the end-of-text id (for cutting) */
	int vocab;              /* ids must be below it */
	int verify;             /* check each shard's xxh3 against the list */
	int pad_full;           /* 1: every row padded to ctx with pad_id (SigLIP,
	                           whose text attends both ways and pools at the
	                           last position); 0: packed to the longest row */
	int pad_id;
	int pad_left;           /* with pad_full: the pad ids before the text
	                           (a tokenizer whose padding_side is left),
	                           as rc_spm_pack puts them */
	const char *tokenizer;  /* the model's (data/tokenizer_id.h), "" when
	                           it names none (then CLIP BPE ids need its
	                           vocabulary), each shard's ids checked against
	                           it (rc_tokenizer_check); NULL: not checked.
	                           The shards of a list have one tokenizer */
};

/* One rank's part of a batch. The memory belongs to the loader and is
 * reused by the next call. */
struct rc_batch {
	int n;                  /* rows (items) */
	int ntext;              /* texts per row: 2 in stage 1 (tb, trl), else 1 */
	int T;                  /* token columns: the longest text of the batch
	                           (the context with pad_full) */
	uint8_t *rgb;           /* [n,S,S,3] CLIP-cropped RGB, as shards store it */
	int32_t *ids;           /* [ntext·n, T]: text k of row r at row k·n + r */
	uint8_t *cls;           /* stage 2: [n] trp_cls */
	float *multi;           /* stage 2: [n,5] multi-hot of trp_cls_ls */
	int image_size;         /* S */
	long epoch;             /* where the batch came from */
	uint64_t cursor;        /* items of the epoch before it */
	uint64_t end;           /* and after it (rc_loader_tell's cursor then) */
	int repeated;           /* rows of the whole batch (all ranks) whose record
	                           occurs in another row of it too */
};

struct rc_loader;

/* rc_loader_open - read the shard list, open every shard and check that
 * its schema fits the stage (stage 0 --stream trl: reasonlite or
 * reasonpro), its images are S×S, its token ids are the model's
 * tokenizer's (rc_tokenizer_check; one tokenizer in the list), and
 * (verify) its file hash. Returns 0 and *out, or RC_E_ARG (options; a shard that does not
 * fit: "SHARD: schema descriptive; stage 1 needs reasonlite"), RC_E_RANGE
 * (fewer items than one batch; split 1: fewer held-out items than ranks),
 * RC_E_NOMEM, the shard and list errors, logged. */
int rc_loader_open(struct rc_loader **out, const struct rc_loader_opts *o);

void rc_loader_close(struct rc_loader *l);

/* rc_loader_items - items per epoch; rc_loader_steps_per_epoch - whole
 * batches per epoch; rc_loader_batch - items per batch (split 1: perhaps
 * fewer than asked); rc_loader_held - the held-out records. */
uint64_t rc_loader_items(const struct rc_loader *l);
long rc_loader_steps_per_epoch(const struct rc_loader *l);
int rc_loader_batch(const struct rc_loader *l);
uint64_t rc_loader_held(const struct rc_loader *l);

/* rc_loader_tokenizer - the tokenizer of the data's ids (its first
 * shard's "tokenizer", data/tokenizer_id.h; owned by l). */
const char *rc_loader_tokenizer(const struct rc_loader *l);

/* rc_loader_seek - the stream at (epoch, cursor): cursor items of that
 * epoch already consumed (a multiple of the batch). Returns 0 or RC_E_RANGE
 * (logged). */
int rc_loader_seek(struct rc_loader *l, long epoch, uint64_t cursor);

/* rc_loader_tell - where the next batch starts. */
void rc_loader_tell(const struct rc_loader *l, long *epoch, uint64_t *cursor);

/* rc_loader_next - the next batch (this rank's rows) into *b. Returns 0,
 * or the error of a record that cannot be read or used (logged as
 * "SHARD: record N: what"); the stream has then moved past the batch. */
int rc_loader_next(struct rc_loader *l, struct rc_batch *b);

/* rc_loader_item - the shard, record and sub-item of item k of an epoch's
 * stream (for tests; replays from the start of the epoch). */
int rc_loader_item(struct rc_loader *l, long epoch, uint64_t k, uint32_t *shard,
	uint64_t *record, uint32_t *sub);

#endif
