/* train-emu.c - the training job (rc_train_run) for the CUDA backend's
 * whole-job tests: linked with the emulated backend as tests/cuda/train-emu
 * (every kernel on the CPU, cuda/emu.h: tests/cuda/train-emu.sh), and with
 * the real one as tests/cuda/train-gpu (on a GPU: train-gpu.sh). A test
 * driver, not a tool: a few options in a fixed order.
 *
 * usage: train-emu DEVICE PRECISION STAGE INIT DATA OUT STEPS [STOP]
 *        train-emu DEVICE PRECISION resume DIR
 * DEVICE cpu or cuda; PRECISION fp32 or bf16; STOP: stop after the
 * checkpoint of that step (checkpoints every STOP steps), as a SIGTERM
 * would. Exit 0 finished, 3 stopped, 1 failed, 77 without the CUDA
 * backend in this build or a device to run it on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "base/log.h"
#include "model/backend.h"
#include "train/train.h"

static long stop_at = -1;

static void on_checkpoint(void *ctx, long step, const char *path)
{
	if (step == stop_at)
		rc_train_request(1);
}

int main(int argc, char **argv)
{
	rc_log_init("train-emu");
	rc_log_set_level(RC_LOG_WARN);
#ifndef HAVE_CUDA
	if (argc > 1 && !strcmp(argv[1], "cuda")) {
		fprintf(stderr, "train-emu: built without the CUDA backend (no nvcc)\n");
		return 77;
	}
#endif
	struct rc_train_opts o;
	rc_train_opts_default(&o);
	if (argc < 5 || rc_device_parse(argv[1], &o.device) < 0 ||
	    rc_precision_parse(argv[2], &o.device) < 0) {
		fprintf(stderr, "usage: train-emu DEVICE PRECISION STAGE INIT DATA OUT STEPS [STOP]\n"
			"       train-emu DEVICE PRECISION resume DIR\n");
		return 2;
	}
	o.threads = 1;
	if (o.device.kind == RC_BACKEND_CUDA && rc_device_check(&o.device) < 0)
		return 77;
	if (!strcmp(argv[3], "resume")) {
		o.resume = argv[4];
	} else {
		if (argc < 8)
			return 2;
		o.stage = atoi(argv[3]), o.init = argv[4], o.data = argv[5], o.out = argv[6];
		o.steps = atol(argv[7]);
		o.batch = 8, o.shuffle = 0, o.lr = 1e-3, o.wd = 0.05, o.warmup = 0.4;
		/* LOSS=siglip: SigLIP's loss (a SigLIP model's run) */
		const char *loss = getenv("LOSS");
		if (loss && !strcmp(loss, "siglip"))
			o.loss = RC_TRAIN_LOSS_SIGLIP;
		if (o.stage == 2)
			o.gamma = 0.5;
		if (argc > 8) {
			stop_at = atol(argv[8]);
			o.save_every = stop_at;
			o.on_checkpoint = on_checkpoint;
		}
	}
	struct rc_train_result res;
	int rc = rc_train_run(&o, NULL, &res);
	return rc < 0 ? 1 : res.stopped ? 3 : 0;
}
