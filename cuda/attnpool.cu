/* attnpool.cu - the attention of SigLIP's attention-pooling head (HF's
 * SiglipMultiheadAttentionPoolingHead): one learned query, the projected
 * probe, shared by every image, attends over all T tokens of each image,
 * multi-head; forward and backward, fp32 or bf16 activations with fp32
 * arithmetic. CPU twins: rc_siglip_attend, rc_siglip_attend_backward
 * (model/cpu.h); launchers in cuda/kernels.h.
 *
 * Why not the fused self-attention (attention.cu): that takes q, k and v
 * of the same T rows from one qkv buffer; here the query is one row for
 * the whole batch and keys and values come from their own [B,T,2C]
 * product, and T probabilities per (b, h) are cheap to keep, so the
 * backward needs no log-sum-exp and no second pass over the scores.
 *
 * One block per (b, h), d = C/H <= 128 head columns. Forward: a warp per
 * key computes its score (lanes along the head columns, a warp sum),
 * the block's maximum and sum make the softmax in att[B,H,T] (fp32, kept
 * for the backward), and o = Σ_t p·v is summed by warps over interleaved
 * keys, their partial rows added in warp order. Backward (with D =
 * Σ_t p·dp, dp = dout·v): ds = p·(dp - D), dk += ds·q·scale, dv += p·dout,
 * and the query's gradient Σ_t ds·k per (b, h) into scratch; a second
 * kernel adds scratch over b in order, times the scale, into dq. Every
 * sum runs in a fixed order: the same launch gives the same bits.
 */
#include "cuda/common.cuh"
#include "cuda/kernels.h"

#include <math.h>

static constexpr int AP_MAX_D = 128;      /* head columns: 4 per lane */
static constexpr int AP_PER_LANE = AP_MAX_D / 32;

/* ap_block_max - the maximum of v over the block (a multiple of 32
 * threads), in every thread; every thread must call it. */
__device__ __forceinline__ float ap_block_max(float v, float *part)
{
	const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
	for (int o = 16; o > 0; o >>= 1)
		v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	__syncthreads(); /* part may still be read by a previous use */
	if (lane == 0)
		part[warp] = v;
	__syncthreads();
	v = -INFINITY;
	for (int w = 0; w < (int)(blockDim.x / 32); w++)
		v = fmaxf(v, part[w]);
	return v;
}

/* ap_rows_sum - the lanes' head columns acc[j] (column lane + 32j) of
 * every warp added in warp order through shared red[W][d]; put(i, sum)
 * for each column i, by the threads in turn. Every thread must call it. */
template <class G>
__device__ __forceinline__ void ap_rows_sum(float *red, const float acc[AP_PER_LANE], int d,
	G put)
{
	const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, W = blockDim.x / 32;
	for (int j = 0; j < AP_PER_LANE; j++)
		if (lane + 32 * j < d)
			red[warp * d + lane + 32 * j] = acc[j];
	__syncthreads();
	for (int i = threadIdx.x; i < d; i += blockDim.x) {
		float s = 0.0f;
		for (int w = 0; w < W; w++)
			s += red[w * d + i];
		put(i, s);
	}
}

/* ap_forward - block (b, h): out[b, h·d ..] and att[b, h, 0..T). Shared:
 * the scaled query qs[d], the warps' partial rows red[W][d], part[32]. */
template <class F>
__global__ void ap_forward(F *out, float *att, const F *q, const F *kv, int T, int C, int H,
	float scale)
{
	const int bh = blockIdx.x, b = bh / H, h = bh % H, d = C / H;
	const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, W = blockDim.x / 32;
	const size_t ld = 2 * (size_t)C;
	const F *k = kv + (size_t)b * T * ld + (size_t)h * d, *v = k + C;
	float *p = att + (size_t)bh * T;
	RC_DYNAMIC_SHARED(float, sm);
	float *qs = sm, *red = qs + d, *part = red + W * d;
	for (int i = threadIdx.x; i < d; i += blockDim.x)
		qs[i] = rc_load(q + (size_t)h * d + i) * scale;
	__syncthreads();

	/* the scores: a warp per key */
	float mx = -INFINITY;
	for (int t = warp; t < T; t += W) {
		float s = 0.0f;
		for (int i = lane; i < d; i += 32)
			s += qs[i] * rc_load(k + (size_t)t * ld + i);
		s = rc_warp_sum(s);
		if (lane == 0)
			p[t] = s;
		mx = fmaxf(mx, s);
	}
	mx = ap_block_max(mx, part); /* its barriers publish p[] too */
	float sum = 0.0f;
	for (int t = threadIdx.x; t < T; t += blockDim.x) {
		const float e = expf(p[t] - mx);
		p[t] = e;
		sum += e;
	}
	const float inv = 1.0f / rc_block_sum(sum);
	for (int t = threadIdx.x; t < T; t += blockDim.x)
		p[t] *= inv;
	__syncthreads();

	/* o = Σ_t p·v: warps over interleaved keys, lanes along the columns */
	float acc[AP_PER_LANE] = {};
	for (int t = warp; t < T; t += W)
		for (int j = 0; j < AP_PER_LANE; j++)
			if (lane + 32 * j < d)
				acc[j] += p[t] * rc_load(v + (size_t)t * ld + lane + 32 * j);
	F *y = out + (size_t)b * C + (size_t)h * d;
	ap_rows_sum(red, acc, d, [&](int i, float o) { rc_store(y + i, o); });
}

/* ap_backward - block (b, h): dkv += dk, dv of its rows and head; the
 * unscaled-query gradient of this image, Σ_t ds·k, into qpart[b, h·d ..].
 * Shared: qs[d] (scaled), go[d] (dout), red[W][d], part[32]. */
template <class F>
__global__ void ap_backward(F *dkv, float *qpart, const F *dout, const F *q, const F *kv,
	const float *att, int T, int C, int H, float scale)
{
	const int bh = blockIdx.x, b = bh / H, h = bh % H, d = C / H;
	const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, W = blockDim.x / 32;
	const size_t ld = 2 * (size_t)C, row = (size_t)b * T * ld + (size_t)h * d;
	const F *k = kv + row, *v = k + C;
	F *dk = dkv + row, *dv = dk + C;
	const float *p = att + (size_t)bh * T;
	RC_DYNAMIC_SHARED(float, sm);
	float *qs = sm, *go = qs + d, *red = go + d;
	for (int i = threadIdx.x; i < d; i += blockDim.x) {
		qs[i] = rc_load(q + (size_t)h * d + i) * scale;
		go[i] = rc_load(dout + (size_t)b * C + (size_t)h * d + i);
	}
	__syncthreads();

	/* D = Σ_t p·dp, dp = dout·v (a warp per key) */
	float pdp = 0.0f;
	for (int t = warp; t < T; t += W) {
		float s = 0.0f;
		for (int i = lane; i < d; i += 32)
			s += go[i] * rc_load(v + (size_t)t * ld + i);
		pdp += p[t] * rc_warp_sum(s);
	}
	pdp = rc_block_sum(lane == 0 ? pdp : 0.0f);

	float acc[AP_PER_LANE] = {};
	for (int t = warp; t < T; t += W) {
		float s = 0.0f;
		for (int i = lane; i < d; i += 32)
			s += go[i] * rc_load(v + (size_t)t * ld + i);
		const float ds = p[t] * (rc_warp_sum(s) - pdp);
		for (int j = 0; j < AP_PER_LANE; j++) {
			const int i = lane + 32 * j;
			if (i >= d)
				continue;
			const size_t at = (size_t)t * ld + i;
			acc[j] += ds * rc_load(k + at);
			rc_store(dk + at, rc_load(dk + at) + ds * qs[i]);
			rc_store(dv + at, rc_load(dv + at) + p[t] * go[i]);
		}
	}
	float *gq = qpart + (size_t)b * C + (size_t)h * d;
	ap_rows_sum(red, acc, d, [&](int i, float g) { gq[i] = g; });
}

/* ap_dq - dq[c] += scale · Σ_b qpart[b, c] (double, b in order). */
template <class F>
__global__ void ap_dq(F *dq, const float *qpart, int B, int C, float scale)
{
	const int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C)
		return;
	double s = 0.0;
	for (int b = 0; b < B; b++)
		s += qpart[(size_t)b * C + c];
	rc_store(dq + c, rc_load(dq + c) + (float)(s * scale));
}

/* ---------------------------------------------------------------- launchers */

/* nn.MultiheadAttention: head_dim ** -0.5 as a float, as the CPU's
 * (float)sqrt(1.0 / hd) */
static float ap_scale(int d)
{
	return (float)sqrt(1.0 / d);
}

static int ap_args(const char *fn, int block, int B, int T, int C, int H, int dtype)
{
	if (B <= 0 || T <= 0 || C <= 0 || H <= 0)
		return rc_log_error(RC_E_ARG, "%s: B = %d, T = %d, C = %d, H = %d: not positive", fn,
			B, T, C, H);
	if (C % H || C / H > AP_MAX_D)
		return rc_log_error(RC_E_ARG, "%s: C = %d, H = %d: heads of C/H up to %d columns "
			"are taken", fn, C, H, AP_MAX_D);
	if (dtype != RC_CUDA_F32 && dtype != RC_CUDA_BF16)
		return rc_log_error(RC_E_ARG, "%s: dtype %d: not fp32 or bf16", fn, dtype);
	if (block < 32 || block > 1024 || block % 32)
		return rc_log_error(RC_E_ARG, "%s: block of %d threads: not a multiple of 32 up "
			"to 1024", fn, block);
	if ((long long)B * H > 0x7fffffffLL || (double)B * T * 2 * C > 9e15)
		return rc_log_error(RC_E_ARG, "%s: B = %d, H = %d, T = %d: too large", fn, B, H, T);
	return 0;
}

/* shared memory of both kernels: qs, go, red[W][d], part[32] */
static size_t ap_smem(int d, int block)
{
	return sizeof(float) * ((size_t)(2 + block / 32) * d + 32);
}

int rc_cuda_attnpool_forward_v(int block, void *out, float *att, const void *q, const void *kv,
	int B, int T, int C, int H, int dtype, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_attnpool_forward";
	int rc = ap_args(fn, block, B, T, C, H, dtype);
	if (rc < 0)
		return rc;
	if (!out || !att || !q || !kv)
		return rc_log_error(RC_E_ARG, "%s: out, att, q and kv may not be NULL", fn);
	const size_t sm = ap_smem(C / H, block);
	const float scale = ap_scale(C / H);
	if (dtype == RC_CUDA_F32)
		RC_LAUNCH(ap_forward<float>, B * H, block, sm, stream, (float *)out, att,
			(const float *)q, (const float *)kv, T, C, H, scale);
	else
		RC_LAUNCH(ap_forward<rc_bf16>, B * H, block, sm, stream, (rc_bf16 *)out, att,
			(const rc_bf16 *)q, (const rc_bf16 *)kv, T, C, H, scale);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

template <class F>
static int ap_backward_run(int block, F *dkv, F *dq, float *scratch, const F *dout, const F *q,
	const F *kv, const float *att, int B, int T, int C, int H, cudaStream_t s)
{
	const float scale = ap_scale(C / H);
	RC_LAUNCH(ap_backward<F>, B * H, block, ap_smem(C / H, block), s, dkv, scratch, dout, q, kv,
		att, T, C, H, scale);
	RC_CUDA_CHECK(cudaGetLastError());
	/* after the first on the same stream: it wrote scratch */
	RC_LAUNCH(ap_dq<F>, rc_ceil_div(C, block), block, 0, s, dq, scratch, B, C, scale);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

int rc_cuda_attnpool_backward_v(int block, void *dkv, void *dq, float *scratch, const void *dout,
	const void *q, const void *kv, const float *att, int B, int T, int C, int H, int dtype,
	struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_attnpool_backward";
	int rc = ap_args(fn, block, B, T, C, H, dtype);
	if (rc < 0)
		return rc;
	if (!dkv || !dq || !scratch || !dout || !q || !kv || !att)
		return rc_log_error(RC_E_ARG, "%s: a NULL pointer", fn);
	if (dtype == RC_CUDA_F32)
		return ap_backward_run(block, (float *)dkv, (float *)dq, scratch, (const float *)dout,
			(const float *)q, (const float *)kv, att, B, T, C, H, stream);
	return ap_backward_run(block, (rc_bf16 *)dkv, (rc_bf16 *)dq, scratch, (const rc_bf16 *)dout,
		(const rc_bf16 *)q, (const rc_bf16 *)kv, att, B, T, C, H, stream);
}

size_t rc_cuda_attnpool_backward_scratch(int B, int C)
{
	return B > 0 && C > 0 ? (size_t)B * C * sizeof(float) : 0;
}

/* The default: 128 threads, four warps over the keys (chosen without a
 * GPU at hand: tune on one). */
static const int ap_block = 128;

int rc_cuda_attnpool_forward(void *out, float *att, const void *q, const void *kv, int B, int T,
	int C, int H, int dtype, struct CUstream_st *stream)
{
	return rc_cuda_attnpool_forward_v(ap_block, out, att, q, kv, B, T, C, H, dtype, stream);
}

int rc_cuda_attnpool_backward(void *dkv, void *dq, float *scratch, const void *dout,
	const void *q, const void *kv, const float *att, int B, int T, int C, int H, int dtype,
	struct CUstream_st *stream)
{
	return rc_cuda_attnpool_backward_v(ap_block, dkv, dq, scratch, dout, q, kv, att, B, T, C,
		H, dtype, stream);
}
