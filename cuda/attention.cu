/* attention.cu - multi-head self-attention without the projections, fused
 * in the manner of flash attention, forward and backward, fp32 or bf16
 * activations with fp32 arithmetic and softmax statistics; the CPU twins
 * are rc_ops_attention and rc_ops_attention_backward (model/ops_cpu.h).
 * Launchers are declared in cuda/kernels.h.
 *
 * Shapes: qkv[B,T,3C] holds q, k, v side by side in each row, head h at
 * columns h·d of each third (d = C/H); out[B,T,C]. Per (b, h): S =
 * q·kᵀ·scale (the product first, then the scale, as HF's eager attention
 * and the CPU op), P = softmax(S) row by row (causal: key t > query r
 * masked), out = P·v. The T×T matrices are never stored: the forward
 * walks tiles of 32 keys with an online softmax (a running row maximum m
 * and sum l, the output rescaled when m grows) and keeps, instead of the
 * CPU op's probabilities att[B,H,T,T], the log-sum-exp of each row,
 * lse[B,H,T] = m + log l, from which the backward recomputes P = exp(S -
 * lse) tile by tile.
 *
 * Backward (flash attention 2's, made deterministic): with D = rowsum(dout
 * ∘ out), dP = dout·vᵀ and dS = P ∘ (dP - D), dv = Pᵀ·dout, dk =
 * scale·dSᵀ·q, dq = scale·dS·k. Two passes, each owning what it writes,
 * so no float atomics: the dq pass (a block per tile of queries, looping
 * over key tiles; it also computes D and stores it in scratch) and the
 * dk/dv pass (a block per tile of keys, looping over query tiles). S and
 * P are computed twice, once per pass, for 7 tile products in all where
 * atomics on dq would need 5.
 *
 * Tiles. A warp owns 16 rows (queries, or keys in the dk/dv pass) and
 * meets tiles of 32 columns; its lane (rg, kg) = (lane / 8, lane % 8)
 * holds rows 4rg..4rg+3 and, of a 32-column tile, columns kg, kg+8,
 * kg+16, kg+24: a 4×4 block of S from 8 float4 loads of shared memory per
 * 4 steps of the head dimension (64 FMAs). For P·v the warp's P goes
 * through shared memory, transposed, and a lane accumulates its 4 rows
 * times D/8 head columns. Rows are stored with a stride of D + 4 floats,
 * which keeps those float4 loads free of bank conflicts. The head width D
 * is a template (16, 32, 64, 128: the variants); a narrower head (CLIP's
 * is 64, the test fixtures' 8 or 16) is padded with zero columns.
 * Shared memory over 48 KiB is requested with cudaFuncSetAttribute: for
 * D = 64 the backward from 96 threads on, the forward from 160; for D =
 * 128 the backward always and the forward from 64. The most, 190 KiB (D =
 * 128, backward, 256 threads), fits an H100 but not an A100 (163 KiB): the
 * runtime refuses it there and the launcher says so.
 *
 * Plain FFMA, no tensor cores: what the emulation can run and check. A
 * tensor-core version (mma.sync) is the next step for long sequences.
 */
#include "cuda/common.cuh"
#include "cuda/kernels.h"

#include <math.h>

/* ---------------------------------------------------------------- tiles */

static constexpr int ATT_ROWS = 16;  /* rows a warp owns */
static constexpr int ATT_TILE = 32;  /* columns of a tile (keys, or queries) */
static constexpr int ATT_PLD = 20;   /* row stride of a warp's transposed P */
static constexpr int ATT_MAX_WARPS = 8;

/* att_col - the head column of a lane's n-th output value (n < D/8): for
 * D >= 32, float4 chunks at kg·4 of each 32 columns, so that the 8 lanes
 * of a row group read 128 contiguous bytes; for D = 16 two columns. */
template <int D> __device__ __forceinline__ int att_col(int kg, int n)
{
	return D >= 32 ? (n / 4) * 32 + kg * 4 + n % 4 : kg * (D / 8) + n;
}

/* att_load - rows r0 .. r0+n-1 of a head's [T, ld] slice src (columns
 * 0..d-1) into shared rows of D + 4 floats, zeros past T and past d, so
 * that the padding adds nothing (a probability of 0 times a stale NaN
 * would be NaN). Every thread of the block takes part; consecutive
 * threads read consecutive columns. */
template <class F, int D>
__device__ __forceinline__ void att_load(float *dst, const F *src, size_t ld, int r0, int n,
	int T, int d)
{
	for (int e = threadIdx.x; e < n * D; e += blockDim.x) {
		const int r = e / D, c = e % D;
		dst[r * (D + 4) + c] = r0 + r < T && c < d ? rc_load(src + (size_t)(r0 + r) * ld + c)
							   : 0.0f;
	}
}

/* att_dot - acc[i][j] = Σ_c A[4rg + i][c] · Bt[kg + 8j][c]: the lane's
 * 4×4 block of A·Btᵀ, A a warp's 16 rows, Bt a tile of 32 rows, both of
 * stride D + 4 in shared memory. */
template <int D>
__device__ __forceinline__ void att_dot(float acc[4][4], const float *A, const float *Bt, int rg,
	int kg)
{
	constexpr int LD = D + 4;
#pragma unroll
	for (int i = 0; i < 4; i++)
#pragma unroll
		for (int j = 0; j < 4; j++)
			acc[i][j] = 0.0f;
#pragma unroll 4
	for (int c = 0; c < D; c += 4) {
		float4 a[4], b[4];
#pragma unroll
		for (int i = 0; i < 4; i++)
			a[i] = *reinterpret_cast<const float4 *>(A + (4 * rg + i) * LD + c);
#pragma unroll
		for (int j = 0; j < 4; j++)
			b[j] = *reinterpret_cast<const float4 *>(Bt + (kg + 8 * j) * LD + c);
#pragma unroll
		for (int i = 0; i < 4; i++)
#pragma unroll
			for (int j = 0; j < 4; j++) {
				acc[i][j] += a[i].x * b[j].x;
				acc[i][j] += a[i].y * b[j].y;
				acc[i][j] += a[i].z * b[j].z;
				acc[i][j] += a[i].w * b[j].w;
			}
	}
}

/* att_store_p - a lane's 4×4 block p (rows 4rg+i, columns kg+8j) into
 * the warp's P tile, transposed: Pw[column][row], 16 rows in a stride of
 * ATT_PLD. The warp synchronises before (the last att_pv still reads) and
 * after (every lane reads every column). */
__device__ __forceinline__ void att_store_p(float *Pw, const float p[4][4], int rg, int kg)
{
	__syncwarp();
#pragma unroll
	for (int j = 0; j < 4; j++)
		*reinterpret_cast<float4 *>(Pw + (kg + 8 * j) * ATT_PLD + 4 * rg) =
			make_float4(p[0][j], p[1][j], p[2][j], p[3][j]);
	__syncwarp();
}

/* att_pv - acc[i][n] += Σ_t Pw[t][4rg + i] · V[t][att_col(kg, n)] over
 * the 32 columns t of the warp's P tile, V a tile of 32 rows of stride
 * D + 4 in shared memory. */
template <int D>
__device__ __forceinline__ void att_pv(float acc[4][D / 8], const float *Pw, const float *V,
	int rg, int kg)
{
	constexpr int LD = D + 4;
#pragma unroll 4
	for (int t = 0; t < ATT_TILE; t++) {
		const float4 p = *reinterpret_cast<const float4 *>(Pw + t * ATT_PLD + 4 * rg);
		const float pr[4] = { p.x, p.y, p.z, p.w };
		const float *v = V + t * LD;
		if constexpr (D >= 32) {
#pragma unroll
			for (int m = 0; m < D / 32; m++) {
				const float4 x = *reinterpret_cast<const float4 *>(v + 32 * m + 4 * kg);
#pragma unroll
				for (int i = 0; i < 4; i++) {
					acc[i][4 * m] += pr[i] * x.x;
					acc[i][4 * m + 1] += pr[i] * x.y;
					acc[i][4 * m + 2] += pr[i] * x.z;
					acc[i][4 * m + 3] += pr[i] * x.w;
				}
			}
		} else {
			const float2 x = *reinterpret_cast<const float2 *>(v + 2 * kg);
#pragma unroll
			for (int i = 0; i < 4; i++) {
				acc[i][0] += pr[i] * x.x;
				acc[i][1] += pr[i] * x.y;
			}
		}
	}
}

/* att_add_rows - g[r0 + i][c] += mul·acc[i][n], c = att_col(kg, n), for
 * the lane's rows before T and its columns before d; rows of stride ld. */
template <class F, int D>
__device__ __forceinline__ void att_add_rows(F *g, size_t ld, int r0, int T,
	const float acc[4][D / 8], float mul, int kg, int d)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		if (r0 + i >= T)
			continue;
		F *row = g + (size_t)(r0 + i) * ld;
#pragma unroll
		for (int n = 0; n < D / 8; n++) {
			const int c = att_col<D>(kg, n);
			if (c < d)
				rc_store(row + c, rc_load(row + c) + mul * acc[i][n]);
		}
	}
}

/* the maximum, or the sum, over the 8 lanes of a row group (lanes that
 * differ in their low 3 bits), in every one of them */
__device__ __forceinline__ float att_group_max(float v)
{
	for (int o = 1; o < 8; o <<= 1)
		v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}
__device__ __forceinline__ float att_group_sum(float v)
{
	for (int o = 1; o < 8; o <<= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

/* Blocks of the forward and the dq pass walk the query tiles of a head
 * last first: under a causal mask those do the most work, so they start
 * early. blockIdx.x = bh·ntiles + (ntiles - 1 - tile). */
__device__ __forceinline__ int att_tile_reversed(int ntiles)
{
	return ntiles - 1 - (int)(blockIdx.x % ntiles);
}

/* ---------------------------------------------------------------- forward */

/* att_forward - block (32W threads) of queries q0 .. q0+16W-1 of head bh:
 * shared memory Qs[16W][D+4], Ks and Vs[32][D+4] (the key tile), and a
 * [32][ATT_PLD] P tile per warp. out of dtype F, lse (may be NULL) fp32.
 * Up to D = 64 at most 128 registers (two blocks of 256 threads fit an
 * SM), which it takes without spilling; the backward kernels' two sets of
 * accumulators need more. */
template <class F, int D>
__global__ void __launch_bounds__(32 * ATT_MAX_WARPS, D <= 64 ? 2 : 1)
	att_forward(F *out, float *lse, const F *qkv, int T, int C, int H, float scale, int causal)
{
	constexpr int LD = D + 4;
	const int W = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
	const int rg = lane / 8, kg = lane % 8, d = C / H;
	const int ntiles = rc_ceil_div(T, ATT_ROWS * W), bh = blockIdx.x / ntiles;
	const int b = bh / H, h = bh % H;
	const int q0 = att_tile_reversed(ntiles) * ATT_ROWS * W, qw = q0 + ATT_ROWS * warp;
	const size_t ld = 3 * (size_t)C;
	const F *q = qkv + (size_t)b * T * ld + (size_t)h * d, *k = q + C, *v = q + 2 * C;

	RC_DYNAMIC_SHARED(float, sm);
	float *Qs = sm, *Ks = Qs + ATT_ROWS * W * LD, *Vs = Ks + ATT_TILE * LD;
	float *Pw = Vs + ATT_TILE * LD + warp * ATT_TILE * ATT_PLD;
	const float *Qw = Qs + ATT_ROWS * warp * LD;
	att_load<F, D>(Qs, q, ld, q0, ATT_ROWS * W, T, d);

	float o[4][D / 8], m[4], l[4];
#pragma unroll
	for (int i = 0; i < 4; i++) {
		m[i] = -INFINITY;
		l[i] = 0.0f; /* this lane's share of the row sum: its columns */
#pragma unroll
		for (int n = 0; n < D / 8; n++)
			o[i][n] = 0.0f;
	}
	const int kend = causal ? min(T, q0 + ATT_ROWS * W) : T;
	for (int k0 = 0; k0 < kend; k0 += ATT_TILE) {
		__syncthreads(); /* every warp is done with the last tile */
		att_load<F, D>(Ks, k, ld, k0, ATT_TILE, T, d);
		att_load<F, D>(Vs, v, ld, k0, ATT_TILE, T, d);
		__syncthreads();
		if (qw >= T || (causal && k0 > qw + ATT_ROWS - 1))
			continue; /* the warp's rows are padding, or all its keys masked */
		float s[4][4];
		att_dot<D>(s, Qw, Ks, rg, kg);
#pragma unroll
		for (int i = 0; i < 4; i++) {
			const int r = qw + 4 * rg + i;
			float mt = -INFINITY;
#pragma unroll
			for (int j = 0; j < 4; j++) {
				const int t = k0 + kg + 8 * j;
				s[i][j] = t < T && (!causal || t <= r) ? s[i][j] * scale : -INFINITY;
				mt = fmaxf(mt, s[i][j]);
			}
			/* key 0 is in the first tile and seen by every row, so m is
			 * finite from there on; the guard keeps -inf - -inf out */
			const float mn = fmaxf(m[i], att_group_max(mt));
			const float ms = mn == -INFINITY ? 0.0f : mn;
			const float corr = expf(m[i] - ms);
			m[i] = mn;
			l[i] *= corr;
#pragma unroll
			for (int n = 0; n < D / 8; n++)
				o[i][n] *= corr;
#pragma unroll
			for (int j = 0; j < 4; j++) {
				s[i][j] = expf(s[i][j] - ms);
				l[i] += s[i][j];
			}
		}
		att_store_p(Pw, s, rg, kg);
		att_pv<D>(o, Pw, Vs, rg, kg);
	}
	if (qw >= T)
		return; /* no barrier follows */
#pragma unroll
	for (int i = 0; i < 4; i++) {
		const float li = att_group_sum(l[i]);
		const int r = qw + 4 * rg + i;
		if (r >= T)
			continue;
		const float inv = 1.0f / li;
		F *y = out + ((size_t)b * T + r) * C + (size_t)h * d;
#pragma unroll
		for (int n = 0; n < D / 8; n++) {
			const int c = att_col<D>(kg, n);
			if (c < d)
				rc_store(y + c, o[i][n] * inv);
		}
		if (lse && kg == 0)
			lse[(size_t)bh * T + r] = m[i] + logf(li);
	}
}

/* ---------------------------------------------------------------- backward */

/* att_backward_dq - the dq pass: block of queries q0 .. q0+16W-1 of head
 * bh, over the key tiles. First D = rowsum(dout ∘ out) of its queries,
 * into Dsum[B,H,T] for the dk/dv pass too. Shared memory: Qs and dOs
 * [16W][D+4], Ks and Vs [32][D+4], a P tile per warp. dqkv +=
 * scale·dS·k in its q columns. */
template <class F, int D>
__global__ void __launch_bounds__(32 * ATT_MAX_WARPS, 1)
	att_backward_dq(F *dqkv, float *Dsum, const F *dout, const F *qkv, const F *out,
		const float *lse, int T, int C, int H, float scale, int causal)
{
	constexpr int LD = D + 4;
	const int W = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
	const int rg = lane / 8, kg = lane % 8, d = C / H;
	const int ntiles = rc_ceil_div(T, ATT_ROWS * W), bh = blockIdx.x / ntiles;
	const int b = bh / H, h = bh % H;
	const int q0 = att_tile_reversed(ntiles) * ATT_ROWS * W, qw = q0 + ATT_ROWS * warp;
	const size_t ld = 3 * (size_t)C, head = (size_t)h * d;
	const F *q = qkv + (size_t)b * T * ld + head, *k = q + C, *v = q + 2 * C;
	const F *dy = dout + (size_t)b * T * C + head, *y = out + (size_t)b * T * C + head;

	RC_DYNAMIC_SHARED(float, sm);
	float *Qs = sm, *dOs = Qs + ATT_ROWS * W * LD, *Ks = dOs + ATT_ROWS * W * LD;
	float *Vs = Ks + ATT_TILE * LD, *Pw = Vs + ATT_TILE * LD + warp * ATT_TILE * ATT_PLD;
	const float *Qw = Qs + ATT_ROWS * warp * LD, *dOw = dOs + ATT_ROWS * warp * LD;
	att_load<F, D>(Qs, q, ld, q0, ATT_ROWS * W, T, d);
	att_load<F, D>(dOs, dy, C, q0, ATT_ROWS * W, T, d);
	__syncthreads(); /* dOs */

	/* D and lse of the lane's rows: D = rowsum(dout ∘ out) by its row
	 * group, each lane taking every 8th column */
	float Lr[4], Dr[4], dq[4][D / 8];
#pragma unroll
	for (int i = 0; i < 4; i++) {
		const int r = qw + 4 * rg + i;
		float s = 0.0f;
		if (r < T)
			for (int c = kg; c < d; c += 8)
				s += dOw[(4 * rg + i) * LD + c] * rc_load(y + (size_t)r * C + c);
		Dr[i] = att_group_sum(s);
		Lr[i] = r < T ? lse[(size_t)bh * T + r] : 0.0f;
		if (r < T && kg == 0)
			Dsum[(size_t)bh * T + r] = Dr[i];
#pragma unroll
		for (int n = 0; n < D / 8; n++)
			dq[i][n] = 0.0f;
	}

	const int kend = causal ? min(T, q0 + ATT_ROWS * W) : T;
	for (int k0 = 0; k0 < kend; k0 += ATT_TILE) {
		__syncthreads();
		att_load<F, D>(Ks, k, ld, k0, ATT_TILE, T, d);
		att_load<F, D>(Vs, v, ld, k0, ATT_TILE, T, d);
		__syncthreads();
		if (qw >= T || (causal && k0 > qw + ATT_ROWS - 1))
			continue;
		float s[4][4], dp[4][4];
		att_dot<D>(s, Qw, Ks, rg, kg);
		att_dot<D>(dp, dOw, Vs, rg, kg);
#pragma unroll
		for (int i = 0; i < 4; i++) {
			const int r = qw + 4 * rg + i;
#pragma unroll
			for (int j = 0; j < 4; j++) {
				const int t = k0 + kg + 8 * j;
				const float p = t < T && r < T && (!causal || t <= r)
					? expf(s[i][j] * scale - Lr[i]) : 0.0f;
				s[i][j] = p * (dp[i][j] - Dr[i]); /* dS */
			}
		}
		att_store_p(Pw, s, rg, kg);
		att_pv<D>(dq, Pw, Ks, rg, kg);
	}
	att_add_rows<F, D>(dqkv + (size_t)b * T * ld + head, ld, qw + 4 * rg, T, dq, scale, kg, d);
}

/* att_backward_dkv - the dk/dv pass: block of keys k0 .. k0+16W-1 of head
 * bh (tiles in order: under a causal mask the first keys see the most
 * queries), over the query tiles, with lse and the dq pass's D. Shared
 * memory: Ks and Vs [16W][D+4], Qs and dOs [32][D+4], Ls and Ds [32], a P
 * tile per warp. dqkv += dk, dv in its k and v columns. */
template <class F, int D>
__global__ void __launch_bounds__(32 * ATT_MAX_WARPS, 1)
	att_backward_dkv(F *dqkv, const F *dout, const F *qkv, const float *lse,
		const float *Dsum, int T, int C, int H, float scale, int causal)
{
	constexpr int LD = D + 4;
	const int W = blockDim.x / 32, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
	const int rg = lane / 8, kg = lane % 8, d = C / H;
	const int ntiles = rc_ceil_div(T, ATT_ROWS * W), bh = blockIdx.x / ntiles;
	const int b = bh / H, h = bh % H;
	const int k0 = (int)(blockIdx.x % ntiles) * ATT_ROWS * W, kw = k0 + ATT_ROWS * warp;
	const size_t ld = 3 * (size_t)C, head = (size_t)h * d;
	const F *q = qkv + (size_t)b * T * ld + head, *k = q + C, *v = q + 2 * C;
	const F *dy = dout + (size_t)b * T * C + head;

	RC_DYNAMIC_SHARED(float, sm);
	float *Ks = sm, *Vs = Ks + ATT_ROWS * W * LD, *Qs = Vs + ATT_ROWS * W * LD;
	float *dOs = Qs + ATT_TILE * LD, *Ls = dOs + ATT_TILE * LD, *Ds = Ls + ATT_TILE;
	float *Pw = Ds + ATT_TILE + warp * ATT_TILE * ATT_PLD;
	const float *Kw = Ks + ATT_ROWS * warp * LD, *Vw = Vs + ATT_ROWS * warp * LD;
	att_load<F, D>(Ks, k, ld, k0, ATT_ROWS * W, T, d);
	att_load<F, D>(Vs, v, ld, k0, ATT_ROWS * W, T, d);

	float dk[4][D / 8], dv[4][D / 8];
#pragma unroll
	for (int i = 0; i < 4; i++)
#pragma unroll
		for (int n = 0; n < D / 8; n++)
			dk[i][n] = dv[i][n] = 0.0f;
	/* causal: the query tiles before k0 see none of the block's keys */
	for (int q0 = causal ? k0 / ATT_TILE * ATT_TILE : 0; q0 < T; q0 += ATT_TILE) {
		__syncthreads();
		att_load<F, D>(Qs, q, ld, q0, ATT_TILE, T, d);
		att_load<F, D>(dOs, dy, C, q0, ATT_TILE, T, d);
		for (int t = threadIdx.x; t < ATT_TILE; t += blockDim.x) {
			const bool in = q0 + t < T;
			Ls[t] = in ? lse[(size_t)bh * T + q0 + t] : 0.0f;
			Ds[t] = in ? Dsum[(size_t)bh * T + q0 + t] : 0.0f;
		}
		__syncthreads();
		if (kw >= T || (causal && kw > q0 + ATT_TILE - 1))
			continue; /* padding keys, or keys after every query of the tile */
		/* transposed: s[i][j] is the score of query q0+kg+8j, key kw+4rg+i */
		float s[4][4], dp[4][4];
		att_dot<D>(s, Kw, Qs, rg, kg);
		att_dot<D>(dp, Vw, dOs, rg, kg);
#pragma unroll
		for (int j = 0; j < 4; j++) {
			const int t = q0 + kg + 8 * j;
			const float Lt = Ls[kg + 8 * j], Dt = Ds[kg + 8 * j];
#pragma unroll
			for (int i = 0; i < 4; i++) {
				const int key = kw + 4 * rg + i;
				const float p = t < T && key < T && (!causal || key <= t)
					? expf(s[i][j] * scale - Lt) : 0.0f;
				s[i][j] = p;
				dp[i][j] = p * (dp[i][j] - Dt); /* dS */
			}
		}
		att_store_p(Pw, s, rg, kg);
		att_pv<D>(dv, Pw, dOs, rg, kg);
		att_store_p(Pw, dp, rg, kg);
		att_pv<D>(dk, Pw, Qs, rg, kg);
	}
	F *g = dqkv + (size_t)b * T * ld + head + C; /* dk, then dv C columns on */
	att_add_rows<F, D>(g, ld, kw + 4 * rg, T, dk, scale, kg, d);
	att_add_rows<F, D>(g + C, ld, kw + 4 * rg, T, dv, 1.0f, kg, d);
}

/* ---------------------------------------------------------------- launchers */

/* shared memory of each kernel, in bytes, for head width D and W warps */
static size_t att_forward_smem(int D, int W)
{
	return sizeof(float) * ((size_t)(ATT_ROWS * W + 2 * ATT_TILE) * (D + 4) +
		(size_t)W * ATT_TILE * ATT_PLD);
}
static size_t att_dq_smem(int D, int W)
{
	return sizeof(float) * ((size_t)(2 * ATT_ROWS * W + 2 * ATT_TILE) * (D + 4) +
		(size_t)W * ATT_TILE * ATT_PLD);
}
static size_t att_dkv_smem(int D, int W)
{
	return sizeof(float) * ((size_t)(2 * ATT_ROWS * W + 2 * ATT_TILE) * (D + 4) +
		2 * ATT_TILE + (size_t)W * ATT_TILE * ATT_PLD);
}

/* HF: head_dim ** -0.5 in Python (double), used as a float; as the CPU op */
static float att_scale(int d)
{
	return (float)pow((double)d, -0.5);
}

static int att_width(int variant)
{
	return 16 << variant;
}

static int att_args(const char *fn, int variant, int block, int B, int T, int C, int H,
	int dtype)
{
	if (B <= 0 || T <= 0 || C <= 0 || H <= 0)
		return rc_log_error(RC_E_ARG, "%s: B = %d, T = %d, C = %d, H = %d: not positive", fn,
			B, T, C, H);
	if (C % H)
		return rc_log_error(RC_E_ARG, "%s: C = %d is not a multiple of H = %d", fn, C, H);
	if (dtype != RC_CUDA_F32 && dtype != RC_CUDA_BF16)
		return rc_log_error(RC_E_ARG, "%s: dtype %d: not fp32 or bf16", fn, dtype);
	if (variant < 0 || variant >= RC_CUDA_ATT_VARIANTS)
		return rc_log_error(RC_E_ARG, "%s: no variant %d", fn, variant);
	if (C / H > att_width(variant))
		return rc_log_error(RC_E_ARG, "%s: head dim %d: over the variant's %d", fn, C / H,
			att_width(variant));
	if (block < 32 || block > 32 * ATT_MAX_WARPS || block % 32)
		return rc_log_error(RC_E_ARG, "%s: block of %d threads: not a multiple of 32 up "
			"to %d", fn, block, 32 * ATT_MAX_WARPS);
	/* one block per 16·W rows of each (b, h); the grid is one-dimensional */
	if ((long long)B * H * rc_ceil_div(T, ATT_ROWS * (block / 32)) > 0x7fffffffLL)
		return rc_log_error(RC_E_ARG, "%s: B = %d, H = %d, T = %d: too many blocks", fn,
			B, H, T);
	return 0;
}

/* att_prepare - allow kernel fn its shared memory (over 48 KiB it must be
 * asked for; the runtime refuses what the device does not have). */
static int att_prepare(const void *fn, size_t bytes)
{
	if (bytes > 48 << 10)
		RC_CUDA_CHECK(cudaFuncSetAttribute(fn, cudaFuncAttributeMaxDynamicSharedMemorySize,
			(int)bytes));
	return 0;
}

template <class F, int D>
static int att_forward_run(int block, F *out, float *lse, const F *qkv, int B, int T, int C,
	int H, int causal, cudaStream_t s)
{
	const int W = block / 32, grid = B * H * rc_ceil_div(T, ATT_ROWS * W);
	const size_t shmem = att_forward_smem(D, W);
	int rc = att_prepare(reinterpret_cast<const void *>(att_forward<F, D>), shmem);
	if (rc < 0)
		return rc;
	RC_LAUNCH((att_forward<F, D>), grid, block, shmem, s, out, lse, qkv, T, C, H,
		att_scale(C / H), causal);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

template <class F, int D>
static int att_backward_run(int block, F *dqkv, float *scratch, const F *dout, const F *qkv,
	const F *out, const float *lse, int B, int T, int C, int H, int causal, cudaStream_t s)
{
	const int W = block / 32, grid = B * H * rc_ceil_div(T, ATT_ROWS * W);
	const float scale = att_scale(C / H);
	const size_t sdq = att_dq_smem(D, W), sdkv = att_dkv_smem(D, W);
	int rc = att_prepare(reinterpret_cast<const void *>(att_backward_dq<F, D>), sdq);
	if (rc == 0)
		rc = att_prepare(reinterpret_cast<const void *>(att_backward_dkv<F, D>), sdkv);
	if (rc < 0)
		return rc;
	RC_LAUNCH((att_backward_dq<F, D>), grid, block, sdq, s, dqkv, scratch, dout, qkv, out,
		lse, T, C, H, scale, causal);
	RC_CUDA_CHECK(cudaGetLastError());
	/* after the dq pass on the same stream: it wrote D into scratch */
	RC_LAUNCH((att_backward_dkv<F, D>), grid, block, sdkv, s, dqkv, dout, qkv, lse, scratch,
		T, C, H, scale, causal);
	RC_CUDA_CHECK(cudaGetLastError());
	return 0;
}

/* the template instance of (dtype, variant) */
template <class F>
static int att_forward_dispatch(int variant, int block, void *out, float *lse, const void *qkv,
	int B, int T, int C, int H, int causal, cudaStream_t s)
{
	F *y = (F *)out;
	const F *x = (const F *)qkv;
	switch (variant) {
	case RC_CUDA_ATT_D16:
		return att_forward_run<F, 16>(block, y, lse, x, B, T, C, H, causal, s);
	case RC_CUDA_ATT_D32:
		return att_forward_run<F, 32>(block, y, lse, x, B, T, C, H, causal, s);
	case RC_CUDA_ATT_D64:
		return att_forward_run<F, 64>(block, y, lse, x, B, T, C, H, causal, s);
	default:
		return att_forward_run<F, 128>(block, y, lse, x, B, T, C, H, causal, s);
	}
}

template <class F>
static int att_backward_dispatch(int variant, int block, void *dqkv, float *scratch,
	const void *dout, const void *qkv, const void *out, const float *lse, int B, int T, int C,
	int H, int causal, cudaStream_t s)
{
	F *g = (F *)dqkv;
	const F *dy = (const F *)dout, *x = (const F *)qkv, *y = (const F *)out;
	switch (variant) {
	case RC_CUDA_ATT_D16:
		return att_backward_run<F, 16>(block, g, scratch, dy, x, y, lse, B, T, C, H, causal, s);
	case RC_CUDA_ATT_D32:
		return att_backward_run<F, 32>(block, g, scratch, dy, x, y, lse, B, T, C, H, causal, s);
	case RC_CUDA_ATT_D64:
		return att_backward_run<F, 64>(block, g, scratch, dy, x, y, lse, B, T, C, H, causal, s);
	default:
		return att_backward_run<F, 128>(block, g, scratch, dy, x, y, lse, B, T, C, H, causal,
			s);
	}
}

int rc_cuda_attention_forward_v(int variant, int block, void *out, float *lse, const void *qkv,
	int B, int T, int C, int H, int causal, int dtype, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_attention_forward";
	int rc = att_args(fn, variant, block, B, T, C, H, dtype);
	if (rc < 0)
		return rc;
	if (!out || !qkv)
		return rc_log_error(RC_E_ARG, "%s: out and qkv may not be NULL", fn);
	if (dtype == RC_CUDA_F32)
		return att_forward_dispatch<float>(variant, block, out, lse, qkv, B, T, C, H,
			causal != 0, stream);
	return att_forward_dispatch<rc_bf16>(variant, block, out, lse, qkv, B, T, C, H,
		causal != 0, stream);
}

int rc_cuda_attention_backward_v(int variant, int block, void *dqkv, float *scratch,
	const void *dout, const void *qkv, const void *out, const float *lse, int B, int T, int C,
	int H, int causal, int dtype, struct CUstream_st *stream)
{
	const char *fn = "rc_cuda_attention_backward";
	int rc = att_args(fn, variant, block, B, T, C, H, dtype);
	if (rc < 0)
		return rc;
	if (!dqkv || !scratch || !dout || !qkv || !out || !lse)
		return rc_log_error(RC_E_ARG, "%s: a NULL pointer", fn);
	if (dtype == RC_CUDA_F32)
		return att_backward_dispatch<float>(variant, block, dqkv, scratch, dout, qkv, out,
			lse, B, T, C, H, causal != 0, stream);
	return att_backward_dispatch<rc_bf16>(variant, block, dqkv, scratch, dout, qkv, out, lse,
		B, T, C, H, causal != 0, stream);
}

size_t rc_cuda_attention_backward_scratch(int B, int T, int H)
{
	return B > 0 && T > 0 && H > 0 ? (size_t)B * H * T * sizeof(float) : 0;
}

/* The defaults: the narrowest head width that holds C/H, and 4 warps (64
 * rows) per block, 2 where that leaves few blocks for the GPU's SMs.
 * Chosen without a GPU at hand: tune on one. */
static int att_variant(int C, int H)
{
	const int d = H > 0 && C > 0 ? C / H : 0;
	return d <= 16 ? RC_CUDA_ATT_D16 : d <= 32 ? RC_CUDA_ATT_D32 : d <= 64 ? RC_CUDA_ATT_D64
		: RC_CUDA_ATT_D128;
}

static int att_block(int B, int T, int H)
{
	return (long long)B * H * rc_ceil_div(T > 0 ? T : 1, 64) < 264 ? 64 : 128;
}

int rc_cuda_attention_forward(void *out, float *lse, const void *qkv, int B, int T, int C,
	int H, int causal, int dtype, struct CUstream_st *stream)
{
	return rc_cuda_attention_forward_v(att_variant(C, H), att_block(B, T, H), out, lse, qkv,
		B, T, C, H, causal, dtype, stream);
}

int rc_cuda_attention_backward(void *dqkv, float *scratch, const void *dout, const void *qkv,
	const void *out, const float *lse, int B, int T, int C, int H, int causal, int dtype,
	struct CUstream_st *stream)
{
	return rc_cuda_attention_backward_v(att_variant(C, H), att_block(B, T, H), dqkv, scratch,
		dout, qkv, out, lse, B, T, C, H, causal, dtype, stream);
}
