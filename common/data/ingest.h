/* ingest.h - one input record made ready for a shard: its image read,
 * decoded, preprocessed to S×S (CLIP's crop or SigLIP's resize) and stored (raw or JPEG), its texts
 * tokenized as open_clip.tokenize does, or with a model's SentencePiece-family
 * tokenizer (o.spm) as transformers does with truncation to the context.
 * The work of rclip-shard's threads, and of every program that reads
 * manifests directly.
 *
 *     struct rc_ingest_opts o = { .image_size = 224, .store = RC_STORE_JPEG,
 *                                 .quality = 95, .text_ctx = 77 };
 *     struct rc_ingest_worker *w = rc_ingest_worker_new(bpe, &o);   // per thread
 *     struct rc_ingest_item it;
 *     if (rc_ingest_file(w, rec, "img/a.jpg", &it) < 0)
 *             printf("%s:%llu: %s\n", manifest, line, it.why);   // skip it
 *     else
 *             rc_shard_writer_add(sw, &it.rec);
 *     rc_ingest_item_free(&it);
 *
 * Nothing here logs except out-of-memory: a failure is a reason for the
 * caller to print with the record's file and line. Workers are not shared
 * between threads; items may be processed on one thread and written on
 * another.
 */
#ifndef RCLIP_INGEST_H
#define RCLIP_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "text/bpe.h"
#include "text/spm.h"
#include "base/hash.h"
#include "data/record.h"

struct rc_ingest_opts {
	int image_size;      /* S */
	int store;           /* enum rc_image_store */
	int quality;         /* JPEG quality for RC_STORE_JPEG */
	uint64_t max_pixels; /* decoding limit; 0 = the default (image.h) */
	int text_ctx;        /* token row length: 77 (CLIP), 64 (SigLIP) */
	int preprocess;      /* enum rc_preprocess (data/preprocess.h); 0: CLIP */
	const struct rc_spm *spm; /* a model's tokenizer (rc_spm_frame: its
	                        special tokens, cut to text_ctx), or NULL: CLIP
	                        BPE (the bpe of rc_ingest_worker_new) */
};

/* Why a record was not ingested: the reasons the report counts. */
enum rc_ingest_status {
	RC_INGEST_OK = 0,
	RC_INGEST_NO_IMAGE,      /* the image file cannot be read */
	RC_INGEST_BAD_IMAGE,     /* unsupported, corrupt or truncated data */
	RC_INGEST_IMAGE_SIZE,    /* 0 pixels, or over the pixel limit */
	RC_INGEST_ERROR,         /* out of memory and the like: fatal */
	RC_INGEST_NSTATUS
};

/* rc_ingest_status_name - "missing image", ... (static). */
const char *rc_ingest_status_name(int status);

/* A processed record. rec points into the item's own memory (texts,
 * payload, tokens) and into the input record's strings (key, text bytes,
 * labels), which must outlive the item's use. */
struct rc_ingest_item {
	int status;               /* enum rc_ingest_status */
	char why[256];            /* the reason, when status is not OK */
	struct rc_record rec;     /* ready for rc_shard_writer_add */
	struct rc_hash128 source_hash; /* xxh3-128 of the source image bytes */
	uint32_t truncated;       /* texts cut to text_ctx tokens */
	/* owned */
	uint8_t *payload;
	struct rc_text *texts;
	uint32_t *tokens;         /* the texts' ids, 4 bytes each (the shard
	                           * writer narrows them for a v1 shard) */
};

struct rc_ingest_worker;

/* rc_ingest_worker_new - per-thread state (a tokenizer state, scratch for
 * pixels). Returns NULL when out of memory (logged). bpe (NULL with
 * o->spm) and o must outlive it. */
struct rc_ingest_worker *rc_ingest_worker_new(const struct rc_bpe *bpe,
	const struct rc_ingest_opts *o);
void rc_ingest_worker_free(struct rc_ingest_worker *w);

/* rc_ingest_bytes - process rec with the image given as encoded bytes (a
 * webdataset member). Returns 0 with it->status OK, or a negative code
 * with it->status and it->why set: RC_E_NOTFOUND, RC_E_FORMAT,
 * RC_E_UNSUPPORTED, RC_E_TRUNCATED, RC_E_RANGE (skip the record), or
 * RC_E_NOMEM (fatal). *it must be released with rc_ingest_item_free either
 * way. */
int rc_ingest_bytes(struct rc_ingest_worker *w, const struct rc_record *rec,
	const uint8_t *image, size_t len, struct rc_ingest_item *it);

/* rc_ingest_file - the same with the image read from path (not logged when
 * it cannot be read: it->why says "cannot read image PATH: reason"). */
int rc_ingest_file(struct rc_ingest_worker *w, const struct rc_record *rec,
	const char *path, struct rc_ingest_item *it);

/* rc_ingest_tokenize - tokenize the texts of rec into it (rc_ingest_bytes
 * does this; exposed for records without an image). */
int rc_ingest_tokenize(struct rc_ingest_worker *w, const struct rc_record *rec,
	struct rc_ingest_item *it);

/* rc_ingest_item_free - release what the item owns and zero it. */
void rc_ingest_item_free(struct rc_ingest_item *it);

#endif
