/* topk_cpu.h - exact top-k maximum-inner-product search on the CPU: the
 * CPU backend's rc_backend_topk (backend.h, which states the contract),
 * private to it and its tests. */
#ifndef RCLIP_TOPK_CPU_H
#define RCLIP_TOPK_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "model/backend.h"

/* rc_topk_cpu - as rc_backend_topk, on checked arguments (k >= 1, d >= 1,
 * n and q >= 1), with the threads of thread.h. */
int rc_topk_cpu(const float *gallery, size_t n, size_t d, const float *queries, size_t q,
	const struct rc_topk_opts *o, float *score, int64_t *index);

#endif
