/* test_emu.cc - the CUDA emulation (cuda/emu.h) itself: what it computes
 * (indices, shuffles with widths, votes, reductions, barriers with
 * predicates, atomics, dynamic shared memory, block orders, launch limits)
 * and that it catches the bugs it exists for, each injected on purpose:
 *   (a) a reduction missing its __syncthreads: wrong under the forward and
 *       random orders, right under reverse, so only all three catch it;
 *   (b) a full-mask shuffle executed by half a warp;
 *   (c) __syncthreads inside a branch that not all threads take;
 *   (d) a thread returning before a barrier the others wait at;
 *   (e) a shared buffer reused without the barrier that protects its
 *       readers from a warp that runs ahead through warp shuffles;
 * and a few more mask errors. A detection that stops working fails here.
 * Built only with the emulation (there is nothing to test on a GPU).
 */
#include "tests/cuda/harness.h"

#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef RC_CUDA_EMU
int main(void)
{
	return 77;
}
#else

/* ---------------------------------------------------------------- kernels */

__global__ void indices(int *out)
{
	const int t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
	const int b = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
	out[b * blockDim.x * blockDim.y * blockDim.z + t] = b * 1000 + t;
}

/* each lane's results of the shuffles and votes, 8 ints per thread */
__global__ void warp_ops(int *out)
{
	const int l = threadIdx.x % 32;
	int *o = out + 8 * threadIdx.x;
	o[0] = __shfl_sync(0xffffffffu, l * 10, 3);
	o[1] = __shfl_up_sync(0xffffffffu, l, 2, 8);
	o[2] = __shfl_down_sync(0xffffffffu, l, 3);
	o[3] = __shfl_xor_sync(0xffffffffu, l, 5, 16);
	o[4] = (int)__ballot_sync(0xffffffffu, l % 3 == 0);
	o[5] = __any_sync(0xffffffffu, l == 7) + 2 * __all_sync(0xffffffffu, l < 31);
	o[6] = __reduce_add_sync(0xffffffffu, (unsigned)l) + __reduce_max_sync(0xffffffffu, -l);
	__syncwarp();
	o[7] = l < 16 ? __shfl_xor_sync(0x0000ffffu, l, 1) : __shfl_xor_sync(0xffff0000u, l, 2);
}

__global__ void barriers(int *out)
{
	const int t = threadIdx.x;
	const int c = __syncthreads_count(t % 4 == 0);
	const int a = __syncthreads_and(t < 1000);
	const int o = __syncthreads_or(t == 5);
	out[t] = c * 100 + a * 10 + o;
}

__global__ void atomics(float *f, int *i, unsigned *u, double *d)
{
	atomicAdd(f, 0.5f);
	atomicAdd(i, 1);
	atomicMax(i + 1, (int)threadIdx.x);
	atomicMin(i + 2, -(int)threadIdx.x);
	atomicAdd(u, 2u);
	atomicAdd(d, 0.25);
	atomicCAS(i + 3, (int)threadIdx.x, (int)threadIdx.x + 1); /* 0 -> 1 -> ... -> n */
	atomicExch(u + 1, 7u);
}

/* the block order: each block appends its index */
__global__ void block_order(int *log)
{
	if (threadIdx.x == 0)
		log[1 + atomicAdd(log, 1)] = blockIdx.x;
}

/* a block sum in dynamic shared memory, with (good) or without its
 * barriers: case (a) */
template <bool Barriers> __global__ void tree_sum(float *out, const float *in)
{
	RC_DYNAMIC_SHARED(float, s);
	const int t = threadIdx.x;
	s[t] = in[blockIdx.x * blockDim.x + t];
	if (Barriers)
		__syncthreads();
	for (int k = blockDim.x / 2; k > 0; k /= 2) {
		if (t < k)
			s[t] += s[t + k];
		if (Barriers)
			__syncthreads();
	}
	if (t == 0)
		out[blockIdx.x] = s[0];
}

/* two block sums through one shared array: the second may overwrite a
 * partial sum that a slower warp has not read yet unless a barrier (guard)
 * separates them: case (e) */
__device__ float warp_total(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

__device__ float block_total(float v, float *part)
{
	const int lane = threadIdx.x % 32, nw = blockDim.x / 32;
	v = warp_total(v);
	if (lane == 0)
		part[threadIdx.x / 32] = v;
	__syncthreads();
	return warp_total(lane < nw ? part[lane] : 0.0f);
}

__global__ void reuse_shared(float *out, const float *in, int guard)
{
	__shared__ float part[32];
	const int t = threadIdx.x, n = blockDim.x;
	const float a = block_total(in[t], part);
	if (guard)
		__syncthreads();
	const float b = block_total(2.0f * in[t], part);
	out[t] = a;
	out[n + t] = b;
}

static const int half_line = __LINE__ + 5; /* the shuffle's line */
__global__ void half_warp_shuffle(float *out)
{
	float v = threadIdx.x;
	if (threadIdx.x % 32 < 16)
		v = __shfl_xor_sync(0xffffffffu, v, 1); /* case (b) */
	out[threadIdx.x] = v;
}

static const int branch_line = __LINE__ + 4;
__global__ void sync_in_branch(float *out)
{
	if (threadIdx.x < 32)
		__syncthreads(); /* case (c) */
	__syncthreads();
	out[threadIdx.x] = 1.0f;
}

static const int return_line = __LINE__ + 5;
__global__ void early_return(float *out, int n)
{
	if ((int)threadIdx.x >= n)
		return; /* case (d) */
	__syncthreads();
	out[threadIdx.x] = 1.0f;
}

__global__ void foreign_mask(float *out)
{
	out[threadIdx.x] = __shfl_sync(0x1u, 1.0f, 0); /* lane 1 is not in 0x1 */
}

__global__ void split_shuffle(float *out)
{
	float v = threadIdx.x;
	if (threadIdx.x % 32 < 16)
		v = __shfl_xor_sync(0xffffffffu, v, 1);
	else
		v = __shfl_xor_sync(0xffffffffu, v, 2);
	out[threadIdx.x] = v;
}

__global__ void full_shuffle(float *out)
{
	out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, (float)threadIdx.x, 1);
}

__global__ void big_shared(float *out)
{
	RC_DYNAMIC_SHARED(float, s);
	s[threadIdx.x] = 1.0f;
	out[threadIdx.x] = s[threadIdx.x];
}

__global__ void out_of_bounds(float *out)
{
	out[threadIdx.x] = 1.0f; /* launched with more threads than out holds */
}

/* ---------------------------------------------------------------- checks */

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) \
			rc_test_fail(__VA_ARGS__); \
	} while (0)

static void check_indices(void)
{
	const dim3 grid(3, 2, 2), block(4, 3, 2);
	const int n = 12 * 24;
	rc_dev<int> d(n);
	RC_LAUNCH(indices, grid, block, 0, NULL, d.p);
	std::vector<int> h(n);
	cudaMemcpy(h.data(), d.p, n * sizeof(int), cudaMemcpyDeviceToHost);
	for (int i = 0; i < n; i++)
		CHECK(h[i] == i / 24 * 1000 + i % 24, "indices[%d] = %d", i, h[i]);
}

static void check_warp_ops(void)
{
	rc_dev<int> d(8 * 64);
	RC_LAUNCH(warp_ops, 1, 64, 0, NULL, d.p);
	CHECK(cudaGetLastError() == cudaSuccess, "warp_ops: %s", rc_emu_last_error());
	std::vector<int> h(8 * 64);
	cudaMemcpy(h.data(), d.p, h.size() * sizeof(int), cudaMemcpyDeviceToHost);
	unsigned ballot = 0;
	for (int l = 0; l < 32; l += 3)
		ballot |= 1u << l;
	for (int t = 0; t < 64; t++) {
		const int l = t % 32, *o = &h[8 * t];
		const int up = l % 8 >= 2 ? l - 2 : l, down = l + 3 < 32 ? l + 3 : l;
		const int x = l < 16 ? l ^ 1 : l ^ 2;
		CHECK(o[0] == 30 && o[1] == up && o[2] == down && o[3] == (l ^ 5) &&
				(unsigned)o[4] == ballot && o[5] == 1 && o[6] == 496 - 0 && o[7] == x,
			"warp_ops lane %d: %d %d %d %d %x %d %d %d", l, o[0], o[1], o[2], o[3], o[4],
			o[5], o[6], o[7]);
	}
}

static void check_barriers(void)
{
	rc_dev<int> d(96);
	RC_LAUNCH(barriers, 1, 96, 0, NULL, d.p);
	std::vector<int> h(96);
	cudaMemcpy(h.data(), d.p, h.size() * sizeof(int), cudaMemcpyDeviceToHost);
	for (int t = 0; t < 96; t++)
		CHECK(h[t] == 24 * 100 + 10 + 1, "barriers[%d] = %d", t, h[t]);
}

static void check_atomics(void)
{
	rc_dev<float> f(1);
	rc_dev<int> i(4);
	rc_dev<unsigned> u(2);
	rc_dev<double> d(1);
	cudaMemset(f.p, 0, sizeof(float));
	cudaMemset(i.p, 0, 4 * sizeof(int));
	cudaMemset(u.p, 0, 2 * sizeof(unsigned));
	cudaMemset(d.p, 0, sizeof(double));
	RC_LAUNCH(atomics, 4, 64, 0, NULL, f.p, i.p, u.p, d.p);
	float hf;
	int hi[4];
	unsigned hu[2];
	double hd;
	cudaMemcpy(&hf, f.p, sizeof hf, cudaMemcpyDeviceToHost);
	cudaMemcpy(hi, i.p, sizeof hi, cudaMemcpyDeviceToHost);
	cudaMemcpy(hu, u.p, sizeof hu, cudaMemcpyDeviceToHost);
	cudaMemcpy(&hd, d.p, sizeof hd, cudaMemcpyDeviceToHost);
	CHECK(hf == 128.0f && hi[0] == 256 && hi[1] == 63 && hi[2] == -63 && hu[0] == 512 &&
			hd == 64.0 && hu[1] == 7,
		"atomics: %g %d %d %d %u %g %u", hf, hi[0], hi[1], hi[2], hu[0], hd, hu[1]);
	/* the CAS chain advances only in thread order within a block */
	CHECK(hi[3] >= 1, "atomicCAS: %d", hi[3]);
}

static void check_block_order(void)
{
	for (const rc_test_order &o : rc_test_orders()) {
		rc_test_set_order(o);
		rc_dev<int> d(1 + 16);
		cudaMemset(d.p, 0, sizeof(int));
		RC_LAUNCH(block_order, 16, 32, 0, NULL, d.p);
		std::vector<int> h(17);
		cudaMemcpy(h.data(), d.p, h.size() * sizeof(int), cudaMemcpyDeviceToHost);
		int seen = 0, inorder = 1, reversed = 1;
		for (int k = 0; k < 16; k++) {
			seen |= 1 << h[1 + k];
			inorder &= h[1 + k] == k;
			reversed &= h[1 + k] == 15 - k;
		}
		CHECK(h[0] == 16 && seen == 0xffff, "block order %s: not every block ran", o.name);
		CHECK(o.mode != RC_EMU_FORWARD || inorder, "forward block order is not 0..15");
		CHECK(o.mode != RC_EMU_REVERSE || reversed, "reverse block order is not 15..0");
		CHECK(o.mode != RC_EMU_RANDOM || (!inorder && !reversed), "random block order is not");
	}
	rc_test_set_order(rc_test_orders()[0]);
}

/* expect_error - the last launch failed with a message holding each of
 * the strings. */
static void expect_error(const char *what, long before, std::vector<std::string> parts)
{
	const cudaError_t e = cudaGetLastError();
	std::string msg = rc_emu_last_error();
	/* file names as the build spelled them: keep the last component */
	for (size_t i; (i = msg.find("/test_emu.cc")) != std::string::npos;) {
		size_t j = msg.rfind(' ', i);
		msg.erase(j + 1, i + 1 - (j + 1));
	}
	CHECK(e == cudaErrorLaunchFailure && rc_emu_errors() == before + 1,
		"%s: not detected (%s, %ld errors)", what, cudaGetErrorName(e), rc_emu_errors() - before);
	for (const std::string &p : parts)
		CHECK(msg.find(p) != std::string::npos, "%s: the report lacks \"%s\": %s", what,
			p.c_str(), msg.c_str());
	if (!rc_test_failures)
		printf("test_emu: %s: caught\n", what);
}

static std::string at(int line)
{
	return "test_emu.cc:" + std::to_string(line);
}

/* (a): the harness runs every order; the order-dependent result fails. */
static void check_missing_barrier(void)
{
	const int n = 128, nb = 3;
	std::vector<float> in = rc_test_random(n * nb, -1.0f, 1.0f, 9);
	rc_dev<float> din(n * nb), dout(nb);
	rc_test_upload(din.p, in, RC_CUDA_F32);
	std::vector<float> ref(nb);
	for (int b = 0; b < nb; b++) {
		double s = 0;
		for (int t = 0; t < n; t++)
			s += in[b * n + t];
		ref[b] = (float)s;
	}
	const long before = rc_test_failures;
	int wrong[2] = { 0, 0 };
	for (int good = 0; good < 2; good++)
		for (const rc_test_order &o : rc_test_orders()) {
			rc_test_set_order(o);
			if (good)
				RC_LAUNCH(tree_sum<true>, nb, n, n * sizeof(float), NULL, dout.p, din.p);
			else
				RC_LAUNCH(tree_sum<false>, nb, n, n * sizeof(float), NULL, dout.p, din.p);
			CHECK(cudaGetLastError() == cudaSuccess, "tree_sum: %s", rc_emu_last_error());
			std::vector<float> got = rc_test_download(dout.p, nb, RC_CUDA_F32);
			bool ok = true;
			for (int b = 0; b < nb; b++)
				ok &= fabsf(got[b] - ref[b]) <= 1e-4f;
			printf("test_emu: tree_sum %s barriers, %s order: %s (block 0: %g, expected %g)\n",
				good ? "with" : "without", o.name, ok ? "right" : "wrong", got[0], ref[0]);
			if (!ok) {
				wrong[good]++;
				CHECK(!good, "tree_sum with barriers is wrong in the %s order", o.name);
				CHECK(o.mode != RC_EMU_REVERSE, "reverse order: expected right (a tree "
					"reduction reads higher threads, which ran first)");
			} else {
				CHECK(good || o.mode == RC_EMU_REVERSE, "tree_sum without barriers is right in "
					"the %s order: the missing barrier goes unseen", o.name);
			}
		}
	CHECK(wrong[0] == 2 && wrong[1] == 0, "missing barrier: wrong in %d orders (expected 2)",
		wrong[0]);
	if (rc_test_failures == before)
		printf("test_emu: (a) missing __syncthreads: caught (wrong in 2 of 3 orders)\n");
	rc_test_set_order(rc_test_orders()[0]);
}

/* (e): a warp runs ahead through its shuffles to the second sum. */
static void check_reuse_race(void)
{
	const int n = 128;
	std::vector<float> in = rc_test_random(n, 0.0f, 1.0f, 11);
	double sum = 0;
	for (float x : in)
		sum += x;
	rc_dev<float> din(n), dout(2 * n);
	rc_test_upload(din.p, in, RC_CUDA_F32);
	const long before = rc_test_failures;
	for (int guard = 0; guard < 2; guard++)
		for (const rc_test_order &o : rc_test_orders()) {
			rc_test_set_order(o);
			RC_LAUNCH(reuse_shared, 1, n, 0, NULL, dout.p, din.p, guard);
			std::vector<float> got = rc_test_download(dout.p, 2 * n, RC_CUDA_F32);
			bool ok = true;
			for (int t = 0; t < n; t++)
				ok &= fabs(got[t] - sum) <= 1e-4 && fabs(got[n + t] - 2 * sum) <= 2e-4;
			printf("test_emu: reuse_shared %s the barrier, %s order: %s\n",
				guard ? "with" : "without", o.name, ok ? "right" : "wrong");
			if (guard)
				CHECK(ok, "reuse_shared with the barrier is wrong in the %s order", o.name);
			else if (o.mode != RC_EMU_RANDOM) /* a run-ahead warp, either end first */
				CHECK(!ok, "reuse_shared without the barrier is right in the %s order: "
					"the race goes unseen", o.name);
		}
	if (rc_test_failures == before)
		printf("test_emu: (e) shared memory reused without a barrier: caught\n");
	rc_test_set_order(rc_test_orders()[0]);
}

static void check_detections(void)
{
	rc_dev<float> d(128);
	long e = rc_emu_errors();
	RC_LAUNCH(half_warp_shuffle, 1, 64, 0, NULL, d.p);
	expect_error("(b) full-mask shuffle by half a warp", e,
		{ "half_warp_shuffle", "__shfl_xor_sync at " + at(half_line), "mask 0xffffffff",
			"lanes 0-15 of warp 0", "lanes 16-31 exited" });

	e = rc_emu_errors();
	RC_LAUNCH(sync_in_branch, 2, 64, 0, NULL, d.p);
	expect_error("(c) __syncthreads in a branch", e,
		{ "sync_in_branch", "block (0,0,0)", "different barriers",
			"threads 0-31 at " + at(branch_line), "threads 32-63 at " + at(branch_line + 1) });

	e = rc_emu_errors();
	RC_LAUNCH(early_return, 1, 64, 0, NULL, d.p, 40);
	expect_error("(d) return before a barrier", e,
		{ "early_return", "threads 40-63 exited while threads 0-39 wait at __syncthreads at " +
			at(return_line) });

	e = rc_emu_errors();
	RC_LAUNCH(foreign_mask, 1, 32, 0, NULL, d.p);
	expect_error("a mask without the caller's lane", e,
		{ "foreign_mask", "thread 1 (lane 1)", "mask 0x00000001" });

	e = rc_emu_errors();
	RC_LAUNCH(split_shuffle, 1, 32, 0, NULL, d.p);
	expect_error("lanes at different shuffles", e,
		{ "split_shuffle", "lanes 0-15 of warp 0", "lanes 16-31 wait at __shfl_xor_sync" });

	e = rc_emu_errors();
	RC_LAUNCH(full_shuffle, 1, 48, 0, NULL, d.p); /* warp 1 has 16 lanes */
	expect_error("a full mask in a partial warp", e,
		{ "lanes 0-15 of warp 1 (threads 32-47)", "lanes 16-31 do not exist (the block has 48 threads)" });

	e = rc_emu_errors();
	RC_LAUNCH(indices, 1, 1025, 0, NULL, (int *)d.p);
	CHECK(cudaGetLastError() == cudaErrorInvalidConfiguration && rc_emu_errors() == e + 1,
		"a block of 1025 threads was launched");

	e = rc_emu_errors();
	rc_dev<float> big(64);
	RC_LAUNCH(big_shared, 1, 64, 64 << 10, NULL, big.p);
	CHECK(cudaGetLastError() == cudaErrorInvalidValue && rc_emu_errors() == e + 1,
		"64 KiB of dynamic shared memory without cudaFuncSetAttribute was launched");
	cudaFuncSetAttribute(reinterpret_cast<const void *>(&big_shared),
		cudaFuncAttributeMaxDynamicSharedMemorySize, 64 << 10);
	RC_LAUNCH(big_shared, 1, 64, 64 << 10, NULL, big.p);
	CHECK(cudaGetLastError() == cudaSuccess, "64 KiB after cudaFuncSetAttribute: %s",
		rc_emu_last_error());

	/* after all that, launches work again */
	check_warp_ops();
}

#if defined(__SANITIZE_ADDRESS__)
/* Under ASan, an out-of-bounds write of an emulated kernel is reported:
 * run one in a child process and read its report. */
static void check_asan(void)
{
	fflush(NULL);
	int fd[2];
	if (pipe(fd) < 0)
		return rc_test_fail("pipe: %s", strerror(errno));
	const pid_t pid = fork();
	if (pid == 0) {
		dup2(fd[1], 2);
		rc_dev<float> d(40);
		RC_LAUNCH(out_of_bounds, 1, 64, 0, NULL, d.p);
		_exit(0);
	}
	close(fd[1]);
	std::string text;
	char buf[4096];
	for (ssize_t k; (k = read(fd[0], buf, sizeof buf)) > 0;)
		text.append(buf, (size_t)k);
	close(fd[0]);
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0) &&
			text.find("heap-buffer-overflow") != std::string::npos &&
			text.find("WRITE of size 4") != std::string::npos,
		"an out-of-bounds write under ASan went unreported:\n%s", text.c_str());
	if (!rc_test_failures)
		printf("test_emu: an out-of-bounds global write under ASan: caught\n");
}
#else
static void check_asan(void)
{
	printf("test_emu: not built with ASan: the out-of-bounds check runs in the sanitizer "
		"build\n");
}
#endif

int main(void)
{
	rc_test_start("test_emu");
	check_indices();
	check_warp_ops();
	check_barriers();
	check_atomics();
	check_block_order();
	check_missing_barrier();
	check_reuse_race();
	check_detections();
	check_asan();
	return rc_test_end();
}

#endif
