/* rclip-train - ReasonCLIP training on the CPU (DESIGN.md §5): stage 0
 * baselines, stage 1 (ReasonLite: weighted descriptive and reasoning
 * streams with an L2 pull toward the start) and stage 2 (ReasonPro:
 * reasoning-category heads), from a model in any format rclip reads, over
 * a shard list, writing checkpoints that resume bit for bit. Under mpirun
 * every rank takes its slice of each batch (data parallelism with MPI).
 * The job itself is common/train/train.c; this file is options, signals,
 * the MPI communicator and the tests' interruption point. */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "base/cli.h"
#include "base/error.h"
#include "train/loader.h"
#include "base/log.h"
#include "base/thread.h"
#include "convert/model_io.h"
#include "model/options.h"
#include "train/train.h"

#ifdef HAVE_MPI
#include <mpi.h>
#endif
#if defined(HAVE_MPI) && defined(HAVE_NCCL)
#include "cuda/comm_nccl.h"
#endif

static const char usage_text[] =
"Usage: rclip-train --stage N --init MODEL --data LIST --out DIR [OPTION]...\n"
"  or:  rclip-train --resume DIR [-j N] [-q|-v]\n"
"Train a CLIP model with the ReasonCLIP recipes on a shard list.\n"
"\n"
"Job:\n"
"      --stage=N           0 one caption stream, 1 ReasonLite (tb + trl),\n"
"                          2 ReasonPro (trp + category heads)\n"
"      --stream=S          stage 0: caption (descriptive shards), tb or trl\n"
"                          (ReasonLite shards; trl also takes ReasonPro shards,\n"
"                          their trp: S0-Rea); default caption\n"
"      --loss=L            clip (default) or siglip (sigmoid, learned bias)\n"
"      --init=MODEL        Hugging Face directory (CLIPModel, or SiglipModel:\n"
"                          SigLIP and SigLIP2, with --loss siglip), open_clip\n"
"                          file or an rclip checkpoint (ckpt-N/final.safetensors)\n"
"      --init-config=CFG   or start from random weights (seeded by --seed) of\n"
"                          a config.json or a built-in name (ViT-B-32,\n"
"                          SigLIP-So400M-14-384, ...)\n"
"      --data=LIST         shard list written by rclip-shard\n"
"      --out=DIR           run directory: checkpoints, metrics.jsonl, final\n"
"      --resume=DIR        continue the run in DIR from its newest checkpoint\n"
"                          (every option comes from the checkpoint, checked as\n"
"                          the command line's; --save-every and --keep too\n"
"                          unless given again)\n"
"\n"
"Schedule:\n"
"      --batch=N           items per micro-batch over all ranks (default 32)\n"
"      --accum=N           micro-batches per optimizer step (default 1)\n"
"      --steps=N           optimizer steps (default: --epochs)\n"
"      --epochs=X          passes over the data (default 1)\n"
"      --seed=N            shuffling, held-out images and head initialisation\n"
"                          (default 0)\n"
"      --shuffle=MODE      perm (default: a permutation of all the items of each\n"
"                          epoch), buffer (a shuffle buffer) or none (dataset\n"
"                          order)\n"
"      --buffer=N          --shuffle buffer's size, items (default 8192)\n"
"      --group=N           shuffle runs of N consecutive records, not items, so\n"
"                          that each run lands in one batch (rclip-synth's\n"
"                          families: its --family); with --shuffle perm only\n"
"      --holdout=F         set aside a fraction F of the images (0.002 in the\n"
"                          official runs; default 0: none)\n"
"      --eval-every=F|N    with --holdout: the held-out loss at each fraction\n"
"                          F < 1 of the steps or every N steps (default 0.25),\n"
"                          the lowest kept as DIR/best.safetensors\n"
"      --gather=MODE       over several ranks: official (default: each rank's\n"
"                          rows against all ranks' embeddings, the others'\n"
"                          held constant) or exact (the whole batch's gradient)\n"
"      --verify            check every shard's xxh3 against the list first\n"
"\n"
"Optimizer (AdamW, Hugging Face's linear warmup and cosine):\n"
"      --lr=X              base learning rate (default 1e-4); groups default to\n"
"                          vision lr/10; text 3lr/10 (stage 2: lr/5);\n"
"                          logit scale lr (stage 0: 5lr); heads 15lr;\n"
"                          projections and logit bias lr\n"
"      --lr-vision=X, --lr-text=X, --lr-proj=X, --lr-scale=X, --lr-heads=X\n"
"                          set one group's learning rate\n"
"      --wd=X              weight decay (default 0.05): projections, logit bias,\n"
"                          heads, and the towers in stages 0 and 2 without --l2\n"
"      --warmup=F          warmup fraction of the steps (default 0.1)\n"
"      --l2=X              beta of the pull toward the start (stage 1: 1e-5)\n"
"      --tb-weights=A,B,C  stage 1's w(p): A to p 0.2, B at 0.8, then C\n"
"                          (default 0.7,0.5,0.6; with --loss siglip 0.6,0.3,0.5)\n"
"      --gamma=X           stage 2 head-loss weight (default 0.05)\n"
"      --clip-norm=X       global gradient-norm clip (default 1; 0 off)\n"
"\n"
"Checkpoints:\n"
"      --save-every=N      write DIR/ckpt-STEP.safetensors every N steps\n"
"      --keep=K            keep the newest K checkpoints (default 3)\n"
"                          SIGTERM/SIGINT: checkpoint, then stop;\n"
"                          SIGUSR1: checkpoint and go on\n"
"\n"
"      --device=DEV        cpu, cuda, cuda:N or auto (default auto: a GPU when\n"
"                          rclip has the CUDA backend and one is present)\n"
"      --precision=P       fp32, bf16 or auto (default: fp32 on the CPU, bf16 on\n"
"                          a GPU)\n"
"      --recompute         on a GPU, keep each transformer block's output only\n"
"                          and run the block again in the backward: less\n"
"                          memory, about a third more compute, the same result\n"
"  -j, --threads=N         threads (default: all cores or OMP_NUM_THREADS)\n"
"      --skip-finite-check  load the model without checking that every value\n"
"                          is finite (a NaN or Inf is refused by default)\n"
"  -q, --quiet             errors only\n"
"  -v, --verbose           more detail\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"Exit status: 0 finished, 1 failure, 2 usage error, 128+N stopped by\n"
"signal N after writing a checkpoint. See rclip-train(1).\n";

enum { OPT_STAGE = 256, OPT_STREAM, OPT_LOSS, OPT_INIT, OPT_DATA, OPT_OUT, OPT_RESUME,
	OPT_BATCH, OPT_ACCUM, OPT_STEPS, OPT_EPOCHS, OPT_SEED, OPT_SHUFFLE, OPT_BUFFER, OPT_GROUP,
	OPT_VERIFY, OPT_LR, OPT_LR_VISION, OPT_LR_TEXT, OPT_LR_PROJ, OPT_LR_SCALE, OPT_LR_HEADS,
	OPT_WD, OPT_WARMUP, OPT_L2, OPT_GAMMA, OPT_CLIP, OPT_GATHER, OPT_HOLDOUT, OPT_EVAL_EVERY,
	OPT_TB_WEIGHTS, OPT_INIT_CONFIG, OPT_SAVE, OPT_KEEP,
	OPT_TEST_KILL, OPT_DEVICE, OPT_PRECISION, OPT_RECOMPUTE, OPT_SKIP_FINITE, OPT_VERSION };

static const struct option longopts[] = {
	{"stage", required_argument, NULL, OPT_STAGE},
	{"stream", required_argument, NULL, OPT_STREAM},
	{"loss", required_argument, NULL, OPT_LOSS},
	{"init", required_argument, NULL, OPT_INIT},
	{"init-config", required_argument, NULL, OPT_INIT_CONFIG},
	{"data", required_argument, NULL, OPT_DATA},
	{"out", required_argument, NULL, OPT_OUT},
	{"resume", required_argument, NULL, OPT_RESUME},
	{"batch", required_argument, NULL, OPT_BATCH},
	{"accum", required_argument, NULL, OPT_ACCUM},
	{"steps", required_argument, NULL, OPT_STEPS},
	{"epochs", required_argument, NULL, OPT_EPOCHS},
	{"seed", required_argument, NULL, OPT_SEED},
	{"shuffle", required_argument, NULL, OPT_SHUFFLE},
	{"buffer", required_argument, NULL, OPT_BUFFER},
	{"group", required_argument, NULL, OPT_GROUP},
	{"verify", no_argument, NULL, OPT_VERIFY},
	{"lr", required_argument, NULL, OPT_LR},
	{"lr-vision", required_argument, NULL, OPT_LR_VISION},
	{"lr-text", required_argument, NULL, OPT_LR_TEXT},
	{"lr-proj", required_argument, NULL, OPT_LR_PROJ},
	{"lr-scale", required_argument, NULL, OPT_LR_SCALE},
	{"lr-heads", required_argument, NULL, OPT_LR_HEADS},
	{"wd", required_argument, NULL, OPT_WD},
	{"warmup", required_argument, NULL, OPT_WARMUP},
	{"l2", required_argument, NULL, OPT_L2},
	{"gamma", required_argument, NULL, OPT_GAMMA},
	{"clip-norm", required_argument, NULL, OPT_CLIP},
	{"gather", required_argument, NULL, OPT_GATHER},
	{"holdout", required_argument, NULL, OPT_HOLDOUT},
	{"eval-every", required_argument, NULL, OPT_EVAL_EVERY},
	{"tb-weights", required_argument, NULL, OPT_TB_WEIGHTS},
	{"save-every", required_argument, NULL, OPT_SAVE},
	{"keep", required_argument, NULL, OPT_KEEP},
	{"test-kill-after-checkpoint", required_argument, NULL, OPT_TEST_KILL},
	{"threads", required_argument, NULL, 'j'},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"device", required_argument, NULL, OPT_DEVICE},
	{"precision", required_argument, NULL, OPT_PRECISION},
	{"recompute", no_argument, NULL, OPT_RECOMPUTE},
	{"skip-finite-check", no_argument, NULL, OPT_SKIP_FINITE},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* num - rc_cli_int as the parser's return: -1 to go on, else the exit status. */
static int num(const char *opt, const char *arg, long lo, long hi, long *v)
{
	return rc_cli_int(opt, arg, lo, hi, v) < 0 ? RC_EXIT_USAGE : -1;
}

/* real - rc_cli_double as the parser's return: -1 to go on, else the exit status. */
static int real(const char *opt, const char *arg, double lo, double hi, double *out)
{
	return rc_cli_double(opt, arg, lo, hi, out) < 0 ? RC_EXIT_USAGE : -1;
}

/* eval_every_arg - --eval-every F (0 < F < 1, a fraction of the steps)
 * or N (whole steps, >= 1), or 0 (never); -1 to go on, else the exit
 * status. */
static int eval_every_arg(const char *arg, double *out)
{
	double v;
	if (rc_cli_double("--eval-every", arg, 0, 1e15, &v) < 0)
		return RC_EXIT_USAGE;
	if (v >= 1 && v != floor(v))
		return rc_cli_usage_error("--eval-every: '%s' (a fraction below 1 or whole steps)",
			arg);
	*out = v;
	return -1;
}

/* tb_weights_arg - --tb-weights A,B,C, each in [0, 1]; -1 to go on, else
 * the exit status. */
static int tb_weights_arg(const char *arg, double w[3])
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", arg);
	char *save = NULL, *tok = strtok_r(buf, ",", &save);
	for (int k = 0; k < 3; k++, tok = strtok_r(NULL, ",", &save))
		if (!tok || rc_cli_double("--tb-weights", tok, 0, 1, &w[k]) < 0)
			return tok ? RC_EXIT_USAGE : rc_cli_usage_error("--tb-weights: '%s' (expected "
				"three weights, START,MID,END)", arg);
	if (tok)
		return rc_cli_usage_error("--tb-weights: '%s' (expected three weights, "
			"START,MID,END)", arg);
	return -1;
}

struct cli {
	struct rc_train_opts o;
	long threads;
	int job_opts;       /* options that a --resume takes from the checkpoint */
	long kill_step;     /* --test-kill-after-checkpoint: the step (-1: none) */
	int kill_sig;       /* and the signal */
	int gpu_given;      /* --device cuda:N named the GPU */
};

/* kill_arg - --test-kill-after-checkpoint N[:SIG] into c; -1 to go on,
 * else the exit status. */
static int kill_arg(const char *arg, struct cli *c)
{
	static const struct { const char *name; int sig; } sigs[] = {
		{ "KILL", SIGKILL }, { "TERM", SIGTERM }, { "INT", SIGINT }, { "USR1", SIGUSR1 },
	};
	const char *opt = "--test-kill-after-checkpoint";
	char num[32];
	const char *colon = strchr(arg, ':');
	size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
	if (len >= sizeof num)
		len = sizeof num - 1;
	memcpy(num, arg, len);
	num[len] = '\0';
	if (rc_cli_int(opt, num, 1, 1L << 40, &c->kill_step) < 0)
		return RC_EXIT_USAGE;
	c->kill_sig = SIGKILL;
	if (!colon)
		return -1;
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
		if (!strcmp(colon + 1, sigs[i].name)) {
			c->kill_sig = sigs[i].sig;
			return -1;
		}
	return rc_cli_usage_error("%s: signal '%s' (expected KILL, TERM, INT or USR1)", opt,
		colon + 1);
}

static int parse_args(int argc, char **argv, struct cli *c)
{
	struct rc_train_opts *o = &c->o;
	rc_train_opts_default(o);
	c->threads = 0, c->job_opts = 0, c->kill_step = -1;
	if (rc_device_parse("auto", &o->device) < 0)
		return rc_cli_usage_error("RCLIP_DEVICE: '%s' (expected cpu, cuda, cuda:N or auto)",
			getenv("RCLIP_DEVICE"));
	int ch, have_stage = 0, r = -1, save_given = 0, keep_given = 0, shuffle_given = 0;
	int group_given = 0;
	long v;
	while ((ch = getopt_long(argc, argv, "j:qvh", longopts, NULL)) != -1) {
		if (ch >= OPT_STAGE && ch <= OPT_INIT_CONFIG && ch != OPT_RESUME)
			c->job_opts++;
		switch (ch) {
		case OPT_STAGE:
			if ((r = num("--stage", optarg, 0, 2, &v)) >= 0)
				return r;
			o->stage = (int)v, have_stage = 1;
			break;
		case OPT_STREAM:
			if (!strcmp(optarg, "caption"))
				o->stream = RC_STREAM_CAPTION;
			else if (!strcmp(optarg, "tb"))
				o->stream = RC_STREAM_TB;
			else if (!strcmp(optarg, "trl"))
				o->stream = RC_STREAM_TRL;
			else
				return rc_cli_usage_error("--stream: '%s' (expected caption, tb or trl)",
					optarg);
			break;
		case OPT_LOSS:
			if (!strcmp(optarg, "clip"))
				o->loss = RC_TRAIN_LOSS_CLIP;
			else if (!strcmp(optarg, "siglip"))
				o->loss = RC_TRAIN_LOSS_SIGLIP;
			else
				return rc_cli_usage_error("--loss: '%s' (expected clip or siglip)", optarg);
			break;
		case OPT_INIT: o->init = optarg; break;
		case OPT_INIT_CONFIG: o->init_config = optarg; break;
		case OPT_DATA: o->data = optarg; break;
		case OPT_OUT: o->out = optarg; break;
		case OPT_RESUME: o->resume = optarg; break;
		case OPT_BATCH:
			if ((r = num("--batch", optarg, 1, 1 << 20, &v)) >= 0)
				return r;
			o->batch = (int)v;
			break;
		case OPT_ACCUM:
			if ((r = num("--accum", optarg, 1, 1 << 16, &v)) >= 0)
				return r;
			o->accum = (int)v;
			break;
		case OPT_STEPS:
			if ((r = num("--steps", optarg, 1, 1L << 40, &v)) >= 0)
				return r;
			o->steps = v;
			break;
		case OPT_EPOCHS:
			if ((r = real("--epochs", optarg, 1e-9, 1e9, &o->epochs)) >= 0)
				return r;
			break;
		case OPT_SEED:
			if ((r = num("--seed", optarg, 0, (1L << 53), &v)) >= 0)
				return r;
			o->seed = (uint64_t)v;
			break;
		case OPT_SHUFFLE:
			shuffle_given = 1;
			if (!strcmp(optarg, "none"))
				o->shuffle = RC_SHUFFLE_NONE;
			else if (!strcmp(optarg, "buffer"))
				o->shuffle = RC_SHUFFLE_BUFFER;
			else if (!strcmp(optarg, "perm"))
				o->shuffle = RC_SHUFFLE_PERM;
			else
				return rc_cli_usage_error("--shuffle: '%s' (expected perm, buffer or none)",
					optarg);
			break;
		case OPT_GATHER:
			if (!strcmp(optarg, "official"))
				o->gather = RC_GATHER_OFFICIAL;
			else if (!strcmp(optarg, "exact"))
				o->gather = RC_GATHER_EXACT;
			else
				return rc_cli_usage_error("--gather: '%s' (expected official or exact)",
					optarg);
			break;
		case OPT_HOLDOUT: r = real("--holdout", optarg, 0, 0.5, &o->holdout); break;
		case OPT_EVAL_EVERY: r = eval_every_arg(optarg, &o->eval_every); break;
		case OPT_TB_WEIGHTS: r = tb_weights_arg(optarg, o->tb_weights); break;
		case OPT_BUFFER:
			if ((r = num("--buffer", optarg, 1, 1 << 26, &v)) >= 0)
				return r;
			o->buffer = (int)v;
			break;
		case OPT_GROUP:
			if ((r = num("--group", optarg, 1, RC_TRAIN_MAX_GROUP, &v)) >= 0)
				return r;
			o->group = (int)v, group_given = 1;
			break;
		case OPT_VERIFY: o->verify = 1; break;
		case OPT_LR: r = real("--lr", optarg, 0, 10, &o->lr); break;
		case OPT_LR_VISION: r = real("--lr-vision", optarg, 0, 10, &o->lr_group[RC_GROUP_VISION]); break;
		case OPT_LR_TEXT: r = real("--lr-text", optarg, 0, 10, &o->lr_group[RC_GROUP_TEXT]); break;
		case OPT_LR_PROJ: r = real("--lr-proj", optarg, 0, 10, &o->lr_group[RC_GROUP_PROJ]); break;
		case OPT_LR_SCALE: r = real("--lr-scale", optarg, 0, 10, &o->lr_group[RC_GROUP_SCALE]); break;
		case OPT_LR_HEADS: r = real("--lr-heads", optarg, 0, 10, &o->lr_group[RC_GROUP_HEADS]); break;
		case OPT_WD: r = real("--wd", optarg, 0, 10, &o->wd); break;
		case OPT_WARMUP: r = real("--warmup", optarg, 0, 1, &o->warmup); break;
		case OPT_L2: r = real("--l2", optarg, 0, 1e6, &o->l2); break;
		case OPT_GAMMA: r = real("--gamma", optarg, 0, 1e6, &o->gamma); break;
		case OPT_CLIP: r = real("--clip-norm", optarg, 0, 1e12, &o->clip_norm); break;
		case OPT_SAVE:
			if ((r = num("--save-every", optarg, 0, 1L << 40, &v)) >= 0)
				return r;
			o->save_every = v, save_given = 1;
			break;
		case OPT_KEEP:
			if ((r = num("--keep", optarg, 1, 1 << 20, &v)) >= 0)
				return r;
			o->keep = (int)v, keep_given = 1;
			break;
		case OPT_TEST_KILL: r = kill_arg(optarg, c); break;
		case OPT_RECOMPUTE: o->recompute = 1; break;
		case OPT_PRECISION:
			if (rc_precision_option(optarg, &o->device, "fp32, bf16 or auto"))
				return RC_EXIT_USAGE;
			break;
		case OPT_DEVICE:
			if (rc_device_option(optarg, &o->device))
				return RC_EXIT_USAGE;
			c->gpu_given = strchr(optarg, ':') != NULL;
			break;
		case 'j':
			if ((r = num("--threads", optarg, 0, 4096, &c->threads)) >= 0)
				return r;
			break;
		case 'q': rc_cli_quiet(); break;
		case 'v': rc_cli_verbose(); break;
		case 'h': fputs(usage_text, stdout); return RC_EXIT_OK;
		case OPT_SKIP_FINITE: rc_clip_set_finite_check(0); break;
		case OPT_VERSION: rc_cli_version(stdout); return RC_EXIT_OK;
		default: return rc_cli_usage_error(NULL);
		}
		if (r >= 0)
			return r;
	}
	if (optind < argc)
		return rc_cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (o->resume) {
		/* the run's own cadence unless given again (train_ckpt.c) */
		if (!save_given)
			o->save_every = -1;
		if (!keep_given)
			o->keep = -1;
		if (c->job_opts || o->out)
			return rc_cli_usage_error("--resume takes every job option from the checkpoint; "
				"give only -j, -q, -v, --save-every or --keep with it");
		return -1;
	}
	if (!have_stage)
		return rc_cli_usage_error("--stage is required (0, 1 or 2)");
	if (!o->init == !o->init_config)
		return rc_cli_usage_error("give one of --init (a model) and --init-config (random "
			"weights)");
	if (!o->data || !o->out)
		return rc_cli_usage_error("--data and --out are required");
	if (o->stage != 0 && o->stream != RC_STREAM_CAPTION)
		return rc_cli_usage_error("--stream goes with --stage 0");
	if (o->tb_weights[0] >= 0 && o->stage != 1)
		return rc_cli_usage_error("--tb-weights goes with --stage 1");
	if (group_given && shuffle_given && o->shuffle != RC_SHUFFLE_PERM)
		return rc_cli_usage_error("--group goes with --shuffle perm");
	if (group_given)
		o->shuffle = RC_SHUFFLE_GROUPS;
	return -1;
}

/* ---------------------------------------------------------------- signals */

static volatile sig_atomic_t g_signal;

static void on_signal(int sig)
{
	if (sig == SIGUSR1) {
		rc_train_request(0);
		return;
	}
	if (!g_signal)
		g_signal = sig;
	rc_train_request(1);
}

static void signals(void)
{
	rc_cli_catch(SIGTERM, on_signal);
	rc_cli_catch(SIGINT, on_signal);
	rc_cli_catch(SIGUSR1, on_signal);
}

/* ---------------------------------------------------------------- testing */

/* --test-kill-after-checkpoint N[:SIG] (rclip-train(1), Testing): once
 * the checkpoint of step N is written, the process sends itself SIG, so
 * that a test interrupts a run at a known point however fast the machine
 * is. SIGKILL ends it there; the request of SIGTERM, SIGINT or SIGUSR1 is
 * served after the next step (train.c keeps a request that comes while a
 * checkpoint is written). */
static struct {
	long step;
	int sig;
} g_test = { -1, 0 };

static void test_on_checkpoint(void *ctx, long step, const char *path)
{
	if (step == g_test.step)
		raise(g_test.sig);
}

/* ---------------------------------------------------------------- MPI */

#ifdef HAVE_MPI
static int mpi_gather(void *ctx, const float *local, size_t n, float *global)
{
	return MPI_Allgather(local, (int)n, MPI_FLOAT, global, (int)n, MPI_FLOAT,
		MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : rc_log_error(RC_E_IO, "MPI_Allgather failed");
}

/* In pieces of at most 2^30 values: MPI counts are ints. */
static int mpi_reduce(void *ctx, float *buf, size_t n)
{
	for (size_t o = 0; o < n; o += (size_t)1 << 30) {
		size_t k = n - o < ((size_t)1 << 30) ? n - o : (size_t)1 << 30;
		if (MPI_Allreduce(MPI_IN_PLACE, buf + o, (int)k, MPI_FLOAT, MPI_SUM,
		    MPI_COMM_WORLD) != MPI_SUCCESS)
			return rc_log_error(RC_E_IO, "MPI_Allreduce failed");
	}
	return 0;
}

/* host memory: each piece at once, nothing to wait for at the end */
static int mpi_reduce_queued(void *ctx, float *buf, size_t n, void *queue)
{
	(void)queue;
	return buf ? mpi_reduce(ctx, buf, n) : 0;
}

static int mpi_reduce_d(void *ctx, double *buf, size_t n)
{
	return MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) ==
		MPI_SUCCESS ? 0 : rc_log_error(RC_E_IO, "MPI_Allreduce failed");
}

static int mpi_max(void *ctx, int x)
{
	int y = x;
	MPI_Allreduce(&x, &y, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	return y;
}

#ifdef HAVE_NCCL
/* nccl_setup - one process per GPU: --device cuda takes the GPU of the
 * process's rank on its machine (cuda:N the GPU named), and the gradients
 * and embeddings travel by NCCL; NCCL's unique id travels by MPI. */
static int nccl_setup(struct cli *c, const struct rc_train_comm *mpi, struct rc_nccl **nc,
	struct rc_train_comm *out)
{
	MPI_Comm node;
	int local, rc = 0;
	MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
	MPI_Comm_rank(node, &local);
	MPI_Comm_free(&node);
	if (!c->gpu_given)
		c->o.device.index = local;
	unsigned char id[RC_NCCL_ID_BYTES];
	if (mpi->rank == 0)
		rc = rc_nccl_unique_id(id);
	MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
	if (rc < 0)
		return rc;
	MPI_Bcast(id, RC_NCCL_ID_BYTES, MPI_BYTE, 0, MPI_COMM_WORLD);
	if ((rc = rc_nccl_new(nc, mpi->rank, mpi->size, c->o.device.index, id)) < 0)
		return rc;
	rc_nccl_comm(*nc, mpi, out);
	return 0;
}
#endif

/* launched - whether a launcher started this process as one of several
 * ranks (Open MPI, PMI, PMIx, Slurm); a plain start runs without MPI. */
static int launched(void)
{
	const char *v[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK" };
	for (size_t i = 0; i < sizeof v / sizeof *v; i++)
		if (getenv(v[i]))
			return 1;
	return 0;
}
#endif

int main(int argc, char **argv)
{
	rc_log_init("rclip-train");
	struct cli c;
	int r = parse_args(argc, argv, &c);
	if (r >= 0)
		return r;
	char *line = rc_cli_join(argc, argv, " ");
	c.o.argv_line = line;
	c.o.threads = (int)c.threads;
	signals();
	struct rc_train_comm comm, *cp = NULL;
	int rc = 0;
#ifdef HAVE_MPI
	int mpi = launched();
	if (mpi) {
		MPI_Init(&argc, &argv);
		memset(&comm, 0, sizeof comm);
		MPI_Comm_rank(MPI_COMM_WORLD, &comm.rank);
		MPI_Comm_size(MPI_COMM_WORLD, &comm.size);
		comm.allgather = mpi_gather, comm.allreduce = mpi_reduce;
		comm.allreduce_queued = mpi_reduce_queued;
		comm.allreduce_d = mpi_reduce_d, comm.allmax = mpi_max;
		cp = &comm;
		if (comm.rank > 0 && rc_log_level() > RC_LOG_WARN)
			rc_log_set_level(RC_LOG_WARN);
	}
#ifdef HAVE_NCCL
	struct rc_nccl *nc = NULL;
	struct rc_train_comm ncomm;
	if (mpi && comm.size > 1 && c.o.device.kind == RC_BACKEND_CUDA &&
	    (rc = rc_device_check(&c.o.device)) == 0 &&
	    (rc = nccl_setup(&c, &comm, &nc, &ncomm)) == 0)
		cp = &ncomm;
#endif
#else
	(void)comm;
#endif
	if (c.kill_step >= 0) {
		g_test.step = c.kill_step, g_test.sig = c.kill_sig;
		c.o.on_checkpoint = test_on_checkpoint;
	}
	struct rc_train_result res = { 0 };
	if (rc == 0)
		rc = rc_train_run(&c.o, cp, &res);
	free(line);
	int status = rc < 0 ? RC_EXIT_FAILURE : res.stopped ?
		128 + (g_signal ? g_signal : SIGTERM) : RC_EXIT_OK;
#ifdef HAVE_NCCL
	rc_nccl_free(nc);
#endif
#ifdef HAVE_MPI
	if (mpi) {
		if (rc < 0 && comm.size > 1)
			MPI_Abort(MPI_COMM_WORLD, RC_EXIT_FAILURE);
		MPI_Finalize();
	}
#endif
	return status;
}
