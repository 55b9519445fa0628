/* train_impl.h - what train.c (the job and its step) and train_ckpt.c
 * (checkpoints, metrics) share. Not part of the library's interface. */
#ifndef RCLIP_TRAIN_IMPL_H
#define RCLIP_TRAIN_IMPL_H

#include <stdio.h>

#include "train/loader.h"
#include "model/loss.h"
#include "model/model.h"
#include "train/optim.h"
#include "train/train.h"

#define RC_CKPT_FORMAT "rclip-checkpoint"
#define RC_CKPT_VERSION "1"
#define RC_HEAD_CLASSES 5

/* A trainable tensor outside CLIPModel: the stage-2 heads, SigLIP's bias. */
struct rc_extra {
	char name[32];
	float *p, *g;
	size_t n;
	int ndim;
	int64_t shape[2];
	int group;
};

struct rc_train_job {
	struct rc_train_opts o;          /* effective options */
	const struct rc_train_comm *c;
	struct rc_train_comm solo;
	char data_abs[4096];             /* o.data made absolute */
	struct rc_clip *m;
	struct rc_clip_ws *ws;
	struct rc_clip_grad_ws *gw;
	float *grads;                    /* [nparams] */
	float *anchor;                   /* [nparams] θ₀, stage 1 with l2 > 0 */
	float *xp, *xg;                  /* extras' parameters and gradients */
	size_t nx;
	struct rc_extra ex[5];
	int nex;
	float *th_w, *th_b, *ih_w, *ih_b, *bias;          /* views into xp */
	float *th_wg, *th_bg, *ih_wg, *ih_bg, *bias_g;    /* into xg */
	struct rc_optim_tensor *t;       /* CLIP tensors, then extras */
	size_t nt;
	struct rc_adamw *opt;
	struct rc_loader *ld;
	struct rc_loss_clip *lc;
	struct rc_loss_siglip *lsig;
	int n, Bg, ntext, D;             /* local rows, global rows, texts per row */
	float *img_g, *txt_g, *dimg_g, *dtxt_g;  /* [Bg,D], [ntext·Bg,D] */
	float *dimg, *dtxt;              /* local [n,D], [ntext·n,D] */
	float *hx, *dhx;                 /* head logits [n,5] and their gradient */
	long step, total, warm;          /* steps done, steps in all, warmup steps */
	double lr_base[RC_NGROUPS], wd[RC_NGROUPS];
	long resumed_from;               /* the checkpoint's step, or -1 */
	FILE *metrics;
};

/* train_ckpt.c */
int rc_train_save(struct rc_train_job *j, const char *path, int with_optimizer);
int rc_train_save_step(struct rc_train_job *j);
int rc_train_find_latest(const char *dir, char *path, size_t n, long *step);
int rc_train_read_options(const char *path, struct rc_train_opts *o, char *data, size_t n);
int rc_train_restore(struct rc_train_job *j, const char *path);
int rc_train_load_extras(struct rc_train_job *j, const char *weights, int *found);
int rc_train_metrics_open(struct rc_train_job *j);
int rc_train_metrics_write(struct rc_train_job *j, const char *line);
int rc_train_run_dir(const char *dir, int resume);

#endif
