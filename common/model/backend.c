/* backend.c - the seam's entry points (backend.h): the checks every
 * backend shares, then a call through the backend's table. */
#include "model/backend.h"

#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "model/lowp_cpu.h"

/* backend_cpu.c */
int rc_backend_cpu_new(struct rc_backend **out, struct rc_clip *m,
	const struct rc_backend_opts *o);

/* cuda/backend_cuda.cu, when this rclip is built with it */
#ifdef HAVE_CUDA
int rc_backend_cuda_new(struct rc_backend **out, struct rc_clip *m,
	const struct rc_backend_opts *o);
int rc_cuda_device_count(void);
#else
static int rc_cuda_device_count(void)
{
	return 0;
}
#endif

/* ---------------------------------------------------------------- devices */

int rc_backend_cuda_devices(void)
{
	return rc_cuda_device_count();
}

int rc_device_parse(const char *s, struct rc_device *d)
{
	d->kind = RC_BACKEND_CPU, d->index = 0;
	if (!strcmp(s, "cpu"))
		return 0;
	if (!strcmp(s, "auto")) {
		const char *env = getenv("RCLIP_DEVICE");
		if (env && *env && strcmp(env, "auto") != 0)
			return rc_device_parse(env, d);
		if (rc_backend_cuda_devices() > 0)
			d->kind = RC_BACKEND_CUDA;
		return 0;
	}
	if (strncmp(s, "cuda", 4) != 0)
		return RC_E_ARG;
	d->kind = RC_BACKEND_CUDA;
	if (!s[4])
		return 0;
	char *end;
	long i = s[4] == ':' && s[5] >= '0' && s[5] <= '9' ? strtol(s + 5, &end, 10) : -1;
	if (i < 0 || i > 1023 || *end)
		return RC_E_ARG;
	d->index = (int)i;
	return 0;
}

int rc_precision_parse(const char *s, struct rc_device *d)
{
	if (!strcmp(s, "fp32"))
		d->precision = RC_PRECISION_FP32;
	else if (!strcmp(s, "bf16"))
		d->precision = RC_PRECISION_BF16;
	else if (!strcmp(s, "int8"))
		d->precision = RC_PRECISION_INT8;
	else if (!strcmp(s, "auto"))
		d->precision = RC_PRECISION_AUTO;
	else
		return RC_E_ARG;
	return 0;
}

const char *rc_precision_name(int precision)
{
	switch (precision) {
	case RC_PRECISION_FP32: return "fp32";
	case RC_PRECISION_BF16: return "bf16";
	case RC_PRECISION_INT8: return "int8";
	default: return "auto";
	}
}

const char *rc_device_name(const struct rc_device *d, char *buf, size_t n)
{
	if (d->kind == RC_BACKEND_CUDA)
		snprintf(buf, n, "cuda:%d", d->index);
	else
		snprintf(buf, n, "cpu");
	return buf;
}

int rc_device_check(const struct rc_device *d)
{
	char name[32];
	if (d->kind != RC_BACKEND_CUDA)
		return d->precision == RC_PRECISION_BF16 || d->precision == RC_PRECISION_INT8 ?
			rc_lowp_check(d->precision) : 0;
	if (d->precision == RC_PRECISION_INT8) {
		rc_log_error(RC_E_UNSUPPORTED, "%s: int8 is the CPU's inference precision",
			rc_device_name(d, name, sizeof name));
		rc_log_hint("use --precision bf16 on a GPU, or --device cpu --precision int8");
		return RC_E_UNSUPPORTED;
	}
#ifdef HAVE_CUDA
	const int n = rc_cuda_device_count();
	if (d->index < n)
		return 0;
	rc_log_error(RC_E_UNSUPPORTED, "%s: %s", rc_device_name(d, name, sizeof name),
		n ? "no such GPU" : "no GPU (or no driver) on this machine");
#else
	rc_log_error(RC_E_UNSUPPORTED, "%s: this rclip is built without the CUDA backend",
		rc_device_name(d, name, sizeof name));
#endif
	rc_log_hint("run on the CPU with --device cpu");
	return RC_E_UNSUPPORTED;
}

/* ---------------------------------------------------------------- backends */

/* siglip_check - what runs a SigLIP model: the CPU backend in fp32, the
 * CUDA backend in fp32 or bf16 (int8 is refused for CUDA before this).
 * The CPU's bf16 / int8 path has no gelu_pytorch_tanh; refused here,
 * before a backend is made. */
static int siglip_check(const struct rc_backend_opts *bo)
{
	if (bo->device.kind == RC_BACKEND_CUDA)
		return 0;
	if (bo->device.precision == RC_PRECISION_BF16 || bo->device.precision == RC_PRECISION_INT8) {
		rc_log_error(RC_E_UNSUPPORTED, "cpu: SigLIP models run in fp32 (%s is CLIP's only)",
			rc_precision_name(bo->device.precision));
		rc_log_hint("leave out --precision, use --precision fp32, or run on a GPU "
			"(--device cuda)");
		return RC_E_UNSUPPORTED;
	}
	return 0;
}

int rc_backend_new(struct rc_backend **out, struct rc_clip *m, const struct rc_backend_opts *o)
{
	*out = NULL;
	struct rc_backend_opts bo = *o;
	int rc;
	if (!bo.device.kind)
		bo.device.kind = RC_BACKEND_CPU;
	const int lowp = bo.device.precision == RC_PRECISION_BF16 ||
		bo.device.precision == RC_PRECISION_INT8;
	if (bo.device.kind == RC_BACKEND_CPU && lowp && bo.train) {
		rc_log_error(RC_E_UNSUPPORTED, "cpu: training runs in fp32 (%s is for encoding)",
			rc_precision_name(bo.device.precision));
		rc_log_hint("leave out --precision, or use --precision fp32");
		return RC_E_UNSUPPORTED;
	}
	if (bo.device.kind == RC_BACKEND_CPU && lowp && (rc_device_check(&bo.device) < 0))
		return RC_E_UNSUPPORTED;
	if (bo.device.kind == RC_BACKEND_CUDA && bo.device.precision == RC_PRECISION_INT8)
		return rc_device_check(&bo.device);
	if (m && m->cfg.family == RC_FAMILY_SIGLIP && (rc = siglip_check(&bo)) < 0)
		return rc;
	if (bo.max_images < 0 || bo.max_texts < 0 || bo.loss_rows < 0 || bo.head_rows < 0)
		return rc_log_error(RC_E_ARG, "backend: negative rows (%d images, %d texts, "
			"%d loss rows, %d head rows)", bo.max_images, bo.max_texts, bo.loss_rows,
			bo.head_rows);
	if (!m && (bo.max_images || bo.max_texts || bo.train))
		return rc_log_error(RC_E_ARG, "backend: encoding and training need a model");
	if (bo.train && (!bo.group || bo.ngroups < 1 || bo.ngroups > 8 || bo.loss_rows < 1))
		return rc_log_error(RC_E_ARG, "backend: training needs 1 to 8 parameter groups "
			"and the loss's rows");
	if (bo.train && bo.siglip && !(m->extras & RC_CLIP_LOGIT_BIAS))
		return rc_log_error(RC_E_ARG, "backend: the SigLIP loss needs a model with a "
			"logit_bias");
	if (bo.train)
		for (size_t i = 0; i < m->ntensors; i++)
			if (bo.group[i] < 0 || bo.group[i] >= bo.ngroups)
				return rc_log_error(RC_E_ARG, "backend: %s: group %d of %d",
					m->tensors[i].name, bo.group[i], bo.ngroups);
	switch (bo.device.kind) {
	case RC_BACKEND_CPU:
		rc = rc_backend_cpu_new(out, m, &bo);
		break;
	case RC_BACKEND_CUDA:
#ifdef HAVE_CUDA
		if (rc_device_check(&bo.device) < 0)
			return RC_E_UNSUPPORTED;
		rc = rc_backend_cuda_new(out, m, &bo);
		break;
#else
		return rc_device_check(&bo.device);
#endif
	default:
		return rc_log_error(RC_E_ARG, "backend: device kind %d", bo.device.kind);
	}
	if (rc < 0 || !(bo.train && bo.rank_rows))
		return rc;
	/* the rank-local losses are an optional part of the table */
	const struct rc_backend_ops *ops = (*out)->ops;
	if (bo.siglip ? ops->loss_siglip_rows != NULL : ops->loss_clip_rows != NULL)
		return 0;
	char name[32];
	rc_backend_free(*out);
	*out = NULL;
	rc_log_error(RC_E_UNSUPPORTED, "%s: the %s loss's rank-local form (the official gather "
		"over several ranks) is not implemented on this backend", rc_device_name(&bo.device,
		name, sizeof name), bo.siglip ? "SigLIP" : "CLIP");
	rc_log_hint("train with --gather exact (the whole batch's gradient), or on the CPU");
	return RC_E_UNSUPPORTED;
}

void rc_backend_free(struct rc_backend *be)
{
	if (be)
		be->ops->destroy(be);
}

const char *rc_backend_name(const struct rc_backend *be)
{
	return be->ops->name;
}

int rc_backend_is_host(const struct rc_backend *be)
{
	return be->host_memory;
}

int rc_backend_threads(const struct rc_backend *be)
{
	return be->o.threads;
}

/* ---------------------------------------------------------------- memory */

float *rc_backend_alloc(struct rc_backend *be, size_t n)
{
	return be->ops->alloc(be, n);
}

void rc_backend_release(struct rc_backend *be, float *p)
{
	if (p)
		be->ops->release(be, p);
}

void rc_backend_zero(struct rc_backend *be, float *p, size_t n)
{
	be->ops->zero(be, p, n);
}

void rc_backend_copy(struct rc_backend *be, float *dst, const float *src, size_t n)
{
	be->ops->copy(be, dst, src, n);
}

int rc_backend_upload(struct rc_backend *be, float *dst, const float *host, size_t n)
{
	return be->ops->upload(be, dst, host, n);
}

int rc_backend_download(struct rc_backend *be, float *host, const float *src, size_t n)
{
	return be->ops->download(be, host, src, n);
}

float *rc_backend_buffer(struct rc_backend *be, int buf)
{
	return buf >= 0 && buf < RC_BUF_COUNT && be->m ? be->ops->buffer(be, buf) : NULL;
}

float *rc_backend_host(struct rc_backend *be, int buf)
{
	return rc_backend_buffer(be, buf) ? be->ops->host(be, buf) : NULL;
}

int rc_backend_commit(struct rc_backend *be, int buf)
{
	if (!rc_backend_buffer(be, buf))
		return rc_log_error(RC_E_ARG, "backend: no buffer %d to commit", buf);
	return be->ops->commit(be, buf);
}

void *rc_backend_pinned_alloc(struct rc_backend *be, size_t bytes)
{
	return be->ops->pinned_alloc ? be->ops->pinned_alloc(be, bytes) : malloc(bytes ? bytes : 1);
}

void rc_backend_pinned_free(struct rc_backend *be, void *p)
{
	if (!p)
		return;
	if (be->ops->pinned_free)
		be->ops->pinned_free(be, p);
	else
		free(p);
}

int rc_backend_read(struct rc_backend *be, int buf, size_t i, float *host)
{
	const float *b = rc_backend_buffer(be, buf);
	if (!b || i >= be->m->ntensors)
		return rc_log_error(RC_E_ARG, "backend: no tensor %zu in buffer %d", i, buf);
	const struct rc_clip_param *p = &be->m->tensors[i];
	return be->ops->download(be, host, b + p->offset, p->numel);
}

/* ---------------------------------------------------------------- forward */

int rc_backend_encode_images(struct rc_backend *be, const uint8_t *rgb, int B,
	const float **emb)
{
	if (B < 1 || B > be->o.max_images)
		return rc_log_error(RC_E_ARG, "encode images: batch of %d (the backend takes 1 to "
			"%d)", B, be->o.max_images);
	return be->ops->encode_images(be, rgb, B, emb);
}

int rc_backend_encode_texts(struct rc_backend *be, const int32_t *ids, int B, int T,
	const float **emb)
{
	if (B < 1 || B > be->o.max_texts)
		return rc_log_error(RC_E_ARG, "encode texts: batch of %d (the backend takes 1 to "
			"%d)", B, be->o.max_texts);
	const struct rc_clip_tower_config *t = &be->m->cfg.text;
	if (T < 1 || T > t->max_position)
		return rc_log_error(RC_E_ARG, "encode texts: %d tokens (the context is %d)", T,
			t->max_position);
	int rc = rc_clip_check_ids(&be->m->cfg, ids, B, T);
	return rc < 0 ? rc : be->ops->encode_texts(be, ids, B, T, emb);
}

int rc_backend_scores(struct rc_backend *be, float *out, const float *a, size_t na,
	const float *b, size_t nb, size_t D)
{
	if (na > INT_MAX || nb > INT_MAX || D > INT_MAX)
		return rc_log_error(RC_E_RANGE, "scores: %zu × %zu rows of %zu are too many", na, nb,
			D);
	if (!na || !nb)
		return 0;
	return be->ops->scores(be, out, a, na, b, nb, D);
}

int rc_backend_topk(struct rc_backend *be, const float *gallery, size_t n, size_t d,
	const float *queries, size_t q, const struct rc_topk_opts *o, float *score,
	int64_t *index)
{
	if (o->k < 1 || d == 0)
		return rc_log_error(RC_E_ARG, "search: k = %zu and d = %zu (both must be >= 1)",
			o->k, d);
	if (n == 0 || q == 0)
		return 0;
	return be->ops->topk(be, gallery, n, d, queries, q, o, score, index);
}

/* ---------------------------------------------------------------- training */

/* trains - the backend was made for training (an invariant of the caller). */
static void trains(const struct rc_backend *be)
{
	rc_assert(be->o.train);
}

double rc_backend_loss_clip(struct rc_backend *be, const float *img, const float *txt, int B,
	float dloss, float *dimg, float *dtxt, int grad_scale)
{
	trains(be);
	rc_assert(!be->o.siglip && B >= 1 && B <= be->o.loss_rows);
	return be->ops->loss_clip(be, img, txt, B, dloss, dimg, dtxt, grad_scale);
}

double rc_backend_loss_siglip(struct rc_backend *be, const float *img, const float *txt, int B,
	float dloss, float *dimg, float *dtxt, int grad_scale)
{
	trains(be);
	rc_assert(be->o.siglip && B >= 1 && B <= be->o.loss_rows);
	return be->ops->loss_siglip(be, img, txt, B, dloss, dimg, dtxt, grad_scale);
}

double rc_backend_loss_clip_rows(struct rc_backend *be, const float *img, const float *txt,
	int B, int lo, int n, float dloss, float *dimg, float *dtxt, int grad_scale)
{
	trains(be);
	rc_assert(!be->o.siglip && be->o.rank_rows && B >= 1 && B <= be->o.loss_rows &&
		lo >= 0 && n >= 1 && lo + n <= B);
	return be->ops->loss_clip_rows(be, img, txt, B, lo, n, dloss, dimg, dtxt, grad_scale);
}

double rc_backend_loss_siglip_rows(struct rc_backend *be, const float *img, const float *txt,
	int B, int lo, int n, float dloss, float *dimg, float *dtxt, int grad_scale)
{
	trains(be);
	rc_assert(be->o.siglip && be->o.rank_rows && B >= 1 && B <= be->o.loss_rows &&
		lo >= 0 && n >= 1 && lo + n <= B);
	return be->ops->loss_siglip_rows(be, img, txt, B, lo, n, dloss, dimg, dtxt, grad_scale);
}

int rc_backend_heads(struct rc_backend *be, const float *txt, const float *img, int n,
	const uint8_t *cls, const float *multi, int norm, float dloss, float *dtxt, float *dimg,
	double part[2])
{
	trains(be);
	if (!(be->m->extras & RC_CLIP_HEADS))
		return rc_log_error(RC_E_ARG, "heads: the model has no text_head and image_head");
	if (n < 1 || n > be->o.head_rows || norm < 1)
		return rc_log_error(RC_E_ARG, "heads: %d rows of %d (the backend takes 1 to %d)", n,
			norm, be->o.head_rows);
	be->ops->heads(be, txt, img, n, cls, multi, norm, dloss, dtxt, dimg, part);
	return 0;
}

int rc_backend_backward(struct rc_backend *be, const float *dimg, const float *dtxt)
{
	trains(be);
	return be->ops->backward(be, dimg, dtxt, NULL);
}

int rc_backend_backward_reduce(struct rc_backend *be, const float *dimg, const float *dtxt,
	int (*fn)(void *ctx, float *p, size_t n, void *queue), void *ctx)
{
	trains(be);
	const struct rc_grads_sink sink = { fn, ctx };
	return be->ops->backward(be, dimg, dtxt, &sink);
}

void rc_backend_grad_zero(struct rc_backend *be)
{
	trains(be);
	be->ops->zero(be, be->ops->buffer(be, RC_BUF_GRADS), be->m->nparams);
}

double rc_backend_l2(struct rc_backend *be, float beta, unsigned groups)
{
	trains(be);
	return be->o.anchor ? be->ops->l2(be, beta, groups) : 0.0;
}

double rc_backend_grad_norm(struct rc_backend *be)
{
	trains(be);
	return be->ops->grad_norm(be);
}

long rc_backend_grad_nonfinite(struct rc_backend *be)
{
	trains(be);
	return be->ops->grad_nonfinite(be);
}

float rc_backend_grad_clip(struct rc_backend *be, double norm, double max_norm)
{
	trains(be);
	const float coef = (float)(max_norm / (norm + 1e-6));
	if (coef >= 1.0f)
		return 1.0f;
	be->ops->grad_scale(be, coef);
	return coef;
}

void rc_backend_adamw(struct rc_backend *be, const float *lr, const float *wd)
{
	trains(be);
	be->adamw_steps++;
	be->ops->adamw(be, lr, wd);
}

int rc_backend_clamp(struct rc_backend *be, const char *name, float max)
{
	const struct rc_clip_param *p = be->m ? rc_clip_find_param(be->m, name) : NULL;
	if (!p || p->numel != 1)
		return rc_log_error(RC_E_ARG, "clamp: no scalar %s in the model", name);
	be->ops->clamp(be, (size_t)(p - be->m->tensors), max);
	return 0;
}
