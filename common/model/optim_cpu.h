/* optim_cpu.h - what a training step does after the gradients, on the
 * CPU backend: AdamW over parameter groups, the global gradient norm and
 * its clipping. Private to the CPU backend (backend_cpu.c) and its tests;
 * the recipe reaches them through backend.h. The schedules of the
 * recipes are train/sched.h.
 *
 * The optimizer works on a list of named tensors, each a view of the
 * parameters and of their gradients with the group it belongs to; its
 * first and second moments live in one allocation each, a tensor's at the
 * offset the list gives it (the CPU backend gives the tensor's offset in
 * the parameters, so the moments are laid out as the parameters).
 *
 *     struct rc_optim_tensor t[] = {
 *             { "vision_model.encoder...", p, g, n, GROUP_VISION, off }, ... };
 *     struct rc_adamw *o;
 *     rc_adamw_new(&o, t, nt, ngroups);
 *     ...                                             // gradients into g
 *     double norm = rc_grad_norm(t, nt);
 *     rc_grad_clip(t, nt, norm, 1.0);
 *     float lr[G], wd[G];                             // this step's
 *     rc_adamw_step(o, lr, wd);
 *     rc_adamw_free(o);
 *
 * Numerically the update is torch.optim.AdamW's single-tensor one in
 * float: p ← p·(1 - lr·wd); m ← m + (1-β1)(g - m); v ← β2·v + (1-β2)·g²;
 * p ← p - lr/(1-β1ᵗ) · m / (√v/√(1-β2ᵗ) + ε). Every element is updated on
 * its own, and sums (the norm) are taken in fixed chunks: the result does
 * not depend on the thread count.
 */
#ifndef RCLIP_OPTIM_CPU_H
#define RCLIP_OPTIM_CPU_H

#include <stddef.h>

#define RC_OPTIM_MAX_GROUPS 8

/* One trainable tensor: n floats of parameters p and gradients g. */
struct rc_optim_tensor {
	const char *name;
	float *p, *g;
	size_t n;
	int group;             /* 0 .. ngroups-1 */
	size_t offset;         /* of its moments in m and v; tensors do not overlap */
};

struct rc_adamw {
	float beta1, beta2, eps;    /* 0.9, 0.999, 1e-8 */
	long step;                  /* updates done (PyTorch's state "step") */
	int ngroups;
	const struct rc_optim_tensor *t;  /* the caller's list (not copied) */
	size_t nt;
	float *m, *v;               /* [n] exp_avg, exp_avg_sq */
	size_t n;                   /* floats: the end of the last tensor's moments */
};

/* rc_adamw_new - an optimizer over nt tensors (the array must outlive
 * it) in ngroups groups, moments zero, step 0. Returns 0 and *out, or
 * RC_E_ARG (a group outside 0..ngroups-1, tensors whose moments overlap)
 * or RC_E_NOMEM, logged. */
int rc_adamw_new(struct rc_adamw **out, const struct rc_optim_tensor *t, size_t nt,
	int ngroups);
void rc_adamw_free(struct rc_adamw *o);

/* rc_adamw_step - one update of every tensor with its group's learning
 * rate lr[group] and weight decay wd[group] (step first counts up). */
void rc_adamw_step(struct rc_adamw *o, const float *lr, const float *wd);

/* rc_grad_norm - the L2 norm of all the gradients together (in double). */
double rc_grad_norm(const struct rc_optim_tensor *t, size_t nt);

/* rc_grad_clip - scale every gradient by max_norm/(norm + 1e-6) when that
 * is below 1 (torch.nn.utils.clip_grad_norm_). Returns the factor. */
float rc_grad_clip(const struct rc_optim_tensor *t, size_t nt, double norm, double max_norm);

/* rc_grad_finite - 1 when every gradient is finite, else 0 with *bad
 * (may be NULL) the index of the first tensor that is not. */
int rc_grad_finite(const struct rc_optim_tensor *t, size_t nt, size_t *bad);

/* rc_grad_scale_all - multiply every gradient by c. */
void rc_grad_scale_all(const struct rc_optim_tensor *t, size_t nt, float c);

#endif
