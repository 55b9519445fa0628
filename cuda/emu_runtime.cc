/* emu_runtime.cc - the CUDA runtime calls that kernel host code makes,
 * for the emulation (cuda/emu.h): device memory is host memory, launches
 * run synchronously (emu.cc), streams exist only as names. */
#include "cuda/emu.h"

#include <stdlib.h>
#include <string.h>

extern "C" {

cudaError_t cudaMalloc(void **p, size_t n)
{
	if (!p)
		return cudaErrorInvalidValue;
	/* an exact heap block, so that ASan sees accesses past its end */
	if (posix_memalign(p, 256, n ? n : 1))
		return *p = nullptr, cudaErrorMemoryAllocation;
	memset(*p, 0xff, n); /* cudaMalloc does not clear */
	return cudaSuccess;
}

cudaError_t cudaFree(void *p)
{
	free(p);
	return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind)
{
	(void)kind;
	if (n)
		memmove(dst, src, n);
	return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, enum cudaMemcpyKind kind,
	cudaStream_t s)
{
	(void)s;
	return cudaMemcpy(dst, src, n, kind);
}

cudaError_t cudaMemset(void *p, int v, size_t n)
{
	if (n)
		memset(p, v, n);
	return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *p, int v, size_t n, cudaStream_t s)
{
	(void)s;
	return cudaMemset(p, v, n);
}

cudaError_t cudaGetLastError(void)
{
	return rc_emu::launch_error(true);
}

cudaError_t cudaPeekAtLastError(void)
{
	return rc_emu::launch_error(false);
}

const char *cudaGetErrorName(cudaError_t e)
{
	switch (e) {
	case cudaSuccess: return "cudaSuccess";
	case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
	case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
	case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
	case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
	default: return "cudaErrorUnknown";
	}
}

const char *cudaGetErrorString(cudaError_t e)
{
	switch (e) {
	case cudaSuccess: return "no error";
	case cudaErrorInvalidValue: return "invalid argument";
	case cudaErrorMemoryAllocation: return "out of memory";
	case cudaErrorInvalidConfiguration: return "invalid configuration argument";
	case cudaErrorLaunchFailure: return "unspecified launch failure (emulation error)";
	default: return "unknown error";
	}
}

cudaError_t cudaStreamCreate(cudaStream_t *s)
{
	static int token;
	*s = (cudaStream_t)&token;
	return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t s)
{
	(void)s;
	return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t s)
{
	(void)s;
	return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned flags)
{
	(void)flags;
	return cudaStreamCreate(s);
}

/* Events: the launches and copies run when they are made, so an event is
 * always complete and a wait on one has nothing to wait for. */
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *e, unsigned flags)
{
	static int token;
	(void)flags;
	*e = (cudaEvent_t)&token;
	return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t e)
{
	(void)e;
	return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s)
{
	(void)e, (void)s;
	return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t e)
{
	(void)e;
	return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags)
{
	(void)s, (void)e, (void)flags;
	return cudaSuccess;
}

/* page-locked host memory is host memory */
cudaError_t cudaMallocHost(void **p, size_t n)
{
	if (!p)
		return cudaErrorInvalidValue;
	return (*p = malloc(n ? n : 1)) ? cudaSuccess : cudaErrorMemoryAllocation;
}

cudaError_t cudaFreeHost(void *p)
{
	free(p);
	return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize(void)
{
	return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int *n)
{
	*n = 1;
	return cudaSuccess;
}

cudaError_t cudaSetDevice(int d)
{
	return d == 0 ? cudaSuccess : cudaErrorInvalidDevice;
}

cudaError_t cudaGetDevice(int *d)
{
	*d = 0;
	return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void *fn, enum cudaFuncAttribute attr, int v)
{
	if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize)
		return cudaSuccess;
	if (v < 0 || v > 227 << 10) /* an H100's most per block */
		return cudaErrorInvalidValue;
	rc_emu::set_max_shared(fn, v);
	return cudaSuccess;
}

} // extern "C"
