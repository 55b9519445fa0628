/* encode.h - many images or texts through a CLIP model, batch by batch:
 * the inputs of a batch are prepared on -j threads (image files read,
 * decoded and CLIP-cropped as image.h does it, shard payloads decoded;
 * texts tokenized as open_clip.tokenize), then the model runs on the batch
 * on a compute backend (model/backend.h) that the encoder makes, with the
 * same threads. What the evaluator, the retriever and the benchmarks use
 * to turn a dataset into embeddings.
 *
 *     struct rc_encoder *enc;
 *     if (rc_encoder_new(&enc, NULL, m, bpe, 32, nthreads) < 0)   // CPU; logged
 *             return 1;
 *     struct rc_encode_image in[2] = {{.path = "a.jpg"},
 *             {.data = px, .len = S * S * 3, .store = RC_STORE_RAW}};
 *     float emb[2 * D];
 *     uint8_t ok[2];
 *     rc = rc_encoder_images(enc, in, 2, emb, ok, on_bad, ctx, NULL);
 *     const char *txt[] = {"a cat", "a dog"};
 *     uint32_t len[] = {5, 5};
 *     size_t bad;
 *     rc = rc_encoder_texts(enc, txt, len, 2, emb, &bad, NULL);
 *     rc_encoder_free(enc);
 *
 * Rows are L2-normalised embeddings of the model's projection_dim, in
 * input order. An image that cannot be used (missing, corrupt, a stored
 * image of another size) gets a zero row and ok = 0, and the callback is
 * told why, in input order, from the calling thread; so does an image whose
 * embedding is not finite (a NaN or Inf from the model), told after the
 * other reports of its batch. A text is never bad,
 * except for a token id outside the model's vocabulary (a model made for
 * another tokenizer), which stops the call.
 *
 * A caller with its own batches (a stream it cannot hold whole) gives at
 * most batch inputs a call: they are then one forward pass, packed as the
 * encoder packs a batch, so the rows are those of one call with all the
 * inputs. Inputs it already knows to be bad (a line that does not parse)
 * keep their place with .bad, and it names what it reports as it likes.
 */
#ifndef RCLIP_ENCODE_H
#define RCLIP_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "base/progress.h"
#include "model/backend.h"
#include "text/bpe.h"
#include "text/spm.h"

/* One image: a file, or bytes as a shard stores them. */
struct rc_encode_image {
	const char *path;      /* read, decode, preprocess to S×S (the
	                          model's: CLIP crop, SigLIP resize); or NULL */
	const uint8_t *data;   /* when path is NULL: the payload */
	size_t len;
	int store;             /* RC_STORE_RAW (S×S×3 RGB) or RC_STORE_JPEG */
	int source;            /* with data: an image file's bytes (any format and
	                        * size), decoded and CLIP-cropped as a path's */
	const char *bad;       /* not NULL: known to be unusable, for this reason
	                        * (a zero row, ok = 0, bad() told it) */
};

/* Told about each unusable image i, with a short reason. */
typedef void (*rc_encode_bad_fn)(void *ctx, size_t i, const char *why);

struct rc_encoder;

/* rc_encoder_new - an encoder for m (not copied; it must outlive the
 * encoder, and is the encoder's backend's while it lives) on device dev
 * (NULL: the CPU), running batches of up to batch inputs on nthreads
 * threads (>= 1: the CPU backend's and the input preparation's). bpe tokenizes the texts (not copied; may be
 * NULL for images only). Returns 0 and *out, or RC_E_ARG (batch or
 * nthreads < 1), RC_E_NOMEM or the backend's errors, logged. */
int rc_encoder_new(struct rc_encoder **out, const struct rc_device *dev, struct rc_clip *m,
	const struct rc_bpe *bpe, int batch, int nthreads);

/* rc_encoder_backend - the backend the encoder computes on (owned by the
 * encoder), for the metrics that compare its embeddings (eval.h). */
struct rc_backend *rc_encoder_backend(struct rc_encoder *e);

/* rc_encoder_new_texts - rc_encoder_new for texts only (bpe not NULL):
 * no image workspace or pixels, and rc_encoder_images refuses it
 * (RC_E_ARG, logged). Returns as rc_encoder_new. */
int rc_encoder_new_texts(struct rc_encoder **out, const struct rc_device *dev,
	struct rc_clip *m, const struct rc_bpe *bpe, int batch, int nthreads);

/* rc_encoder_free - release the encoder; NULL does nothing. */
void rc_encoder_free(struct rc_encoder *e);

/* rc_encoder_use_spm - tokenize texts with spm (a SigLIP or SigLIP2
 * model's own tokenizer, spm.h) instead of the CLIP BPE: rows of the
 * model's whole context, padded with the pad id as its training pads.
 * spm must outlive e. A SigLIP model's texts are refused without it.
 * Returns 0, RC_E_ARG (e has no texts), RC_E_FORMAT (ids beyond the
 * model's vocabulary) or RC_E_NOMEM, logged. */
int rc_encoder_use_spm(struct rc_encoder *e, const struct rc_spm *spm);

/* rc_encoder_load_spm - the SentencePiece-family tokenizer of a model:
 * model's directory (model itself when it is one). An rclip checkpoint
 * that names the tokenizer it was trained on (its "tokenizer" metadata)
 * must find that one (data/tokenizer_id.h). Returns 0 and *out (free with
 * rc_spm_free), or RC_E_NOTFOUND (none there: said, with a hint),
 * RC_E_FORMAT (another tokenizer than the checkpoint's, said in one line
 * with a hint) or rc_spm_load_dir's errors, logged. */
int rc_encoder_load_spm(struct rc_spm **out, const char *model);

/* rc_encoder_images - emb[n,D] for the n images, ok[n] 1 for a good one
 * (0: a zero row, and bad(ctx, i, why) was called when bad is not NULL).
 * p (may be NULL) is advanced by one per image. Returns 0, or RC_E_NOMEM
 * or a model error, logged. */
int rc_encoder_images(struct rc_encoder *e, const struct rc_encode_image *in, size_t n,
	float *emb, uint8_t *ok, rc_encode_bad_fn bad, void *ctx, struct rc_progress *p);

/* rc_encoder_texts - emb[n,D] for the n texts (s[i], len[i] bytes of UTF-8;
 * invalid bytes become U+FFFD, a text longer than the context is cut as
 * open_clip cuts it). p as above. Returns 0, RC_E_ARG (the encoder has no
 * tokenizer, logged), RC_E_RANGE (a token id outside the model's
 * vocabulary: *bad_index, which may be NULL, names the text; not logged,
 * the caller knows where it came from), RC_E_FORMAT (the embedding of
 * text *bad_index is not finite, a NaN or Inf from the model; the rows of
 * its forward pass are written, the later ones not; not logged), or
 * RC_E_NOMEM or a model error, logged. */
int rc_encoder_texts(struct rc_encoder *e, const char *const *s, const uint32_t *len,
	size_t n, float *emb, size_t *bad_index, struct rc_progress *p);

/* rc_encoder_on_invalid - have rc_encoder_texts call fn(ctx, i, why) for
 * each text i whose bytes were not valid UTF-8 (why: "invalid UTF-8
 * replaced with U+FFFD"), in input order, from the calling thread; fn NULL
 * (the default) calls nothing. */
void rc_encoder_on_invalid(struct rc_encoder *e, rc_encode_bad_fn fn, void *ctx);

/* rc_encoder_bad_token - after rc_encoder_texts returned RC_E_RANGE: the
 * first id of that text's token row outside the vocabulary (*id) and its
 * position in the row (*pos). */
void rc_encoder_bad_token(const struct rc_encoder *e, int32_t *id, int *pos);

/* rc_encoder_truncated - texts cut to the context so far. */
uint64_t rc_encoder_truncated(const struct rc_encoder *e);

#endif
