/* train.c - the training job (train.h): setup from an initial model or a
 * checkpoint, parameter groups, and the optimizer step of every stage.
 * Checkpoints and metrics are in train_ckpt.c. */
#include "train/train.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "convert/model_io.h"
#include "model/ops_cpu.h"
#include "base/progress.h"
#include "base/rng.h"
#include "base/thread.h"
#include "train/train_impl.h"

static volatile sig_atomic_t g_request;   /* 1: checkpoint, 2: and stop */

void rc_train_request(int checkpoint_and_stop)
{
	int r = checkpoint_and_stop ? 2 : 1;
	if (g_request < r)
		g_request = r;
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
	o->shuffle = 1;
	o->buffer = 8192;
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
	if (!strcmp(name, "visual_projection.weight") || !strcmp(name, "text_projection.weight"))
		return RC_GROUP_PROJ;
	if (!strcmp(name, "logit_scale") || !strcmp(name, "logit_bias"))
		return RC_GROUP_SCALE;
	if (!strncmp(name, "text_head.", 10) || !strncmp(name, "image_head.", 11))
		return RC_GROUP_HEADS;
	return -1;
}

static const char *const group_name[RC_NGROUPS] = { "vision", "text", "proj", "scale", "heads" };

/* The stage's learning rates as multiples of lr (DESIGN.md §5): stage 1
 * (and 0) vision lr/10, text 3·lr/10; stage 2 vision lr/10, text lr/5,
 * heads 15·lr; projections and the logit scale lr. Weight decay on the
 * projections and the heads only. */
static void groups(struct rc_train_job *j)
{
	const struct rc_train_opts *o = &j->o;
	const double mult12[2][RC_NGROUPS] = {
		{ 0.1, 0.3, 1.0, 1.0, 15.0 },
		{ 0.1, 0.2, 1.0, 1.0, 15.0 },
	};
	for (int g = 0; g < RC_NGROUPS; g++) {
		j->lr_base[g] = o->lr_group[g] >= 0 ? o->lr_group[g]
			: o->lr * mult12[o->stage == 2][g];
		j->wd[g] = g == RC_GROUP_PROJ || g == RC_GROUP_HEADS ? o->wd : 0.0;
	}
}

/* ---------------------------------------------------------------- communicator */

static int solo_gather(void *ctx, const float *local, size_t n, float *global)
{
	if (global != local)
		memcpy(global, local, n * sizeof *local);
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

/* ---------------------------------------------------------------- setup */

static void uniform_init(float *p, size_t n, float bound, uint64_t *s)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (float)((rc_rng_unit(s) * 2.0 - 1.0) * bound);
}

static void add_extra(struct rc_train_job *j, const char *name, size_t off, size_t n, int ndim,
	int64_t d0, int64_t d1, int group)
{
	struct rc_extra *e = &j->ex[j->nex++];
	snprintf(e->name, sizeof e->name, "%s", name);
	e->p = j->xp + off, e->g = j->xg + off, e->n = n;
	e->ndim = ndim, e->shape[0] = d0, e->shape[1] = d1, e->group = group;
}

/* extras - the heads (stage 2) and the logit bias (SigLIP), initialised
 * (the heads as torch.nn.Linear: U(±1/√D); the bias to siglip_bias) and
 * then read from the initial weights where they hold them. */
static int extras(struct rc_train_job *j, const char *weights)
{
	const int D = j->D, K = RC_HEAD_CLASSES;
	size_t nx = 0;
	if (j->o.stage == 2)
		nx += 2 * ((size_t)K * D + K);
	if (j->o.loss == RC_TRAIN_LOSS_SIGLIP)
		nx += 1;
	j->nx = nx;
	if (!nx)
		return 0;
	if (!(j->xp = rc_calloc(2 * nx, sizeof *j->xp)))
		return RC_E_NOMEM;
	j->xg = j->xp + nx;
	size_t off = 0;
	if (j->o.stage == 2) {
		uint64_t s = j->o.seed ^ 0x68656164ull;   /* "head" */
		const float bound = 1.0f / sqrtf((float)D);
		add_extra(j, "text_head.weight", off, (size_t)K * D, 2, K, D, RC_GROUP_HEADS);
		j->th_w = j->xp + off, j->th_wg = j->xg + off, off += (size_t)K * D;
		add_extra(j, "text_head.bias", off, K, 1, K, 0, RC_GROUP_HEADS);
		j->th_b = j->xp + off, j->th_bg = j->xg + off, off += K;
		add_extra(j, "image_head.weight", off, (size_t)K * D, 2, K, D, RC_GROUP_HEADS);
		j->ih_w = j->xp + off, j->ih_wg = j->xg + off, off += (size_t)K * D;
		add_extra(j, "image_head.bias", off, K, 1, K, 0, RC_GROUP_HEADS);
		j->ih_b = j->xp + off, j->ih_bg = j->xg + off, off += K;
		uniform_init(j->xp, off, bound, &s);
	}
	if (j->o.loss == RC_TRAIN_LOSS_SIGLIP) {
		add_extra(j, "logit_bias", off, 1, 0, 0, 0, RC_GROUP_SCALE);
		j->bias = j->xp + off, j->bias_g = j->xg + off;
		*j->bias = (float)j->o.siglip_bias;
		off++;
	}
	int found = 0;
	int rc = weights ? rc_train_load_extras(j, weights, &found) : 0;
	if (rc < 0)
		return rc;
	if (j->o.stage == 2 && !found)
		rc_log_info("stage 2: the heads start from a random initialisation (seed %llu)",
			(unsigned long long)j->o.seed);
	return 0;
}

static int optimizer(struct rc_train_job *j)
{
	const size_t nc = rc_clip_tensor_count(j->m);
	j->nt = nc + (size_t)j->nex;
	if (!(j->t = rc_calloc(j->nt, sizeof *j->t)))
		return RC_E_NOMEM;
	for (size_t i = 0; i < nc; i++) {
		const struct rc_clip_param *p = rc_clip_tensor(j->m, i);
		struct rc_optim_tensor *t = &j->t[i];
		t->name = p->name, t->p = p->data, t->g = j->grads + p->offset, t->n = p->numel;
		t->group = rc_train_group_of(p->name);
		rc_assert(t->group >= 0);
	}
	for (int k = 0; k < j->nex; k++) {
		struct rc_optim_tensor *t = &j->t[nc + (size_t)k];
		t->name = j->ex[k].name, t->p = j->ex[k].p, t->g = j->ex[k].g, t->n = j->ex[k].n;
		t->group = j->ex[k].group;
	}
	return rc_adamw_new(&j->opt, j->t, j->nt, RC_NGROUPS);
}

/* weights_file - the safetensors file of a model path: DIR/model.safetensors
 * for a Hugging Face directory, the path itself for a file. */
static const char *weights_file(const char *path, char *buf, size_t n)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(buf, n, "%s/model.safetensors", path);
		return stat(buf, &st) == 0 ? buf : NULL;
	}
	return path;
}

static int buffers(struct rc_train_job *j)
{
	const size_t D = (size_t)j->D;
	size_t need = (size_t)j->Bg * D * (2 + 2 * (size_t)j->ntext) +
		(size_t)j->n * D * (1 + (size_t)j->ntext) + 2 * (size_t)j->n * RC_HEAD_CLASSES;
	float *b = rc_calloc(need, sizeof *b);
	if (!b)
		return RC_E_NOMEM;
	j->img_g = b, b += (size_t)j->Bg * D;
	j->dimg_g = b, b += (size_t)j->Bg * D;
	j->txt_g = b, b += (size_t)j->ntext * j->Bg * D;
	j->dtxt_g = b, b += (size_t)j->ntext * j->Bg * D;
	j->dimg = b, b += (size_t)j->n * D;
	j->dtxt = b, b += (size_t)j->ntext * j->n * D;
	j->hx = b, b += (size_t)j->n * RC_HEAD_CLASSES;
	j->dhx = b;
	return 0;
}

static void job_free(struct rc_train_job *j)
{
	if (j->metrics)
		fclose(j->metrics);
	rc_loader_close(j->ld);
	rc_loss_clip_free(j->lc);
	rc_loss_siglip_free(j->lsig);
	rc_adamw_free(j->opt);
	free(j->t);
	free(j->img_g);
	free(j->xp);
	free(j->anchor);
	free(j->grads);
	rc_clip_grad_ws_free(j->gw);
	rc_clip_ws_free(j->ws);
	rc_clip_free(j->m);
}

static int setup(struct rc_train_job *j)
{
	struct rc_train_opts *o = &j->o;
	int rc;
	char ckpt[4200], wbuf[4200];
	const char *weights = NULL;
	j->resumed_from = -1;
	if (o->resume) {
		long step;
		if ((rc = rc_train_find_latest(o->resume, ckpt, sizeof ckpt, &step)) < 0)
			return rc;
		if ((rc = rc_clip_load_checkpoint(&j->m, ckpt)) < 0)
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
		weights = weights_file(o->init, wbuf, sizeof wbuf);
	}
	const struct rc_clip_config *cfg = &j->m->cfg;
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
		.seed = o->seed, .image_size = cfg->vision.image_size,
		.ctx = cfg->text.max_position, .eot = cfg->text.vocab_size - 1,
		.vocab = cfg->text.vocab_size, .verify = o->verify,
	};
	if (cfg->text.eos_token_id != 2 && cfg->text.eos_token_id < cfg->text.vocab_size)
		lo.eot = cfg->text.eos_token_id;
	if ((rc = rc_loader_open(&j->ld, &lo)) < 0)
		return rc;
	const long spe = rc_loader_steps_per_epoch(j->ld) / o->accum;
	if (spe < 1 && !o->steps)
		return rc_log_error(RC_E_RANGE, "%s: one epoch is less than one step of %d×%d items",
			o->data, o->batch, o->accum);
	j->total = o->steps ? o->steps : (long)floor(o->epochs * (double)spe);
	if (j->total < 1)
		j->total = 1;
	j->warm = rc_sched_warmup_steps(o->warmup, j->total);
	groups(j);
	if (o->l2 < 0)
		o->l2 = o->stage == 1 ? 1e-5 : 0.0;
	const size_t np = rc_clip_param_count(j->m);
	if (!(j->grads = rc_calloc(np, sizeof *j->grads)))
		return RC_E_NOMEM;
	if ((rc = rc_clip_ws_new(&j->ws, j->m, j->n, j->ntext * j->n, RC_CLIP_WS_TRAIN)) < 0 ||
	    (rc = rc_clip_grad_ws_new(&j->gw, j->m, j->ws)) < 0)
		return rc;
	if (o->loss == RC_TRAIN_LOSS_SIGLIP)
		rc = rc_loss_siglip_new(&j->lsig, j->Bg);
	else
		rc = rc_loss_clip_new(&j->lc, j->Bg);
	if (rc < 0 || (rc = buffers(j)) < 0 || (rc = extras(j, weights)) < 0 ||
	    (rc = optimizer(j)) < 0)
		return rc;
	if (o->l2 > 0) {
		if (!(j->anchor = rc_malloc(np * sizeof *j->anchor)))
			return RC_E_NOMEM;
		memcpy(j->anchor, j->m->params, np * sizeof *j->anchor);
	}
	if (o->resume) {
		if ((rc = rc_train_restore(j, ckpt)) < 0)
			return rc;
	}
	return 0;
}

/* ---------------------------------------------------------------- the step */

struct step_stats {
	double loss, part[3], l2, w, grad_norm;
};

static void slice_rows(float *dst, const float *global, int rank, int n, int D)
{
	memcpy(dst, global + (size_t)rank * n * D, (size_t)n * D * sizeof *dst);
}

/* contrastive - the CLIP or SigLIP loss of img_g against text stream k of
 * txt_g, its backward with weight dl into dimg_g, dtxt_g (stream k) and
 * the scale (and bias) gradients, which only rank 0 keeps. */
static double contrastive(struct rc_train_job *j, int k, float dl)
{
	const int Bg = j->Bg, D = j->D;
	const float *txt = j->txt_g + (size_t)k * Bg * D;
	float *dtxt = j->dtxt_g + (size_t)k * Bg * D;
	float ds = 0, db = 0;
	double l;
	if (j->lsig) {
		l = rc_loss_siglip_forward(j->lsig, j->img_g, txt, Bg, D, *j->m->w.logit_scale,
			*j->bias);
		rc_loss_siglip_backward(j->lsig, dl, j->dimg_g, dtxt, &ds, &db);
	} else {
		l = rc_loss_clip_forward(j->lc, j->img_g, txt, Bg, D, *j->m->w.logit_scale);
		rc_loss_clip_backward(j->lc, dl, j->dimg_g, dtxt, &ds);
	}
	if (j->c->rank == 0) {
		struct rc_clip_weights g;
		rc_clip_point(&j->m->cfg, j->grads, &g);
		*g.logit_scale += ds;
		if (j->bias_g)
			*j->bias_g += db;
	}
	return l;
}

/* heads - stage 2's γ·(CE(text_head(t), cls) + BCE(image_head(v), multi))
 * on this rank's rows, normalised by the global batch; gradients into
 * the heads and the local embedding gradients. Returns the two local
 * parts in part[1], part[2] (summed over ranks by the caller). */
static void heads(struct rc_train_job *j, const struct rc_batch *b, float dl, double *part)
{
	const int n = j->n, D = j->D, K = RC_HEAD_CLASSES;
	const float *t = j->ws->text.emb, *v = j->ws->vision.emb;
	const float g = (float)j->o.gamma * dl;
	rc_ops_matmul(j->hx, t, j->th_w, j->th_b, n, D, K);
	memset(j->dhx, 0, (size_t)n * K * sizeof *j->dhx);
	part[1] += rc_loss_softmax_ce(j->hx, b->cls, n, K, j->Bg, g, j->dhx);
	rc_ops_matmul_backward(j->dtxt, j->th_wg, j->th_bg, j->dhx, t, j->th_w, n, D, K);
	rc_ops_matmul(j->hx, v, j->ih_w, j->ih_b, n, D, K);
	memset(j->dhx, 0, (size_t)n * K * sizeof *j->dhx);
	part[2] += rc_loss_bce_logits(j->hx, b->multi, n, K, j->Bg, g, j->dhx);
	rc_ops_matmul_backward(j->dimg, j->ih_wg, j->ih_bg, j->dhx, v, j->ih_w, n, D, K);
}

static int micro_batch(struct rc_train_job *j, double w, struct step_stats *st)
{
	struct rc_batch b;
	int rc;
	const int n = j->n, D = j->D, Bg = j->Bg, rank = j->c->rank;
	const float dl = 1.0f / (float)j->o.accum;
	if ((rc = rc_loader_next(j->ld, &b)) < 0)
		return rc;
	if ((rc = rc_clip_encode_image(j->m, j->ws, b.pixels, n, NULL)) < 0 ||
	    (rc = rc_clip_encode_text(j->m, j->ws, b.ids, b.ntext * n, b.T, NULL)) < 0)
		return rc;
	if ((rc = j->c->allgather(j->c->ctx, j->ws->vision.emb, (size_t)n * D, j->img_g)) < 0)
		return rc;
	for (int k = 0; k < j->ntext; k++)
		if ((rc = j->c->allgather(j->c->ctx, j->ws->text.emb + (size_t)k * n * D,
		    (size_t)n * D, j->txt_g + (size_t)k * Bg * D)) < 0)
			return rc;
	memset(j->dimg_g, 0, (size_t)Bg * D * sizeof *j->dimg_g);
	memset(j->dtxt_g, 0, (size_t)j->ntext * Bg * D * sizeof *j->dtxt_g);
	double part[3] = { 0, 0, 0 }, loss;
	if (j->o.stage == 1) {
		part[0] = contrastive(j, 0, (float)w * dl);
		part[1] = contrastive(j, 1, (float)(1.0 - w) * dl);
		loss = w * part[0] + (1.0 - w) * part[1];
	} else {
		part[0] = contrastive(j, 0, dl);
		loss = part[0];
	}
	slice_rows(j->dimg, j->dimg_g, rank, n, D);
	for (int k = 0; k < j->ntext; k++)
		slice_rows(j->dtxt + (size_t)k * n * D, j->dtxt_g + (size_t)k * Bg * D, rank, n, D);
	if (j->o.stage == 2) {
		double hp[3] = { 0, 0, 0 };
		heads(j, &b, dl, hp);
		double sum[2] = { hp[1], hp[2] };
		if ((rc = j->c->allreduce_d(j->c->ctx, sum, 2)) < 0)
			return rc;
		part[1] = sum[0], part[2] = sum[1];
		loss += j->o.gamma * (part[1] + part[2]);
	}
	if ((rc = rc_clip_backward(j->m, j->ws, j->gw, j->dimg, j->dtxt, j->grads)) < 0)
		return rc;
	st->loss += loss * dl;
	for (int k = 0; k < 3; k++)
		st->part[k] += part[k] * dl;
	return 0;
}

static int step(struct rc_train_job *j, struct step_stats *st)
{
	int rc;
	const size_t np = rc_clip_param_count(j->m);
	memset(st, 0, sizeof *st);
	memset(j->grads, 0, np * sizeof *j->grads);
	if (j->nx)
		memset(j->xg, 0, j->nx * sizeof *j->xg);
	st->w = j->o.stage == 1 ? rc_sched_stage1_w((double)j->step / (double)j->total) : 1.0;
	for (int a = 0; a < j->o.accum; a++)
		if ((rc = micro_batch(j, st->w, st)) < 0)
			return rc;
	if ((rc = j->c->allreduce(j->c->ctx, j->grads, np)) < 0 ||
	    (j->nx && (rc = j->c->allreduce(j->c->ctx, j->xg, j->nx)) < 0))
		return rc;
	if (j->anchor) {
		for (size_t i = 0; i < j->nt; i++) {
			const struct rc_optim_tensor *t = &j->t[i];
			if (t->group != RC_GROUP_VISION && t->group != RC_GROUP_TEXT)
				continue;
			st->l2 += rc_loss_l2_anchor(t->p, j->anchor + (t->p - j->m->params), t->n,
				(float)j->o.l2, t->g);
		}
		st->loss += st->l2;
	}
	const long s = j->step + 1;
	if (!isfinite(st->loss))
		return rc_log_error(RC_E_RANGE, "step %ld: the loss is %g; stopping (the last "
			"checkpoint is kept)", s, st->loss);
	/* one pass over the gradients: a NaN or an infinity makes the norm
	 * non-finite, and only then are they searched for the tensor to name */
	st->grad_norm = rc_grad_norm(j->t, j->nt);
	if (!isfinite(st->grad_norm)) {
		size_t bad;
		if (!rc_grad_finite(j->t, j->nt, &bad))
			return rc_log_error(RC_E_RANGE, "step %ld: the gradient of %s is not finite; "
				"stopping (the last checkpoint is kept)", s, j->t[bad].name);
		return rc_log_error(RC_E_RANGE, "step %ld: the gradient norm overflows; stopping "
			"(the last checkpoint is kept)", s);
	}
	if (j->o.clip_norm > 0)
		rc_grad_clip(j->t, j->nt, st->grad_norm, j->o.clip_norm);
	const double mult = rc_sched_lr_mult(j->step, j->total, j->warm);
	float lr[RC_NGROUPS], wd[RC_NGROUPS];
	for (int g = 0; g < RC_NGROUPS; g++)
		lr[g] = (float)(j->lr_base[g] * mult), wd[g] = (float)j->wd[g];
	rc_adamw_step(j->opt, lr, wd);
	float *ls = j->m->w.logit_scale;
	if (*ls > (float)j->o.max_logit_scale)
		*ls = (float)j->o.max_logit_scale;
	j->step = s;
	return 0;
}

/* metrics_line - one JSON object for metrics.jsonl. */
static void metrics_line(struct rc_train_job *j, const struct step_stats *st, double sps, char *buf,
	size_t n)
{
	const double mult = rc_sched_lr_mult(j->step - 1, j->total, j->warm);
	long epoch;
	uint64_t cur;
	rc_loader_tell(j->ld, &epoch, &cur);
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
		st->grad_norm, *j->m->w.logit_scale);
	if (j->bias)
		k += snprintf(buf + k, n - k, ", \"logit_bias\": %.9g", *j->bias);
	snprintf(buf + k, n - k, ", \"samples_per_s\": %.4g}\n", sps);
}

int rc_train_run(const struct rc_train_opts *opts, const struct rc_train_comm *c)
{
	struct rc_train_job j;
	memset(&j, 0, sizeof j);
	j.o = *opts;
	j.solo = (struct rc_train_comm){ 0, 1, NULL, solo_gather, solo_reduce, solo_reduce_d,
		solo_max };
	j.c = c ? c : &j.solo;
	int rc;
	if (j.o.resume) {
		char ckpt[4200];
		long s;
		if ((rc = rc_train_find_latest(j.o.resume, ckpt, sizeof ckpt, &s)) < 0 ||
		    (rc = rc_train_read_options(ckpt, &j.o, j.data_abs, sizeof j.data_abs)) < 0)
			return rc;
		j.o.out = j.o.resume;
	} else {
		if (!realpath(j.o.data, j.data_abs))
			return rc_log_error(RC_E_NOTFOUND, "%s: %s", j.o.data, strerror(errno));
		if (j.c->rank == 0 && (rc = rc_train_run_dir(j.o.out, 0)) < 0)
			return rc;
	}
	if ((rc = setup(&j)) < 0)
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
		if (j.c->rank == 0) {
			char line[2048];
			metrics_line(&j, &st, sps, line, sizeof line);
			if ((rc = rc_train_metrics_write(&j, line)) < 0)
				break;
			rc_progress_update(&p, 1);
		}
		const int req = j.c->allmax(j.c->ctx, g_request);
		const int due = j.o.save_every > 0 && j.step % j.o.save_every == 0 &&
			j.step < j.total;
		if ((req || due) && (rc = rc_train_save_step(&j)) < 0)
			break;
		if (req == 2) {
			rc_log_info("stopped at step %ld of %ld on request; resume with --resume %s",
				j.step, j.total, j.o.out);
			rc = RC_TRAIN_STOPPED;
			break;
		}
		g_request = 0;
	}
	if (j.c->rank == 0)
		rc_progress_end(&p);
	if (rc == 0 && j.c->rank == 0) {
		char path[4200];
		snprintf(path, sizeof path, "%s/final.safetensors", j.o.out);
		if ((rc = rc_train_save(&j, path, 0)) == 0)
			rc_log_info("wrote %s after %ld steps", path, j.step);
	}
out:
	job_free(&j);
	return rc;
}
