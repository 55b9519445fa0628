/* backend.h - the compute seam: a model on a device, and the model-level
 * operations that the training recipe (train/), the encoder and the
 * metrics (eval/) need from it. The recipe is written once, above this
 * table; a backend implements operations, not recipes. The CPU backend
 * (backend_cpu.c: fp32, OpenBLAS, OpenMP) is the reference; a CUDA backend
 * implements the same table.
 *
 *     struct rc_backend_opts bo = { .device = { RC_BACKEND_CPU, 0 }, .threads = 0,
 *             .max_images = 32, .max_texts = 32 };
 *     struct rc_backend *be;
 *     if (rc_backend_new(&be, m, &bo) < 0)          // logged
 *             return 1;
 *     const float *img, *txt;                       // backend memory
 *     rc_backend_encode_images(be, rgb, 32, &img);  // uint8 [32,S,S,3]
 *     rc_backend_encode_texts(be, ids, 32, T, &txt);
 *     float host[32 * D];
 *     rc_backend_download(be, host, img, 32 * D);
 *     rc_backend_free(be);
 *
 * Memory. Buffers a backend hands out or takes (embeddings, their
 * gradients, the gradient buffer) are "backend memory": host memory on
 * the CPU, device memory on a GPU. Callers never read or write them
 * directly; they move data with rc_backend_upload / rc_backend_download,
 * and may offset a pointer by whole rows (row k of [B,D] is p + k·D).
 * rc_backend_is_host says whether the memory is the host's (then a
 * communicator may use it in place).
 *
 * Parameters. The model (model.h) is the host copy of the parameters,
 * laid out and named by its table; the backend holds the working copy
 * (the CPU backend works on the model's own memory). Gradients, AdamW's
 * moments and the L2 anchor are laid out as the parameters, so a table
 * entry's offset finds a tensor in any of them. rc_backend_host gives a
 * current host copy of one of those buffers (for checkpoints, metrics),
 * rc_backend_commit sends a host copy back (a restored checkpoint).
 *
 * Errors: functions that return int give 0 or a negative RC_E_* code,
 * logged. Rows: B ≤ max_images / max_texts of the options.
 */
#ifndef RCLIP_BACKEND_H
#define RCLIP_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"

enum rc_backend_kind {
	RC_BACKEND_CPU = 1,     /* OpenBLAS and OpenMP; bf16 and int8 inference on oneDNN */
	RC_BACKEND_CUDA = 2,    /* NVIDIA GPUs (cuda/), when this rclip is built with it */
};

/* The arithmetic of activations and GEMMs (losses, statistics, master
 * weights, gradients and moments are fp32 everywhere). On the CPU, bf16
 * and int8 are for inference (encoding) only: the linear layers' GEMMs in
 * that precision (lowp_cpu.h), the rest in fp32; training is fp32. */
enum rc_precision {
	RC_PRECISION_AUTO = 0,  /* the device's: fp32 on the CPU, bf16 on a GPU */
	RC_PRECISION_FP32 = 1,  /* fp32, TF32 off: the parity mode */
	RC_PRECISION_BF16 = 2,  /* bf16 storage, fp32 accumulation */
	RC_PRECISION_INT8 = 3,  /* the CPU's inference: int8 weights per channel and
	                           input rows quantised at run time, int32 sums */
};

/* Where a backend computes, and in what: the --device and --precision of
 * the programs. A zeroed struct is the CPU in fp32. */
struct rc_device {
	int kind;               /* enum rc_backend_kind; 0: the CPU */
	int index;              /* the GPU of RC_BACKEND_CUDA */
	int precision;          /* enum rc_precision */
};

/* rc_device_parse - s as --device takes it into d's kind and index:
 * "cpu", "cuda" (GPU 0), "cuda:N", or "auto": $RCLIP_DEVICE when it is set
 * (one of the others; the test suite sets it to cpu), else CUDA's GPU 0
 * when this rclip has the CUDA backend and a GPU is present, else the
 * CPU. Returns 0, or RC_E_ARG for any other string (not logged: the
 * caller names its option). */
int rc_device_parse(const char *s, struct rc_device *d);

/* rc_precision_parse - "fp32", "bf16", "int8" or "auto" as --precision
 * takes them into d->precision. Returns 0 or RC_E_ARG (not logged). */
int rc_precision_parse(const char *s, struct rc_device *d);

/* rc_precision_name - "fp32", "bf16", "int8" or "auto". */
const char *rc_precision_name(int precision);

/* rc_device_name - "cpu" or "cuda:N" into buf (n bytes); returns buf. */
const char *rc_device_name(const struct rc_device *d, char *buf, size_t n);

/* rc_device_check - 0 when this rclip can compute on d in its precision
 * for inference, else RC_E_UNSUPPORTED, logged with a hint (what
 * rc_backend_new would say, before any work is done): int8 only on the
 * CPU; bf16 and int8 on the CPU only with oneDNN in the build and a CPU
 * with the instructions for them (lowp_cpu.h). */
int rc_device_check(const struct rc_device *d);

/* rc_backend_cuda_devices - the GPUs the CUDA backend can use: 0 when
 * this rclip is built without it, or there is no GPU or driver. */
int rc_backend_cuda_devices(void);

struct rc_backend_opts {
	struct rc_device device; /* where and how (zeroed: the CPU, fp32) */
	int threads;            /* CPU threads (the CPU's ops, a GPU's input side); 0: all cores */
	int max_images;         /* rows per image encode (0: no image tower) */
	int max_texts;          /* rows per text encode (0: no text tower) */
	/* training (train = 0: inference only) */
	int train;              /* keep activations; gradients and AdamW */
	int loss_rows;          /* the largest batch of the losses (the global batch) */
	int head_rows;          /* the largest batch of the heads (this rank's rows) */
	int ngroups;            /* parameter groups of AdamW (<= 8) */
	const int *group;       /* [ntensors] the group of each tensor of the table */
	int anchor;             /* keep θ₀, the parameters now, for rc_backend_l2 */
	int siglip;             /* the loss is SigLIP's (else CLIP's) */
	int recompute;          /* a device: keep each block's output only and run
	                           the block again in the backward (less memory,
	                           a third more compute; the same gradients); the
	                           CPU keeps everything */
	int rank_rows;          /* the loss is wanted in its rank-local form too
	                           (rc_backend_loss_*_rows): a backend without it is
	                           refused */
};

/* A top-k search's knobs (rc_backend_topk). */
struct rc_topk_opts {
	size_t k;              /* hits per query, >= 1 */
	size_t query_block;    /* CPU: query rows per tile; 0: automatic (<= 1024) */
	size_t gallery_block;  /* CPU: gallery rows per tile; 0: automatic (1024) */
	size_t max_bytes;      /* CPU: scratch (a tile and heaps) per thread; 0: 64
	                          MiB. The query block shrinks to fit, down to
	                          one row. */
};

/* The buffers laid out as the parameters (rc_backend_host). */
enum rc_backend_buf {
	RC_BUF_PARAMS = 0,      /* the parameters: the model's own memory */
	RC_BUF_GRADS,           /* their gradients */
	RC_BUF_EXP_AVG,         /* AdamW's first moments */
	RC_BUF_EXP_AVG_SQ,      /* and second */
	RC_BUF_ANCHOR,          /* θ₀ of the L2 pull */
	RC_BUF_COUNT
};

struct rc_backend;

/* Where a backward pass hands its gradients as they become final
 * (rc_backend_backward_reduce): fn(ctx, p, n, queue) for each piece
 * [p, p+n) of the gradient buffer, then fn(ctx, NULL, 0, queue) once.
 * queue is the backend's device queue (a cudaStream_t), in whose order
 * the piece is final; NULL on the host, where it is final now. */
struct rc_grads_sink {
	int (*fn)(void *ctx, float *p, size_t n, void *queue);
	void *ctx;
};

/* The operations a backend implements; rc_backend_* below check their
 * arguments and call these. */
struct rc_backend_ops {
	const char *name;
	void (*destroy)(struct rc_backend *be);
	/* memory */
	float *(*alloc)(struct rc_backend *be, size_t n);
	void (*release)(struct rc_backend *be, float *p);
	void (*zero)(struct rc_backend *be, float *p, size_t n);
	void (*copy)(struct rc_backend *be, float *dst, const float *src, size_t n);
	int (*upload)(struct rc_backend *be, float *dst, const float *host, size_t n);
	int (*download)(struct rc_backend *be, float *host, const float *src, size_t n);
	float *(*buffer)(struct rc_backend *be, int buf);
	float *(*host)(struct rc_backend *be, int buf);
	int (*commit)(struct rc_backend *be, int buf);
	void *(*pinned_alloc)(struct rc_backend *be, size_t bytes);   /* NULL: malloc */
	void (*pinned_free)(struct rc_backend *be, void *p);
	/* forward */
	int (*encode_images)(struct rc_backend *be, const uint8_t *rgb, int B, const float **emb);
	int (*encode_texts)(struct rc_backend *be, const int32_t *ids, int B, int T,
		const float **emb);
	int (*scores)(struct rc_backend *be, float *out, const float *a, size_t na,
		const float *b, size_t nb, size_t D);
	int (*topk)(struct rc_backend *be, const float *gallery, size_t n, size_t d,
		const float *queries, size_t q, const struct rc_topk_opts *o, float *score,
		int64_t *index);
	/* training; sink may be NULL */
	int (*backward)(struct rc_backend *be, const float *dimg, const float *dtxt,
		const struct rc_grads_sink *sink);
	double (*loss_clip)(struct rc_backend *be, const float *img, const float *txt, int B,
		float dloss, float *dimg, float *dtxt, int grad_scale);
	double (*loss_siglip)(struct rc_backend *be, const float *img, const float *txt, int B,
		float dloss, float *dimg, float *dtxt, int grad_scale);
	void (*heads)(struct rc_backend *be, const float *txt, const float *img, int n,
		const uint8_t *cls, const float *multi, int norm, float dloss, float *dtxt,
		float *dimg, double part[2]);
	double (*l2)(struct rc_backend *be, float beta, unsigned groups);
	double (*grad_norm)(struct rc_backend *be);
	long (*grad_nonfinite)(struct rc_backend *be);
	void (*grad_scale)(struct rc_backend *be, float c);
	void (*adamw)(struct rc_backend *be, const float *lr, const float *wd);
	void (*clamp)(struct rc_backend *be, size_t tensor, float max);
	/* the losses' rank-local form (the official gather); NULL in a
	 * backend that lacks it */
	double (*loss_clip_rows)(struct rc_backend *be, const float *img, const float *txt, int B,
		int lo, int n, float dloss, float *dimg, float *dtxt, int grad_scale);
	double (*loss_siglip_rows)(struct rc_backend *be, const float *img, const float *txt,
		int B, int lo, int n, float dloss, float *dimg, float *dtxt, int grad_scale);
};

/* What every backend shares; a backend's own state follows it. */
struct rc_backend {
	const struct rc_backend_ops *ops;
	struct rc_clip *m;          /* the model (not owned); NULL: scores only */
	struct rc_backend_opts o;   /* group: copied */
	int host_memory;            /* its memory is the host's */
	int D;                      /* the projection width */
	long adamw_steps;           /* AdamW updates done (PyTorch's "step") */
	size_t device_peak;         /* a device's: the most bytes it has held (0 on the CPU) */
};

/* rc_backend_new - a backend on o->device for the model m (not copied:
 * it must outlive the backend, and its parameters are the backend's from
 * now on: change them only through the backend). m may be NULL for a
 * backend that only computes scores. On the CPU this also sets the
 * threads of the ops (o->threads; OpenBLAS single-threaded, see
 * ops_cpu.h); in bf16 or int8 it packs its own copy of the linear
 * layers' weights, and m's fp32 copy of them is not read while the
 * backend lives. Returns 0 and *out (free with rc_backend_free), or RC_E_ARG
 * (options: negative rows, training without groups), RC_E_UNSUPPORTED (a
 * device or precision this rclip cannot compute on: "cuda:0: this rclip
 * is built without the CUDA backend", "cpu: training runs in fp32", with
 * a hint; rank_rows on a backend without the rank-local losses) or
 * RC_E_NOMEM, logged. */
int rc_backend_new(struct rc_backend **out, struct rc_clip *m,
	const struct rc_backend_opts *o);

/* rc_backend_free - release be; NULL does nothing. The model stays. */
void rc_backend_free(struct rc_backend *be);

/* rc_backend_cpu_threads - set the CPU's threads for what follows (0: all
 * cores) without a backend, as rc_backend_new does; returns the count. */
int rc_backend_cpu_threads(int n);

/* rc_backend_name - "cpu". rc_backend_is_host - 1 when its memory is the
 * host's. rc_backend_threads - the host threads it computes with. */
const char *rc_backend_name(const struct rc_backend *be);
int rc_backend_is_host(const struct rc_backend *be);
int rc_backend_threads(const struct rc_backend *be);

/* ---------------------------------------------------------------- memory */

/* rc_backend_alloc - n zeroed floats of backend memory (NULL: out of
 * memory, logged); rc_backend_release frees them (NULL does nothing). */
float *rc_backend_alloc(struct rc_backend *be, size_t n);
void rc_backend_release(struct rc_backend *be, float *p);

/* rc_backend_zero, rc_backend_copy - within backend memory. */
void rc_backend_zero(struct rc_backend *be, float *p, size_t n);
void rc_backend_copy(struct rc_backend *be, float *dst, const float *src, size_t n);

/* rc_backend_upload - n floats from host memory to backend memory;
 * rc_backend_download the other way. Return 0 or RC_E_IO (a device
 * error), logged. */
int rc_backend_upload(struct rc_backend *be, float *dst, const float *host, size_t n);
int rc_backend_download(struct rc_backend *be, float *host, const float *src, size_t n);

/* rc_backend_buffer - buffer buf (enum rc_backend_buf) in backend memory,
 * rc_clip_param_count(m) floats laid out as the parameters, or NULL when
 * the backend keeps none (not training, no anchor). For the
 * communicator's all-reduce of the gradients. */
float *rc_backend_buffer(struct rc_backend *be, int buf);

/* rc_backend_host - a host copy of buffer buf, current as of this call,
 * owned by the backend (on the CPU the buffer itself; RC_BUF_PARAMS is
 * the model's m->params), or NULL when the backend keeps none or a copy
 * fails (logged). rc_backend_commit - after the caller wrote into that
 * copy: make it the backend's. Returns 0 or RC_E_IO. */
float *rc_backend_host(struct rc_backend *be, int buf);
int rc_backend_commit(struct rc_backend *be, int buf);

/* rc_backend_pinned_alloc - bytes of host memory that the backend's
 * device copies from at full speed and alongside its compute (CUDA:
 * page-locked), for the batches the caller hands to the encodes; plain
 * heap memory on the CPU. NULL when out of memory (not logged).
 * rc_backend_pinned_free releases it (NULL does nothing). Page-locked
 * memory is scarce: for batch buffers, not for the model. */
void *rc_backend_pinned_alloc(struct rc_backend *be, size_t bytes);
void rc_backend_pinned_free(struct rc_backend *be, void *p);

/* rc_backend_read - tensor i of the table, from buffer buf, into host
 * memory (numel floats): a scalar for the metrics without copying the
 * whole buffer. Returns 0, RC_E_ARG (no such buffer or tensor) or
 * RC_E_IO, logged. */
int rc_backend_read(struct rc_backend *be, int buf, size_t i, float *host);

/* ---------------------------------------------------------------- forward */

/* rc_backend_encode_images - the image tower on B images rgb[B,S,S,3]
 * (uint8, host memory: a shard's pixels, CLIP-cropped; normalised here as
 * CLIPImageProcessor does): *emb gets the L2-normalised embeddings [B,D]
 * in backend memory, valid until the next image encode. Returns 0 or
 * RC_E_ARG (B out of range, no image tower), logged. */
int rc_backend_encode_images(struct rc_backend *be, const uint8_t *rgb, int B,
	const float **emb);

/* rc_backend_encode_texts - the text tower on ids[B,T] (host memory; T up
 * to the context, without padding mask as HF without attention_mask):
 * *emb gets the normalised embeddings [B,D] in backend memory, valid
 * until the next text encode. Returns 0, RC_E_ARG (B or T out of range)
 * or RC_E_RANGE (an id outside the vocabulary: "text B, position T: id X
 * is outside the vocabulary (V)"), logged. */
int rc_backend_encode_texts(struct rc_backend *be, const int32_t *ids, int B, int T,
	const float **emb);

/* rc_backend_scores - out[na,nb] = a[na,D]·b[nb,D]ᵀ, all in host memory
 * (embeddings a metric compares). Returns 0, RC_E_RANGE (sizes beyond
 * the BLAS's int) or RC_E_NOMEM, logged. */
int rc_backend_scores(struct rc_backend *be, float *out, const float *a, size_t na,
	const float *b, size_t nb, size_t D);

/* rc_backend_topk - the top min(o->k, n) gallery rows of each query by
 * dot product, sorted (score descending, then index ascending: a total
 * order), into score[q·kk] and index[q·kk] (host memory, the caller's;
 * row i of each holds query i's hits). gallery is n × d, queries q × d,
 * row-major, in host memory (the gallery is typically an mmap'd .npy), and
 * finite (a NaN has no place in the order). Memory stays bounded whatever
 * n: nothing of size q × n is held. n = 0 or q = 0 writes nothing. On the
 * CPU the scores are float32 sgemm tiles (query block × gallery block)
 * folded into per-thread heaps; the answer does not depend on the number
 * of threads (each takes whole gallery blocks), while other block sizes
 * may change a score in its last bit. Returns 0, RC_E_ARG (k < 1 or
 * d = 0), RC_E_RANGE (d or a block too large for BLAS's int sizes) or
 * RC_E_NOMEM, logged. */
int rc_backend_topk(struct rc_backend *be, const float *gallery, size_t n, size_t d,
	const float *queries, size_t q, const struct rc_topk_opts *o, float *score,
	int64_t *index);

/* ---------------------------------------------------------------- training
 *
 * After an image and a text encode on a training backend, the losses
 * take embeddings in backend memory (the global batch gathered from every
 * rank), ADD dloss times their gradients into dimg, dtxt (backend memory,
 * the caller zeroes them) and, with grad_scale set, into the gradients of
 * the logit scale (and bias), and return the loss (a host double). Over
 * several ranks every rank computes the loss of the whole batch and only
 * one counts the scale's gradient: the rows of this rank's slice of dimg
 * and dtxt then hold its part of the exact gradient of the whole batch's
 * loss, or with the _rows forms its part as the official training code
 * computes it. rc_backend_backward then goes back
 * through the towers of the last encodes and ADDS into the gradient
 * buffer, which rc_backend_grad_zero clears once per optimizer step, so
 * micro-batches accumulate. The logit scale (and bias) are the model's. */

/* rc_backend_loss_clip - ½(CE(logits) + CE(logitsᵀ)) over img[B,D] and
 * txt[B,D] (row i paired), logits exp(logit_scale)·txt·imgᵀ (loss.h). */
double rc_backend_loss_clip(struct rc_backend *be, const float *img, const float *txt, int B,
	float dloss, float *dimg, float *dtxt, int grad_scale);

/* rc_backend_loss_siglip - SigLIP's sigmoid loss with the model's logit
 * bias (a backend made with siglip set, for a model with RC_CLIP_LOGIT_BIAS). */
double rc_backend_loss_siglip(struct rc_backend *be, const float *img, const float *txt, int B,
	float dloss, float *dimg, float *dtxt, int grad_scale);

/* rc_backend_loss_clip_rows, rc_backend_loss_siglip_rows - the same loss
 * (its value is the whole batch's), with the gradient of rows [lo, lo+n)
 * of dimg and dtxt (the caller's rank's) as the official training code
 * gets it: that rank's rows against all the gathered columns, the other
 * ranks' embeddings constants, DDP averaging the ranks' means (loss.h,
 * rc_loss_clip_backward_rows); their other rows get values that mean
 * nothing. For a backend made with rank_rows set; 0 ≤ lo, 1 ≤ n, lo + n ≤
 * B is the caller's contract. With lo = 0, n = B they are the plain
 * losses. */
double rc_backend_loss_clip_rows(struct rc_backend *be, const float *img, const float *txt,
	int B, int lo, int n, float dloss, float *dimg, float *dtxt, int grad_scale);
double rc_backend_loss_siglip_rows(struct rc_backend *be, const float *img, const float *txt,
	int B, int lo, int n, float dloss, float *dimg, float *dtxt, int grad_scale);

/* rc_backend_heads - stage 2's heads on this rank's n rows: the text
 * head's softmax cross entropy against cls[n] and the image head's binary
 * cross entropy against multi[n,5] (host memory), each divided by norm
 * (the global batch); ADDS dloss times the gradients into the heads'
 * gradients and into dtxt[n,D], dimg[n,D]. part[0], part[1] get the two
 * losses of these rows. Returns 0 or RC_E_ARG (a model without heads,
 * n beyond head_rows), logged. */
int rc_backend_heads(struct rc_backend *be, const float *txt, const float *img, int n,
	const uint8_t *cls, const float *multi, int norm, float dloss, float *dtxt, float *dimg,
	double part[2]);

/* rc_backend_backward - through the towers of the last encodes, from the
 * gradients of their normalised embeddings (backend memory, rows as
 * encoded; either may be NULL to leave that tower out). Returns 0 or
 * RC_E_ARG, logged. */
int rc_backend_backward(struct rc_backend *be, const float *dimg, const float *dtxt);

/* rc_backend_backward_reduce - rc_backend_backward that also hands the
 * gradient buffer to fn piece by piece, so that a communicator can sum
 * each piece over the ranks while the pass goes on: fn(ctx, p, n, queue)
 * as soon as [p, p+n) is final (in queue's order on a device), every
 * float of the buffer in exactly one piece, the pieces in the same order
 * on every rank; then fn(ctx, NULL, 0, queue) once, after which the
 * backend's later work must see what fn did to the pieces (a device
 * communicator makes queue wait for its collectives). The CUDA backend
 * hands each tower's parameters as its backward ends, then the rest; the
 * CPU backend hands the whole buffer after the pass. Use it on the last
 * micro-batch of a step only (earlier ones still accumulate). Returns 0,
 * RC_E_ARG (as rc_backend_backward) or fn's first error. */
int rc_backend_backward_reduce(struct rc_backend *be, const float *dimg, const float *dtxt,
	int (*fn)(void *ctx, float *p, size_t n, void *queue), void *ctx);

/* rc_backend_grad_zero - every gradient to 0. */
void rc_backend_grad_zero(struct rc_backend *be);

/* rc_backend_l2 - beta·Σ‖θ−θ₀‖² over the tensors whose group is in the
 * mask groups (bit g for group g), its gradient added; 0 without an
 * anchor. Sums are the same at any thread count. */
double rc_backend_l2(struct rc_backend *be, float beta, unsigned groups);

/* rc_backend_grad_norm - the global L2 norm of the gradients (a double,
 * the same at any thread count). rc_backend_grad_nonfinite - the index in
 * the table of the first tensor whose gradient holds a NaN or an
 * infinity, or -1. rc_backend_grad_clip - scale the gradients by
 * max_norm/(norm + 1e-6) when that is below 1, as clip_grad_norm_;
 * returns the factor. */
double rc_backend_grad_norm(struct rc_backend *be);
long rc_backend_grad_nonfinite(struct rc_backend *be);
float rc_backend_grad_clip(struct rc_backend *be, double norm, double max_norm);

/* rc_backend_adamw - one AdamW update (β 0.9/0.999, ε 1e-8, PyTorch's
 * single-tensor update in float) of every tensor with its group's
 * lr[group] and weight decay wd[group]; counts be->adamw_steps up. */
void rc_backend_adamw(struct rc_backend *be, const float *lr, const float *wd);

/* rc_backend_clamp - the scalar tensor named name (logit_scale) to at
 * most max. Returns 0 or RC_E_ARG (no such scalar), logged. */
int rc_backend_clamp(struct rc_backend *be, const char *name, float max);

#endif
