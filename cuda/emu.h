/* emu.h - run CUDA kernel source on the CPU, unchanged, for tests on
 * machines without a GPU. A kernel file compiled by the host C++ compiler
 * (C++17) with RC_CUDA_EMU defined includes this header through
 * cuda/common.cuh; emu.cc holds the scheduler, emu_runtime.cc the CUDA
 * runtime calls of host code (cudaMalloc, cudaMemcpy, ...) on host memory.
 *
 *     RC_LAUNCH(my_kernel, grid, block, shmem_bytes, stream, a, b, n);
 *     if (cudaGetLastError() != cudaSuccess) ...   // an emulation error
 *
 * Model. Every CUDA thread of a block is a fiber (ucontext, a small stack
 * of its own, annotated for AddressSanitizer); the blocks of a grid run one
 * after another. A fiber runs until it reaches a barrier, a warp
 * collective or its end. The scheduler always resumes the first runnable
 * thread of an order, forward, reverse or random (rc_emu_set_order, or
 * RC_EMU_ORDER=forward|reverse|random and RC_EMU_SEED=N in the
 * environment; blocks are ordered likewise), and completes a warp
 * collective when its last lane arrives: the first warps of the order run
 * ahead to the next block barrier, which the scheduler releases when every
 * thread is there.
 *
 * What it checks, each a reported error that fails the launch
 * (cudaGetLastError gives cudaErrorLaunchFailure; the message, naming the
 * kernel, the block, the threads and the source lines, goes to stderr and
 * to rc_emu_last_error()):
 *   - __syncthreads: every live thread of the block arrives, at the same
 *     call; a thread that returns while others wait, or threads waiting at
 *     different __syncthreads, is an error (CUDA: undefined, often a hang);
 *   - warp collectives (__shfl*_sync, __ballot_sync, __any_sync,
 *     __all_sync, __reduce_*_sync, __syncwarp): the caller's own lane is in
 *     the mask, every lane of the mask arrives (lanes that exited or do not
 *     exist in a partial warp are errors), at the same collective (same
 *     intrinsic, mask and call site; __syncwarp may pair different call
 *     sites, as on sm_70+); a shuffle that reads a lane outside the mask
 *     gets NaN / all-ones bits instead of a value;
 *   - launch configuration: block and grid limits, dynamic shared memory
 *     over 48 KiB without cudaFuncSetAttribute;
 *   - missing barriers, through the thread orders: a kernel whose result
 *     depends on the order is racy, whether the race is between threads
 *     in one stretch of code or between a warp that ran ahead through its
 *     shuffles and one that did not. Run all three orders (one alone can
 *     hide a race: a tree reduction without barriers is right in reverse);
 *   - with ASan, out-of-bounds global and dynamic shared memory accesses
 *     (cudaMalloc and the dynamic shared buffer are exact heap blocks).
 *     cudaMalloc'd memory and dynamic shared memory start as 0xff bytes
 *     (NaN as float or bf16), so reading what nobody wrote shows.
 *
 * What it cannot catch (needs a real GPU): the numerics of fast-math
 * intrinsics and FMA contraction (here __expf is expf, rsqrtf is 1/sqrtf);
 * races between blocks (blocks run one after another) and spin-waits on
 * other blocks or threads (they hang: a fiber is never preempted); stale
 * static __shared__ memory (a static array keeps its values between blocks
 * and launches); memory ordering and fences; tensor cores, TMA/wgmma,
 * cp.async, inline PTX, cooperative groups; performance, occupancy,
 * registers and launch limits beyond the ones above. Three orders are
 * three schedules among many: a race they miss stays unseen. One host
 * thread at a time may launch. `extern __shared__` arrays are not
 * supported: use RC_DYNAMIC_SHARED(type, name), the real thing under nvcc.
 */
#ifndef RCLIP_CUDA_EMU_H
#define RCLIP_CUDA_EMU_H

#ifdef __CUDACC__
#error "cuda/emu.h is for the host compiler; nvcc builds use the CUDA headers"
#endif
#ifndef RC_CUDA_EMU
#define RC_CUDA_EMU 1
#endif

/* The toolkit's headers give the host the types: dim3, uint3, cudaError_t,
 * cudaStream_t, __nv_bfloat16 with its conversions. They are read before
 * the macros below redefine intrinsic names. */
#include <cuda_bf16.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cmath>
#include <functional>
#include <type_traits>

/* ---------------------------------------------------------------- language */

#undef __shared__
#define __shared__ static         /* per block: blocks run one at a time */
#define __launch_bounds__(...)

extern uint3 threadIdx, blockIdx; /* set by the scheduler at each switch */
extern dim3 blockDim, gridDim;
static constexpr int warpSize = 32;

enum rc_emu_order { RC_EMU_FORWARD = 0, RC_EMU_REVERSE = 1, RC_EMU_RANDOM = 2 };

/* rc_emu_set_order - the order in which runnable threads are resumed, and
 * the order of the blocks of a grid; seed drives RC_EMU_RANDOM. */
void rc_emu_set_order(int threads, int blocks, unsigned long long seed);
/* rc_emu_errors - errors reported since the program started. */
long rc_emu_errors(void);
/* rc_emu_last_error - the last error's message ("" if none; static). */
const char *rc_emu_last_error(void);
/* rc_emu_quiet - 1: keep errors off stderr (self-tests that expect them). */
void rc_emu_quiet(int on);

namespace rc_emu {

enum Coll {
	SHFL_IDX, SHFL_UP, SHFL_DOWN, SHFL_XOR, BALLOT, ANY, ALL, SYNCWARP,
	RED_ADD, RED_MIN, RED_MAX, BARRIER, BAR_COUNT, BAR_AND, BAR_OR,
};

/* wait - the calling thread waits at a barrier (kind BARRIER..BAR_OR) or a
 * warp collective; in holds its contribution (raw bits), the result comes
 * back as raw bits. */
uint64_t wait(const char *file, int line, int kind, unsigned mask, uint64_t in, int arg,
	int width);
/* fail - report an error for the running thread and end its block. */
[[noreturn]] void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* launch - run body once per thread of every block of grid. */
void launch(const char *name, const char *file, int line, const void *fn, dim3 grid,
	dim3 block, size_t shmem, const std::function<void()> &body);
void *dynamic_shared(void);
/* for emu_runtime.cc: the last launch's error (clear: and forget it), and
 * cudaFuncSetAttribute's dynamic shared memory limit of a kernel */
cudaError_t launch_error(bool clear);
void set_max_shared(const void *fn, int bytes);

template <class T> inline uint64_t bits(T v)
{
	static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value,
		"warp collectives move values of at most 8 bytes");
	uint64_t u = 0;
	memcpy(&u, &v, sizeof v);
	return u;
}
template <class T> inline T from_bits(uint64_t u)
{
	T v;
	memcpy(&v, &u, sizeof v);
	return v;
}
template <class T> inline T shfl(const char *f, int l, int kind, unsigned mask, T v, int arg,
	int width = warpSize)
{
	return from_bits<T>(wait(f, l, kind, mask, bits(v), arg, width));
}
template <class T> inline T reduce(const char *f, int l, int kind, unsigned mask, T v)
{
	static_assert(std::is_integral<T>::value && sizeof(T) == 4, "__reduce_*_sync: 32-bit ints");
	return from_bits<T>(wait(f, l, kind, mask, bits(v), std::is_signed<T>::value, warpSize));
}

} // namespace rc_emu

#define __syncthreads() (void)rc_emu::wait(__FILE__, __LINE__, rc_emu::BARRIER, 0, 0, 0, 0)
#define __syncthreads_count(p) \
	(int)rc_emu::wait(__FILE__, __LINE__, rc_emu::BAR_COUNT, 0, (p) != 0, 0, 0)
#define __syncthreads_and(p) \
	(int)rc_emu::wait(__FILE__, __LINE__, rc_emu::BAR_AND, 0, (p) != 0, 0, 0)
#define __syncthreads_or(p) \
	(int)rc_emu::wait(__FILE__, __LINE__, rc_emu::BAR_OR, 0, (p) != 0, 0, 0)
#define __syncwarp(...) (rc_emu::site(__FILE__, __LINE__), rc_emu::syncwarp(__VA_ARGS__))
#define __shfl_sync(...) rc_emu::shfl(__FILE__, __LINE__, rc_emu::SHFL_IDX, __VA_ARGS__)
#define __shfl_up_sync(...) rc_emu::shfl(__FILE__, __LINE__, rc_emu::SHFL_UP, __VA_ARGS__)
#define __shfl_down_sync(...) rc_emu::shfl(__FILE__, __LINE__, rc_emu::SHFL_DOWN, __VA_ARGS__)
#define __shfl_xor_sync(...) rc_emu::shfl(__FILE__, __LINE__, rc_emu::SHFL_XOR, __VA_ARGS__)
#define __ballot_sync(m, p) \
	(unsigned)rc_emu::wait(__FILE__, __LINE__, rc_emu::BALLOT, (m), (p) != 0, 0, warpSize)
#define __any_sync(m, p) \
	(int)rc_emu::wait(__FILE__, __LINE__, rc_emu::ANY, (m), (p) != 0, 0, warpSize)
#define __all_sync(m, p) \
	(int)rc_emu::wait(__FILE__, __LINE__, rc_emu::ALL, (m), (p) != 0, 0, warpSize)
#define __reduce_add_sync(m, v) rc_emu::reduce(__FILE__, __LINE__, rc_emu::RED_ADD, (m), (v))
#define __reduce_min_sync(m, v) rc_emu::reduce(__FILE__, __LINE__, rc_emu::RED_MIN, (m), (v))
#define __reduce_max_sync(m, v) rc_emu::reduce(__FILE__, __LINE__, rc_emu::RED_MAX, (m), (v))

namespace rc_emu {
/* __syncwarp's mask is optional: the call site goes first, on its own */
inline const char *site_file = "";
inline int site_line;
inline void site(const char *f, int l)
{
	site_file = f;
	site_line = l;
}
inline void syncwarp(unsigned mask = 0xffffffffu)
{
	wait(site_file, site_line, SYNCWARP, mask, 0, 0, warpSize);
}
} // namespace rc_emu

/* Dynamic shared memory: RC_DYNAMIC_SHARED(float, buf) declares float *buf
 * over the launch's shmem_bytes (cuda/common.cuh has the nvcc form). */
#define RC_DYNAMIC_SHARED(type, name) \
	type *name = reinterpret_cast<type *>(rc_emu::dynamic_shared())

/* RC_LAUNCH(kernel, grid, block, shmem, stream, args...): kernel<<<...>>>
 * under nvcc. As there, the arguments are converted to the kernel's
 * parameter types and evaluated once; every thread gets a copy. A template
 * kernel whose arguments hold a comma goes in parentheses. */
#define RC_LAUNCH(kernel, grid, block, shmem, stream, ...) \
	((void)(stream), rc_emu::launch_kernel(#kernel, __FILE__, __LINE__, kernel, dim3(grid), \
		dim3(block), (shmem), __VA_ARGS__))

namespace rc_emu {
template <class T> struct same_type {
	using type = T;
};
template <class... P>
inline void launch_kernel(const char *name, const char *file, int line, void (*k)(P...),
	dim3 grid, dim3 block, size_t shmem, typename same_type<P>::type... a)
{
	const std::function<void()> body = [k, a...]() { k(a...); };
	launch(name, file, line, reinterpret_cast<const void *>(k), grid, block, shmem, body);
}
} // namespace rc_emu

/* ---------------------------------------------------------------- atomics */
/* Fibers never run at the same time and never switch inside these, so a
 * plain read-modify-write is atomic here. */

template <class T> inline T rc_emu_atomic_set(T *p, T v)
{
	T old = *p;
	*p = v;
	return old;
}
template <class T> inline T rc_emu_atomic_add(T *p, T v)
{
	return rc_emu_atomic_set(p, *p + v);
}
inline float atomicAdd(float *p, float v) { return rc_emu_atomic_add(p, v); }
inline double atomicAdd(double *p, double v) { return rc_emu_atomic_add(p, v); }
inline int atomicAdd(int *p, int v) { return rc_emu_atomic_add(p, v); }
inline unsigned atomicAdd(unsigned *p, unsigned v) { return rc_emu_atomic_add(p, v); }
inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v)
{
	return rc_emu_atomic_add(p, v);
}
inline int atomicSub(int *p, int v) { return rc_emu_atomic_add(p, -v); }
inline unsigned atomicSub(unsigned *p, unsigned v) { return rc_emu_atomic_add(p, 0u - v); }
inline int atomicExch(int *p, int v) { return rc_emu_atomic_set(p, v); }
inline unsigned atomicExch(unsigned *p, unsigned v) { return rc_emu_atomic_set(p, v); }
inline float atomicExch(float *p, float v) { return rc_emu_atomic_set(p, v); }
inline int atomicMax(int *p, int v) { return rc_emu_atomic_set(p, *p > v ? *p : v); }
inline unsigned atomicMax(unsigned *p, unsigned v) { return rc_emu_atomic_set(p, *p > v ? *p : v); }
inline int atomicMin(int *p, int v) { return rc_emu_atomic_set(p, *p < v ? *p : v); }
inline unsigned atomicMin(unsigned *p, unsigned v) { return rc_emu_atomic_set(p, *p < v ? *p : v); }
inline int atomicOr(int *p, int v) { return rc_emu_atomic_set(p, *p | v); }
inline unsigned atomicOr(unsigned *p, unsigned v) { return rc_emu_atomic_set(p, *p | v); }
inline int atomicAnd(int *p, int v) { return rc_emu_atomic_set(p, *p & v); }
inline unsigned atomicAnd(unsigned *p, unsigned v) { return rc_emu_atomic_set(p, *p & v); }
template <class T> inline T rc_emu_atomic_cas(T *p, T cmp, T v)
{
	T old = *p;
	if (old == cmp)
		*p = v;
	return old;
}
inline int atomicCAS(int *p, int c, int v) { return rc_emu_atomic_cas(p, c, v); }
inline unsigned atomicCAS(unsigned *p, unsigned c, unsigned v) { return rc_emu_atomic_cas(p, c, v); }
inline unsigned long long atomicCAS(unsigned long long *p, unsigned long long c,
	unsigned long long v)
{
	return rc_emu_atomic_cas(p, c, v);
}

/* ---------------------------------------------------------------- device math */
/* Host versions of the intrinsics the kernels use, with IEEE results. The
 * names glibc also declares (__expf, ...) are macros, defined after
 * <math.h>. */

inline float rc_emu_rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float rc_emu_saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
#define rsqrtf rc_emu_rsqrtf
#define rsqrt(x) (1.0 / sqrt(x))
#define __saturatef rc_emu_saturatef
#define __expf(x) expf(x)
#define __exp10f(x) exp10f(x)
#define __logf(x) logf(x)
#define __log2f(x) log2f(x)
#define __powf(x, y) powf((x), (y))
#define __sinf(x) sinf(x)
#define __cosf(x) cosf(x)
#define __tanf(x) tanf(x)
#define __tanhf(x) tanhf(x)
#define __fdividef(a, b) ((a) / (b))
#define __frcp_rn(x) (1.0f / (x))
#define __fsqrt_rn(x) sqrtf(x)
#define __fadd_rn(a, b) ((a) + (b))
#define __fsub_rn(a, b) ((a) - (b))
#define __fmul_rn(a, b) ((a) * (b))
#define __fmaf_rn(a, b, c) fmaf((a), (b), (c))
#define __float2int_rn(x) ((int)lrintf(x))
#define __float_as_int(x) rc_emu::from_bits<int>(rc_emu::bits<float>(x))
#define __float_as_uint(x) rc_emu::from_bits<unsigned>(rc_emu::bits<float>(x))
#define __int_as_float(x) rc_emu::from_bits<float>(rc_emu::bits<int>(x))
#define __uint_as_float(x) rc_emu::from_bits<float>(rc_emu::bits<unsigned>(x))
#define __popc(x) __builtin_popcount((unsigned)(x))
#define __ffs(x) __builtin_ffs((int)(x))
#define __clz(x) ((x) ? __builtin_clz((unsigned)(x)) : 32)
#define __threadfence() ((void)0)
#define __threadfence_block() ((void)0)
#define __trap() rc_emu::fail("__trap() at %s:%d", __FILE__, __LINE__)

/* CUDA's min and max overloads for the types kernels mix least */
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }

/* cache-hinted loads and stores are plain ones */
template <class T> inline T __ldg(const T *p) { return *p; }
template <class T> inline T __ldcs(const T *p) { return *p; }
template <class T> inline T __ldcg(const T *p) { return *p; }
template <class T> inline T __ldlu(const T *p) { return *p; }
template <class T> inline void __stcs(T *p, T v) { *p = v; }
template <class T> inline void __stcg(T *p, T v) { *p = v; }
template <class T> inline void __stwb(T *p, T v) { *p = v; }

#endif
