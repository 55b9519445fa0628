/* comm_nccl.h - the training communicator on NCCL (train.h's struct
 * rc_train_comm with device_memory set): the embeddings' all-gather and
 * the gradients' all-reduce run between the GPUs on their own memory, one
 * process per GPU. The few small host collectives of a step (the heads'
 * two loss sums, the stop flag) stay with the communicator the processes
 * were launched with (MPI), which also carries NCCL's unique id.
 *
 *     unsigned char id[RC_NCCL_ID_BYTES];
 *     if (rank == 0 && rc_nccl_unique_id(id) < 0) ...         // logged
 *     MPI_Bcast(id, RC_NCCL_ID_BYTES, MPI_BYTE, 0, MPI_COMM_WORLD);
 *     struct rc_nccl *nc;
 *     rc_nccl_new(&nc, rank, size, gpu, id);
 *     struct rc_train_comm comm;
 *     rc_nccl_comm(nc, &mpi_comm, &comm);
 *     rc_train_run(&opts, &comm, &res);
 *     rc_nccl_free(nc);
 *
 * Ordering: a collective waits for the work queued on the device before
 * it (it synchronises the device, then runs on the communicator's own
 * stream and waits for it), so it needs nothing from the backend's
 * streams. The exception is the gradients' sum during the backward
 * (allreduce_queued, rc_backend_backward_reduce): each tower's piece is
 * summed on the communicator's stream behind an event on the backend's,
 * while the backend's stream goes on, and the backend's stream waits for
 * the sums before the gradient norm reads them.
 */
#ifndef RCLIP_COMM_NCCL_H
#define RCLIP_COMM_NCCL_H

#include "train/train.h"

#define RC_NCCL_ID_BYTES 128   /* NCCL_UNIQUE_ID_BYTES */

struct rc_nccl;

/* rc_nccl_unique_id - a new NCCL unique id (rank 0 makes it; every rank
 * gets a copy from the launcher's communicator). Returns 0 or
 * RC_E_UNSUPPORTED (NCCL or the driver failed), logged. */
int rc_nccl_unique_id(unsigned char id[RC_NCCL_ID_BYTES]);

/* rc_nccl_new - this process's member, rank of size, on GPU gpu. Every
 * rank must call it (NCCL's initialisation is collective). Returns 0 and
 * *out (free with rc_nccl_free), or RC_E_UNSUPPORTED (no such GPU, NCCL
 * failed) or RC_E_NOMEM, logged. */
int rc_nccl_new(struct rc_nccl **out, int rank, int size, int gpu,
	const unsigned char id[RC_NCCL_ID_BYTES]);

/* rc_nccl_free - release n; NULL does nothing. */
void rc_nccl_free(struct rc_nccl *n);

/* rc_nccl_comm - *out: a communicator whose float collectives are n's
 * (device memory) and whose double sum and max are host's (host memory).
 * n and host must outlive *out. */
void rc_nccl_comm(struct rc_nccl *n, const struct rc_train_comm *host,
	struct rc_train_comm *out);

#endif
