/* train.h - the ReasonCLIP training job (DESIGN.md §5) behind rclip-train:
 * stage 0 (one caption stream), stage 1 (w(p)-weighted descriptive and
 * reasoning streams plus the L2 pull toward the starting weights) and
 * stage 2 (reasoning-category heads), the CLIP or SigLIP loss over the
 * global batch, AdamW over parameter groups, checkpoints that resume
 * bit for bit, and data parallelism through a communicator the caller
 * provides (MPI in rclip-train; none for one process).
 *
 *     struct rc_train_opts o;
 *     rc_train_opts_default(&o);
 *     o.stage = 1, o.init = "clip-vit-base-patch32", o.data = "lite.list";
 *     o.batch = 256, o.steps = 1000, o.out = "run1";
 *     struct rc_train_result res;
 *     int rc = rc_train_run(&o, NULL, &res);   // logged; see the codes there
 *
 * One optimizer step, as the official training code takes it: clamp the
 * logit scale to at most ln 50 (before the forward passes); zero the
 * gradients; for each of `accum` micro-batches, encode this rank's images
 * and texts, gather the embeddings of all ranks, compute the stage's
 * loss on the whole micro-batch, take this rank's gradient rows (the
 * exact gradient of the whole batch, or the official one: this rank's
 * rows against the gathered columns, the other ranks' embeddings held
 * constant) and run the towers' backward (the logit scale's gradient,
 * the same on every rank, is counted by rank 0 only); sum the gradients
 * over the ranks; add the L2 term; check that loss and gradients are
 * finite; clip the global norm; AdamW with this step's learning rates
 * (Hugging Face's warmup and cosine). With a held-out set, its loss at
 * chosen steps, and the best parameters kept as best.safetensors.
 *
 * This is the recipe, written once: every step above is an operation of
 * the compute backend (model/backend.h), so the same code trains on any
 * backend. The model's extras (stage 2's heads, SigLIP's logit bias) are
 * tensors of the model itself, saved with it.
 */
#ifndef RCLIP_TRAIN_H
#define RCLIP_TRAIN_H

#define RC_TRAIN_MAX_GROUP 4096  /* --group */

#include <stddef.h>
#include <stdint.h>

#include "model/backend.h"

enum rc_train_loss { RC_TRAIN_LOSS_CLIP = 1, RC_TRAIN_LOSS_SIGLIP = 2 };

/* The gradient of the contrastive losses over several ranks. */
enum rc_train_gather {
	RC_GATHER_OFFICIAL = 1, /* each rank's rows against the gathered columns, the
	                           other ranks' embeddings constants, summed (the
	                           official code, DDP averaging its per-rank means) */
	RC_GATHER_EXACT = 2,    /* the gradient of the whole batch's loss */
};

/* Parameter groups (the official code's, by name). */
enum {
	RC_GROUP_VISION = 0,  /* vision_model.* */
	RC_GROUP_TEXT,        /* text_model.* */
	RC_GROUP_PROJ,        /* the default group: visual_projection, text_projection
	                         and SigLIP's logit_bias */
	RC_GROUP_SCALE,       /* logit_scale */
	RC_GROUP_HEADS,       /* stage 2's text_head and image_head */
	RC_NGROUPS
};

struct rc_train_opts {
	int stage;               /* 0, 1, 2 */
	int stream;              /* stage 0: enum rc_stream (loader.h) */
	int loss;                /* enum rc_train_loss */
	const char *init;        /* a model rclip loads, or a checkpoint */
	const char *init_config; /* or: random weights of this config (a
	                            config.json or a built-in name), seeded */
	const char *data;        /* shard list */
	const char *out;         /* run directory */
	const char *resume;      /* run directory to continue (NULL: a new run) */
	int batch;               /* global batch, items per micro-batch */
	int accum;               /* micro-batches per optimizer step */
	long steps;              /* optimizer steps (0: from epochs) */
	double epochs;           /* when steps is 0 */
	uint64_t seed;
	int shuffle;             /* enum rc_shuffle (loader.h) */
	int group;               /* RC_SHUFFLE_GROUPS's run of records */
	int buffer, verify;
	int gather;              /* enum rc_train_gather */
	double holdout;          /* the fraction of records held out (0: none) */
	double eval_every;       /* the held-out loss every N >= 1 steps, or at each
	                            fraction F < 1 of the steps (0: never) */
	double tb_weights[3];    /* stage 1's w(p): start, mid, end (< 0: the loss's
	                            default, 0.7 0.5 0.6 for CLIP, 0.6 0.3 0.5 for SigLIP) */
	double lr, wd, warmup;   /* base lr, weight decay, warmup fraction */
	double lr_group[RC_NGROUPS];  /* < 0: the stage's default from lr */
	double l2;               /* β of the L2 term (< 0: the stage's default) */
	double gamma;            /* stage 2's head weight */
	double clip_norm;        /* 0: no clipping */
	double max_logit_scale;  /* clamp (a log) */
	double siglip_bias;      /* initial logit bias for --loss siglip */
	long save_every;         /* steps; 0: only on signals and at the end;
	                          * < 0 with resume: the checkpoint's */
	int keep;                /* checkpoints kept (< 0 with resume: the
	                          * checkpoint's) */
	const char *argv_line;   /* the command line, for the checkpoint */
	int threads;             /* CPU threads (0: all cores) */
	struct rc_device device; /* where to train (zeroed: the CPU); not saved:
	                            a run may resume on another device */
	int recompute;           /* a device: recompute each block in the backward */
	/* called on rank 0 after each periodic or requested checkpoint is
	 * written and the old ones pruned (NULL: nothing); the tests use it
	 * to stop a run at a known point */
	void (*on_checkpoint)(void *ctx, long step, const char *path);
	void *on_checkpoint_ctx;
};

/* A communicator: rank, size and the collectives over all ranks (in
 * rank order). NULL in rc_train_run means one process. The float
 * collectives get backend memory when device_memory is set (NCCL on the
 * backend's GPU), host memory otherwise (MPI): the job then moves the
 * data through the host for a backend whose memory is not the host's. */
struct rc_train_comm {
	int rank, size;
	void *ctx;
	int device_memory;
	/* global[size·n] = every rank's local[n], in rank order */
	int (*allgather)(void *ctx, const float *local, size_t n, float *global);
	/* buf[n] = the sum over ranks, in place */
	int (*allreduce)(void *ctx, float *buf, size_t n);
	/* optional (NULL: not offered): the same sum queued behind the work
	 * on queue (a device's stream; NULL: host memory, at once), and with
	 * buf NULL, make queue wait for every sum queued so far. The job hands
	 * it to rc_backend_backward_reduce, so the gradients' sum overlaps the
	 * backward pass. */
	int (*allreduce_queued)(void *ctx, float *buf, size_t n, void *queue);
	int (*allreduce_d)(void *ctx, double *buf, size_t n);
	/* the largest of x over ranks (the signal flag) */
	int (*allmax)(void *ctx, int x);
};

void rc_train_opts_default(struct rc_train_opts *o);

/* rc_train_request - ask the job to checkpoint after the current step and
 * then stop (checkpoint_and_stop: 1) or go on (0). Async-signal-safe: a
 * flag. */
void rc_train_request(int checkpoint_and_stop);

/* What a run did. */
struct rc_train_result {
	long step, total;        /* steps done, steps in all */
	int stopped;             /* 1: it stopped on request after a checkpoint */
};

/* rc_train_run - the whole job. Returns 0 when it finished
 * (final.safetensors written; best.safetensors too with a held-out set) or stopped on request after writing a
 * checkpoint (res->stopped tells which; res may be NULL), or an error code
 * (logged): RC_E_ARG (options, a run directory in the way), the loader's
 * and the model loaders' codes, RC_E_RANGE (a NaN or Inf loss or
 * gradient: "step N: ..."), RC_E_IO. */
int rc_train_run(const struct rc_train_opts *o, const struct rc_train_comm *c,
	struct rc_train_result *res);

/* rc_train_group_of - the group of a tensor name (RC_GROUP_*), or -1. */
int rc_train_group_of(const char *name);

#endif
