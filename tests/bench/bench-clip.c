/* bench-clip - the speed of rclip's CLIP forward pass on the CPU: a
 * built-in model (ViT-B/32) with random weights encodes a batch of images
 * and a batch of texts; one JSON line on stdout. With --ops, the time of
 * each op of one encoder layer at the same shapes, to see where it goes.
 * bench-clip.sh runs it beside PyTorch (bench_clip_ref.py). Built by
 * `make check`, not run as a test. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "base/cli.h"
#include "model/clip_config.h"
#include "base/error.h"
#include "base/io.h"
#include "base/log.h"
#include "model/backend.h"
#include "model/cpu.h"
#include "model/lowp_cpu.h"
#include "model/ops_cpu.h"
#include "base/thread.h"

struct opts {
	const char *model;
	struct rc_device dev;     /* its precision */
	long threads, runs, batch, seed;
	int ops, no_train;
};

static const char usage_text[] =
"Usage: bench-clip [OPTION]...\n"
"Time rclip's CLIP forward pass with random weights: image encoding (B\n"
"random normalised S×S images) and text encoding (B rows of T random ids,\n"
"T the model's context, the end token at varied positions), after one\n"
"warm-up run, the median of K runs, then one training step (forward, CLIP\n"
"loss, backward of every parameter; the median of up to 3). Prints one\n"
"JSON line: images/s, texts/s, training steps/s, peak RSS.\n"
"\n"
"  -m, --model=NAME   a built-in config (default ViT-B-32; SigLIP ones too)\n"
"  -b, --batch=B      images and texts per call (default 32)\n"
"  -k, --runs=K       timed runs after the warm-up (default 5)\n"
"  -j, --threads=N    threads (default: $OMP_NUM_THREADS, else all cores)\n"
"  -s, --seed=S       seed of the weights and inputs (default 1)\n"
"      --no-train     leave out the training step\n"
"      --precision=P  fp32 (default), bf16 or int8: the encoders' linear layers\n"
"                     in that precision (the training step stays fp32)\n"
"      --ops          instead: the time of each op of one encoder layer per\n"
"                     tower (times the layer count), one JSON line per tower\n"
"                     (the linear layers in --precision)\n"
"  -q, --quiet        only errors on stderr\n"
"  -h, --help         show this help and exit\n";

enum { OPT_OPS = 256, OPT_NO_TRAIN, OPT_PRECISION };

static const struct option longopts[] = {
	{"model", required_argument, NULL, 'm'},
	{"batch", required_argument, NULL, 'b'},
	{"runs", required_argument, NULL, 'k'},
	{"threads", required_argument, NULL, 'j'},
	{"seed", required_argument, NULL, 's'},
	{"ops", no_argument, NULL, OPT_OPS},
	{"no-train", no_argument, NULL, OPT_NO_TRAIN},
	{"precision", required_argument, NULL, OPT_PRECISION},
	{"quiet", no_argument, NULL, 'q'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.model = "ViT-B-32", .runs = 5, .batch = 32, .seed = 1,
		.dev = {.precision = RC_PRECISION_FP32}};
	int c;
	while ((c = getopt_long(argc, argv, "m:b:k:j:s:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case 'b':
			if (rc_cli_int("--batch", optarg, 1, 4096, &o->batch) < 0)
				return RC_EXIT_USAGE;
			break;
		case 'k':
			if (rc_cli_int("--runs", optarg, 1, 1000, &o->runs) < 0)
				return RC_EXIT_USAGE;
			break;
		case 'j':
			if (rc_cli_int("--threads", optarg, 0, 4096, &o->threads) < 0)
				return RC_EXIT_USAGE;
			break;
		case 's':
			if (rc_cli_int("--seed", optarg, 0, 1L << 30, &o->seed) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_OPS: o->ops = 1; break;
		case OPT_NO_TRAIN: o->no_train = 1; break;
		case OPT_PRECISION:
			if (rc_precision_parse(optarg, &o->dev) < 0 ||
			    o->dev.precision == RC_PRECISION_AUTO)
				return rc_cli_usage_error("--precision: '%s' (expected fp32, bf16 or "
					"int8)", optarg);
			break;
		case 'q': rc_cli_quiet(); break;
		case 'h': fputs(usage_text, stdout); return RC_EXIT_OK;
		default: return rc_cli_usage_error(NULL);
		}
	}
	if (optind < argc)
		return rc_cli_usage_error("unexpected argument '%s'", argv[optind]);
	return -1;
}

/* ---------------------------------------------------------------- inputs */

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15u);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

/* uniform in (0, 1) */
static double unif(uint64_t *s)
{
	return ((splitmix64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* fill_normal - x[n] ~ N(0, std) by Box-Muller, in chunks of 64 Ki each
 * seeded by (seed, chunk): the same values for any thread count. */
static void fill_normal(float *x, size_t n, float std, uint64_t seed)
{
	const size_t chunk = 1 << 16;
	#pragma omp parallel for schedule(dynamic, 1)
	for (size_t c = 0; c < (n + chunk - 1) / chunk; c++) {
		uint64_t s = seed * 0x2545f4914f6cdd1du + c;
		size_t end = (c + 1) * chunk < n ? (c + 1) * chunk : n;
		for (size_t i = c * chunk; i < end; i += 2) {
			double r = sqrt(-2.0 * log(unif(&s))), t = 2 * M_PI * unif(&s);
			x[i] = (float)(std * r * cos(t));
			if (i + 1 < end)
				x[i + 1] = (float)(std * r * sin(t));
		}
	}
}

/* random_weights - roughly Hugging Face's initialisation: N(0, 0.02) for
 * weights and embeddings, layer norms 1 and 0, other biases 0, the logit
 * scale at its initial value. Speed does not depend on the values as long
 * as they stay normal floats, which these do. */
static void random_weights(struct rc_clip *m, uint64_t seed)
{
	for (size_t i = 0; i < rc_clip_tensor_count(m); i++) {
		const struct rc_clip_param *p = rc_clip_tensor(m, i);
		const char *dot = strrchr(p->name, '.');
		int is_ln = strstr(p->name, "layer_norm") || strstr(p->name, "layrnorm") ||
			strstr(p->name, "layernorm");
		if (p->ndim == 0)
			p->data[0] = (float)m->cfg.logit_scale_init;
		else if (dot && !strcmp(dot, ".bias"))
			memset(p->data, 0, p->numel * sizeof *p->data);
		else if (is_ln)
			for (size_t j = 0; j < p->numel; j++)
				p->data[j] = 1.0f;
		else
			fill_normal(p->data, p->numel, 0.02f, seed * 1000 + i);
	}
}

/* random_pixels - B random RGB images S×S, normalised as CLIP's. */
static void random_pixels(float *px, int B, int S, uint64_t seed)
{
	uint8_t *rgb = rc_malloc((size_t)S * S * 3);
	if (!rgb)
		abort();
	for (int b = 0; b < B; b++) {
		for (size_t i = 0; i < (size_t)S * S * 3; i++)
			rgb[i] = (uint8_t)(splitmix64(&seed) >> 56);
		rc_clip_pixels_from_rgb(rgb, S, px + (size_t)b * 3 * S * S);
	}
	free(rgb);
}

/* random_ids - B rows of T ids for a vocabulary of V (49408): the start
 * token V-2, random ids below it, the end token V-1 at position
 * 2 + (29·b + r) % (T-2) (r in 0..6), then 0 (as open_clip pads).
 * bench_clip_ref.py makes the same rows. */
static void random_ids(int32_t *ids, int B, int T, int V, uint64_t seed)
{
	for (int b = 0; b < B; b++) {
		int32_t *row = ids + (size_t)b * T;
		int end = 2 + (int)(((uint64_t)b * 29 + splitmix64(&seed) % 7) % (uint64_t)(T - 2));
		row[0] = V - 2;
		for (int i = 1; i < T; i++)
			row[i] = i < end ? (int32_t)(splitmix64(&seed) % (uint64_t)(V - 2)) :
				i == end ? V - 1 : 0;
	}
}

/* ---------------------------------------------------------------- timing */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *t, int n)
{
	qsort(t, n, sizeof *t, cmp_double);
	return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static long peak_rss_kib(void)
{
	struct rusage ru;
	return getrusage(RUSAGE_SELF, &ru) ? -1 : ru.ru_maxrss;
}

/* cpu_s - user + system time of the process so far. */
static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* TIME(med, k, stmt) - run stmt once to warm up, then k times; med gets
 * the median in seconds, util_ the CPU time of the k runs over their wall
 * time and the thread count: well below 1 when other processes took the
 * cores (or the op did not keep its threads busy). */
static double util_;
#define TIME(med, k, stmt) do { \
		double t_[1000], c0_, w0_; \
		stmt; \
		c0_ = cpu_s(), w0_ = now(); \
		for (int r_ = 0; r_ < (k); r_++) { \
			double t0_ = now(); \
			stmt; \
			t_[r_] = now() - t0_; \
		} \
		util_ = (cpu_s() - c0_) / ((now() - w0_) * rc_thread_max()); \
		(med) = median(t_, (k)); \
	} while (0)

/* ---------------------------------------------------------------- ops */

/* bench_ops - one encoder layer of a tower, op by op, at B rows of T
 * tokens; each time is the median of k and is printed for the whole
 * forward (times L). The weights are layer 0's. */
/* mm - a linear layer as the forward pass runs it: in lp's precision when
 * lp packed w. */
static void mm(struct rc_lowp *lp, float *out, const float *inp, const float *w,
	const float *bias, int N, int C, int OC)
{
	if (!lp || rc_lowp_matmul(lp, out, inp, w, bias, N, C, OC) != 0)
		rc_ops_matmul(out, inp, w, bias, N, C, OC);
}

static int bench_ops(const char *tower, const struct rc_clip_tower_config *t,
	const struct rc_clip_tower_weights *w, struct rc_lowp *lp, int B, int T, int causal, int k)
{
	const int C = t->hidden, I = t->intermediate, H = t->heads, BT = B * T, L = t->layers;
	const size_t nsc = (size_t)rc_thread_max() * T * T;
	float *x = rc_malloc(((size_t)BT * (7 * C + I) + nsc) * sizeof *x);
	if (!x)
		return RC_E_NOMEM;
	float *ln = x + (size_t)BT * C, *qkv = ln + (size_t)BT * C, *y = qkv + (size_t)BT * 3 * C;
	float *res = y + (size_t)BT * C, *fch = res + (size_t)BT * C, *sc = fch + (size_t)BT * I;
	fill_normal(x, (size_t)BT * C, 1.0f, 7);
	const float eps = (float)t->layer_norm_eps;
	double ln_s, qkv_s, att_s, out_s, add_s, fc1_s, act_s, fc2_s;
	TIME(ln_s, k, rc_ops_layernorm(ln, NULL, NULL, x, w->ln1_w, w->ln1_b, BT, C, eps));
	TIME(qkv_s, k, mm(lp, qkv, ln, w->qkv_w, w->qkv_b, BT, C, 3 * C));
	TIME(att_s, k, rc_ops_attention(y, NULL, qkv, B, T, C, H, causal, sc, rc_thread_max()));
	TIME(out_s, k, mm(lp, res, y, w->out_w, w->out_b, BT, C, C));
	TIME(add_s, k, rc_ops_add(res, x, res, (size_t)BT * C));
	TIME(fc1_s, k, mm(lp, fch, ln, w->fc1_w, w->fc1_b, BT, C, I));
	TIME(act_s, k, rc_ops_act(fch, fch, (size_t)BT * I, t->act));
	TIME(fc2_s, k, mm(lp, res, fch, w->fc2_w, w->fc2_b, BT, I, C));
	/* per forward: two layer norms and two adds per layer */
	double ms = 1e3 * L, mm = 2.0 * BT * C * (3 * C + C + 2 * I);
	double total = 2 * ln_s + qkv_s + att_s + out_s + 2 * add_s + fc1_s + act_s + fc2_s;
	double att_flop = 4.0 * B * H * T * T * (C / H);
	printf("{\"tower\": \"%s\", \"B\": %d, \"T\": %d, \"C\": %d, \"I\": %d, \"layers\": %d, "
		"\"threads\": %d, \"ms_per_forward\": {\"layernorm_x2\": %.2f, \"qkv\": %.2f, "
		"\"attention\": %.2f, \"out_proj\": %.2f, \"add_x2\": %.2f, \"fc1\": %.2f, "
		"\"act\": %.2f, \"fc2\": %.2f, \"encoder\": %.2f}, \"gflops\": {\"qkv\": %.1f, "
		"\"out_proj\": %.1f, \"fc1\": %.1f, \"fc2\": %.1f, \"linear_all\": %.1f, "
		"\"attention\": %.1f}}\n",
		tower, B, T, C, I, L, rc_thread_max(), 2 * ln_s * ms, qkv_s * ms, att_s * ms,
		out_s * ms, 2 * add_s * ms, fc1_s * ms, act_s * ms, fc2_s * ms, total * ms,
		2e-9 * BT * C * 3 * C / qkv_s, 2e-9 * BT * C * C / out_s, 2e-9 * BT * C * I / fc1_s,
		2e-9 * BT * C * I / fc2_s, 1e-9 * mm / (qkv_s + out_s + fc1_s + fc2_s),
		1e-9 * att_flop / att_s);
	free(x);
	return 0;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	rc_log_init("bench-clip");
	struct opts o;
	int rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;

	struct rc_clip_config cfg;
	struct rc_clip *m = NULL;
	struct rc_clip_ws *ws = NULL;
	struct rc_lowp *lp = NULL;
	struct rc_clip_grad_ws *gw = NULL;
	float *grads = NULL;
	float *px = NULL, *emb = NULL;
	int32_t *ids = NULL;
	/* Before the workspace: attention's scratch is sized for these threads. */
	const int nt = rc_ops_set_threads((int)o.threads), B = (int)o.batch, K = (int)o.runs;
	if ((rc = rc_clip_config_builtin(&cfg, o.model)) < 0 || (rc = rc_clip_new(&m, &cfg)) < 0)
		goto out;
	random_weights(m, (uint64_t)o.seed);
	const int S = cfg.vision.image_size, T = cfg.text.max_position;
	const int prec = o.dev.precision;
	if (prec != RC_PRECISION_FP32) {
		int rows = B * (T > rc_clip_config_image_tokens(&cfg) ? T :
			rc_clip_config_image_tokens(&cfg));
		if ((rc = rc_lowp_new(&lp, prec, rows)) < 0 ||
		    (rc = rc_lowp_pack_clip(lp, m, 1, 1)) < 0)
			goto out;
	}
	if (o.ops) {
		if ((rc = bench_ops("image", &cfg.vision, &m->w.vision, lp, B,
				rc_clip_config_image_tokens(&cfg), 0, K)) >= 0)
			rc = bench_ops("text", &cfg.text, &m->w.text, lp, B, T, 1, K);
		goto out;
	}
	if ((rc = rc_clip_ws_new(&ws, m, B, B, 0)) < 0)
		goto out;
	ws->lowp = lp;
	px = rc_malloc((size_t)B * 3 * S * S * sizeof *px);
	ids = rc_malloc((size_t)B * T * sizeof *ids);
	emb = rc_malloc((size_t)B * cfg.projection_dim * sizeof *emb);
	if (!px || !ids || !emb) {
		rc = RC_E_NOMEM;
		goto out;
	}
	random_pixels(px, B, S, (uint64_t)o.seed);
	random_ids(ids, B, T, cfg.text.vocab_size, (uint64_t)o.seed);

	double img_s, txt_s, img_util;
	TIME(img_s, K, rc = rc_clip_encode_image(m, ws, px, B, emb));
	if (rc < 0)
		goto out;
	img_util = util_;
	TIME(txt_s, K, rc = rc_clip_encode_text(m, ws, ids, B, T, emb));
	if (rc < 0)
		goto out;
	double txt_util = util_, ws_mib = rc_clip_ws_bytes(ws) / 1048576.0;
	double lowp_mib = rc_lowp_bytes(lp) / 1048576.0;
	long rss = peak_rss_kib();

	/* One training step: forward of both towers, the CLIP loss, backward
	 * of every parameter (no optimizer update, as the PyTorch side). */
	double train_s = 0, train_util = 0;
	long rss_train = 0;
	if (!o.no_train) {
		rc_clip_ws_free(ws);
		rc_lowp_free(lp);
		ws = NULL, lp = NULL;
		size_t np = rc_clip_param_count(m);
		if ((rc = rc_clip_ws_new(&ws, m, B, B, RC_CLIP_WS_TRAIN)) < 0 ||
		    (rc = rc_clip_grad_ws_new(&gw, m, ws)) < 0)
			goto out;
		if (!(grads = rc_calloc(np, sizeof *grads))) {
			rc = RC_E_NOMEM;
			goto out;
		}
		float loss;
		int kt = K < 3 ? K : 3; /* a step takes seconds */
		TIME(train_s, kt, (memset(grads, 0, np * sizeof *grads),
			rc = rc_clip_loss_and_grad(m, ws, gw, px, ids, B, T, &loss, grads)));
		if (rc < 0)
			goto out;
		train_util = util_;
		rss_train = peak_rss_kib();
	}
	printf("{\"impl\": \"rclip\", \"precision\": \"%s\", \"isa\": \"%s\", "
		"\"model\": \"%s\", \"threads\": %d, \"batch\": %d, "
		"\"runs\": %d, \"image_s\": %.4f, \"images_per_s\": %.2f, \"text_s\": %.4f, "
		"\"texts_per_s\": %.2f, ", rc_precision_name(prec),
		prec == RC_PRECISION_FP32 ? "OpenBLAS" : rc_lowp_isa(), o.model, nt, B, K, img_s,
		B / img_s, txt_s, B / txt_s);
	if (o.no_train)
		printf("\"train_step_s\": null, \"train_steps_per_s\": null, "
			"\"cpu_util\": [%.2f, %.2f, null], ", img_util, txt_util);
	else
		printf("\"train_step_s\": %.4f, \"train_steps_per_s\": %.3f, "
			"\"cpu_util\": [%.2f, %.2f, %.2f], ", train_s, 1 / train_s, img_util,
			txt_util, train_util);
	printf("\"params\": %zu, \"workspace_mib\": %.1f, \"lowp_weights_mib\": %.1f, "
		"\"peak_rss_kib\": %ld, \"peak_rss_train_kib\": ", rc_clip_param_count(m), ws_mib,
		lowp_mib, rss);
	if (o.no_train)
		printf("null}\n");
	else
		printf("%ld}\n", rss_train);
out:
	free(grads);
	rc_clip_grad_ws_free(gw);
	free(px);
	free(ids);
	free(emb);
	rc_clip_ws_free(ws);
	rc_lowp_free(lp);
	rc_clip_free(m);
	/* every error was logged where it happened */
	return rc < 0 ? RC_EXIT_FAILURE : RC_EXIT_OK;
}
