/* train_impl.h - what train.c (the job and its step) and train_ckpt.c
 * (checkpoints, metrics) share. Not part of the library's interface. */
#ifndef RCLIP_TRAIN_IMPL_H
#define RCLIP_TRAIN_IMPL_H

#include <stdio.h>

#include "base/lock.h"
#include "convert/model_io.h"
#include "model/backend.h"
#include "train/loader.h"
#include "train/prefetch.h"
#include "train/train.h"

#define RC_CKPT_FORMAT "rclip-checkpoint"
#define RC_CKPT_VERSION "1"

struct rc_train_job {
	struct rc_train_opts o;          /* effective options */
	const struct rc_train_comm *c;
	struct rc_train_comm solo;
	char data_abs[4096];             /* o.data made absolute */
	struct rc_clip *m;               /* the host copy of the parameters */
	struct rc_backend *be;           /* where they train */
	int *group;                      /* [ntensors] each tensor's RC_GROUP_* */
	struct rc_loader *ld;
	struct rc_loader *ev;            /* the held-out records, or NULL */
	struct rc_prefetch *pf;          /* reading ahead for a device backend, or NULL */
	int n, Bg, ntext, D;             /* local rows, global rows, texts per row */
	/* backend memory: the gathered embeddings [Bg,D], [ntext·Bg,D], their
	 * gradients, and this rank's rows of those [n,D], [ntext·n,D] */
	float *img_g, *txt_g, *dimg_g, *dtxt_g, *dimg, *dtxt;
	float *stage;                    /* host memory for a host-only communicator */
	long step, total, warm;          /* steps done, steps in all, warmup steps */
	long eval_steps;                 /* the held-out loss every that many steps (0: never) */
	double best_loss;                /* the lowest held-out loss so far (INFINITY: none) */
	long best_step;                  /* and its step (-1: none) */
	double lr_base[RC_NGROUPS], wd[RC_NGROUPS];
	long resumed_from;               /* the checkpoint's step, or -1 */
	struct rc_clip_tok tok;          /* the model's tokenizer: its id "" when it
	                                    names none (then the data's); its files
	                                    (dir) are copied into the run's */
	FILE *metrics;
};

/* rc_train_tell - where the next batch starts: the loader's position, or
 * the prefetcher's when it reads ahead. */
static inline void rc_train_tell(const struct rc_train_job *j, long *epoch, uint64_t *cursor)
{
	if (j->pf)
		rc_prefetch_tell(j->pf, epoch, cursor);
	else
		rc_loader_tell(j->ld, epoch, cursor);
}

/* train_ckpt.c */
int rc_train_save(struct rc_train_job *j, const char *path, int with_optimizer);
int rc_train_save_step(struct rc_train_job *j);
int rc_train_find_latest(const char *dir, char *path, size_t n, long *step);
int rc_train_read_options(const char *path, struct rc_train_opts *o, char *data, size_t n);
int rc_train_restore(struct rc_train_job *j, const char *path);
int rc_train_metrics_open(struct rc_train_job *j);
int rc_train_metrics_write(struct rc_train_job *j, const char *line);
/* rc_train_run_dir - create DIR or check that it holds no run (unless
 * resume), holding its lock (rc_train_lock) in lk from before the check. */
int rc_train_run_dir(const char *dir, int resume, struct rc_lock *lk);
/* rc_train_lock - hold DIR/.lock (base/lock.h) so that one process at a
 * time writes the run directory: 0, or RC_E_ARG naming the holder's pid. */
int rc_train_lock(const char *dir, struct rc_lock *lk);

#endif
