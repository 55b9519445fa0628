/* rclip-eval - benchmark a CLIP model as DESIGN.md §6 defines it: choice
 * sets (RCLIP-Bench, compositional sets), RCLIP retrieval over the true
 * captions, COCO/Flickr-style retrieval and zero-shot classification.
 *
 * One shape for every task: read the data (a manifest or shards) into
 * images and texts, encode the images (a bad one is skipped and counted,
 * or fails the run with --strict), drop what belonged to skipped images,
 * encode the texts, compute the metrics (eval.h), and write a table or
 * JSON, optionally with bootstrap intervals, the failed items and
 * McNemar's test against an earlier run. The data is read by
 * eval_data.h, the metrics computed by eval.h. */
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/arena.h"
#include "text/bpe.h"
#include "base/cli.h"
#include "eval/encode.h"
#include "base/error.h"
#include "eval/eval.h"
#include "eval/eval_data.h"
#include "base/io.h"
#include "base/log.h"
#include "data/manifest.h"
#include "data/preprocess.h"
#include "model/backend.h"
#include "model/options.h"
#include "convert/model_io.h"
#include "base/progress.h"
#include "data/record.h"
#include "data/shard.h"

struct opts {
	int task;
	const char *model, *data, *classes, *templates, *errors, *compare, *image_root, *output;
	long batch, threads, bootstrap, seed, negatives, captions;
	struct rc_device device;
	int json, strict;
	struct rc_path_map path_map; /* --path-map OLD=NEW rules */
	int tokenizer;             /* enum rc_bpe_semantics, or -1: the model's */
	int format;                /* enum rc_eval_format */
};

static const char usage_text[] =
"Usage: rclip-eval sets --model MODEL [OPTION]... DATA\n"
"   or: rclip-eval rclip-retrieval --model MODEL [OPTION]... DATA\n"
"   or: rclip-eval retrieval --model MODEL [OPTION]... DATA\n"
"   or: rclip-eval zeroshot --model MODEL --classes FILE --templates FILE\n"
"                  [OPTION]... DATA\n"
"   or: rclip-eval winoground --model MODEL [OPTION]... examples.jsonl\n"
"Evaluate a CLIP model (any format rclip reads) on a benchmark.\n"
"\n"
"Tasks:\n"
"  sets             choice sets {\"id\", \"image_path\", \"sets\": [{\"tag\", \"gt\",\n"
"                   \"neg\": [...]}]}: accuracy overall and per tag\n"
"  rclip-retrieval  the same data; gallery = every true caption: R@1/5/10\n"
"                   both ways, mean and median rank (the upper middle one)\n"
"  retrieval        descriptive data, several captions per image\n"
"                   (COCO/Flickr): R@1/5/10 both ways, mean and median rank\n"
"                   (numpy.median), 5 captions per image\n"
"  zeroshot         {\"image_path\", \"label\"} lines, label a class name or its\n"
"                   0-based line in --classes: top-1, top-5, mean per-class\n"
"                   recall\n"
"  winoground       Winoground's examples.jsonl (images in images/): text,\n"
"                   image and group scores, overall and per collapsed_tag\n"
"DATA is a JSONL manifest (TSV too for retrieval), a shard list (.list) or a\n"
"shard (.rcs); zeroshot and winoground read manifests only; sets also reads\n"
"the released files of SugarCrepe, What'sUp and VALSE (see --format).\n"
"\n"
"  -m, --model=PATH        the model: a Hugging Face CLIPModel directory or an\n"
"                          open_clip directory or .safetensors file\n"
"      --classes=FILE      zeroshot: class names, one per line\n"
"      --templates=FILE    zeroshot: prompt templates, one per line, {} for\n"
"                          the class name\n"
"      --tokenizer=T       hf, open_clip or auto (default auto: hf for a\n"
"                          Hugging Face model directory, as transformers'\n"
"                          CLIPTokenizerFast; open_clip for an open_clip\n"
"                          model or an rclip checkpoint, as open_clip.tokenize)\n"
"      --image-root=DIR    resolve relative image paths against DIR (default:\n"
"                          the manifest's directory)\n"
"      --path-map=OLD=NEW  read an image path that starts with the directory\n"
"                          OLD under NEW instead (repeatable; the longest\n"
"                          OLD that matches wins)\n"
"      --json              write the report as JSON (with every item's result)\n"
"  -o, --output=FILE       write the report to FILE (atomically) instead of\n"
"                          standard output\n"
"      --errors=FILE       sets: the failed items as JSONL\n"
"      --bootstrap=N       95% confidence intervals from N bootstrap resamples\n"
"      --seed=N            the bootstrap's random seed (default 1)\n"
"      --compare=FILE      McNemar's test against an earlier --json report of\n"
"                          the same task on the same items\n"
"      --format=F          sets: rclip (RCLIP-Bench JSONL), sugarcrepe, whatsup,\n"
"                          valse or auto (default: from the file)\n"
"      --negatives=N|any   sets: the negatives a set must have (default 4, as\n"
"                          RCLIP-Bench); a set with another number is skipped\n"
"                          and counted; any: 1 or more\n"
"      --captions-per-image=N|all\n"
"                          retrieval: the first N captions of each image,\n"
"                          shorter lists repeated up to N (default 5, as the\n"
"                          official COCO/Flickr evaluation); all: every one\n"
"      --strict            a missing or unreadable image or a malformed item\n"
"                          fails the run (default: skipped and counted)\n"
"  -b, --batch=N           inputs per forward pass (default 32)\n"
"      --device=DEV        cpu, cuda, cuda:N or auto (default auto: a GPU when\n"
"                          rclip has the CUDA backend and one is present)\n"
"      --precision=P       fp32, bf16, int8 or auto (default auto: fp32 on the\n"
"                          CPU, bf16 on a GPU); on the CPU bf16 and int8 are\n"
"                          faster and within a stated accuracy of fp32 (see\n"
"                          the manual page)\n"
"  -j, --threads=N         threads (default: $OMP_NUM_THREADS, else all cores)\n"
"      --skip-finite-check  load the model without checking that every value\n"
"                          is finite (a NaN or Inf is refused by default)\n"
"      --force             replace a symlink at the output's name (the link\n"
"                          itself, never its target), or write into a FIFO or\n"
"                          device there; refused without it\n"
"  -q, --quiet             only errors on stderr\n"
"  -v, --verbose           more detail on stderr\n"
"  -h, --help              show this help and exit\n"
"      --version           show the version and exit\n"
"\n"
"Exit status: 0 success, 1 failure (bad data, a missing image with --strict,\n"
"a model that does not fit the data, I/O error), 2 usage error.\n"
"See rclip-eval(1).\n";

enum { OPT_CLASSES = 256, OPT_TEMPLATES, OPT_ROOT, OPT_JSON, OPT_ERRORS, OPT_BOOT, OPT_SEED,
	OPT_COMPARE, OPT_STRICT, OPT_DEVICE, OPT_PRECISION, OPT_VERSION, OPT_NEGATIVES,
	OPT_CAPTIONS, OPT_TOKENIZER, OPT_FORMAT, OPT_PATH_MAP, OPT_FORCE, OPT_SKIP_FINITE };

static const struct option longopts[] = {
	{"model", required_argument, NULL, 'm'},
	{"classes", required_argument, NULL, OPT_CLASSES},
	{"templates", required_argument, NULL, OPT_TEMPLATES},
	{"image-root", required_argument, NULL, OPT_ROOT},
	{"path-map", required_argument, NULL, OPT_PATH_MAP},
	{"json", no_argument, NULL, OPT_JSON},
	{"output", required_argument, NULL, 'o'},
	{"errors", required_argument, NULL, OPT_ERRORS},
	{"bootstrap", required_argument, NULL, OPT_BOOT},
	{"seed", required_argument, NULL, OPT_SEED},
	{"compare", required_argument, NULL, OPT_COMPARE},
	{"strict", no_argument, NULL, OPT_STRICT},
	{"negatives", required_argument, NULL, OPT_NEGATIVES},
	{"captions-per-image", required_argument, NULL, OPT_CAPTIONS},
	{"tokenizer", required_argument, NULL, OPT_TOKENIZER},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"batch", required_argument, NULL, 'b'},
	{"threads", required_argument, NULL, 'j'},
	{"quiet", no_argument, NULL, 'q'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"device", required_argument, NULL, OPT_DEVICE},
	{"precision", required_argument, NULL, OPT_PRECISION},
	{"skip-finite-check", no_argument, NULL, OPT_SKIP_FINITE},
	{"force", no_argument, NULL, OPT_FORCE},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

/* Returns -1 to go on, or the exit status. */
static int parse_args(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.batch = 32, .seed = 1, .negatives = 4, .captions = 5, .tokenizer = -1};
	if (rc_device_parse("auto", &o->device) < 0)
		return rc_cli_usage_error("RCLIP_DEVICE: '%s' (expected cpu, cuda, cuda:N or auto)",
			getenv("RCLIP_DEVICE"));
	int c, pm;
	while ((c = getopt_long(argc, argv, "m:o:b:j:qvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm': o->model = optarg; break;
		case OPT_CLASSES: o->classes = optarg; break;
		case OPT_TEMPLATES: o->templates = optarg; break;
		case OPT_ROOT: o->image_root = optarg; break;
		case OPT_PATH_MAP:
			if ((pm = rc_path_map_option(&o->path_map, optarg)) >= 0)
				return pm;
			break;
		case OPT_JSON: o->json = 1; break;
		case 'o': o->output = optarg; break;
		case OPT_ERRORS: o->errors = optarg; break;
		case OPT_BOOT:
			if (rc_cli_int("--bootstrap", optarg, 1, 1000000, &o->bootstrap) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_SEED:
			if (rc_cli_int("--seed", optarg, 0, LONG_MAX, &o->seed) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_COMPARE: o->compare = optarg; break;
		case OPT_STRICT: o->strict = 1; break;
		case OPT_FORMAT:
			if ((o->format = rc_eval_format_parse(optarg)) < 0 ||
			    o->format == RC_EVAL_FMT_WINOGROUND)
				return rc_cli_usage_error("--format: '%s' (expected rclip, sugarcrepe, "
					"whatsup, valse or auto)", optarg);
			break;
		case OPT_TOKENIZER:
			if (rc_tokenizer_option(optarg, &o->tokenizer))
				return RC_EXIT_USAGE;
			break;
		case OPT_NEGATIVES:
			if (!strcmp(optarg, "any"))
				o->negatives = 0;
			else if (rc_cli_int("--negatives", optarg, 1, 1000, &o->negatives) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_CAPTIONS:
			if (!strcmp(optarg, "all"))
				o->captions = 0;
			else if (rc_cli_int("--captions-per-image", optarg, 1, 1000, &o->captions) < 0)
				return RC_EXIT_USAGE;
			break;
		case OPT_PRECISION:
			if (rc_precision_option(optarg, &o->device, "fp32, bf16, int8 or auto"))
				return RC_EXIT_USAGE;
			break;
		case OPT_DEVICE:
			if (rc_device_option(optarg, &o->device))
				return RC_EXIT_USAGE;
			break;
		case 'b':
			if (rc_cli_int("--batch", optarg, 1, 65536, &o->batch) < 0)
				return RC_EXIT_USAGE;
			break;
		case 'j':
			if (rc_cli_int("--threads", optarg, 0, 4096, &o->threads) < 0)
				return RC_EXIT_USAGE;
			break;
		case 'q': rc_cli_quiet(); break;
		case 'v': rc_cli_verbose(); break;
		case 'h': fputs(usage_text, stdout); return RC_EXIT_OK;
		case OPT_SKIP_FINITE: rc_clip_set_finite_check(0); break;
		case OPT_FORCE: rc_atomic_set_force(1); break;
		case OPT_VERSION: rc_cli_version(stdout); return RC_EXIT_OK;
		default: return rc_cli_usage_error(NULL);
		}
	}
	if (optind >= argc)
		return rc_cli_usage_error("no task (expected sets, rclip-retrieval, retrieval, "
			"zeroshot or winoground)");
	/* the task may come first or anywhere: it is the first operand */
	const char *task = argv[optind++];
	for (int t = RC_EVAL_SETS; t <= RC_EVAL_WINOGROUND; t++)
		if (!strcmp(task, rc_eval_task_name(t)))
			o->task = t;
	if (!o->task)
		return rc_cli_usage_error("unknown task '%s' (expected sets, rclip-retrieval, "
			"retrieval, zeroshot or winoground)", task);
	if (optind >= argc)
		return rc_cli_usage_error("no data: give a manifest, a shard list or a shard");
	o->data = argv[optind++];
	if (optind < argc)
		return rc_cli_usage_error("unexpected argument '%s' (one DATA per run)", argv[optind]);
	if (!o->model)
		return rc_cli_usage_error("no model: give --model PATH");
	if (o->task == RC_EVAL_ZEROSHOT && (!o->classes || !o->templates))
		return rc_cli_usage_error("zeroshot needs --classes FILE and --templates FILE");
	if (o->task != RC_EVAL_ZEROSHOT && (o->classes || o->templates))
		return rc_cli_usage_error("--classes and --templates go with zeroshot");
	if (o->errors && o->task != RC_EVAL_SETS)
		return rc_cli_usage_error("--errors goes with sets");
	if (o->format && o->task != RC_EVAL_SETS)
		return rc_cli_usage_error("--format goes with sets");
	if (o->task == RC_EVAL_WINOGROUND &&
	    (rc_ends_with(o->data, ".rcs") || rc_ends_with(o->data, ".list")))
		return rc_cli_usage_error("winoground reads its examples.jsonl, not shards");
	return -1;
}
/* ================================================================ run */

struct run {
	const struct opts *o;
	struct rc_clip *m;
	struct rc_bpe *bpe;
	struct rc_spm *spm;          /* a SigLIP model's tokenizer */
	struct rc_encoder *enc;
	int nthreads, D;
	struct rc_eval_data d;
	struct rc_eval_lines cls, tmpl;
	float *iemb, *temb;        /* [ni,D], [nt,D] */
	uint8_t *ok;               /* [ni] the image was read */
	size_t skipped, skipped_items, warned;
	int strict_fail;
	json_t *report;            /* built by the task */
	json_t *items;             /* per-item results: {"id", "correct", ...} */
	json_t *order;             /* the metrics' names in the order made, for the table */
	struct rc_progress prog;
};

static void on_bad_image(void *ctx, size_t i, const char *why)
{
	struct run *r = ctx;
	char w[4400];
	rc_eval_data_where(&r->d, i, w, sizeof w);
	/* a score from a NaN would be a hit: a non-finite embedding stops */
	if (r->o->strict || strstr(why, "not finite")) {
		if (!r->strict_fail)
			rc_log_error(RC_E_NOTFOUND, "%s: %s", w, why);
		r->strict_fail = 1;
		return;
	}
	r->skipped++;
	if (r->warned++ < 5)
		rc_log_warn("%s: %s (skipped)", w, why);
}

static int setup(struct run *r)
{
	const struct opts *o = r->o;
	if (rc_clip_load_any(&r->m, o->model, NULL, NULL) < 0)
		return -1;
	r->D = r->m->cfg.projection_dim;
	int rc = rc_bpe_load_model(&r->bpe, o->model);
	if (rc < 0)
		return rc;
	if (o->tokenizer >= 0)
		rc_bpe_set_semantics(r->bpe, o->tokenizer);
	if (r->m->cfg.text.max_position < 2)
		return rc_log_error(RC_E_UNSUPPORTED, "%s: the model has no text tower (a vision "
			"model?): it cannot score captions", o->model);
	if ((rc = rc_encoder_new(&r->enc, &o->device, r->m, r->bpe, (int)o->batch,
	    r->nthreads)) < 0)
		return rc;
	return 0;
}

/* Images of the data that could not be read are dropped here with every
 * text and set of theirs, so the metrics see only complete items. */
static int drop_skipped(struct run *r)
{
	struct rc_eval_data *d = &r->d;
	size_t D = (size_t)r->D;
	uint32_t *map = rc_malloc((d->ni ? d->ni : 1) * sizeof *map);
	if (!map)
		return RC_E_NOMEM;
	size_t g = 0;
	for (size_t i = 0; i < d->ni; i++) {
		map[i] = (uint32_t)g;
		if (!r->ok[i])
			continue;
		if (g != i) {
			memmove(r->iemb + g * D, r->iemb + i * D, D * sizeof *r->iemb);
			d->img[g] = d->img[i];
			d->key[g] = d->key[i];
			d->ipath[g] = d->ipath[i];
			d->src[g] = d->src[i];
			d->line[g] = d->line[i];
			d->in_shard[g] = d->in_shard[i];
			d->label[g] = d->label[i];
		}
		g++;
	}
	size_t nt = 0, ns = 0;
	if (r->o->task == RC_EVAL_SETS || r->o->task == RC_EVAL_WINOGROUND) {
		int wino = r->o->task == RC_EVAL_WINOGROUND;
		for (size_t s = 0; s < d->ns; s++) {
			struct rc_eval_set cs = d->set[s];
			/* a Winoground example needs both its images */
			if (!r->ok[cs.image] || (wino && !r->ok[cs.image + 1])) {
				r->skipped_items++;
				continue;
			}
			for (size_t q = 0; q <= cs.nneg; q++) {
				d->txt[nt + q] = d->txt[cs.text + q];
				d->tlen[nt + q] = d->tlen[cs.text + q];
				d->owner[nt + q] = map[cs.image];
			}
			cs.image = map[cs.image];
			cs.text = (uint32_t)nt;
			nt += cs.nneg + 1;
			d->set[ns++] = cs;
		}
		d->ns = ns;
	} else if (r->o->task != RC_EVAL_ZEROSHOT) {
		for (size_t j = 0; j < d->nt; j++) {
			if (!r->ok[d->owner[j]])
				continue;
			d->txt[nt] = d->txt[j];
			d->tlen[nt] = d->tlen[j];
			d->owner[nt++] = map[d->owner[j]];
		}
		r->skipped_items = d->ni - g;
	} else {
		nt = d->nt;
		r->skipped_items = d->ni - g;
	}
	d->nt = nt;
	d->ni = g;
	free(map);
	return 0;
}

/* The texts' embeddings; a token outside the model's vocabulary names
 * the text's source. */
static int encode_texts(struct run *r)
{
	struct rc_eval_data *d = &r->d;
	size_t bad = 0;
	r->temb = rc_malloc((d->nt ? d->nt : 1) * (size_t)r->D * sizeof *r->temb);
	if (!r->temb)
		return RC_E_NOMEM;
	int rc;
	/* a SigLIP model's own tokenizer, read when the texts come (the data,
	 * shards included, has been checked by then) */
	if (r->m->cfg.family == RC_FAMILY_SIGLIP && !r->spm &&
	    ((rc = rc_encoder_load_spm(&r->spm, r->o->model)) < 0 ||
	     (rc = rc_encoder_use_spm(r->enc, r->spm)) < 0))
		return rc;
	rc = rc_encoder_texts(r->enc, d->txt, d->tlen, d->nt, r->temb, &bad, &r->prog);
	char w[4400];
	if (rc == RC_E_RANGE || rc == RC_E_FORMAT) {
		if (r->o->task == RC_EVAL_ZEROSHOT)
			snprintf(w, sizeof w, "%s:%zu", r->o->classes, bad / r->tmpl.n + 1);
		else
			rc_eval_data_where(d, d->owner[bad], w, sizeof w);
	}
	if (rc == RC_E_FORMAT)
		rc_log_error(rc, "%s: the embedding of \"%.*s\" is not finite (NaN or Inf from "
			"the model)", w, (int)(d->tlen[bad] > 60 ? 60 : d->tlen[bad]), d->txt[bad]);
	if (rc == RC_E_RANGE) {
		rc_log_error(rc, "%s: \"%.*s\" has token ids outside the model's vocabulary of %d",
			w, (int)(d->tlen[bad] > 60 ? 60 : d->tlen[bad]), d->txt[bad],
			r->m->cfg.text.vocab_size);
		rc_log_hint("%s was not made for the CLIP tokenizer (%zu ids)", r->o->model,
			rc_bpe_vocab_size(r->bpe));
	}
	return rc;
}

/* ---------------------------------------------------------------- metrics */

/* A rate with its counts (and its bootstrap interval) into the report's
 * "metrics" object under name. */
static int add_metric(struct run *r, json_t *metrics, const char *name, size_t hits,
	size_t total, const uint8_t *hit)
{
	json_t *m = json_pack("{s:I, s:I, s:f}", "hits", (json_int_t)hits, "total",
		(json_int_t)total, "rate", total ? (double)hits / (double)total : 0.0);
	if (!m)
		return RC_E_NOMEM;
	if (r->o->bootstrap && hit) {
		double lo, hi;
		int rc = rc_eval_bootstrap(hit, total, (int)r->o->bootstrap, (uint64_t)r->o->seed,
			&lo, &hi);
		if (rc < 0) {
			json_decref(m);
			return rc;
		}
		json_object_set_new(m, "ci95", json_pack("[f, f]", lo, hi));
	}
	if (metrics == json_object_get(r->report, "metrics"))
		json_array_append_new(r->order, json_string(name));
	json_object_set_new(metrics, name, m);
	return 0;
}

/* A number (a mean rank, a recall) into metrics, in order. */
static void add_real(struct run *r, json_t *metrics, const char *name, double v)
{
	json_array_append_new(r->order, json_string(name));
	json_object_set_new(metrics, name, json_real(v));
}

static int item(struct run *r, const char *id, int correct, json_t *extra)
{
	json_t *it = json_pack("{s:s, s:b}", "id", id, "correct", correct);
	if (!it)
		return RC_E_NOMEM;
	if (extra) {
		json_object_update(it, extra);
		json_decref(extra);
	}
	json_array_append_new(r->items, it);
	return 0;
}

static int run_sets(struct run *r, json_t *metrics, json_t *errors_out)
{
	struct rc_eval_data *d = &r->d;
	size_t D = (size_t)r->D, nt = d->ntags;
	uint8_t *hit = rc_malloc(d->ns ? d->ns : 1), *sub = rc_malloc(d->ns ? d->ns : 1);
	size_t *c = rc_calloc(nt + 1, sizeof *c), *n = rc_calloc(nt + 1, sizeof *n);
	int rc = RC_E_NOMEM;
	if (!hit || !sub || !c || !n)
		goto out;
	size_t kmax = 1;
	for (size_t s = 0; s < d->ns; s++)
		if (d->set[s].nneg + 1 > kmax)
			kmax = d->set[s].nneg + 1;
	float *sc = rc_malloc(kmax * sizeof *sc);
	if (!sc)
		goto out;
	for (size_t s = 0; s < d->ns; s++) {
		const struct rc_eval_set *cs = &d->set[s];
		int choice, k = (int)cs->nneg + 1;
		/* a set's texts are adjacent: the true caption, then its negatives */
		hit[s] = (uint8_t)rc_eval_choice(r->iemb + cs->image * D, r->temb + cs->text * D, k, D,
			sc, &choice);
		for (int q = 1; d->ties_wrong && hit[s] && q < k; q++)
			if (sc[q] >= sc[0]) /* a tie is wrong here: the first tying negative */
				hit[s] = 0, choice = q;
		c[cs->tag] += hit[s];
		n[cs->tag]++;
		char id[4400];
		snprintf(id, sizeof id, "%s#%u", d->key[cs->image], cs->index);
		json_t *scores = json_array();
		for (int q = 0; q < k; q++)
			json_array_append_new(scores, json_real(sc[q]));
		if ((rc = item(r, id, hit[s], json_pack("{s:s, s:i}", "tag", d->tags[cs->tag],
			     "choice", choice))) < 0) {
			json_decref(scores);
			free(sc);
			goto out;
		}
		if (!hit[s] && errors_out) {
			json_t *e = json_pack("{s:s, s:s, s:i, s:s, s:s%, s:s%, s:i, s:O}", "id",
				d->key[cs->image], "image_path", d->ipath[cs->image] ? d->ipath[cs->image] : "",
				"set", cs->index, "tag", d->tags[cs->tag], "gt", d->txt[cs->text],
				(size_t)d->tlen[cs->text], "chosen", d->txt[cs->text + (uint32_t)choice],
				(size_t)d->tlen[cs->text + (uint32_t)choice], "choice", choice, "scores",
				scores);
			json_array_append_new(errors_out, e);
		}
		json_decref(scores);
	}
	free(sc);
	json_t *tags = json_object();
	json_object_set_new(metrics, "tags", tags);
	for (size_t t = 0; t < nt; t++) {
		size_t k = 0;
		for (size_t s = 0; s < d->ns; s++)
			if (d->set[s].tag == t)
				sub[k++] = hit[s];
		if (n[t] && (rc = add_metric(r, tags, d->tags[t], c[t], n[t], sub)) < 0)
			goto out;
	}
	size_t all = 0;
	for (size_t s = 0; s < d->ns; s++)
		all += hit[s];
	rc = add_metric(r, metrics, "overall", all, d->ns, hit);
out:
	free(hit);
	free(sub);
	free(c);
	free(n);
	return rc;
}

static int rank_metrics(struct run *r, json_t *metrics, const char *dir, const uint32_t *rank,
	size_t n, uint8_t *hit)
{
	static const uint32_t K[] = {1, 5, 10};
	size_t counted = 0;
	for (size_t i = 0; i < n; i++)
		counted += rank[i] != 0;
	for (size_t k = 0; k < 3; k++) {
		char name[32];
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (rank[i])
				hit[m++] = rank[i] <= K[k];
		snprintf(name, sizeof name, "%s R@%u", dir, K[k]);
		int rc = add_metric(r, metrics, name, rc_eval_hits(rank, n, K[k]), counted, hit);
		if (rc < 0)
			return rc;
	}
	double mean, median;
	/* the official medians: eval_RCLIP_retrieval.py the upper middle rank,
	 * eval_retrieval.py (COCO/Flickr) numpy.median */
	if (rc_eval_rank_stats(rank, n, r->o->task == RC_EVAL_RETRIEVAL ? RC_EVAL_MEDIAN_MEAN
		    : RC_EVAL_MEDIAN_UPPER, &mean, &median) < 0)
		return RC_E_NOMEM;
	char name[64];
	snprintf(name, sizeof name, "%s mean rank", dir);
	add_real(r, metrics, name, mean);
	snprintf(name, sizeof name, "%s median rank", dir);
	add_real(r, metrics, name, median);
	return 0;
}

static int run_retrieval(struct run *r, json_t *metrics)
{
	struct rc_eval_data *d = &r->d;
	uint32_t *i2t = rc_calloc(d->ni ? d->ni : 1, sizeof *i2t);
	uint32_t *t2i = rc_calloc(d->nt ? d->nt : 1, sizeof *t2i);
	uint8_t *hit = rc_malloc(d->ni + d->nt + 1);
	int rc = RC_E_NOMEM;
	if (!i2t || !t2i || !hit)
		goto out;
	if ((rc = rc_eval_ranks(rc_encoder_backend(r->enc), r->iemb, d->ni, r->temb, d->nt,
		     (size_t)r->D, d->owner, i2t, t2i)) < 0)
		goto out;
	if ((rc = rank_metrics(r, metrics, "I2T", i2t, d->ni, hit)) < 0 ||
	    (rc = rank_metrics(r, metrics, "T2I", t2i, d->nt, hit)) < 0)
		goto out;
	for (size_t i = 0; i < d->ni; i++)
		if (i2t[i] && (rc = item(r, d->key[i], i2t[i] == 1,
				     json_pack("{s:i}", "rank", (int)i2t[i]))) < 0)
			goto out;
out:
	free(i2t);
	free(t2i);
	free(hit);
	return rc;
}

static int run_zeroshot(struct run *r, json_t *metrics)
{
	struct rc_eval_data *d = &r->d;
	size_t D = (size_t)r->D, nc = r->cls.n, nT = r->tmpl.n;
	float *cls = rc_malloc((nc ? nc : 1) * D * sizeof *cls);
	uint32_t *rank = rc_malloc((d->ni ? d->ni : 1) * sizeof *rank);
	uint32_t *pred = rc_malloc((d->ni ? d->ni : 1) * sizeof *pred);
	uint8_t *hit = rc_malloc(d->ni + 1);
	size_t *per = rc_calloc(nc, sizeof *per), *cnt = rc_calloc(nc, sizeof *cnt);
	int rc = RC_E_NOMEM;
	if (!cls || !rank || !pred || !hit || !per || !cnt)
		goto out;
	for (size_t c = 0; c < nc; c++)
		rc_eval_class_embed(r->temb + c * nT * D, nT, D, cls + c * D);
	if ((rc = rc_eval_label_ranks(rc_encoder_backend(r->enc), r->iemb, d->ni, cls, nc, D,
		     d->label, rank, pred)) < 0)
		goto out;
	for (int k = 1; k <= 5; k += 4) {
		for (size_t i = 0; i < d->ni; i++)
			hit[i] = rank[i] <= (uint32_t)k;
		if ((rc = add_metric(r, metrics, k == 1 ? "top-1" : "top-5",
			     rc_eval_hits(rank, d->ni, (uint32_t)k), d->ni, hit)) < 0)
			goto out;
	}
	for (size_t i = 0; i < d->ni; i++) {
		cnt[d->label[i]]++;
		per[d->label[i]] += rank[i] == 1;
		if ((rc = item(r, d->key[i], rank[i] == 1, json_pack("{s:s, s:s, s:i}", "label",
			     r->cls.s[d->label[i]], "pred", r->cls.s[pred[i]], "rank", (int)rank[i]))) < 0)
			goto out;
	}
	double sum = 0;
	size_t present = 0;
	for (size_t c = 0; c < nc; c++)
		if (cnt[c]) {
			sum += (double)per[c] / (double)cnt[c];
			present++;
		}
	add_real(r, metrics, "mean per-class recall", present ? sum / (double)present : 0.0);
	json_object_set_new(metrics, "classes present", json_integer((json_int_t)present));
	rc = 0;
out:
	free(cls);
	free(rank);
	free(pred);
	free(hit);
	free(per);
	free(cnt);
	return rc;
}

/* Winoground (Thrush et al. 2022), with s(c, i) the score of caption c and
 * image i: text score when s(c0,i0) > s(c1,i0) and s(c1,i1) > s(c0,i1),
 * image score when s(c0,i0) > s(c0,i1) and s(c1,i1) > s(c1,i0), group
 * score when both; strict inequalities, so a tie counts as wrong. */
static int run_winoground(struct run *r, json_t *metrics)
{
	static const char *const names[3] = {"text score", "image score", "group score"};
	struct rc_eval_data *d = &r->d;
	size_t D = (size_t)r->D, n = d->ns, nt = d->ntags;
	uint8_t *hit[3], *sub = rc_malloc(n + 1);
	int rc = RC_E_NOMEM;
	for (int m = 0; m < 3; m++)
		hit[m] = rc_malloc(n + 1);
	if (!hit[0] || !hit[1] || !hit[2] || !sub)
		goto out;
	for (size_t s = 0; s < n; s++) {
		const struct rc_eval_set *cs = &d->set[s];
		double sc[2][2]; /* [caption][image] */
		for (int c = 0; c < 2; c++)
			for (int i = 0; i < 2; i++) {
				const float *t = r->temb + (cs->text + (size_t)c) * D;
				const float *v = r->iemb + (cs->image + (size_t)i) * D;
				float dot = 0;
				for (size_t k = 0; k < D; k++)
					dot += t[k] * v[k];
				sc[c][i] = dot;
			}
		hit[0][s] = sc[0][0] > sc[1][0] && sc[1][1] > sc[0][1];
		hit[1][s] = sc[0][0] > sc[0][1] && sc[1][1] > sc[1][0];
		hit[2][s] = hit[0][s] && hit[1][s];
		json_t *extra = json_pack("{s:s, s:b, s:b, s:[[f,f],[f,f]]}", "tag",
			d->tags[cs->tag], "text", hit[0][s], "image", hit[1][s], "scores", sc[0][0],
			sc[0][1], sc[1][0], sc[1][1]);
		if ((rc = item(r, d->key[cs->image], hit[2][s], extra)) < 0)
			goto out;
	}
	json_t *tags = json_object();
	json_object_set_new(metrics, "tags", tags);
	for (size_t t = 0; t < nt; t++) {
		json_t *per = json_object();
		json_object_set_new(tags, d->tags[t], per);
		for (int m = 0; m < 3; m++) {
			size_t k = 0, h = 0;
			for (size_t s = 0; s < n; s++)
				if (d->set[s].tag == t)
					h += (sub[k++] = hit[m][s]);
			if ((rc = add_metric(r, per, names[m], h, k, sub)) < 0)
				goto out;
		}
	}
	for (int m = 0; m < 3; m++) {
		size_t h = 0;
		for (size_t s = 0; s < n; s++)
			h += hit[m][s];
		if ((rc = add_metric(r, metrics, names[m], h, n, hit[m])) < 0)
			goto out;
	}
	rc = 0;
out:
	for (int m = 0; m < 3; m++)
		free(hit[m]);
	free(sub);
	return rc;
}

/* ---------------------------------------------------------------- compare */

struct pair {
	const char *id;
	int correct;
};

static int cmp_pair(const void *a, const void *b)
{
	return strcmp(((const struct pair *)a)->id, ((const struct pair *)b)->id);
}

/* Items of a report as sorted (id, correct) pairs; what names it. */
static int pairs_of(json_t *items, const char *what, struct pair **out, size_t *n)
{
	size_t k = json_array_size(items);
	struct pair *p = rc_malloc((k ? k : 1) * sizeof *p);
	if (!p)
		return RC_E_NOMEM;
	for (size_t i = 0; i < k; i++) {
		json_t *it = json_array_get(items, i);
		json_t *id = json_object_get(it, "id"), *c = json_object_get(it, "correct");
		if (!json_is_string(id) || !json_is_boolean(c)) {
			free(p);
			return rc_log_error(RC_E_FORMAT, "%s: item %zu has no \"id\" and \"correct\"", what,
				i + 1);
		}
		p[i] = (struct pair){json_string_value(id), json_is_true(c)};
	}
	qsort(p, k, sizeof *p, cmp_pair);
	for (size_t i = 1; i < k; i++)
		if (!strcmp(p[i].id, p[i - 1].id)) {
			rc_log_error(RC_E_FORMAT, "%s: item \"%s\" appears twice: McNemar's test needs "
				"items with unique ids", what, p[i].id);
			free(p);
			return RC_E_FORMAT;
		}
	*out = p;
	*n = k;
	return 0;
}

static int compare(struct run *r)
{
	const char *path = r->o->compare;
	json_error_t je;
	json_t *other = json_load_file(path, 0, &je);
	struct pair *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	int rc = RC_E_FORMAT;
	if (!other) {
		rc_log_error(RC_E_FORMAT, "%s:%d: %s", path, je.line, je.text);
		return rc;
	}
	json_t *task = json_object_get(other, "task");
	if (!json_is_string(task) || strcmp(json_string_value(task), rc_eval_task_name(r->o->task))) {
		rc_log_error(rc, "%s: not a --json report of %s", path, rc_eval_task_name(r->o->task));
		goto out;
	}
	if ((rc = pairs_of(r->items, "this run", &a, &na)) < 0 ||
	    (rc = pairs_of(json_object_get(other, "items"), path, &b, &nb)) < 0)
		goto out;
	uint64_t both = 0, only_a = 0, only_b = 0, neither = 0;
	for (size_t i = 0; i < na || i < nb; i++) {
		int c = i >= na ? 1 : i >= nb ? -1 : strcmp(a[i].id, b[i].id);
		if (c) {
			rc = rc_log_error(RC_E_FORMAT, "%s: item \"%s\" is %s: compare runs on the same "
				"items", path, c < 0 ? a[i].id : b[i].id,
				c < 0 ? "not in it, only in this run" : "not in this run");
			goto out;
		}
		both += a[i].correct && b[i].correct;
		only_a += a[i].correct && !b[i].correct;
		only_b += !a[i].correct && b[i].correct;
		neither += !a[i].correct && !b[i].correct;
	}
	struct rc_eval_mcnemar t;
	rc_eval_mcnemar(only_a, only_b, &t);
	json_object_set_new(r->report, "compare", json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:f, "
		"s:f, s:f}", "other", path, "items", (json_int_t)na, "both_correct", (json_int_t)both,
		"only_this", (json_int_t)only_a, "only_other", (json_int_t)only_b, "neither",
		(json_int_t)neither, "p_exact", t.p_exact, "chi2", t.chi2, "p_chi2", t.p_chi2));
	rc = 0;
out:
	free(a);
	free(b);
	json_decref(other);
	return rc;
}

/* ---------------------------------------------------------------- output */

/* printable - name for a terminal: control bytes (a tag from the data may
 * hold an escape sequence) as \xNN, cut to fit buf. */
static const char *printable(const char *name, char *buf, size_t n)
{
	size_t k = 0;
	for (const unsigned char *p = (const unsigned char *)name; *p && k + 5 < n; p++)
		if (*p < 0x20 || *p == 0x7f)
			k += (size_t)snprintf(buf + k, n - k, "\\x%02x", *p);
		else
			buf[k++] = (char)*p;
	buf[k] = '\0';
	return buf;
}

static void table_row(FILE *f, int w, const char *name, json_t *m)
{
	json_int_t h = json_integer_value(json_object_get(m, "hits"));
	json_int_t n = json_integer_value(json_object_get(m, "total"));
	double rate = json_real_value(json_object_get(m, "rate"));
	char nb[512];
	fprintf(f, "%-*s %9lld %9lld %8.2f", w, printable(name, nb, sizeof nb), (long long)h,
		(long long)n, 100 * rate);
	json_t *ci = json_object_get(m, "ci95");
	if (ci)
		fprintf(f, "  [%6.2f, %6.2f]", 100 * json_real_value(json_array_get(ci, 0)),
			100 * json_real_value(json_array_get(ci, 1)));
	fputc('\n', f);
}

static void table(FILE *f, const struct run *r)
{
	json_t *metrics = json_object_get(r->report, "metrics");
	json_t *tags = json_object_get(metrics, "tags");
	size_t i;
	json_t *v;
	int w = 7;
	json_array_foreach(r->order, i, v)
		if ((int)strlen(json_string_value(v)) > w)
			w = (int)strlen(json_string_value(v));
	for (i = 0; i < r->d.ntags; i++)
		if ((int)strlen(r->d.tags[i]) + 13 * (r->o->task == RC_EVAL_WINOGROUND) > w)
			w = (int)strlen(r->d.tags[i]) + 13 * (r->o->task == RC_EVAL_WINOGROUND);
	fprintf(f, "%-*s %9s %9s %8s%s\n", w, r->o->task == RC_EVAL_SETS ? "tag" : "metric", "hits",
		"total", "rate %", r->o->bootstrap ? "  95% CI" : "");
	/* tags in order of first appearance, then the metrics in the order made */
	for (i = 0; i < r->d.ntags; i++) {
		if (!(v = json_object_get(tags, r->d.tags[i])))
			continue;
		if (r->o->task != RC_EVAL_WINOGROUND) {
			table_row(f, w, r->d.tags[i], v);
			continue;
		}
		const char *k;
		json_t *m;
		json_object_foreach(v, k, m) { /* Winoground: three scores a tag */
			char name[256];
			snprintf(name, sizeof name, "%s: %s", r->d.tags[i], k);
			table_row(f, w, name, m);
		}
	}
	json_t *name;
	json_array_foreach(r->order, i, name) {
		const char *k = json_string_value(name);
		v = json_object_get(metrics, k);
		if (json_is_object(v))
			table_row(f, w, k, v);
		else if (strstr(k, "recall"))
			fprintf(f, "%-*s %9s %9s %8.2f\n", w, k, "", "", 100 * json_real_value(v));
		else if (json_is_real(v))
			fprintf(f, "%-*s %9s %9s %8.2f\n", w, k, "", "", json_real_value(v));
	}
	json_t *cmp = json_object_get(r->report, "compare");
	if (cmp)
		fprintf(f, "compare with %s (%lld items): both correct %lld, only this run %lld, "
			"only the other %lld, neither %lld\nMcNemar: exact p = %.4g, chi-square %.4g "
			"(p = %.4g)\n", json_string_value(json_object_get(cmp, "other")),
			(long long)json_integer_value(json_object_get(cmp, "items")),
			(long long)json_integer_value(json_object_get(cmp, "both_correct")),
			(long long)json_integer_value(json_object_get(cmp, "only_this")),
			(long long)json_integer_value(json_object_get(cmp, "only_other")),
			(long long)json_integer_value(json_object_get(cmp, "neither")),
			json_real_value(json_object_get(cmp, "p_exact")),
			json_real_value(json_object_get(cmp, "chi2")),
			json_real_value(json_object_get(cmp, "p_chi2")));
	if (r->skipped)
		fprintf(f, "skipped: %zu unreadable image%s%s\n", r->skipped, r->skipped > 1 ? "s" : "",
			r->o->task == RC_EVAL_SETS ? (r->skipped_items == 1 ? ", 1 set" : ", with their sets") : "");
	if (r->d.bad_records || r->d.bad_sets)
		fprintf(f, "skipped: %zu malformed record%s, %zu malformed set%s\n", r->d.bad_records,
			r->d.bad_records == 1 ? "" : "s", r->d.bad_sets, r->d.bad_sets == 1 ? "" : "s");
}

static int write_text(const char *path, const char *txt)
{
	struct rc_atomic_file af;
	int rc = rc_atomic_open(&af, path);
	if (rc == 0 && (rc = rc_io_write_all(af.f, txt, strlen(txt), path)) == 0)
		rc = rc_atomic_commit(&af);
	rc_atomic_abort(&af);
	return rc;
}

/* The report as a table or JSON, and the --errors JSONL, each whole. */
static int write_outputs(struct run *r, json_t *errors_out)
{
	const struct opts *o = r->o;
	char *txt = NULL, *errs = NULL;
	size_t n = 0;
	int rc = RC_E_NOMEM;
	if (o->json) {
		txt = json_dumps(r->report, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		if (txt) {
			char *t2 = realloc(txt, strlen(txt) + 2);
			if (t2)
				strcat(txt = t2, "\n");
		}
	} else {
		FILE *mem = open_memstream(&txt, &n);
		if (mem) {
			table(mem, r);
			fclose(mem);
		}
	}
	if (!txt)
		goto out;
	if (errors_out) {
		FILE *mem = open_memstream(&errs, &n);
		if (!mem)
			goto out;
		size_t i;
		json_t *e;
		json_array_foreach(errors_out, i, e) {
			char *line = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
			if (line)
				fprintf(mem, "%s\n", line);
			free(line);
		}
		fclose(mem);
		if (!errs)
			goto out;
	}
	/* the errors first: a report on stdout cannot be taken back */
	if ((errs && (rc = write_text(o->errors, errs)) < 0) ||
	    (rc = write_text(o->output ? o->output : "-", txt)) < 0)
		goto out;
	rc = 0;
out:
	free(txt);
	free(errs);
	return rc;
}

/* ================================================================ main */

static int evaluate(struct run *r)
{
	const struct opts *o = r->o;
	struct rc_eval_data *d = &r->d;
	struct rc_eval_source src = { .task = o->task, .data = o->data,
		.image_root = o->image_root, .path_map = &o->path_map, .strict = o->strict,
		.negatives = (int)o->negatives, .captions_per_image = o->task == RC_EVAL_RETRIEVAL ?
		(int)o->captions : 0, .format = o->format, .preprocess = RC_PREPROCESS_CLIP };
	int rc;
	if ((rc = setup(r)) < 0)
		return rc;
	if (r->m->cfg.family == RC_FAMILY_SIGLIP) /* shards must hold its resize */
		src.preprocess = RC_PREPROCESS_SIGLIP;
	if (o->task == RC_EVAL_ZEROSHOT) {
		if ((rc = rc_eval_lines_read(o->classes, &r->cls, 0)) < 0 ||
		    (rc = rc_eval_lines_read(o->templates, &r->tmpl, 1)) < 0 ||
		    (rc = rc_eval_data_read_zeroshot(&src, d, &r->cls)) < 0)
			return rc;
		for (size_t c = 0; c < r->cls.n; c++)
			for (size_t t = 0; t < r->tmpl.n; t++) {
				uint32_t len;
				char *s = rc_eval_fill_template(&d->arena, r->tmpl.s[t], r->cls.s[c], &len);
				if (!s || (rc = rc_eval_data_add_text(d, s, len, 0)) < 0)
					return RC_E_NOMEM;
			}
	} else if ((rc = rc_eval_data_read(&src, d, r->m->cfg.vision.image_size)) < 0) {
		return rc;
	}
	if (!d->ni)
		return rc_log_error(RC_E_FORMAT, "%s: no items", o->data);
	rc_log_info("%zu images, %zu texts", d->ni, d->nt);

	r->iemb = rc_malloc(d->ni * (size_t)r->D * sizeof *r->iemb);
	r->ok = rc_malloc(d->ni);
	if (!r->iemb || !r->ok)
		return RC_E_NOMEM;
	rc_progress_begin(&r->prog, "encode", d->ni + d->nt);
	double t0 = rc_seconds();
	rc = rc_encoder_images(r->enc, d->img, d->ni, r->iemb, r->ok, on_bad_image, r, &r->prog);
	if (rc == 0 && r->strict_fail)
		rc = RC_E_NOTFOUND;
	size_t nread = d->ni;
	if (rc == 0 && (rc = drop_skipped(r)) == 0)
		rc_progress_set_total(&r->prog, nread + d->nt); /* less the skipped texts */
	if (rc == 0 && !d->ni)
		rc = rc_log_error(RC_E_NOTFOUND, "%s: no image could be read", o->data);
	double t1 = rc_seconds();
	if (rc == 0)
		rc = encode_texts(r);
	double t2 = rc_seconds();
	rc_progress_end(&r->prog);
	if (rc < 0)
		return rc;
	if (r->skipped)
		rc_log_warn("%zu of %zu images could not be read: skipped with their %zu %s",
			r->skipped, d->ni + r->skipped, r->skipped_items,
			o->task == RC_EVAL_SETS ? "sets" : "items");

	r->report = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I}", "task",
		rc_eval_task_name(o->task), "model", o->model, "data", o->data, "images",
		(json_int_t)d->ni, "texts", (json_int_t)d->nt, "skipped_images",
		(json_int_t)r->skipped, "malformed_records", (json_int_t)d->bad_records,
		"malformed_sets", (json_int_t)d->bad_sets);
	json_object_set_new(r->report, "tokenizer",
		json_string(rc_bpe_semantics_name(rc_bpe_semantics(r->bpe))));
	if (d->unvalidated)
		json_object_set_new(r->report, "unvalidated", json_integer((json_int_t)d->unvalidated));
	if (o->task == RC_EVAL_SETS)
		json_object_set_new(r->report, "negatives", o->negatives ? json_integer(o->negatives)
			: json_string("any"));
	if (o->task == RC_EVAL_RETRIEVAL)
		json_object_set_new(r->report, "captions_per_image", o->captions
			? json_integer(o->captions) : json_string("all"));
	json_t *metrics = json_object();
	r->items = json_array();
	r->order = json_array();
	json_t *errors_out = o->errors ? json_array() : NULL;
	if (!r->report || !metrics || !r->items || !r->order || (o->errors && !errors_out)) {
		json_decref(metrics);
		json_decref(errors_out);
		return RC_E_NOMEM;
	}
	json_object_set_new(r->report, "metrics", metrics);
	/* encoding speed: images read, decoded, cropped and encoded per second */
	json_object_set_new(r->report, "timing", json_pack("{s:i, s:f, s:f, s:f}", "threads",
		r->nthreads, "image_seconds", t1 - t0, "images_per_second",
		t1 > t0 ? (double)nread / (t1 - t0) : 0.0, "text_seconds", t2 - t1));
	if (o->bootstrap)
		json_object_set_new(r->report, "bootstrap", json_pack("{s:i, s:I}", "resamples",
			(int)o->bootstrap, "seed", (json_int_t)o->seed));
	rc = o->task == RC_EVAL_SETS ? run_sets(r, metrics, errors_out)
		: o->task == RC_EVAL_ZEROSHOT ? run_zeroshot(r, metrics)
		: o->task == RC_EVAL_WINOGROUND ? run_winoground(r, metrics)
		: run_retrieval(r, metrics);
	if (rc == 0 && o->compare)
		rc = compare(r);
	json_object_set(r->report, "items", r->items);
	if (rc == 0)
		rc = write_outputs(r, errors_out);
	json_decref(errors_out);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o;
	rc_log_init("rclip-eval");
	int status = parse_args(argc, argv, &o);
	if (status >= 0) {
		rc_path_map_free(&o.path_map);
		return status;
	}
	struct run r = {.o = &o};
	rc_arena_init(&r.d.arena, 0);
	r.nthreads = rc_backend_cpu_threads((int)o.threads);
	status = evaluate(&r) < 0 ? RC_EXIT_FAILURE : RC_EXIT_OK;
	json_decref(r.report);
	json_decref(r.items);
	json_decref(r.order);
	free(r.iemb);
	free(r.temb);
	free(r.ok);
	rc_eval_lines_free(&r.cls);
	rc_eval_lines_free(&r.tmpl);
	rc_eval_data_free(&r.d);
	rc_encoder_free(r.enc);
	rc_bpe_free(r.bpe);
	rc_spm_free(r.spm);
	rc_clip_free(r.m);
	rc_path_map_free(&o.path_map);
	return status;
}
