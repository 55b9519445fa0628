/* kernels.h - the host launchers of the CUDA kernel families (cuda/NAME.cu),
 * callable from C. Each launcher checks its shapes, sizes the grid,
 * launches on the given stream and checks the launch; the work itself is
 * asynchronous. Each family has a CPU twin in model/ops_cpu.h with the
 * same semantics, and a test (tests/cuda/) that compares the two, through
 * the CUDA emulation (cuda/emu.h) and on a GPU when there is one.
 *
 * Memory: every pointer is device memory, laid out as the CPU twin's
 * (row-major, packed). Activations (inputs, outputs, their gradients) and
 * the weights they meet are of the dtype given; statistics (mean, rstd)
 * and parameter gradients are fp32. Backward launchers ADD into their
 * gradient buffers, as the CPU ops do.
 *
 * Errors: 0, or a negative RC_E_* code, logged: RC_E_ARG for a shape, a
 * pointer or a variant the launcher does not take, RC_E_NOMEM / RC_E_ARG /
 * RC_E_UNSUPPORTED for a launch the runtime refused (common.cuh). A kernel
 * that faults later is reported by the next synchronising call.
 *
 * Variants: each family has kernels of different shapes (a warp per row, a
 * block per row); the plain launcher picks one, the _v launchers run a
 * given one at a given block size (a multiple of 32, at most 1024), for
 * the tests, which check every variant at every block size.
 */
#ifndef RCLIP_CUDA_KERNELS_H
#define RCLIP_CUDA_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct CUstream_st; /* cudaStream_t, without the CUDA headers */

enum rc_cuda_dtype {
	RC_CUDA_F32 = 0,
	RC_CUDA_BF16 = 1,
};

#ifdef __cplusplus
}
#endif

#endif
