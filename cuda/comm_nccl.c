/* comm_nccl.c - the NCCL communicator (comm_nccl.h): all-gather and
 * all-reduce of fp32 device memory between one process per GPU. */
#include "cuda/comm_nccl.h"

#include <cuda_runtime_api.h>
/* nccl.h declares some functions as f() */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <nccl.h>
#pragma GCC diagnostic pop
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/io.h"
#include "base/log.h"

struct rc_nccl {
	ncclComm_t comm;
	cudaStream_t stream;
	cudaEvent_t ev;                 /* the ordering of queued sums (nccl_reduce_queued) */
	int rank, size, gpu;
	const struct rc_train_comm *host;
};

/* nccl_error - log a failed NCCL call: what, and NCCL's reason. */
static int nccl_error(ncclResult_t r, const char *what)
{
	rc_log_error(RC_E_UNSUPPORTED, "NCCL: %s: %s", what, ncclGetErrorString(r));
	if (r == ncclSystemError || r == ncclRemoteError)
		rc_log_hint("NCCL_DEBUG=INFO in the environment makes NCCL say more");
	return RC_E_UNSUPPORTED;
}

static int cuda_error(cudaError_t e, const char *what)
{
	return rc_log_error(e == cudaErrorMemoryAllocation ? RC_E_NOMEM : RC_E_UNSUPPORTED,
		"CUDA: %s: %s", what, cudaGetErrorString(e));
}

int rc_nccl_unique_id(unsigned char id[RC_NCCL_ID_BYTES])
{
	ncclUniqueId u;
	_Static_assert(sizeof u == RC_NCCL_ID_BYTES, "NCCL_UNIQUE_ID_BYTES");
	ncclResult_t r = ncclGetUniqueId(&u);
	if (r != ncclSuccess)
		return nccl_error(r, "ncclGetUniqueId");
	memcpy(id, &u, sizeof u);
	return 0;
}

int rc_nccl_new(struct rc_nccl **out, int rank, int size, int gpu,
	const unsigned char id[RC_NCCL_ID_BYTES])
{
	*out = NULL;
	struct rc_nccl *n = rc_calloc(1, sizeof *n);
	if (!n)
		return RC_E_NOMEM;
	n->rank = rank, n->size = size, n->gpu = gpu;
	cudaError_t e;
	int rc;
	if ((e = cudaSetDevice(gpu)) != cudaSuccess) {
		rc = cuda_error(e, "cudaSetDevice");
		goto fail;
	}
	if ((e = cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking)) != cudaSuccess) {
		rc = cuda_error(e, "cudaStreamCreate");
		goto fail;
	}
	if ((e = cudaEventCreateWithFlags(&n->ev, cudaEventDisableTiming)) != cudaSuccess) {
		rc = cuda_error(e, "cudaEventCreate");
		goto fail;
	}
	ncclUniqueId u;
	memcpy(&u, id, sizeof u);
	ncclResult_t r = ncclCommInitRank(&n->comm, size, u, rank);
	if (r != ncclSuccess) {
		rc = nccl_error(r, "ncclCommInitRank");
		goto fail;
	}
	rc_log_debug("NCCL: rank %d of %d on GPU %d", rank, size, gpu);
	*out = n;
	return 0;
fail:
	rc_nccl_free(n);
	return rc;
}

void rc_nccl_free(struct rc_nccl *n)
{
	if (!n)
		return;
	if (n->comm)
		ncclCommDestroy(n->comm);
	if (n->ev)
		cudaEventDestroy(n->ev);
	if (n->stream)
		cudaStreamDestroy(n->stream);
	free(n);
}

/* run - the device's queued work first, then the collective on the
 * communicator's stream, waited for. */
static int run(struct rc_nccl *n, ncclResult_t r, const char *what)
{
	cudaError_t e;
	if (r != ncclSuccess)
		return nccl_error(r, what);
	if ((e = cudaStreamSynchronize(n->stream)) != cudaSuccess)
		return cuda_error(e, what);
	return 0;
}

static int before(void)
{
	cudaError_t e = cudaDeviceSynchronize();
	return e == cudaSuccess ? 0 : cuda_error(e, "cudaDeviceSynchronize");
}

static int nccl_gather(void *ctx, const float *local, size_t n, float *global)
{
	struct rc_nccl *c = ctx;
	int rc = before();
	return rc < 0 ? rc : run(c, ncclAllGather(local, global, n, ncclFloat32, c->comm,
		c->stream), "ncclAllGather");
}

static int nccl_reduce(void *ctx, float *buf, size_t n)
{
	struct rc_nccl *c = ctx;
	int rc = before();
	return rc < 0 ? rc : run(c, ncclAllReduce(buf, buf, n, ncclFloat32, ncclSum, c->comm,
		c->stream), "ncclAllReduce");
}

/* nccl_reduce_queued - the sum on the communicator's stream after the
 * work queued on queue so far (an event between the two streams, no
 * wait on the host), so that it runs while queue goes on with the
 * backward; buf NULL: queue waits for every sum queued so far. */
static int nccl_reduce_queued(void *ctx, float *buf, size_t n, void *queue)
{
	struct rc_nccl *c = ctx;
	cudaStream_t q = queue;
	cudaStream_t from = buf ? q : c->stream, to = buf ? c->stream : q;
	cudaError_t e;
	if ((e = cudaEventRecord(c->ev, from)) != cudaSuccess ||
	    (e = cudaStreamWaitEvent(to, c->ev, 0)) != cudaSuccess)
		return cuda_error(e, "ordering the gradients' sum");
	if (!buf)
		return 0;
	ncclResult_t r = ncclAllReduce(buf, buf, n, ncclFloat32, ncclSum, c->comm, c->stream);
	return r == ncclSuccess ? 0 : nccl_error(r, "ncclAllReduce");
}

static int host_reduce_d(void *ctx, double *buf, size_t n)
{
	const struct rc_nccl *c = ctx;
	return c->host->allreduce_d(c->host->ctx, buf, n);
}

static int host_max(void *ctx, int x)
{
	const struct rc_nccl *c = ctx;
	return c->host->allmax(c->host->ctx, x);
}

void rc_nccl_comm(struct rc_nccl *n, const struct rc_train_comm *host,
	struct rc_train_comm *out)
{
	n->host = host;
	*out = (struct rc_train_comm){
		.rank = n->rank, .size = n->size, .ctx = n, .device_memory = 1,
		.allgather = nccl_gather, .allreduce = nccl_reduce,
		.allreduce_queued = nccl_reduce_queued,
		.allreduce_d = host_reduce_d, .allmax = host_max,
	};
}
