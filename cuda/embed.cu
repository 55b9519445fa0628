/* embed.cu - the inputs of the CLIP and SigLIP towers: uint8 pixels to
 * normalised patch rows (rc_clip_pixels_for then rc_ops_im2col), the
 * vision embeddings [class; patches] + positions (SigLIP: patches +
 * positions) and their backward (rc_ops_embed_patches_backward), and the text embeddings wte[id] + wpe[t]
 * and their backward (rc_ops_embed_tokens, rc_ops_embed_tokens_backward).
 * Launchers are declared in cuda/kernels.h.
 *
 * Numerics: the forward kernels do the CPU's float operations one for one
 * (a table lookup, one add), so fp32 outputs have the CPU's bits and bf16
 * outputs are their rounding. Batch sums (dpos, dcls, dwpe) run in double
 * in the CPU's order, b = 0, 1, ...: the same bits too. The token
 * embedding's scatter-add (dwte) runs in a fixed order planned on the host
 * from the ids: positions grouped by id, in position order, cut into runs
 * of at most EMB_RUN rows; one warp sums a run, in fp32 from dwte's value
 * for an id that fits one run (the CPU's order, its bits), into a partial
 * row otherwise, and the partials of an id are added to dwte in order. No
 * float atomics: the result depends neither on timing nor on the block
 * size.
 */
#include "cuda/common.cuh"
#include "cuda/kernels.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>

#include <vector>

extern "C" {
#include "model/clip_config.h"
}

/* rows of one id that one warp adds up in order (the token backward) */
#define EMB_RUN 32

/* The image processor's normalisation of each byte value (CLIP's or
 * SigLIP's), per channel R, G, B, computed on the host
 * (emb_pixel_table_get): a kernel argument (3 KiB of constant bank),
 * copied to shared memory by each block. */
struct emb_pixel_table {
	float v[3 * 256];
};

/* ---------------------------------------------------------------- kernels */

/* emb_patches - patches[B·(S/P)², 3·P·P] from rgb[B,S,S,3]: one block per
 * patch row at a time, its threads along the row (channel, row, column),
 * so stores are contiguous; each value is a lookup of its byte. */
template <class A>
__global__ void emb_patches(A *patches, const uint8_t *__restrict__ rgb,
	const emb_pixel_table tab, int rows, int S, int P)
{
	__shared__ float t[3 * 256];
	for (int i = threadIdx.x; i < 3 * 256; i += blockDim.x)
		t[i] = tab.v[i];
	__syncthreads();
	const int g = S / P, PP = P * P, K = 3 * PP;
	for (int r = blockIdx.x; r < rows; r += gridDim.x) {
		const int b = r / (g * g), gy = r % (g * g) / g, gx = r % g;
		const size_t y0 = (size_t)b * S + (size_t)gy * P, x0 = (size_t)gx * P;
		const uint8_t *img = rgb + (y0 * S + x0) * 3;
		A *row = patches + (size_t)r * K;
		for (int k = threadIdx.x; k < K; k += blockDim.x) {
			const int c = k / PP, ky = k % PP / P, kx = k % P;
			rc_store(row + k, t[c * 256 + img[((size_t)ky * S + kx) * 3 + c]]);
		}
	}
}

/* emb_vision - embed[b,t] = (t ? patch_out[b,t-1] : cls) + pos[t], or
 * without a class token (cls NULL, SigLIP) patch_out[b,t] + pos[t]; one
 * thread per value. */
template <class A>
__global__ void emb_vision(A *embed, const A *patch_out, const A *__restrict__ cls,
	const A *__restrict__ pos, int n, int T, int C)
{
	const int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	const int bt = i / C, b = bt / T, t = bt % T, c = i % C, ncls = cls != NULL;
	const A *src = t >= ncls ? patch_out + ((size_t)b * (T - ncls) + t - ncls) * C + c
				 : cls + c;
	rc_store(embed + i, rc_load(src) + rc_load(pos + (size_t)t * C + c));
}

/* emb_vision_backward - one thread per (t, c): the batch sum of dembed at
 * that place in double, b in order, into dpos (and dcls at t = 0), and
 * each patch row's value into dpatch. Reads are coalesced along c. */
template <class A>
__global__ void emb_vision_backward(A *dpatch, float *dcls, float *dpos, const A *dembed,
	int B, int T, int C)
{
	const int i = blockIdx.x * blockDim.x + threadIdx.x; /* t·C + c */
	if (i >= T * C)
		return;
	const bool patch = i >= C && dpatch;
	double s = 0.0;
	for (int b = 0; b < B; b++) {
		const float g = rc_load(dembed + (size_t)b * T * C + i);
		s += g;
		if (patch) {
			A *d = dpatch + (size_t)b * (T - 1) * C + i - C;
			rc_store(d, rc_load(d) + g);
		}
	}
	if (dpos)
		dpos[i] += (float)s;
	if (i < C && dcls)
		dcls[i] += (float)s;
}

/* emb_tokens - out[b,t] = wte[ids[b,t]] + wpe[t], one thread per value.
 * An id outside [0, V) (the caller checks them) gives NaN, not a read out
 * of bounds. */
template <class A>
__global__ void emb_tokens(A *out, const int32_t *__restrict__ ids, const A *__restrict__ wte,
	const A *__restrict__ wpe, int n, int T, int C, int V)
{
	const int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	const int bt = i / C, c = i % C, id = ids[bt];
	if (id < 0 || id >= V) {
		rc_store(out + i, NAN);
		return;
	}
	const float e = rc_load(wte + (size_t)id * C + c);
	const float p = rc_load(wpe + (size_t)(bt % T) * C + c);
	rc_store(out + i, e + p);
}

/* emb_wpe_backward - dwpe[t,c] += Σ_b dout[b,t,c], in double, b in order. */
template <class A>
__global__ void emb_wpe_backward(float *dwpe, const A *dout, int B, int T, int C)
{
	const int i = blockIdx.x * blockDim.x + threadIdx.x; /* t·C + c */
	if (i >= T * C)
		return;
	double s = 0.0;
	for (int b = 0; b < B; b++)
		s += rc_load(dout + (size_t)b * T * C + i);
	dwpe[i] += (float)s;
}

/* emb_wte_runs - one warp per run {start, count, id, slot} of the plan,
 * its lanes along the channels: the run's rows of dout (positions
 * pos[start .. start+count), increasing) summed in order, from dwte[id]'s
 * value into dwte[id] when the id has this one run (slot < 0), from 0
 * into the partial row part[slot] otherwise. Runs own distinct rows of
 * dwte and of part: no two warps write one float. */
template <class A>
__global__ void emb_wte_runs(float *dwte, float *part, const int4 *__restrict__ runs,
	const int32_t *__restrict__ pos, const A *dout, int nrun, int C)
{
	const int r = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
	if (r >= nrun)
		return; /* the whole warp */
	const int4 run = runs[r];
	const int32_t *p = pos + run.x;
	float *dst = run.w < 0 ? dwte + (size_t)run.z * C : part + (size_t)run.w * C;
	for (int c = threadIdx.x % 32; c < C; c += 32) {
		float acc = run.w < 0 ? dst[c] : 0.0f;
		for (int k = 0; k < run.y; k++)
			acc += rc_load(dout + (size_t)p[k] * C + c);
		dst[c] = acc;
	}
}

/* emb_wte_combine - for each id of several runs {id, first slot, slots}:
 * dwte[id] += its partial rows, in order; one thread per channel. */
__global__ void emb_wte_combine(float *dwte, const float *__restrict__ part,
	const int4 *__restrict__ multi, int nmulti, int C)
{
	const int c = blockIdx.x * blockDim.x + threadIdx.x;
	if (c >= C)
		return;
	for (int m = blockIdx.y; m < nmulti; m += gridDim.y) {
		const int4 e = multi[m];
		float *d = dwte + (size_t)e.x * C + c;
		float acc = *d;
		for (int s = 0; s < e.z; s++)
			acc += part[(size_t)(e.y + s) * C + c];
		*d = acc;
	}
}

/* ---------------------------------------------------------------- host */

static int emb_check_common(const char *fn, int block, int dtype)
{
	if (dtype != RC_CUDA_F32 && dtype != RC_CUDA_BF16)
		return rc_log_error(RC_E_ARG, "%s: dtype %d: not fp32 or bf16", fn, dtype);
	if (block < 32 || block > 1024 || block % 32)
		return rc_log_error(RC_E_ARG, "%s: block of %d threads: not a multiple of 32 "
			"up to 1024", fn, block);
	return 0;
}

/* The most values a tensor of these kernels may have: indices are int,
 * and a grid's last block may reach a block past the end. */
#define EMB_MAX (INT_MAX - 1024)

/* emb_check - the checks every launcher of this file makes: dtype, block
 * size, B, T, C positive with B·T·C (the values of the largest tensor)
 * at most EMB_MAX, T at least tmin. */
static int emb_check(const char *fn, int block, int dtype, int B, int T, int C, int tmin)
{
	int rc = emb_check_common(fn, block, dtype);
	if (rc < 0)
		return rc;
	if (B <= 0 || T < tmin || C <= 0)
		return rc_log_error(RC_E_ARG, "%s: B = %d, T = %d, C = %d: B and C not positive "
			"or T below %d", fn, B, T, C, tmin);
	if ((double)B * T * C > EMB_MAX)
		return rc_log_error(RC_E_ARG, "%s: B·T·C = %d·%d·%d: over %d values", fn, B, T, C,
			EMB_MAX);
	return 0;
}

/* emb_pixel_table_get - the table of emb_pixel_table for a family, made
 * once: each entry is computed as rc_clip_pixels_for computes it (CLIP:
 * x·(1/255) in double rounded to float, then (x - mean) / std in float;
 * SigLIP: (x - 255·mean) / (255·std) in float), so the kernel gives its
 * bits whatever nvcc's flags do to device arithmetic. */
static const emb_pixel_table &emb_pixel_table_get(int family)
{
	static const emb_pixel_table clip = [] {
		emb_pixel_table t;
		for (int c = 0; c < 3; c++) {
			const float mean = (float)rc_clip_image_mean[c];
			const float std = (float)rc_clip_image_std[c];
			for (int v = 0; v < 256; v++)
				t.v[c * 256 + v] = ((float)(v * (1.0 / 255.0)) - mean) / std;
		}
		return t;
	}();
	static const emb_pixel_table siglip = [] {
		emb_pixel_table t;
		struct rc_clip_config cfg = {};
		const double *mean, *std;
		cfg.family = RC_FAMILY_SIGLIP;
		rc_clip_config_image_norm(&cfg, &mean, &std);
		for (int c = 0; c < 3; c++) {
			const float m255 = (float)(mean[c] * 255.0), s255 = (float)(std[c] * 255.0);
			for (int v = 0; v < 256; v++)
				t.v[c * 256 + v] = ((float)v - m255) / s255;
		}
		return t;
	}();
	return family == RC_FAMILY_SIGLIP ? siglip : clip;
}

int rc_cuda_patches_v(int block, void *patches, const uint8_t *rgb, int B, int S, int P,
	int family, int dtype, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_patches";
	int rc = emb_check_common(fn, block, dtype);
	if (rc < 0)
		return rc;
	if (family != RC_FAMILY_CLIP && family != RC_FAMILY_SIGLIP)
		return rc_log_error(RC_E_ARG, "%s: family %d: not CLIP (0) or SigLIP (1)", fn, family);
	if (B <= 0 || P <= 0 || S < P || (S % P && family == RC_FAMILY_CLIP))
		return rc_log_error(RC_E_ARG, "%s: B = %d, S = %d, P = %d: not B images of a side "
			"that is a positive multiple of the patch (at least the patch: SigLIP)", fn, B,
			S, P);
	if (3.0 * B * S * S > EMB_MAX)
		return rc_log_error(RC_E_ARG, "%s: %d images of side %d: over %d values", fn, B, S,
			EMB_MAX);
	if (!patches || !rgb)
		return rc_log_error(RC_E_ARG, "%s: patches and rgb may not be NULL", fn);
	const int rows = B * (S / P) * (S / P), grid = rows < 4096 ? rows : 4096;
	if (dtype == RC_CUDA_F32)
		RC_LAUNCH(emb_patches<float>, grid, block, 0, stream, (float *)patches, rgb,
			emb_pixel_table_get(family), rows, S, P);
	else
		RC_LAUNCH(emb_patches<rc_bf16>, grid, block, 0, stream, (rc_bf16 *)patches, rgb,
			emb_pixel_table_get(family), rows, S, P);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

template <class A>
static int emb_vision_launch(int block, A *embed, const A *patch_out, const A *cls, const A *pos,
	int B, int T, int C, cudaStream_t s)
{
	const int n = B * T * C;
	RC_LAUNCH(emb_vision<A>, rc_ceil_div(n, block), block, 0, s, embed, patch_out, cls, pos, n,
		T, C);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

int rc_cuda_embed_patches_v(int block, void *embed, const void *patch_out, const void *cls,
	const void *pos, int B, int T, int C, int dtype, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_embed_patches";
	int rc = emb_check(fn, block, dtype, B, T, C, cls ? 2 : 1);
	if (rc < 0)
		return rc;
	if (!embed || !patch_out || !pos)
		return rc_log_error(RC_E_ARG, "%s: embed, patch_out and pos may not be NULL", fn);
	if (dtype == RC_CUDA_F32)
		return emb_vision_launch(block, (float *)embed, (const float *)patch_out,
			(const float *)cls, (const float *)pos, B, T, C, stream);
	return emb_vision_launch(block, (rc_bf16 *)embed, (const rc_bf16 *)patch_out,
		(const rc_bf16 *)cls, (const rc_bf16 *)pos, B, T, C, stream);
}

int rc_cuda_embed_patches_backward_v(int block, void *dpatch, float *dcls, float *dpos,
	const void *dembed, int B, int T, int C, int dtype, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_embed_patches_backward";
	int rc = emb_check(fn, block, dtype, B, T, C, dpatch || dcls ? 2 : 1);
	if (rc < 0)
		return rc;
	if (!dembed)
		return rc_log_error(RC_E_ARG, "%s: dembed may not be NULL", fn);
	if (!dpatch && !dcls && !dpos)
		return 0;
	const int grid = rc_ceil_div(T * C, block);
	if (dtype == RC_CUDA_F32)
		RC_LAUNCH(emb_vision_backward<float>, grid, block, 0, stream, (float *)dpatch, dcls,
			dpos, (const float *)dembed, B, T, C);
	else
		RC_LAUNCH(emb_vision_backward<rc_bf16>, grid, block, 0, stream, (rc_bf16 *)dpatch,
			dcls, dpos, (const rc_bf16 *)dembed, B, T, C);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

int rc_cuda_embed_tokens_v(int block, void *out, const int32_t *ids, const void *wte,
	const void *wpe, int B, int T, int C, int V, int dtype, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_embed_tokens";
	int rc = emb_check(fn, block, dtype, B, T, C, 1);
	if (rc < 0)
		return rc;
	if (V <= 0)
		return rc_log_error(RC_E_ARG, "%s: vocabulary of %d", fn, V);
	if (!out || !ids || !wte || !wpe)
		return rc_log_error(RC_E_ARG, "%s: out, ids, wte and wpe may not be NULL", fn);
	const int n = B * T * C, grid = rc_ceil_div(n, block);
	if (dtype == RC_CUDA_F32)
		RC_LAUNCH(emb_tokens<float>, grid, block, 0, stream, (float *)out, ids,
			(const float *)wte, (const float *)wpe, n, T, C, V);
	else
		RC_LAUNCH(emb_tokens<rc_bf16>, grid, block, 0, stream, (rc_bf16 *)out, ids,
			(const rc_bf16 *)wte, (const rc_bf16 *)wpe, n, T, C, V);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

/* ---------------------------------------------------------------- the dwte plan */

/* The work buffer of the token backward: the partial rows (fp32, at most
 * emb_max_slots(n) rows of C), then the plan: runs (int4 each), ids of
 * several runs (int4 each), positions (n ints). An id of cnt > EMB_RUN
 * positions has ceil(cnt/EMB_RUN) < 2·cnt/EMB_RUN runs, so all such ids
 * have fewer than 2n/EMB_RUN partial rows, and fewer than n/EMB_RUN ids. */
static size_t emb_max_slots(size_t n)
{
	return 2 * n / EMB_RUN + 1;
}

static size_t emb_part_bytes(size_t n, int C)
{
	return (emb_max_slots(n) * C * sizeof(float) + 15) / 16 * 16;
}

/* emb_plan - the order of the dwte scatter-add for ids[n] (host memory):
 * runs {start, count, id, slot}, then ids of several runs {id, first
 * slot, slots, 0}, then the positions grouped by id, increasing within an
 * id, into plan (host). Positions are sorted by a stable LSD radix sort
 * on the id, 16 bits a pass (one pass when V <= 65536): O(n + 65536) a
 * pass, no comparison sort. Returns 0, or RC_E_RANGE for an id outside
 * [0, V) (logged). */
static int emb_plan(std::vector<int32_t> &plan, int *nrun, int *nmulti, const int32_t *ids,
	int n, int V)
{
	/* kept between calls: no allocation once they have grown */
	static thread_local std::vector<int32_t> a, b, count, multi;
	for (int i = 0; i < n; i++)
		if (ids[i] < 0 || ids[i] >= V)
			return rc_log_error(RC_E_RANGE, "rc_cuda_embed_tokens_backward: position %d: "
				"id %d is outside the vocabulary (%d)", i, ids[i], V);
	a.resize(n);
	b.resize(n);
	count.resize(1 << 16);
	for (int i = 0; i < n; i++)
		a[i] = i;
	for (int shift = 0; shift == 0 || (shift < 32 && (V - 1) >> shift); shift += 16) {
		std::fill(count.begin(), count.end(), 0);
		for (int i = 0; i < n; i++)
			count[(ids[i] >> shift) & 0xffff]++;
		int sum = 0;
		for (int &c : count) {
			const int k = c;
			c = sum;
			sum += k;
		}
		for (int i = 0; i < n; i++)
			b[count[(ids[a[i]] >> shift) & 0xffff]++] = a[i];
		a.swap(b);
	}

	std::vector<int32_t> &runs = b; /* b is free again */
	runs.clear();
	multi.clear();
	int slots = 0;
	for (int i = 0; i < n;) {
		const int id = ids[a[i]];
		int j = i + 1;
		while (j < n && ids[a[j]] == id)
			j++;
		const int cnt = j - i, k = rc_ceil_div(cnt, EMB_RUN);
		if (k > 1)
			multi.insert(multi.end(), { id, slots, k, 0 });
		for (int r = 0; r < k; r++) {
			const int len = cnt - r * EMB_RUN;
			const int start = i + r * EMB_RUN;
			runs.insert(runs.end(), { start, len < EMB_RUN ? len : EMB_RUN, id,
				k > 1 ? slots++ : -1 });
		}
		i = j;
	}
	*nrun = (int)runs.size() / 4;
	*nmulti = (int)multi.size() / 4;
	plan.clear();
	plan.insert(plan.end(), runs.begin(), runs.end());
	plan.insert(plan.end(), multi.begin(), multi.end());
	plan.insert(plan.end(), a.begin(), a.end());
	return 0;
}

/* emb_plan_upload - the plan of host_ids into the work buffer, after its
 * partial rows. The host buffer is pageable: cudaMemcpyAsync returns once
 * it is staged, and the copy runs in stream order, after the kernels that
 * used the work buffer before. */
static int emb_plan_upload(int32_t **dplan, int *nrun, int *nmulti, void *work,
	const int32_t *host_ids, int B, int T, int C, int V, cudaStream_t s)
{
	static thread_local std::vector<int32_t> plan;
	int rc = emb_plan(plan, nrun, nmulti, host_ids, B * T, V);
	if (rc < 0)
		return rc;
	*dplan = (int32_t *)((char *)work + emb_part_bytes((size_t)B * T, C));
	RC_CUDA_CHECK(cudaMemcpyAsync(*dplan, plan.data(), plan.size() * sizeof(int32_t),
		cudaMemcpyHostToDevice, s));
	return 0;
}

size_t rc_cuda_embed_tokens_backward_work(int B, int T, int C)
{
	if (B <= 0 || T <= 0 || C <= 0)
		return 0;
	const size_t n = (size_t)B * T;
	/* runs <= n, ids of several runs < n/EMB_RUN */
	return emb_part_bytes(n, C) + (4 * (n + n / EMB_RUN + 1) + n) * sizeof(int32_t);
}

template <class A>
static int emb_tokens_backward(int block, float *dwte, float *dwpe, void *work, const A *dout,
	const int32_t *ids, int B, int T, int C, int V, cudaStream_t s)
{
	int32_t *dplan = NULL;
	int nrun = 0, nmulti = 0;
	if (dwte) { /* first: ids outside the vocabulary launch nothing */
		int rc = emb_plan_upload(&dplan, &nrun, &nmulti, work, ids, B, T, C, V, s);
		if (rc < 0)
			return rc;
	}
	if (dwpe) {
		RC_LAUNCH(emb_wpe_backward<A>, rc_ceil_div(T * C, block), block, 0, s, dwpe, dout,
			B, T, C);
		RC_CUDA_CHECK(cudaGetLastError());
	}
	if (!dwte)
		return 0;
	float *part = (float *)work;
	const int4 *runs = (const int4 *)dplan, *multi = runs + nrun;
	const int32_t *pos = (const int32_t *)(multi + nmulti);
	RC_LAUNCH(emb_wte_runs<A>, rc_ceil_div(nrun, block / 32), block, 0, s, dwte, part, runs,
		pos, dout, nrun, C);
	RC_CUDA_CHECK(cudaGetLastError());
	if (nmulti) {
		const dim3 grid(rc_ceil_div(C, block), nmulti < 65535 ? nmulti : 65535);
		RC_LAUNCH(emb_wte_combine, grid, block, 0, s, dwte, part, multi, nmulti, C);
		RC_CUDA_CHECK(cudaGetLastError());
	}
	return 0;
}

int rc_cuda_embed_tokens_backward_v(int block, float *dwte, float *dwpe, void *work,
	const void *dout, const int32_t *host_ids, int B, int T, int C, int V, int dtype,
	struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_embed_tokens_backward";
	int rc = emb_check(fn, block, dtype, B, T, C, 1);
	if (rc < 0)
		return rc;
	if (!dout || (dwte && (!work || !host_ids || V <= 0)))
		return rc_log_error(RC_E_ARG, "%s: dout NULL, or dwte without work, host_ids or a "
			"vocabulary", fn);
	if ((uintptr_t)work % 16)
		return rc_log_error(RC_E_ARG, "%s: work %p: not aligned to 16 bytes", fn, work);
	if (dtype == RC_CUDA_F32)
		return emb_tokens_backward(block, dwte, dwpe, work, (const float *)dout, host_ids,
			B, T, C, V, stream);
	return emb_tokens_backward(block, dwte, dwpe, work, (const rc_bf16 *)dout, host_ids, B, T,
		C, V, stream);
}

/* ---------------------------------------------------------------- defaults */

/* 256 threads: 8 warps of runs, 256 channels or values a block. Chosen
 * without a GPU at hand: tune on one. */
#define EMB_BLOCK 256

int rc_cuda_patches(void *patches, const uint8_t *rgb, int B, int S, int P, int family,
	int dtype, struct CUstream_st *stream)
{
	return rc_cuda_patches_v(EMB_BLOCK, patches, rgb, B, S, P, family, dtype, stream);
}

int rc_cuda_embed_patches(void *embed, const void *patch_out, const void *cls, const void *pos,
	int B, int T, int C, int dtype, struct CUstream_st *stream)
{
	return rc_cuda_embed_patches_v(EMB_BLOCK, embed, patch_out, cls, pos, B, T, C, dtype,
		stream);
}

int rc_cuda_embed_patches_backward(void *dpatch, float *dcls, float *dpos, const void *dembed,
	int B, int T, int C, int dtype, struct CUstream_st *stream)
{
	return rc_cuda_embed_patches_backward_v(EMB_BLOCK, dpatch, dcls, dpos, dembed, B, T, C,
		dtype, stream);
}

int rc_cuda_embed_tokens(void *out, const int32_t *ids, const void *wte, const void *wpe, int B,
	int T, int C, int V, int dtype, struct CUstream_st *stream)
{
	return rc_cuda_embed_tokens_v(EMB_BLOCK, out, ids, wte, wpe, B, T, C, V, dtype, stream);
}

int rc_cuda_embed_tokens_backward(float *dwte, float *dwpe, void *work, const void *dout,
	const int32_t *host_ids, int B, int T, int C, int V, int dtype, struct CUstream_st *stream)
{
	return rc_cuda_embed_tokens_backward_v(EMB_BLOCK, dwte, dwpe, work, dout, host_ids, B, T,
		C, V, dtype, stream);
}
