/* optim_cpu.c - AdamW over parameter groups, gradient norm and clipping
 * (optim_cpu.h). */
#include "model/optim_cpu.h"

#include <math.h>
#include <stdlib.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "base/thread.h"

int rc_adamw_new(struct rc_adamw **out, const struct rc_optim_tensor *t, size_t nt,
	int ngroups)
{
	*out = NULL;
	if (ngroups < 1 || ngroups > RC_OPTIM_MAX_GROUPS)
		return rc_log_error(RC_E_ARG, "optimizer: %d parameter groups", ngroups);
	size_t n = 0, sum = 0;
	for (size_t i = 0; i < nt; i++) {
		if (t[i].group < 0 || t[i].group >= ngroups)
			return rc_log_error(RC_E_ARG, "optimizer: %s: group %d of %d", t[i].name,
				t[i].group, ngroups);
		if (t[i].offset + t[i].n > n)
			n = t[i].offset + t[i].n;
		sum += t[i].n;
	}
	/* disjoint when they fit exactly: every float of [0, n) covered once */
	if (sum != n)
		return rc_log_error(RC_E_ARG, "optimizer: the moments of %zu tensors overlap or "
			"leave gaps (%zu floats for %zu)", nt, n, sum);
	struct rc_adamw *o = rc_calloc(1, sizeof *o);
	if (!o)
		return RC_E_NOMEM;
	o->beta1 = 0.9f, o->beta2 = 0.999f, o->eps = 1e-8f;
	o->ngroups = ngroups, o->t = t, o->nt = nt, o->n = n;
	o->m = rc_calloc(2 * (n ? n : 1), sizeof *o->m);
	if (!o->m) {
		free(o);
		return RC_E_NOMEM;
	}
	o->v = o->m + n;
	*out = o;
	return 0;
}

void rc_adamw_free(struct rc_adamw *o)
{
	if (!o)
		return;
	free(o->m);
	free(o);
}

void rc_adamw_step(struct rc_adamw *o, const float *lr, const float *wd)
{
	o->step++;
	const float b1 = o->beta1, b2 = o->beta2, eps = o->eps;
	const float bc1 = 1.0f - powf(b1, (float)o->step);
	const float bc2 = 1.0f - powf(b2, (float)o->step);
	const float bc2_sqrt = sqrtf(bc2);
	for (size_t i = 0; i < o->nt; i++) {
		const struct rc_optim_tensor *t = &o->t[i];
		const float a = lr[t->group], decay = 1.0f - a * wd[t->group];
		const float step_size = a / bc1;
		float *p = t->p, *m = o->m + t->offset, *v = o->v + t->offset;
		const float *g = t->g;
		const long n = (long)t->n;
		#pragma omp parallel for schedule(static) if (n > 65536)
		for (long k = 0; k < n; k++) {
			p[k] *= decay;
			m[k] += (g[k] - m[k]) * (1.0f - b1);
			v[k] = v[k] * b2 + g[k] * g[k] * (1.0f - b2);
			const float denom = sqrtf(v[k]) / bc2_sqrt + eps;
			p[k] += -step_size * (m[k] / denom);
		}
	}
}

enum { NORM_CHUNKS = 64 };

/* sumsq - Σ x² over n floats in double, in NORM_CHUNKS fixed chunks. */
static double sumsq(const float *x, size_t n)
{
	double part[NORM_CHUNKS];
	#pragma omp parallel for schedule(static) if (n > 65536)
	for (int c = 0; c < NORM_CHUNKS; c++) {
		size_t lo, hi;
		rc_thread_chunk(n, NORM_CHUNKS, c, &lo, &hi);
		double s = 0;
		for (size_t i = lo; i < hi; i++)
			s += (double)x[i] * x[i];
		part[c] = s;
	}
	double s = 0;
	for (int c = 0; c < NORM_CHUNKS; c++)
		s += part[c];
	return s;
}

double rc_grad_norm(const struct rc_optim_tensor *t, size_t nt)
{
	double s = 0;
	for (size_t i = 0; i < nt; i++)
		s += sumsq(t[i].g, t[i].n);
	return sqrt(s);
}

void rc_grad_scale_all(const struct rc_optim_tensor *t, size_t nt, float c)
{
	for (size_t i = 0; i < nt; i++) {
		float *g = t[i].g;
		const long n = (long)t[i].n;
		#pragma omp parallel for schedule(static) if (n > 65536)
		for (long k = 0; k < n; k++)
			g[k] *= c;
	}
}

float rc_grad_clip(const struct rc_optim_tensor *t, size_t nt, double norm, double max_norm)
{
	const float coef = (float)(max_norm / (norm + 1e-6));
	if (coef >= 1.0f)
		return 1.0f;
	rc_grad_scale_all(t, nt, coef);
	return coef;
}

int rc_grad_finite(const struct rc_optim_tensor *t, size_t nt, size_t *bad)
{
	for (size_t i = 0; i < nt; i++) {
		int ok = 1;
		const float *g = t[i].g;
		for (size_t k = 0; k < t[i].n && ok; k++)
			ok = isfinite(g[k]);
		if (!ok) {
			if (bad)
				*bad = i;
			return 0;
		}
	}
	return 1;
}
