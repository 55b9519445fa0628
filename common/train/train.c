/* train.c - the training job (train.h): setup from an initial model or a
 * checkpoint, parameter groups, and the optimizer step of every stage, on
 * the operations of a compute backend (model/backend.h). Checkpoints and
 * metrics are in train_ckpt.c. */
#include "train/train.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "base/progress.h"
#include "convert/model_io.h"
#include "data/preprocess.h"
#include "data/tokenizer_id.h"
#include "train/sched.h"
#include "train/train_impl.h"

/* 1: checkpoint, 2: and stop. Set from signal handlers, taken (read and
 * cleared in one step) by the loop, so a request that comes while a
 * checkpoint is written waits for the next step instead of being lost. */
static atomic_int g_request;

void rc_train_request(int checkpoint_and_stop)
{
	int r = checkpoint_and_stop ? 2 : 1, cur = atomic_load(&g_request);
	while (cur < r && !atomic_compare_exchange_weak(&g_request, &cur, r))
		;
}

void rc_train_opts_default(struct rc_train_opts *o)
{
	memset(o, 0, sizeof *o);
	o->stream = RC_STREAM_CAPTION;
	o->loss = RC_TRAIN_LOSS_CLIP;
	o->batch = 32;
	o->accum = 1;
	o->epochs = 1;
	o->seed = 0;
	o->shuffle = RC_SHUFFLE_PERM;
	o->buffer = 8192;
	o->group = 1;
	o->gather = RC_GATHER_OFFICIAL;
	o->holdout = 0;
	o->eval_every = 0.25;
	for (int k = 0; k < 3; k++)
		o->tb_weights[k] = -1;
	o->lr = 1e-4;
	o->wd = 0.05;
	o->warmup = 0.1;
	for (int g = 0; g < RC_NGROUPS; g++)
		o->lr_group[g] = -1;
	o->l2 = -1;
	o->gamma = 0.05;
	o->clip_norm = 1.0;
	o->max_logit_scale = log(50.0);
	o->siglip_bias = -10.0;
	o->keep = 3;
}

int rc_train_group_of(const char *name)
{
	if (!strncmp(name, "vision_model.", 13))
		return RC_GROUP_VISION;
	if (!strncmp(name, "text_model.", 11))
		return RC_GROUP_TEXT;
	if (!strcmp(name, "visual_projection.weight") || !strcmp(name, "text_projection.weight") ||
	    !strcmp(name, "logit_bias"))
		return RC_GROUP_PROJ;
	if (!strcmp(name, "logit_scale"))
		return RC_GROUP_SCALE;
	if (!strncmp(name, "text_head.", 10) || !strncmp(name, "image_head.", 11))
		return RC_GROUP_HEADS;
	return -1;
}

static const char *const group_name[RC_NGROUPS] = { "vision", "text", "proj", "scale", "heads" };

/* The stage's groups as the official scripts build them (DESIGN.md §5),
 * learning rates as multiples of lr:
 *   stage 0 (the direct baselines): vision lr/10, text 3·lr/10, logit
 *     scale 5·lr (5e-4 at 1e-4), the default group lr;
 *   stage 1: vision lr/10, text 3·lr/10, logit scale and default group lr;
 *   stage 2: vision lr/10, text lr/5, heads 15·lr, logit scale and
 *     default group lr.
 * Weight decay: never on the logit scale; always on the default group
 * (the projections, SigLIP's logit_bias) and the heads; on the towers
 * (every tensor, layer norms included) in stages 0 and 2 unless the L2
 * pull is on, never in stage 1. */
static void groups(struct rc_train_job *j)
{
	const struct rc_train_opts *o = &j->o;
	const double mult[3][RC_NGROUPS] = {
		{ 0.1, 0.3, 1.0, 5.0, 15.0 },
		{ 0.1, 0.3, 1.0, 1.0, 15.0 },
		{ 0.1, 0.2, 1.0, 1.0, 15.0 },
	};
	const double towers = o->stage == 1 || o->l2 > 0 ? 0.0 : o->wd;
	for (int g = 0; g < RC_NGROUPS; g++) {
		j->lr_base[g] = o->lr_group[g] >= 0 ? o->lr_group[g] : o->lr * mult[o->stage][g];
		j->wd[g] = g == RC_GROUP_SCALE ? 0.0 : g == RC_GROUP_VISION || g == RC_GROUP_TEXT ?
			towers : o->wd;
	}
}

/* ---------------------------------------------------------------- communicator */

/* One process: a gather is a copy within the backend, a sum is nothing. */
static int solo_gather(void *ctx, const float *local, size_t n, float *global)
{
	struct rc_train_job *j = ctx;
	rc_backend_copy(j->be, global, local, n);
	return 0;
}

static int solo_reduce(void *ctx, float *buf, size_t n)
{
	return 0;
}

static int solo_reduce_d(void *ctx, double *buf, size_t n)
{
	return 0;
}

static int solo_max(void *ctx, int x)
{
	return x;
}

/* direct - the communicator can take the backend's memory as it is. */
static int direct(const struct rc_train_job *j)
{
	return j->c->device_memory || rc_backend_is_host(j->be);
}

/* gather - global[size·n] = every rank's local[n] (backend memory). */
static int gather(struct rc_train_job *j, const float *local, size_t n, float *global)
{
	if (direct(j))
		return j->c->allgather(j->c->ctx, local, n, global);
	float *h = j->stage, *hg = j->stage + n;
	int rc;
	if ((rc = rc_backend_download(j->be, h, local, n)) < 0 ||
	    (rc = j->c->allgather(j->c->ctx, h, n, hg)) < 0)
		return rc;
	return rc_backend_upload(j->be, global, hg, n * (size_t)j->c->size);
}

/* reduce - buf[n] (backend memory) summed over the ranks, in place; in
 * pieces of the staging buffer through the host when it must. */
static int reduce(struct rc_train_job *j, float *buf, size_t n)
{
	if (direct(j))
		return j->c->allreduce(j->c->ctx, buf, n);
	const size_t piece = (size_t)(j->c->size + 1) * j->Bg * j->D * j->ntext;
	for (size_t i = 0; i < n; i += piece) {
		size_t k = n - i < piece ? n - i : piece;
		int rc;
		if ((rc = rc_backend_download(j->be, j->stage, buf + i, k)) < 0 ||
		    (rc = j->c->allreduce(j->c->ctx, j->stage, k)) < 0 ||
		    (rc = rc_backend_upload(j->be, buf + i, j->stage, k)) < 0)
			return rc;
	}
	return 0;
}

/* queued - the gradients are summed during the last micro-batch's
 * backward (rc_backend_backward_reduce), not after it. */
static int queued(const struct rc_train_job *j)
{
	return j->c->size > 1 && j->c->allreduce_queued && direct(j);
}

/* official - the contrastive losses take the official gather's form:
 * asked for, over several ranks (with one they are the same). */
static int official(const struct rc_train_job *j)
{
	return j->o.gather == RC_GATHER_OFFICIAL && j->c->size > 1;
}

/* ---------------------------------------------------------------- setup */

/* extras - give the model exactly the extras of the stage and the loss:
 * the heads (stage 2) and the logit bias (SigLIP), kept when the initial
 * weights hold them, else initialised (the heads as torch.nn.Linear:
 * U(±1/√D) from the seed; the bias to siglip_bias). A resumed run takes
 * them from its checkpoint. */
static int extras(struct rc_train_job *j, const char *ckpt)
{
	const struct rc_train_opts *o = &j->o;
	const int need = (o->stage == 2 ? RC_CLIP_HEADS : 0) |
		(o->loss == RC_TRAIN_LOSS_SIGLIP ? RC_CLIP_LOGIT_BIAS : 0);
	int added, rc;
	if ((rc = rc_clip_set_extras(j->m, need, &added)) < 0)
		return rc;
	if (ckpt && added)
		return rc_log_error(RC_E_NOTFOUND, "%s: missing tensor %s", ckpt,
			added & RC_CLIP_HEADS ? "text_head.weight" : "logit_bias");
	rc_clip_init_extras(j->m, added, o->seed, (float)o->siglip_bias);
	if (added & RC_CLIP_HEADS)
		rc_log_info("stage 2: the heads start from a random initialisation (seed %llu)",
			(unsigned long long)o->seed);
	return 0;
}

/* backend - the groups of the tensors, the backend that trains them and
 * the recipe's buffers in its memory. */
static int backend(struct rc_train_job *j)
{
	const struct rc_train_opts *o = &j->o;
	const struct rc_clip *m = j->m;
	if (!(j->group = rc_malloc(m->ntensors * sizeof *j->group)))
		return RC_E_NOMEM;
	for (size_t i = 0; i < m->ntensors; i++) {
		j->group[i] = rc_train_group_of(m->tensors[i].name);
		rc_assert(j->group[i] >= 0);
	}
	struct rc_backend_opts bo = {
		.device = o->device, .threads = o->threads,
		.max_images = j->n, .max_texts = j->ntext * j->n,
		.train = 1, .loss_rows = j->Bg, .head_rows = o->stage == 2 ? j->n : 0,
		.ngroups = RC_NGROUPS, .group = j->group, .anchor = o->l2 > 0,
		.siglip = o->loss == RC_TRAIN_LOSS_SIGLIP, .recompute = o->recompute,
		.rank_rows = official(j),
	};
	int rc = rc_backend_new(&j->be, j->m, &bo);
	if (rc < 0)
		return rc;
	const size_t D = (size_t)j->D, Bg = (size_t)j->Bg, n = (size_t)j->n;
	const size_t nt = (size_t)j->ntext;
	float *b = rc_backend_alloc(j->be, 2 * Bg * D * (1 + nt) + n * D * (1 + nt));
	if (!b)
		return RC_E_NOMEM;
	j->img_g = b, b += Bg * D;
	j->dimg_g = b, b += Bg * D;
	j->txt_g = b, b += nt * Bg * D;
	j->dtxt_g = b, b += nt * Bg * D;
	j->dimg = b, b += n * D;
	j->dtxt = b;
	if (!rc_backend_is_host(j->be) &&
	    !(j->stage = rc_malloc((size_t)(j->c->size + 1) * Bg * D * nt * sizeof *j->stage)))
		return RC_E_NOMEM;
	return 0;
}

static void job_free(struct rc_train_job *j)
{
	if (j->metrics)
		fclose(j->metrics);
	rc_prefetch_free(j->pf);
	rc_loader_close(j->ld);
	rc_loader_close(j->ev);
	if (j->be)
		rc_backend_release(j->be, j->img_g);
	rc_backend_free(j->be);
	free(j->stage);
	free(j->group);
	rc_clip_free(j->m);
}

static int setup(struct rc_train_job *j)
{
	struct rc_train_opts *o = &j->o;
	int rc;
	char ckpt[4200];
	j->resumed_from = -1;
	if (o->resume) {
		long step;
		if ((rc = rc_train_find_latest(o->resume, ckpt, sizeof ckpt, &step)) < 0)
			return rc;
		if ((rc = rc_clip_load_checkpoint(&j->m, ckpt)) < 0 ||
		    (rc = rc_clip_check_finite(j->m, ckpt)) < 0)
			return rc;
		j->resumed_from = step;
	} else if (o->init_config) {
		struct rc_clip_config cfg;
		struct stat sb;
		rc = stat(o->init_config, &sb) == 0 ? rc_clip_config_load(&cfg, o->init_config)
			: rc_clip_config_builtin(&cfg, o->init_config);
		if (rc < 0 || (rc = rc_clip_new(&j->m, &cfg)) < 0)
			return rc;
		rc_clip_init_random(j->m, o->seed);
		rc_log_info("a new model of %zu parameters from random weights (seed %llu)",
			rc_clip_param_count(j->m), (unsigned long long)o->seed);
	} else {
		int fmt;
		if ((rc = rc_clip_load_any(&j->m, o->init, NULL, &fmt)) < 0)
			return rc;
		if (fmt == RC_CLIP_FMT_HF_VISION)
			return rc_log_error(RC_E_ARG, "%s: a vision tower only; training needs a "
				"whole CLIP model", o->init);
	}
	const struct rc_clip_config *cfg = &j->m->cfg;
	const char *from = o->resume ? ckpt : o->init;
	if (from && (rc = rc_clip_tokenizer(from, cfg->family, &j->tok)) < 0)
		return rc;
	if (!from && cfg->family == RC_FAMILY_CLIP) /* random weights of a CLIP config */
		snprintf(j->tok.id, sizeof j->tok.id, "%s", RC_TOKENIZER_CLIP);
	/* a SigLIP model's tokenizer files beside it: their padding side is
	 * the training's, and the run keeps a copy */
	if (cfg->family != RC_FAMILY_SIGLIP)
		j->tok.dir[0] = '\0', j->tok.pad_left = 0;
	if (j->tok.pad_left)
		rc_log_info("%s: its tokenizer pads on the left (padding_side): so do the "
			"training's texts", j->tok.dir);
	j->D = cfg->projection_dim;
	j->ntext = o->stage == 1 ? 2 : 1;
	const int nranks = j->c->size;
	if (o->batch % nranks)
		return rc_log_error(RC_E_ARG, "--batch %d is not a multiple of the %d ranks",
			o->batch, nranks);
	j->Bg = o->batch, j->n = o->batch / nranks;
	struct rc_loader_opts lo = {
		.list = j->data_abs, .stage = o->stage, .stream = o->stream, .batch = o->batch,
		.rank = j->c->rank, .nranks = nranks, .shuffle = o->shuffle, .buffer = o->buffer,
		.group = o->group,
		.seed = o->seed, .holdout = o->holdout, .image_size = cfg->vision.image_size,
		.ctx = cfg->text.max_position, .eot = cfg->text.vocab_size - 1,
		.vocab = cfg->text.vocab_size, .verify = o->verify,
		/* SigLIP: padded to the maximum, as its official training */
		.pad_full = cfg->family == RC_FAMILY_SIGLIP, .pad_id = cfg->text.pad_token_id,
		.pad_left = j->tok.pad_left,
		.preprocess = cfg->family == RC_FAMILY_SIGLIP ? RC_PREPROCESS_SIGLIP :
			RC_PREPROCESS_CLIP,
		.tokenizer = j->tok.id,
	};
	if (cfg->text.eos_token_id != 2 && cfg->text.eos_token_id < cfg->text.vocab_size)
		lo.eot = cfg->text.eos_token_id;
	if ((rc = rc_loader_open(&j->ld, &lo)) < 0)
		return rc;
	/* a model that names no tokenizer learns the data's: its checkpoints say so */
	if (!j->tok.id[0]) {
		snprintf(j->tok.id, sizeof j->tok.id, "%s", rc_loader_tokenizer(j->ld));
		rc_log_info("%s names no tokenizer: trained on the ids of %s", from ? from :
			o->init_config, j->tok.id);
	}
	if (o->holdout > 0) {
		lo.split = 1;
		if ((rc = rc_loader_open(&j->ev, &lo)) < 0)
			return rc;
	}
	const long spe = rc_loader_steps_per_epoch(j->ld) / o->accum;
	if (spe < 1 && !o->steps)
		return rc_log_error(RC_E_RANGE, "%s: one epoch is less than one step of %d×%d items",
			o->data, o->batch, o->accum);
	j->total = o->steps ? o->steps : (long)floor(o->epochs * (double)spe);
	if (j->total < 1)
		j->total = 1;
	j->warm = rc_sched_warmup_steps(o->warmup, j->total);
	if (o->l2 < 0)
		o->l2 = o->stage == 1 ? 1e-5 : 0.0;
	if (o->tb_weights[0] < 0) {
		const double clip[3] = { 0.7, 0.5, 0.6 }, siglip[3] = { 0.6, 0.3, 0.5 };
		memcpy(o->tb_weights, o->loss == RC_TRAIN_LOSS_SIGLIP ? siglip : clip,
			sizeof o->tb_weights);
	}
	groups(j);
	/* the Trainer's ratio strategy: every max(1, int(F·steps)) steps */
	j->best_loss = INFINITY, j->best_step = -1;
	j->eval_steps = !j->ev || !(o->eval_every > 0) ? 0 : o->eval_every >= 1 ?
		(long)o->eval_every : (long)(o->eval_every * (double)j->total);
	if (j->ev && o->eval_every > 0 && j->eval_steps < 1)
		j->eval_steps = 1;
	if ((rc = extras(j, o->resume ? ckpt : NULL)) < 0 || (rc = backend(j)) < 0)
		return rc;
	if (o->resume && (rc = rc_train_restore(j, ckpt)) < 0)
		return rc;
	/* a device computes while the CPU reads ahead; on the CPU both would
	 * share the cores */
	if (!rc_backend_is_host(j->be) && (rc = rc_prefetch_new(&j->pf, j->ld, j->be)) < 0)
		return rc;
	return 0;
}

/* ---------------------------------------------------------------- the step */

struct step_stats {
	double loss, part[3], l2, w, grad_norm;
	double repeated;         /* the share of rows whose image another row has */
	double wait;             /* seconds waiting for the data */
	double holdout;          /* the held-out loss after the step (NAN: not evaluated) */
};

/* contrastive - the CLIP or SigLIP loss of img_g against text stream k of
 * txt_g over B rows (n of them this rank's), its backward with weight dl
 * into dimg_g, dtxt_g (stream k; this rank's rows as the gather mode has
 * them) and the scale (and bias) gradients, which only rank 0 keeps. */
static double contrastive(struct rc_train_job *j, int k, int B, int n, float dl)
{
	const size_t at = (size_t)k * j->Bg * j->D;
	const int scale = j->c->rank == 0, lo = j->c->rank * n, sig = j->o.loss ==
		RC_TRAIN_LOSS_SIGLIP;
	float *img = j->img_g, *txt = j->txt_g + at, *dimg = j->dimg_g, *dtxt = j->dtxt_g + at;
	if (official(j))
		return sig ? rc_backend_loss_siglip_rows(j->be, img, txt, B, lo, n, dl, dimg, dtxt,
			scale) : rc_backend_loss_clip_rows(j->be, img, txt, B, lo, n, dl, dimg, dtxt,
			scale);
	return sig ? rc_backend_loss_siglip(j->be, img, txt, B, dl, dimg, dtxt, scale) :
		rc_backend_loss_clip(j->be, img, txt, B, dl, dimg, dtxt, scale);
}

/* next_batch - the next batch, and the seconds spent waiting for it added
 * to *wait (without a prefetcher, the whole reading and decoding). */
static int next_batch(struct rc_train_job *j, struct rc_batch *b, double *wait)
{
	double w = 0, t0 = rc_seconds();
	int rc = j->pf ? rc_prefetch_next(j->pf, b, &w) : rc_loader_next(j->ld, b);
	*wait += j->pf ? w : rc_seconds() - t0;
	return rc;
}

static int micro_batch(struct rc_train_job *j, double w, int last, struct step_stats *st)
{
	struct rc_batch b;
	int rc;
	const int n = j->n, D = j->D, Bg = j->Bg, rank = j->c->rank;
	const size_t nd = (size_t)n * D, bd = (size_t)Bg * D;
	const float dl = 1.0f / (float)j->o.accum;
	const float *img, *txt;
	if ((rc = next_batch(j, &b, &st->wait)) < 0)
		return rc;
	if ((rc = rc_backend_encode_images(j->be, b.rgb, n, &img)) < 0 ||
	    (rc = rc_backend_encode_texts(j->be, b.ids, b.ntext * n, b.T, &txt)) < 0)
		return rc;
	if ((rc = gather(j, img, nd, j->img_g)) < 0)
		return rc;
	for (int k = 0; k < j->ntext; k++)
		if ((rc = gather(j, txt + k * nd, nd, j->txt_g + k * bd)) < 0)
			return rc;
	rc_backend_zero(j->be, j->dimg_g, bd);
	rc_backend_zero(j->be, j->dtxt_g, j->ntext * bd);
	double part[3] = { 0, 0, 0 }, loss;
	if (j->o.stage == 1) {
		part[0] = contrastive(j, 0, Bg, n, (float)w * dl);
		part[1] = contrastive(j, 1, Bg, n, (float)(1.0 - w) * dl);
		loss = w * part[0] + (1.0 - w) * part[1];
	} else {
		part[0] = contrastive(j, 0, Bg, n, dl);
		loss = part[0];
	}
	/* this rank's rows of the embedding gradients */
	rc_backend_copy(j->be, j->dimg, j->dimg_g + rank * nd, nd);
	for (int k = 0; k < j->ntext; k++)
		rc_backend_copy(j->be, j->dtxt + k * nd, j->dtxt_g + k * bd + rank * nd, nd);
	if (j->o.stage == 2) {
		/* γ·(CE(text_head(t), cls) + BCE(image_head(v), multi)) on this
		 * rank's rows, normalised by the global batch, summed over ranks */
		double sum[2];
		if ((rc = rc_backend_heads(j->be, txt, img, n, b.cls, b.multi, Bg,
		    (float)j->o.gamma * dl, j->dtxt, j->dimg, sum)) < 0 ||
		    (rc = j->c->allreduce_d(j->c->ctx, sum, 2)) < 0)
			return rc;
		part[1] = sum[0], part[2] = sum[1];
		loss += j->o.gamma * (part[1] + part[2]);
	}
	if ((rc = last && queued(j)
	    ? rc_backend_backward_reduce(j->be, j->dimg, j->dtxt, j->c->allreduce_queued,
		j->c->ctx)
	    : rc_backend_backward(j->be, j->dimg, j->dtxt)) < 0)
		return rc;
	st->loss += loss * dl;
	for (int k = 0; k < 3; k++)
		st->part[k] += part[k] * dl;
	st->repeated += (double)b.repeated / Bg * dl;
	return 0;
}

static int step(struct rc_train_job *j, struct step_stats *st)
{
	int rc;
	memset(st, 0, sizeof *st);
	st->holdout = NAN;
	/* before the forward passes, as the official compute_loss does: a
	 * scale above the bound (an OpenAI checkpoint's ln 100) never reaches
	 * a loss, and the last step's update is saved as it is */
	if ((rc = rc_backend_clamp(j->be, "logit_scale", (float)j->o.max_logit_scale)) < 0)
		return rc;
	rc_backend_grad_zero(j->be);
	st->w = j->o.stage == 1 ? rc_sched_stage1_w((double)j->step / (double)j->total,
		j->o.tb_weights) : 1.0;
	for (int a = 0; a < j->o.accum; a++)
		if ((rc = micro_batch(j, st->w, a == j->o.accum - 1, st)) < 0)
			return rc;
	if (!queued(j) &&
	    (rc = reduce(j, rc_backend_buffer(j->be, RC_BUF_GRADS), j->m->nparams)) < 0)
		return rc;
	if (j->o.l2 > 0) {
		st->l2 = rc_backend_l2(j->be, (float)j->o.l2,
			1u << RC_GROUP_VISION | 1u << RC_GROUP_TEXT);
		st->loss += st->l2;
	}
	const long s = j->step + 1;
	if (!isfinite(st->loss))
		return rc_log_error(RC_E_RANGE, "step %ld: the loss is %g; stopping (the last "
			"checkpoint is kept)", s, st->loss);
	/* one pass over the gradients: a NaN or an infinity makes the norm
	 * non-finite, and only then are they searched for the tensor to name */
	st->grad_norm = rc_backend_grad_norm(j->be);
	if (!isfinite(st->grad_norm)) {
		long bad = rc_backend_grad_nonfinite(j->be);
		if (bad >= 0)
			return rc_log_error(RC_E_RANGE, "step %ld: the gradient of %s is not finite; "
				"stopping (the last checkpoint is kept)", s, j->m->tensors[bad].name);
		return rc_log_error(RC_E_RANGE, "step %ld: the gradient norm overflows; stopping "
			"(the last checkpoint is kept)", s);
	}
	if (j->o.clip_norm > 0)
		rc_backend_grad_clip(j->be, st->grad_norm, j->o.clip_norm);
	const double mult = rc_sched_lr_mult(j->step, j->total, j->warm);
	float lr[RC_NGROUPS], wd[RC_NGROUPS];
	for (int g = 0; g < RC_NGROUPS; g++)
		lr[g] = (float)(j->lr_base[g] * mult), wd[g] = (float)j->wd[g];
	rc_backend_adamw(j->be, lr, wd);
	j->step = s;
	return 0;
}

/* ---------------------------------------------------------------- held-out loss */

/* evaluate - the stage's loss on the held-out items after the step, as
 * the official evaluation takes compute_loss's value: the scale clamped
 * first, stage 1's w at the current step and its L2 term, stage 2's
 * heads; the batches' mean, in dataset order, over every rank's rows.
 * The backward of the losses runs with weight 0 (the operations are
 * fused) and the L2 term adds its gradient: the gradients are dead until
 * the next step zeroes them. */
static int evaluate(struct rc_train_job *j, double *out)
{
	int rc;
	const int n = rc_loader_batch(j->ev) / j->c->size, B = n * j->c->size;
	const size_t nd = (size_t)n * j->D, bd = (size_t)j->Bg * j->D;
	const long nb = rc_loader_steps_per_epoch(j->ev);
	const double w = j->o.stage == 1 ? rc_sched_stage1_w((double)j->step /
		(double)j->total, j->o.tb_weights) : 1.0;
	if ((rc = rc_backend_clamp(j->be, "logit_scale", (float)j->o.max_logit_scale)) < 0 ||
	    (rc = rc_loader_seek(j->ev, 0, 0)) < 0)
		return rc;
	double sum = 0;
	for (long i = 0; i < nb; i++) {
		struct rc_batch b;
		const float *img, *txt;
		if ((rc = rc_loader_next(j->ev, &b)) < 0 ||
		    (rc = rc_backend_encode_images(j->be, b.rgb, n, &img)) < 0 ||
		    (rc = rc_backend_encode_texts(j->be, b.ids, b.ntext * n, b.T, &txt)) < 0 ||
		    (rc = gather(j, img, nd, j->img_g)) < 0)
			return rc;
		for (int k = 0; k < j->ntext; k++)
			if ((rc = gather(j, txt + k * nd, nd, j->txt_g + k * bd)) < 0)
				return rc;
		const int sig = j->o.loss == RC_TRAIN_LOSS_SIGLIP;
		double loss = 0;
		for (int k = 0; k < j->ntext; k++) {
			const double l = sig ? rc_backend_loss_siglip(j->be, j->img_g, j->txt_g + k * bd,
				B, 0.0f, j->dimg_g, j->dtxt_g + k * bd, 0) : rc_backend_loss_clip(j->be,
				j->img_g, j->txt_g + k * bd, B, 0.0f, j->dimg_g, j->dtxt_g + k * bd, 0);
			loss += (j->o.stage == 1 ? (k ? 1.0 - w : w) : 1.0) * l;
		}
		if (j->o.stage == 2) {
			double part[2];
			if ((rc = rc_backend_heads(j->be, txt, img, n, b.cls, b.multi, B, 0.0f, j->dtxt,
			    j->dimg, part)) < 0 || (rc = j->c->allreduce_d(j->c->ctx, part, 2)) < 0)
				return rc;
			loss += j->o.gamma * (part[0] + part[1]);
		}
		sum += loss;
	}
	*out = sum / (double)nb;
	if (j->o.l2 > 0)
		*out += rc_backend_l2(j->be, (float)j->o.l2, 1u << RC_GROUP_VISION |
			1u << RC_GROUP_TEXT);
	return 0;
}

/* held_out - after step j->step: the held-out loss when it is due, and
 * best.safetensors (rank 0) when it is the lowest so far. */
static int held_out(struct rc_train_job *j, struct step_stats *st)
{
	if (!j->eval_steps || j->step % j->eval_steps)
		return 0;
	int rc = evaluate(j, &st->holdout);
	if (rc < 0)
		return rc;
	if (!(st->holdout < j->best_loss))
		return 0;
	j->best_loss = st->holdout, j->best_step = j->step;
	if (j->c->rank != 0)
		return 0;
	char path[4200];
	snprintf(path, sizeof path, "%s/best.safetensors", j->o.out);
	if ((rc = rc_train_save(j, path, 0)) == 0)
		rc_log_info("step %ld: held-out loss %.6g, the lowest so far: wrote %s", j->step,
			st->holdout, path);
	return rc;
}

/* scalar - the value of the model's scalar tensor name (the logit scale
 * or bias) as the backend has it now. */
static double scalar(struct rc_train_job *j, const char *name)
{
	const struct rc_clip_param *p = rc_clip_find_param(j->m, name);
	float v = NAN;
	if (p)
		rc_backend_read(j->be, RC_BUF_PARAMS, (size_t)(p - j->m->tensors), &v);
	return v;
}

/* metrics_line - one JSON object for metrics.jsonl. */
static void metrics_line(struct rc_train_job *j, const struct step_stats *st, double sps, char *buf,
	size_t n)
{
	const double mult = rc_sched_lr_mult(j->step - 1, j->total, j->warm);
	long epoch;
	uint64_t cur;
	rc_train_tell(j, &epoch, &cur);
	int k = snprintf(buf, n, "{\"step\": %ld, \"epoch\": %ld, \"loss\": %.9g", j->step, epoch,
		st->loss);
	if (j->o.stage == 1)
		k += snprintf(buf + k, n - k, ", \"loss_tb\": %.9g, \"loss_trl\": %.9g, "
			"\"l2\": %.9g, \"w\": %.9g", st->part[0], st->part[1], st->l2, st->w);
	else if (j->o.stage == 2)
		k += snprintf(buf + k, n - k, ", \"loss_clip\": %.9g, \"loss_text_cls\": %.9g, "
			"\"loss_image_cls\": %.9g", st->part[0], st->part[1], st->part[2]);
	else
		k += snprintf(buf + k, n - k, ", \"loss_%s\": %.9g", j->o.stream == RC_STREAM_TB ?
			"tb" : j->o.stream == RC_STREAM_TRL ? "trl" : "caption", st->part[0]);
	k += snprintf(buf + k, n - k, ", \"lr\": {");
	for (int g = 0; g < RC_NGROUPS; g++) {
		if (g == RC_GROUP_HEADS && j->o.stage != 2)
			continue;
		k += snprintf(buf + k, n - k, "%s\"%s\": %.9g", g ? ", " : "", group_name[g],
			j->lr_base[g] * mult);
	}
	k += snprintf(buf + k, n - k, "}, \"grad_norm\": %.9g, \"logit_scale\": %.9g",
		st->grad_norm, scalar(j, "logit_scale"));
	if (j->m->extras & RC_CLIP_LOGIT_BIAS)
		k += snprintf(buf + k, n - k, ", \"logit_bias\": %.9g", scalar(j, "logit_bias"));
	k += snprintf(buf + k, n - k, ", \"repeated_image_rows\": %.6g", st->repeated);
	if (!isnan(st->holdout))
		k += snprintf(buf + k, n - k, ", \"holdout_loss\": %.9g", st->holdout);
	/* The seconds the step waited for its data, the process's peak
	 * resident set so far (Linux: ru_maxrss in KiB) and a device's peak,
	 * after samples_per_s so that comparisons which cut the line there (a
	 * resumed run against an uninterrupted one) ignore them as they ignore
	 * the speed. */
	struct rusage ru;
	const double rss = getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024.0 : 0;
	k += snprintf(buf + k, n - k, ", \"samples_per_s\": %.4g, \"data_wait_s\": %.4g, "
		"\"peak_rss_mib\": %.1f", sps, st->wait, rss);
	if (j->be->device_peak)
		k += snprintf(buf + k, n - k, ", \"peak_device_mib\": %.1f",
			j->be->device_peak / 1048576.0);
	snprintf(buf + k, n - k, "}\n");
}

/* keep_tokenizer - a copy of the model's tokenizer files in a new run's
 * directory (rank 0), so that its checkpoints embed texts, export and
 * train on with the tokenizer they learnt. */
static int keep_tokenizer(const struct rc_train_job *j)
{
	char a[PATH_MAX], b[PATH_MAX];
	if (j->c->rank != 0 || j->resumed_from >= 0 || !j->tok.dir[0] ||
	    (realpath(j->tok.dir, a) && realpath(j->o.out, b) && !strcmp(a, b)))
		return 0;
	int n = rc_clip_copy_tokenizer(j->tok.dir, j->o.out);
	if (n > 0)
		rc_log_info("%s: its %d tokenizer files copied into %s", j->tok.dir, n, j->o.out);
	return n < 0 ? n : 0;
}

int rc_train_run(const struct rc_train_opts *opts, const struct rc_train_comm *c,
	struct rc_train_result *res)
{
	struct rc_train_job j;
	memset(&j, 0, sizeof j);
	j.o = *opts;
	j.solo = (struct rc_train_comm){ .rank = 0, .size = 1, .ctx = &j, .device_memory = 1,
		.allgather = solo_gather, .allreduce = solo_reduce, .allreduce_d = solo_reduce_d,
		.allmax = solo_max };
	j.c = c ? c : &j.solo;
	if (res)
		memset(res, 0, sizeof *res);
	rc_backend_cpu_threads(j.o.threads);
	int rc, stopped = 0;
	if ((rc = rc_device_check(&j.o.device)) < 0)
		return rc;
	/* one process writes a run directory: rank 0 holds DIR/.lock from
	 * before it reads the checkpoint to the end */
	struct rc_lock lock = { .fd = -1, .path = NULL };
	if (j.o.resume) {
		char ckpt[4200];
		long s;
		if ((j.c->rank == 0 && (rc = rc_train_lock(j.o.resume, &lock)) < 0) ||
		    (rc = rc_train_find_latest(j.o.resume, ckpt, sizeof ckpt, &s)) < 0 ||
		    (rc = rc_train_read_options(ckpt, &j.o, j.data_abs, sizeof j.data_abs)) < 0)
			goto out;
		j.o.out = j.o.resume;
	} else {
		if (!realpath(j.o.data, j.data_abs)) {
			rc = rc_log_error(RC_E_NOTFOUND, "%s: %s", j.o.data, strerror(errno));
			goto out;
		}
		if (j.c->rank == 0 && (rc = rc_train_run_dir(j.o.out, 0, &lock)) < 0)
			goto out;
	}
	if ((rc = setup(&j)) < 0 || (rc = keep_tokenizer(&j)) < 0)
		goto out;
	if (j.c->rank == 0 && (rc = rc_train_metrics_open(&j)) < 0)
		goto out;
	if (j.resumed_from >= 0)
		rc_log_info("resuming %s at step %ld of %ld", j.o.out, j.step, j.total);
	else
		rc_log_info("stage %d: %ld steps of %d×%d items, %llu items per epoch, %d rank%s",
			j.o.stage, j.total, j.o.batch, j.o.accum,
			(unsigned long long)rc_loader_items(j.ld), j.c->size, j.c->size > 1 ? "s" : "");
	struct rc_progress p;
	if (j.c->rank == 0)
		rc_progress_begin(&p, "train", (uint64_t)j.total);
	if (j.c->rank == 0)
		rc_progress_update(&p, (uint64_t)j.step);
	while (j.step < j.total) {
		struct step_stats st;
		const double t0 = rc_seconds();
		if ((rc = step(&j, &st)) < 0)
			break;
		const double sps = (double)j.o.batch * j.o.accum / (rc_seconds() - t0);
		if ((rc = held_out(&j, &st)) < 0)
			break;
		if (j.c->rank == 0) {
			char line[2048];
			metrics_line(&j, &st, sps, line, sizeof line);
			if ((rc = rc_train_metrics_write(&j, line)) < 0)
				break;
			rc_progress_update(&p, 1);
		}
		const int req = j.c->allmax(j.c->ctx, atomic_exchange(&g_request, 0));
		const int due = j.o.save_every > 0 && j.step % j.o.save_every == 0 &&
			j.step < j.total;
		if ((req || due) && (rc = rc_train_save_step(&j)) < 0)
			break;
		if (req == 2) {
			rc_log_info("stopped at step %ld of %ld on request; resume with --resume %s",
				j.step, j.total, j.o.out);
			stopped = 1;
			break;
		}
	}
	if (j.c->rank == 0)
		rc_progress_end(&p);
	if (rc == 0 && !stopped && j.c->rank == 0) {
		char path[4200];
		snprintf(path, sizeof path, "%s/final.safetensors", j.o.out);
		if ((rc = rc_train_save(&j, path, 0)) == 0)
			rc_log_info("wrote %s after %ld steps", path, j.step);
	}
out:
	if (res)
		res->step = j.step, res->total = j.total, res->stopped = stopped;
	job_free(&j);
	rc_lock_drop(&lock);
	return rc;
}
