/* emu.cc - the scheduler of the CUDA emulation (cuda/emu.h); the runtime
 * calls kernel host code makes are in emu_runtime.cc. One fiber per
 * thread of the running block; the scheduler (on the caller's own stack)
 * resumes runnable fibers in the chosen order, completes warp collectives
 * as their lanes arrive and, when no fiber can run, releases the block
 * barrier or reports why nothing can complete. */
#include "cuda/emu.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define RC_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RC_EMU_ASAN 1
#endif
#endif
#ifdef RC_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

namespace rc_emu {
namespace {

enum State { RUN, WAIT, DONE };

struct Fiber {
	ucontext_t ctx;
	char *stack = nullptr; /* usable part, above a guard page */
	void *fake = nullptr;  /* ASan's fake stack while switched out */
	int state = DONE;
	const char *file = "";
	int line = 0, kind = 0, arg = 0, width = 0;
	unsigned mask = 0;
	uint64_t in = 0, out = 0;
};

struct Emu {
	std::vector<Fiber> f;
	int n = 0, cur = -1;             /* threads of the block; the running one */
	size_t stack_size = 0;
	ucontext_t main;
	const void *main_bottom = nullptr;
	size_t main_size = 0;
	int order = RC_EMU_FORWARD, border = RC_EMU_FORWARD;
	uint64_t rng = 0x9e3779b97f4a7c15ull;
	bool configured = false, quiet = false;
	const char *kernel = "", *kfile = "";
	int kline = 0;
	const std::function<void()> *body = nullptr;
	bool failed = false;             /* the running launch hit an error */
	long errors = 0;
	std::string last;
	cudaError_t pending = cudaSuccess; /* for cudaGetLastError */
	unsigned char *dyn = nullptr;
	size_t dyn_bytes = 0;
	std::map<const void *, int> max_dyn; /* cudaFuncSetAttribute */
};
Emu g;

const char *const coll_name[] = {
	"__shfl_sync", "__shfl_up_sync", "__shfl_down_sync", "__shfl_xor_sync",
	"__ballot_sync", "__any_sync", "__all_sync", "__syncwarp", "__reduce_add_sync",
	"__reduce_min_sync", "__reduce_max_sync", "__syncthreads", "__syncthreads_count",
	"__syncthreads_and", "__syncthreads_or",
};

uint64_t next_random(void)
{
	uint64_t z = (g.rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* order - a permutation of 0..n-1 in mode m. */
void order(std::vector<int> &p, int n, int m)
{
	p.resize(n);
	for (int i = 0; i < n; i++)
		p[i] = m == RC_EMU_REVERSE ? n - 1 - i : i;
	if (m == RC_EMU_RANDOM)
		for (int i = n - 1; i > 0; i--)
			std::swap(p[i], p[next_random() % (uint64_t)(i + 1)]);
}

int parse_order(const char *s)
{
	if (!s || !strcmp(s, "forward"))
		return RC_EMU_FORWARD;
	if (!strcmp(s, "reverse"))
		return RC_EMU_REVERSE;
	if (!strcmp(s, "random"))
		return RC_EMU_RANDOM;
	fprintf(stderr, "rc_emu: RC_EMU_ORDER=%s: not forward, reverse or random\n", s);
	abort();
}

void configure(void)
{
	if (g.configured)
		return;
	g.configured = true;
	g.order = g.border = parse_order(getenv("RC_EMU_ORDER"));
	if (const char *s = getenv("RC_EMU_SEED"))
		g.rng = strtoull(s, nullptr, 0);
}

/* ranges - "0-15, 17" for a sorted list of thread indices. */
std::string ranges(const std::vector<int> &t)
{
	std::string s;
	char buf[48];
	for (size_t i = 0; i < t.size();) {
		size_t j = i;
		while (j + 1 < t.size() && t[j + 1] == t[j] + 1)
			j++;
		snprintf(buf, sizeof buf, j > i ? "%s%d-%d" : "%s%d", s.empty() ? "" : ", ", t[i],
			t[j]);
		s += buf;
		i = j + 1;
	}
	return s;
}

/* report - record an error of the running launch and print it. */
void report(const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	char head[256];
	snprintf(head, sizeof head, "kernel %s (launched at %s:%d) block (%u,%u,%u): ", g.kernel,
		g.kfile, g.kline, blockIdx.x, blockIdx.y, blockIdx.z);
	g.last = std::string(head) + msg;
	g.errors++;
	g.failed = true;
	if (!g.quiet)
		fprintf(stderr, "rc_emu: error: %s\n", g.last.c_str());
}

void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(fmt, ap);
	va_end(ap);
}

void set_thread_index(int t)
{
	threadIdx.x = t % blockDim.x;
	threadIdx.y = t / blockDim.x % blockDim.y;
	threadIdx.z = t / (blockDim.x * blockDim.y);
}

/* ---------------------------------------------------------------- fibers */

/* to_main - switch from the running fiber to the scheduler; a fiber that
 * ends passes done so that ASan frees its fake stack. */
void to_main(bool done)
{
	Fiber &f = g.f[g.cur];
#ifdef RC_EMU_ASAN
	__sanitizer_start_switch_fiber(done ? nullptr : &f.fake, g.main_bottom, g.main_size);
#endif
	swapcontext(&f.ctx, &g.main);
#ifdef RC_EMU_ASAN
	__sanitizer_finish_switch_fiber(f.fake, &g.main_bottom, &g.main_size);
#endif
	(void)done;
}

void entry(void)
{
#ifdef RC_EMU_ASAN
	__sanitizer_finish_switch_fiber(nullptr, &g.main_bottom, &g.main_size);
#endif
	(*g.body)();
	g.f[g.cur].state = DONE;
	to_main(true);
	abort(); /* a finished fiber is never resumed */
}

void resume(int t)
{
	Fiber &f = g.f[t];
	set_thread_index(t);
	g.cur = t;
#ifdef RC_EMU_ASAN
	void *fake = nullptr;
	__sanitizer_start_switch_fiber(&fake, f.stack, g.stack_size);
#endif
	swapcontext(&g.main, &f.ctx);
#ifdef RC_EMU_ASAN
	__sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
	g.cur = -1;
}

/* start - make fibers 0..n-1 ready to run the body from the top. Stacks
 * are mapped once, with a guard page below each, and reused. */
void start(int n)
{
	if (!g.stack_size) {
		const char *s = getenv("RC_EMU_STACK_KB");
		g.stack_size = (size_t)(s ? atoi(s) : 256) << 10;
	}
	const size_t page = (size_t)sysconf(_SC_PAGESIZE);
	if ((int)g.f.size() < n)
		g.f.resize(n);
	for (int t = 0; t < n; t++) {
		Fiber &f = g.f[t];
		if (!f.stack) {
			void *p = mmap(nullptr, g.stack_size + page, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
			if (p == MAP_FAILED) {
				perror("rc_emu: mmap of a fiber stack");
				abort();
			}
			mprotect(p, page, PROT_NONE);
			f.stack = (char *)p + page;
		}
#ifdef RC_EMU_ASAN
		/* the frames of a fiber abandoned after an error stay poisoned */
		if (f.state != DONE)
			__asan_unpoison_memory_region(f.stack, g.stack_size);
#endif
		getcontext(&f.ctx);
		f.ctx.uc_stack.ss_sp = f.stack;
		f.ctx.uc_stack.ss_size = g.stack_size;
		f.ctx.uc_link = nullptr;
		makecontext(&f.ctx, entry, 0);
		/* ASan's swapcontext clears the shadow of the target's whole
		 * uc_stack at every switch; the annotations above do its work */
		f.ctx.uc_stack.ss_sp = nullptr;
		f.ctx.uc_stack.ss_size = 0;
		f.state = RUN;
		f.fake = nullptr;
	}
	g.n = n;
}

/* ---------------------------------------------------------------- resolution */

/* same - whether lane b can complete a's collective with it. */
bool same(const Fiber &a, const Fiber &b)
{
	return b.state == WAIT && b.kind == a.kind && b.mask == a.mask && b.width == a.width &&
		(a.kind == SYNCWARP || (b.line == a.line && !strcmp(b.file, a.file)));
}

/* source - the lane whose value lane l's shuffle reads (CUDA's rules for
 * width: each segment of width lanes is a warp of its own). */
int source(const Fiber &f, int l)
{
	const int w = f.width, seg = l & ~(w - 1), i = l & (w - 1);
	switch (f.kind) {
	case SHFL_IDX: return seg + (f.arg & (w - 1));
	case SHFL_UP: return i >= f.arg ? l - f.arg : l;
	case SHFL_DOWN: return i + f.arg < w ? l + f.arg : l;
	default: { int s = l ^ f.arg; return (s & ~(w - 1)) == seg ? s : l; }
	}
}

/* complete - the warp collective of lanes mask of warp base/32. */
void complete(int base, unsigned mask)
{
	Fiber &a = g.f[base + __builtin_ctz(mask)];
	unsigned ballot = 0;
	int64_t acc = a.kind == RED_MIN ? INT64_MAX : a.kind == RED_MAX ? INT64_MIN : 0;
	for (int l = 0; l < 32; l++) {
		if (!(mask >> l & 1))
			continue;
		const Fiber &b = g.f[base + l];
		ballot |= (unsigned)(b.in != 0) << l;
		const int64_t v = a.arg ? (int64_t)(int32_t)b.in : (int64_t)(uint32_t)b.in;
		acc = a.kind == RED_MIN ? std::min(acc, v) : a.kind == RED_MAX ? std::max(acc, v)
								  : acc + v;
	}
	for (int l = 0; l < 32; l++) {
		if (!(mask >> l & 1))
			continue;
		Fiber &b = g.f[base + l];
		switch (a.kind) {
		case SHFL_IDX: case SHFL_UP: case SHFL_DOWN: case SHFL_XOR: {
			const int s = source(b, l);
			b.out = mask >> s & 1 ? g.f[base + s].in : ~(uint64_t)0;
			break;
		}
		case BALLOT: b.out = ballot; break;
		case ANY: b.out = ballot != 0; break;
		case ALL: b.out = ballot == mask; break;
		case RED_ADD: case RED_MIN: case RED_MAX: b.out = (uint32_t)acc; break;
		default: break;
		}
		b.state = RUN;
	}
}

/* arrive - thread t waits at a warp collective: complete it if it was
 * the last lane to arrive. Returns whether it completed. */
bool arrive(int t)
{
	const Fiber &a = g.f[t];
	const int base = t & ~31;
	for (int l = 0; l < 32; l++)
		if (a.mask >> l & 1 && !(base + l < g.n && same(a, g.f[base + l])))
			return false;
	complete(base, a.mask);
	return true;
}

/* stuck - report the first warp collective that cannot complete, and
 * what the lanes it waits for do instead. */
void stuck(void)
{
	for (int t = 0; t < g.n; t++) {
		const Fiber &a = g.f[t];
		if (a.state != WAIT || a.kind >= BARRIER)
			continue;
		const int base = t & ~31;
		std::vector<int> waiting;
		std::map<std::string, std::vector<int>> other; /* what they do: lanes */
		for (int l = 0; l < 32; l++) {
			if (!(a.mask >> l & 1))
				continue;
			char w[256];
			if (base + l >= g.n) {
				snprintf(w, sizeof w, "do not exist (the block has %d threads)", g.n);
			} else if (same(a, g.f[base + l])) {
				waiting.push_back(l);
				continue;
			} else {
				const Fiber &b = g.f[base + l];
				if (b.state == DONE)
					snprintf(w, sizeof w, "exited");
				else if (b.kind < BARRIER && b.kind == a.kind && b.line == a.line)
					snprintf(w, sizeof w, "wait there with mask 0x%08x", b.mask);
				else
					snprintf(w, sizeof w, "wait at %s at %s:%d", coll_name[b.kind], b.file,
						b.line);
			}
			other[w].push_back(l);
		}
		std::string why;
		for (auto &o : other)
			why += "; lanes " + ranges(o.second) + " " + o.first;
		error("%s at %s:%d with mask 0x%08x: lanes %s of warp %d (threads %d-%d) wait for "
			"lanes that never arrive%s", coll_name[a.kind], a.file, a.line, a.mask,
			ranges(waiting).c_str(), t / 32, base, std::min(base + 31, g.n - 1), why.c_str());
		return;
	}
}

/* barrier - all threads that have not exited wait at one __syncthreads:
 * release them; anything else is an error. */
void barrier(void)
{
	std::vector<int> exited, first, other;
	const Fiber *a = nullptr;
	for (int t = 0; t < g.n; t++) {
		const Fiber &f = g.f[t];
		if (f.state == DONE) {
			exited.push_back(t);
		} else if (!a || (f.line == a->line && !strcmp(f.file, a->file))) {
			a = a ? a : &f;
			first.push_back(t);
		} else {
			other.push_back(t);
		}
	}
	if (!a)
		return;
	if (!other.empty()) {
		const Fiber &b = g.f[other[0]];
		error("threads wait at different barriers: threads %s at %s:%d, threads %s at %s:%d%s",
			ranges(first).c_str(), a->file, a->line, ranges(other).c_str(), b.file, b.line,
			other.size() > 1 && g.f[other.back()].line != b.line ? " (and others)" : "");
		return;
	}
	if (!exited.empty()) {
		error("threads %s exited while threads %s wait at %s at %s:%d",
			ranges(exited).c_str(), ranges(first).c_str(), coll_name[a->kind], a->file,
			a->line);
		return;
	}
	int count = 0;
	for (int t = 0; t < g.n; t++)
		count += g.f[t].in != 0;
	const int kind = a->kind;
	for (int t = 0; t < g.n; t++) {
		Fiber &f = g.f[t];
		f.out = kind == BAR_COUNT ? count : kind == BAR_AND ? count == g.n : count > 0;
		f.state = RUN;
	}
}

/* run_block - run the threads of one block to their end or to an error.
 * The scheduler always resumes the first runnable thread of the order and
 * completes a warp collective as soon as its last lane arrives, so between
 * block barriers the first warps of the order run ahead of the others as
 * far as they can (a real GPU may run any warp ahead): races between warps
 * across several warp collectives show too, not only within one stretch
 * of code. The random order is drawn again after each barrier. */
void run_block(void)
{
	std::vector<int> p, rank(g.n);
	bool draw = true;
	size_t i = 0;
	for (;;) {
		if (draw) {
			order(p, g.n, g.order);
			for (int k = 0; k < g.n; k++)
				rank[p[k]] = k;
			draw = false;
			i = 0;
		}
		while (i < p.size() && g.f[p[i]].state != RUN)
			i++;
		if (i < p.size()) {
			const int t = p[i];
			resume(t);
			if (g.failed)
				return;
			const Fiber &f = g.f[t];
			if (f.state == WAIT && f.kind < BARRIER && arrive(t))
				for (int l = 0; l < 32; l++) /* the lanes released may come first */
					if (f.mask >> l & 1)
						i = std::min(i, (size_t)rank[(t & ~31) + l]);
			continue;
		}
		bool all_done = true, in_warp = false;
		for (int t = 0; t < g.n; t++) {
			all_done &= g.f[t].state == DONE;
			in_warp |= g.f[t].state == WAIT && g.f[t].kind < BARRIER;
		}
		if (all_done)
			return;
		if (in_warp)
			stuck();
		else
			barrier();
		if (g.failed)
			return;
		draw = true;
	}
}

bool config_ok(const void *fn, dim3 grid, dim3 block, size_t shmem)
{
	const unsigned long long nt = (unsigned long long)block.x * block.y * block.z;
	if (!nt || nt > 1024 || block.x > 1024 || block.y > 1024 || block.z > 64 || !grid.x ||
		!grid.y || !grid.z || grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535) {
		error("invalid launch configuration: grid (%u,%u,%u), block (%u,%u,%u)", grid.x,
			grid.y, grid.z, block.x, block.y, block.z);
		g.pending = cudaErrorInvalidConfiguration;
		return false;
	}
	auto it = g.max_dyn.find(fn);
	const size_t lim = it == g.max_dyn.end() ? 48 << 10 : (size_t)it->second;
	if (shmem > lim) {
		error("%zu bytes of dynamic shared memory, over the limit of %zu%s", shmem, lim,
			it == g.max_dyn.end() ? " (cudaFuncSetAttribute raises it)" : "");
		g.pending = cudaErrorInvalidValue;
		return false;
	}
	return true;
}

} // namespace

/* ---------------------------------------------------------------- emu.h */

uint64_t wait(const char *file, int line, int kind, unsigned mask, uint64_t in, int arg,
	int width)
{
	if (g.cur < 0) {
		fprintf(stderr, "rc_emu: %s at %s:%d called outside a kernel\n", coll_name[kind],
			file, line);
		abort();
	}
	Fiber &f = g.f[g.cur];
	const int lane = g.cur & 31;
	if (kind < BARRIER) {
		if (!(mask >> lane & 1))
			fail("%s at %s:%d: thread %d (lane %d) calls it with mask 0x%08x, which does not "
				"hold its own lane", coll_name[kind], file, line, g.cur, lane, mask);
		if (width < 1 || width > 32 || (width & (width - 1)))
			fail("%s at %s:%d: width %d is not a power of 2 up to 32", coll_name[kind], file,
				line, width);
	}
	f.state = WAIT;
	f.file = file;
	f.line = line;
	f.kind = kind;
	f.mask = mask;
	f.in = in;
	f.arg = arg;
	f.width = width;
	to_main(false);
	return f.out;
}

void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	report(fmt, ap);
	va_end(ap);
	if (g.cur < 0)
		abort();
	to_main(false); /* the scheduler abandons the block: never resumed */
	abort();
}

void *dynamic_shared(void)
{
	return g.dyn;
}

cudaError_t launch_error(bool clear)
{
	const cudaError_t e = g.pending;
	if (clear)
		g.pending = cudaSuccess;
	return e;
}

void set_max_shared(const void *fn, int bytes)
{
	g.max_dyn[fn] = bytes;
}

void launch(const char *name, const char *file, int line, const void *fn, dim3 grid,
	dim3 block, size_t shmem, const std::function<void()> &body)
{
	configure();
	if (g.cur >= 0) {
		fprintf(stderr, "rc_emu: %s launched from inside a kernel\n", name);
		abort();
	}
	g.kernel = name;
	g.kfile = file;
	g.kline = line;
	g.failed = false;
	blockIdx = make_uint3(0, 0, 0);
	if (!config_ok(fn, grid, block, shmem))
		return;
	gridDim = grid;
	blockDim = block;
	g.body = &body;
	g.dyn_bytes = shmem;
	g.dyn = shmem ? (unsigned char *)malloc(shmem) : nullptr;
	const int n = (int)(block.x * block.y * block.z);
	const long nb = (long)grid.x * grid.y * grid.z;
	std::vector<int> p;
	order(p, (int)nb, g.border); /* grids of more than 2^31 blocks: not here */
	for (long k = 0; k < nb && !g.failed; k++) {
		const long b = p[k];
		blockIdx = make_uint3(b % grid.x, b / grid.x % grid.y, b / ((long)grid.x * grid.y));
		if (g.dyn)
			memset(g.dyn, 0xff, shmem);
		start(n);
		run_block();
	}
	free(g.dyn);
	g.dyn = nullptr;
	g.body = nullptr;
	if (g.failed)
		g.pending = cudaErrorLaunchFailure;
}

} // namespace rc_emu

using rc_emu::g;

void rc_emu_set_order(int threads, int blocks, unsigned long long seed)
{
	rc_emu::configure();
	g.order = threads;
	g.border = blocks;
	g.rng = seed;
}

long rc_emu_errors(void)
{
	return g.errors;
}

const char *rc_emu_last_error(void)
{
	return g.last.c_str();
}

void rc_emu_quiet(int on)
{
	g.quiet = on != 0;
}
