/* backend_cuda.h - what the CUDA backend's files share (backend_cuda.cu:
 * setup, memory, the training operations, the ops table; tower_cuda.cu:
 * the towers' forward and backward; siglip_cuda.cu: SigLIP's pooling
 * head). Not an interface: the backend is reached through
 * model/backend.h.
 *
 * Precision: fp32 master weights, gradients, AdamW moments, losses and
 * normalisation statistics; activations and the weights the GEMMs read in
 * the compute dtype: fp32 (TF32 off: the parity mode) or bf16 (a bf16
 * copy of the weights that AdamW refreshes, fp32 accumulation). The
 * embeddings handed to the recipe are fp32.
 */
#ifndef RCLIP_BACKEND_CUDA_H
#define RCLIP_BACKEND_CUDA_H

#include "cuda/common.cuh"
#include "cuda/kernels.h"

extern "C" {
#include "model/backend.h"
}

/* One encoder layer's activations, [B·T, …] rows (device memory). */
struct cu_layer {
	void *ln1, *qkv, *atty, *res2, *ln2, *fch, *fch_act, *res3;   /* dtype */
	float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd;            /* [B·T] */
	float *lse;                                                  /* [B,H,T] */
};

/* One tower's activations, sized for max_b rows of max_t tokens. */
struct cu_tower {
	int max_b, max_t, B, T;
	int C, I, H, L, D, text;
	void *patches, *patch_out;            /* vision [B·N, 3PP], [B·N, C] */
	uint8_t *rgb;                         /* vision [B,S,S,3] */
	int32_t *ids, *pool_idx;              /* text [B,T], [B] */
	int32_t *host_ids;                    /* text: the last ids, for the backward */
	void *embed, *pre, *lnf;              /* [B·T, C] */
	float *pre_mean, *pre_rstd, *lnf_mean, *lnf_rstd;
	struct cu_layer *layer;               /* [L]: all alike unless training */
	void *pool_in, *pooled;               /* [B,C] before and after post_layernorm */
	float *pool_mean, *pool_rstd;         /* vision [B] */
	float *proj, *emb, *norm;             /* fp32 [B,D], [B,D], [B] */
	void *proj_c;                         /* the projection in dtype (bf16 mode) */
	/* a SigLIP image tower's pooling head (siglip_cuda.cu), on lnf [B·T,C] */
	int siglip;
	void *map_kv;                         /* [B·T, 2C] keys and values */
	void *map_q;                          /* [C] the probe's query, unscaled */
	float *map_att;                       /* [B,H,T] its probabilities */
	void *map_o, *map_h, *map_ln;         /* [B,C] attention, out_proj, layernorm */
	float *map_ln_mean, *map_ln_rstd;     /* [B] */
	void *map_fc, *map_fc_act;            /* [B,I] fc1 before and after the activation */
};

/* The scratch of the backward: one layer's activation gradients, sized
 * for the larger tower. */
struct cu_grads {
	void *dx, *dc, *dqkv, *dh, *dha, *dpooled, *dpool_in, *dproj_c;
	float *dproj;
	void *scratch;                        /* per-op scratch, the largest any op needs */
	size_t scratch_bytes;
	void *tok_work;                       /* rc_cuda_embed_tokens_backward's */
	/* SigLIP's pooling head: [B,C] dh, dln, do; [B,I] dfa, dfc; [C] dq;
	 * the attention's scratch */
	void *dmh, *dmln, *dmo, *dmfa, *dmfc, *dmq;
	float *map_scratch;
};

struct cuda_be {
	struct rc_backend be;                 /* first: the backend is a struct cuda_be */
	int gpu, dtype;
	int recompute;                        /* keep only each layer's output (cu_tower_bytes) */
	size_t esize;                         /* bytes of a dtype value */
	cudaStream_t stream;
	/* the images' upload: on its own stream, behind the last read of the
	 * device buffer (rgb_free), ahead of the patches (uploaded) */
	cudaStream_t copy;
	cudaEvent_t rgb_free, uploaded;
	struct rc_cuda_blas *blas;
	float *params;                        /* [nparams] fp32 masters on the device */
	void *wc;                             /* the weights the GEMMs read: params or a bf16 copy */
	float *grads, *exp_avg, *exp_avg_sq, *anchor;
	float *host[RC_BUF_COUNT];            /* host copies (params: the model's) */
	struct rc_cuda_tensor *table, *table_d; /* [ntensors] by offset, host and device */
	int *order;                           /* [ntensors] table entry k is model tensor order[k] */
	void *act;                            /* the activations' one allocation */
	struct cu_tower vision, text;
	struct cu_layer *layers;              /* vision's then text's */
	struct cu_grads g;
	/* the losses: P = txt·imgᵀ [Bg,Bg], its gradient, small results */
	float *P, *dP, *lse, *small;          /* lse [2Bg]; small: [64] loss values, norms */
	void *loss_scratch;
	float *hx, *dhx;                      /* the heads' logits [n,5] and gradient */
	uint8_t *cls;                         /* [n] */
	float *multi;                         /* [n,5] */
	int *flag;                            /* the non-finite check's answer */
};

static inline struct cuda_be *cu_of(struct rc_backend *be)
{
	return (struct cuda_be *)be;
}

/* cu_w - the compute-dtype view of a parameter (a view of m's host
 * params, as model.h's struct rc_clip_weights gives) on the device. */
static inline void *cu_w(const struct cuda_be *c, const float *host_view)
{
	return (char *)c->wc + (size_t)(host_view - c->be.m->params) * c->esize;
}

/* cu_p - the fp32 master of a parameter on the device. */
static inline float *cu_p(const struct cuda_be *c, const float *host_view)
{
	return c->params + (host_view - c->be.m->params);
}

/* cu_g - its gradient on the device. */
static inline float *cu_g(const struct cuda_be *c, const float *host_view)
{
	return c->grads + (host_view - c->be.m->params);
}

/* Count, then carve, in bytes: each buffer on a 256-byte boundary (the
 * kernels' 16-byte packs, and cuBLASLt's preferred alignment). */
struct cu_carve {
	char *base;   /* NULL while counting */
	size_t off;
};

static inline void *cu_take(struct cu_carve *cv, size_t bytes)
{
	void *p = cv->base ? cv->base + cv->off : NULL;
	cv->off += (bytes + 255) & ~(size_t)255;
	return p;
}

static inline float *cu_takef(struct cu_carve *cv, size_t n)
{
	return (float *)cu_take(cv, n * sizeof(float));
}

/* tower_cuda.cu */
size_t cu_tower_bytes(struct cuda_be *c, int text, int max_b, int train, char *base);
size_t cu_grads_bytes(struct cuda_be *c, char *base);
int cu_encode_images(struct cuda_be *c, const uint8_t *rgb, int B);
int cu_encode_texts(struct cuda_be *c, const int32_t *ids, int B, int T);
int cu_backward(struct cuda_be *c, const float *dimg, const float *dtxt,
	const struct rc_grads_sink *sink);

/* siglip_cuda.cu: the pooling head's buffers (counted, or carved when
 * base is set, from *off bytes on), forward from t->lnf into t->pooled,
 * and backward from g->dpooled into dlnf (+=, [B·T,C] of dtype) */
void cu_map_bytes(struct cuda_be *c, struct cu_tower *t, struct cu_carve *cv, int grads);
int cu_map_forward(struct cuda_be *c, struct cu_tower *t);
int cu_map_backward(struct cuda_be *c, struct cu_tower *t, void *dlnf);

/* a CUDA call in a function returning an RC_E_* code */
#define CU(call) RC_CUDA_CHECK(call)
/* a launcher's code */
#define RC(call) \
	do { \
		int rc_ = (call); \
		if (rc_ < 0) \
			return rc_; \
	} while (0)

#endif
