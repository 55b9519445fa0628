/* thread.c - thread counts and chunking of thread.h. Compiles with and
 * without OpenMP (_OPENMP is defined by -fopenmp).
 */
#include "base/thread.h"

#include <stdlib.h>

#include <sched.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

int rc_thread_count(int requested)
{
	if (requested > 0)
		return requested;
	/* An explicit OMP_NUM_THREADS (its first number) wins over the cores,
	 * as users of OpenMP programs expect. */
	const char *env = getenv("OMP_NUM_THREADS");
	if (env && *env) {
		char *end;
		long v = strtol(env, &end, 10);
		if (end != env && v > 0 && v <= 4096)
			return (int)v;
	}
#ifdef CPU_COUNT
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0) {
		int n = CPU_COUNT(&set);
		if (n > 0)
			return n;
	}
#endif
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

int rc_thread_set(int requested)
{
#ifdef _OPENMP
	int n = rc_thread_count(requested);
	omp_set_num_threads(n);
	return n;
#else
	(void)requested;
	return 1;
#endif
}

int rc_thread_max(void)
{
#ifdef _OPENMP
	return omp_get_max_threads();
#else
	return 1;
#endif
}

int rc_thread_num(void)
{
#ifdef _OPENMP
	return omp_get_num_threads();
#else
	return 1;
#endif
}

int rc_thread_id(void)
{
#ifdef _OPENMP
	return omp_get_thread_num();
#else
	return 0;
#endif
}

void rc_thread_chunk(size_t n, int nchunks, int i, size_t *begin, size_t *end)
{
	size_t k = nchunks > 0 ? (size_t)nchunks : 1;
	if (i < 0 || (size_t)i >= k) {
		*begin = *end = n;
		return;
	}
	size_t base = n / k, extra = n % k, ui = (size_t)i;
	*begin = ui * base + (ui < extra ? ui : extra);
	*end = *begin + base + (ui < extra ? 1 : 0);
}
